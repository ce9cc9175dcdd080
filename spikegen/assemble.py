"""Quantized IR -> Amaranth components from ``rtl_lib``."""
from rtl_lib.accelerator import Accelerator
from rtl_lib.fc_layer import FCLayer
from rtl_lib.lif import LIFParams
from rtl_lib.rate_coder import DirectCoder, RateCoder

from .errors import SpikegenError
from .ir import QDenseLayer, QLIF, QNetwork


__all__ = ["layer_component", "accelerator", "count_bits"]


def _unbuildable(layer: QDenseLayer):
    """What the hardware cannot build yet in this layer, or ``None``."""
    n = layer.neuron
    if not isinstance(n, QLIF):
        return f"{type(n).__name__} neurons"
    if layer.recurrent is not None:
        return "recurrent weights"
    if not n.uniform:
        return "per-neuron thresholds or betas that differ"
    if n.reset == "zero_all":
        return "the zero_all reset (snnTorch's zero reset of Synaptic/RLeaky/RSynaptic)"
    return None


def lif_params(layer: QDenseLayer):
    missing = _unbuildable(layer)
    if missing is not None:
        raise SpikegenError(f"the hardware cannot build {missing} yet; spikegen simulate runs "
                            "such networks on the reference model only")
    n = layer.neuron
    return LIFParams(mem_bits=layer.mem_format.bits, threshold=n.threshold, decay=n.decay,
                     decay_bits=n.decay_bits, reset=n.reset, reset_delay=n.reset_delay,
                     weight_shift=layer.shift)


def layer_component(layer: QDenseLayer, lanes, value_bits=None, events=1, out_events=1):
    return FCLayer(layer.weight, layer.bias, lif_params(layer), layer.weight_format.bits,
                   lanes=lanes, value_bits=value_bits, events=events, out_events=out_events)


def count_bits(net: QNetwork):
    return max(1, net.hardware.max_steps.bit_length())


def accelerator(net: QNetwork):
    """The :class:`rtl_lib.accelerator.Accelerator` that computes ``net``."""
    hw, coding = net.hardware, net.coding
    if net.readout != "spikes":
        raise SpikegenError("the hardware cannot build a membrane readout (leaky-integrator "
                            "output layer) yet; spikegen simulate runs it on the reference "
                            "model only")
    direct = coding.kind == "direct"
    # a first layer fed with values takes one per cycle; spike-event layers take E, and the
    # layer before each sends it E per beat (the output layer one, to the readout)
    last = len(net.layers) - 1
    e = hw.events_per_cycle
    layers = [layer_component(layer, hw.lanes(layer.outputs),
                              coding.value_bits if direct and k == 0 else None,
                              1 if direct and k == 0 else e, 1 if k == last else e)
              for k, layer in enumerate(net.layers)]
    frontend = None
    if coding.kind == "rate":
        frontend = RateCoder(net.inputs, coding.steps, seed=coding.seed)
    elif direct:
        frontend = DirectCoder(net.inputs, coding.steps, coding.value_bits)
    return Accelerator(layers, count_bits=count_bits(net), fifo_depth=hw.fifo_depth,
                       frontend=frontend)
