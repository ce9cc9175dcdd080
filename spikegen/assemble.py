"""Quantized IR -> Amaranth components from ``rtl_lib``."""
from rtl_lib.accelerator import Accelerator
from rtl_lib.fc_layer import FCLayer
from rtl_lib.lif import LIFParams
from rtl_lib.rate_coder import DirectCoder, RateCoder

from .ir import QDenseLayer, QNetwork


__all__ = ["layer_component", "accelerator", "count_bits"]


def lif_params(layer: QDenseLayer):
    n = layer.neuron
    return LIFParams(mem_bits=layer.mem_format.bits, threshold=n.threshold, decay=n.decay,
                     decay_bits=n.decay_bits, reset=n.reset, reset_delay=n.reset_delay,
                     weight_shift=layer.shift)


def layer_component(layer: QDenseLayer, lanes, value_bits=None):
    return FCLayer(layer.weight, layer.bias, lif_params(layer), layer.weight_format.bits,
                   lanes=lanes, value_bits=value_bits)


def count_bits(net: QNetwork):
    return max(1, net.hardware.max_steps.bit_length())


def accelerator(net: QNetwork):
    """The :class:`rtl_lib.accelerator.Accelerator` that computes ``net``."""
    hw, coding = net.hardware, net.coding
    direct = coding.kind == "direct"
    layers = [layer_component(layer, hw.lanes(layer.outputs),
                              coding.value_bits if direct and k == 0 else None)
              for k, layer in enumerate(net.layers)]
    frontend = None
    if coding.kind == "rate":
        frontend = RateCoder(net.inputs, coding.steps, seed=coding.seed)
    elif direct:
        frontend = DirectCoder(net.inputs, coding.steps, coding.value_bits)
    return Accelerator(layers, count_bits=count_bits(net), fifo_depth=hw.fifo_depth,
                       frontend=frontend)
