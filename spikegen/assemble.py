"""Quantized IR -> Amaranth components from ``rtl_lib``."""
import numpy as np

from rtl_lib.accelerator import Accelerator
from rtl_lib.cuba_lif import CubaLIFParams
from rtl_lib.fc_layer import FCLayer
from rtl_lib.lif import LIFParams
from rtl_lib.membrane_readout import MembraneAccelerator
from rtl_lib.rate_coder import DirectCoder, RateCoder

from .errors import SpikegenError
from .ir import QCubaLIF, QDenseLayer, QNetwork


__all__ = ["layer_component", "accelerator", "count_bits"]


def _at(value, k):
    return int(value[k]) if isinstance(value, np.ndarray) else int(value)


def lif_params(layer: QDenseLayer):
    """The layer's :class:`LIFParams` (:class:`CubaLIFParams` for a current-based layer): one
    for the layer, or a list of one per neuron when the thresholds or decays differ."""
    n = layer.neuron
    common = dict(mem_bits=layer.mem_format.bits, decay_bits=n.decay_bits, reset=n.reset,
                  reset_delay=n.reset_delay, weight_shift=layer.shift)
    if isinstance(n, QCubaLIF):
        params = [CubaLIFParams(syn_bits=layer.syn_format.bits, threshold=_at(n.threshold, k),
                                decay=_at(n.decay, k), syn_decay=_at(n.syn_decay, k),
                                **common)
                  for k in range(1 if n.uniform else layer.outputs)]
    else:
        params = [LIFParams(threshold=_at(n.threshold, k), decay=_at(n.decay, k), **common)
                  for k in range(1 if n.uniform else layer.outputs)]
    return params[0] if n.uniform else params


def layer_component(layer: QDenseLayer, lanes, value_bits=None, events=1, out_events=1,
                    membrane_class=False):
    params = lif_params(layer)
    if isinstance(params, list) and (lanes or layer.outputs) < layer.outputs \
            and (isinstance(layer.neuron, QCubaLIF) or value_bits is not None):
        kind = "current-based neurons" if isinstance(layer.neuron, QCubaLIF) else \
            "a first layer fed input values"
        raise SpikegenError(f"per-neuron thresholds or betas that differ need one lane per "
                            f"neuron for {kind} ({layer.outputs}, not {lanes}): use -P 0 "
                            f"(fully parallel)")
    if value_bits is not None and layer.recurrent is not None:
        raise SpikegenError("the hardware cannot build a recurrent first layer with direct "
                            "coding yet; use rate or events coding, or spikegen simulate for "
                            "the reference model")
    return FCLayer(layer.weight, layer.bias, params, layer.weight_format.bits,
                   lanes=lanes, value_bits=value_bits, events=events, out_events=out_events,
                   recurrent=layer.recurrent, membrane_class=membrane_class)


def count_bits(net: QNetwork):
    return max(1, net.hardware.max_steps.bit_length())


def accelerator(net: QNetwork):
    """The :class:`rtl_lib.accelerator.Accelerator` that computes ``net``."""
    hw, coding = net.hardware, net.coding
    direct = coding.kind == "direct"
    membrane = net.readout == "membrane"
    if direct and isinstance(net.layers[0].neuron, QCubaLIF):
        raise SpikegenError("the hardware cannot build a current-based (CubaLIF) first layer "
                            "with direct coding yet; use rate or events coding, or spikegen "
                            "simulate for the reference model")
    # a first layer fed with values takes one per cycle; spike-event layers take E, and the
    # layer before each sends it E per beat (the output layer one, to the readout)
    last = len(net.layers) - 1
    e = hw.events_per_cycle
    layers = [layer_component(layer, hw.lanes(layer.outputs),
                              coding.value_bits if direct and k == 0 else None,
                              1 if direct and k == 0 else e, 1 if k == last else e,
                              membrane_class=membrane and k == last)
              for k, layer in enumerate(net.layers)]
    frontend = None
    if coding.kind == "rate":
        frontend = RateCoder(net.inputs, coding.steps, seed=coding.seed)
    elif direct:
        frontend = DirectCoder(net.inputs, coding.steps, coding.value_bits)
    top = MembraneAccelerator if membrane else Accelerator
    return top(layers, count_bits=count_bits(net), fifo_depth=hw.fifo_depth, frontend=frontend)
