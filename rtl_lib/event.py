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

# the index width and the packing of tokens into integers belong to the format of tokens
from .link_format import index_width, pack_event, pack_group


__all__ = ["EventLayout", "EventGroupLayout", "ValueEventLayout", "ResultLayout", "index_width",
           "pack_event", "pack_group", "connect_events"]


class EventLayout(data.StructLayout):
    """Layout of a spike-event token for a population of ``count`` neurons."""
    def __init__(self, count):
        self.count = count
        super().__init__({
            "index": unsigned(index_width(count)),
            "eos":   unsigned(1),
            "last":  unsigned(1),
        })


class EventGroupLayout(data.StructLayout):
    """A beat of up to ``events`` spike events: ``{index[events], count, eos, last}``.

    The input of a layer that integrates several events per cycle. ``count`` (1 to
    ``events``) of the ``index`` entries are events, in ascending order from entry 0; an
    end-of-step beat has ``eos`` set and carries no event. Packed LSB first: ``index[0]``,
    ``index[1]``, ..., ``count``, ``eos``, ``last``.
    """
    def __init__(self, count, events):
        if not isinstance(events, int) or events < 1:
            raise TypeError(f"Events per beat must be a positive integer, not {events!r}")
        self.count, self.events = count, events
        super().__init__({
            "index": data.ArrayLayout(unsigned(index_width(count)), events),
            "count": unsigned(events.bit_length()),
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


def connect_events(m, source, sink):
    """Connect a stream of spike-event tokens to a layer input: directly when the layouts
    agree, or one-event tokens (:class:`EventLayout`) as one-event beats of an
    :class:`EventGroupLayout` (the layer pairs them itself)."""
    from amaranth.lib import wiring

    if (not isinstance(sink.payload.shape(), EventGroupLayout)
            or isinstance(source.payload.shape(), EventGroupLayout)):
        wiring.connect(m, source, sink)
        return
    m.d.comb += [
        sink.valid.eq(source.valid),
        source.ready.eq(sink.ready),
        sink.payload.index[0].eq(source.payload.index),
        sink.payload.count.eq(~source.payload.eos),
        sink.payload.eos.eq(source.payload.eos),
        sink.payload.last.eq(source.payload.last),
    ]
