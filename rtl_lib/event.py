"""Spike-event tokens: the payload that flows between layers.

A time step is a run of spike events in ascending neuron index, closed by one end-of-step
token. The end-of-step token of an inference's final time step also has ``last`` set.

====== ===================================================================
field  meaning
====== ===================================================================
index  neuron index of a spike event (ignored when ``eos`` is set)
eos    1: end of the current time step, no spike
last   with ``eos``: this step is the last of the inference
====== ===================================================================

Packed LSB first: ``index`` in bits ``[0, w)``, ``eos`` at bit ``w``, ``last`` at ``w + 1``.
"""
from amaranth.hdl import unsigned
from amaranth.lib import data
from amaranth.utils import ceil_log2


__all__ = ["EventLayout", "ValueEventLayout", "ResultLayout", "index_width", "pack_event"]


def index_width(count):
    """Bits of an index into ``count`` neurons (at least 1)."""
    if not isinstance(count, int) or count <= 0:
        raise TypeError(f"Neuron count must be a positive integer, not {count!r}")
    return max(1, ceil_log2(count))


class EventLayout(data.StructLayout):
    """Layout of a spike-event token for a population of ``count`` neurons."""
    def __init__(self, count):
        self.count = count
        super().__init__({
            "index": unsigned(index_width(count)),
            "eos":   unsigned(1),
            "last":  unsigned(1),
        })


class ValueEventLayout(data.StructLayout):
    """A token carrying a multi-bit input value: ``{index, value, eos, last}``.

    The input of a first layer fed directly with pixel values (``direct`` coding): ``value``
    events, then end-of-step tokens as in :class:`EventLayout`.
    """
    def __init__(self, count, value_bits=8):
        self.count, self.value_bits = count, value_bits
        super().__init__({
            "index": unsigned(index_width(count)),
            "value": unsigned(value_bits),
            "eos":   unsigned(1),
            "last":  unsigned(1),
        })


class ResultLayout(data.StructLayout):
    """Layout of an inference result: predicted class and per-class spike counts.

    ``cls`` is the index of the largest count (the lowest index wins a tie); ``counts[k]`` is the
    number of spikes of output neuron ``k`` over the inference, saturating at its maximum.
    Packed LSB first: ``cls``, then ``counts[0]``, ``counts[1]``, ...
    """
    def __init__(self, classes, count_bits):
        if not isinstance(count_bits, int) or count_bits <= 0:
            raise TypeError(f"Count width must be a positive integer, not {count_bits!r}")
        self.classes = classes
        self.count_bits = count_bits
        super().__init__({
            "cls":    unsigned(index_width(classes)),
            "counts": data.ArrayLayout(unsigned(count_bits), classes),
        })


def pack_event(count, index=0, *, eos=False, last=False):
    """Integer value of a token, as a testbench or host drives it onto a port."""
    w = index_width(count)
    if not 0 <= index < (1 << w):
        raise ValueError(f"Event index {index} out of range for {count} neurons")
    return index | (int(eos) << w) | (int(last) << (w + 1))
