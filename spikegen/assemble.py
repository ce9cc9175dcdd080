"""Quantized IR + hardware plan -> Amaranth components from ``rtl_lib``.

:data:`ASSEMBLERS` maps a layer kind to the function that builds its component from the
quantized layer and the layer's plan (:mod:`spikegen.plan`); the component's own plan must
equal the one it was built from, which :func:`accelerator` checks.
"""
from rtl_lib.accelerator import Accelerator
from rtl_lib.conv_layer import ConvLayer
from rtl_lib.fc_layer import FCLayer
from rtl_lib.membrane_readout import MembraneAccelerator
from rtl_lib.rate_coder import DirectCoder, RateCoder

from .ir import QConvLayer, QDenseLayer, QNetwork
from .plan import dense_plan, neuron_params, plan_network
from .registry import Registry


__all__ = ["ASSEMBLERS", "layer_component", "accelerator"]


ASSEMBLERS = Registry("hardware component")


@ASSEMBLERS.register("dense")
def _fc_layer(layer: QDenseLayer, plan):
    return FCLayer(layer.weight, layer.bias, neuron_params(layer), plan.weight_bits,
                   lanes=plan.lanes, value_bits=plan.value_bits, events=plan.events,
                   out_events=plan.out_events, recurrent=layer.recurrent,
                   membrane_class=plan.membrane_class)


@ASSEMBLERS.register("conv2d")
def _conv_layer(layer: QConvLayer, plan):
    return ConvLayer(layer.weight, layer.bias, neuron_params(layer), plan.weight_bits,
                     layer.geometry, lanes=plan.lanes, out_events=plan.out_events)


def layer_component(layer: QDenseLayer, lanes, value_bits=None, events=1, out_events=1,
                    membrane_class=False):
    """One dense layer's :class:`~rtl_lib.fc_layer.FCLayer`, outside a network."""
    plan = dense_plan(layer, lanes, value_bits, events, out_events, membrane_class)
    return ASSEMBLERS(layer, plan)


def accelerator(net: QNetwork, plan=None):
    """The :class:`rtl_lib.accelerator.Accelerator` that computes ``net``, built from its
    :class:`~spikegen.plan.NetworkPlan` (planned here unless given)."""
    plan = plan_network(net) if plan is None else plan
    layers = []
    for layer, layer_plan in zip(net.layers, plan.layers):
        component = ASSEMBLERS(layer, layer_plan)
        if component.plan != layer_plan:
            raise AssertionError(f"{type(component).__name__} planned itself differently "
                                 f"from the network plan: {component.plan} != {layer_plan}")
        layers.append(component)
    coding = net.coding
    frontend = None
    if coding.kind == "rate":
        frontend = RateCoder(net.inputs, coding.steps, seed=coding.seed)
    elif coding.kind == "direct":
        frontend = DirectCoder(net.inputs, coding.steps, coding.value_bits)
    top = MembraneAccelerator if plan.readout == "membrane" else Accelerator
    return top(layers, count_bits=plan.count_bits, fifo_depth=plan.fifo_depth,
               frontend=frontend)
