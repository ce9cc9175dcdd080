"""Quantized IR -> Amaranth components from ``rtl_lib``."""
from rtl_lib.accelerator import Accelerator
from rtl_lib.fc_layer import FCLayer
from rtl_lib.lif import LIFParams

from .ir import QDenseLayer, QNetwork


__all__ = ["layer_component", "accelerator", "count_bits"]


def lif_params(layer: QDenseLayer):
    n = layer.neuron
    return LIFParams(mem_bits=layer.mem_format.bits, threshold=n.threshold, decay=n.decay,
                     decay_bits=n.decay_bits, reset=n.reset, reset_delay=n.reset_delay,
                     weight_shift=layer.shift)


def layer_component(layer: QDenseLayer, lanes):
    return FCLayer(layer.weight, layer.bias, lif_params(layer), layer.weight_format.bits,
                   lanes=lanes)


def count_bits(net: QNetwork):
    return max(1, net.hardware.max_steps.bit_length())


def accelerator(net: QNetwork):
    """The :class:`rtl_lib.accelerator.Accelerator` that computes ``net``."""
    hw = net.hardware
    layers = [layer_component(layer, hw.lanes(layer.outputs)) for layer in net.layers]
    return Accelerator(layers, count_bits=count_bits(net), fifo_depth=hw.fifo_depth)
