"""The token layouts of :mod:`rtl_lib.event` (field widths and packing order), its pack
helpers against the layouts, and ``connect_events`` between single-event and group streams."""
import itertools

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from rtl_lib import link_format
from rtl_lib.event import (EventGroupLayout, EventLayout, ResultLayout, ValueEventLayout,
                           connect_events, index_width, pack_event, pack_group)


def fields(layout):
    """``[(name, offset, width), ...]`` in packing order."""
    return [(name, field.offset, field.width) for name, field in layout]


# count -> index width: one bit at least, then just enough bits for count - 1
WIDTHS = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 8: 3, 9: 4, 300: 9, 16384: 14, 16385: 15}


@pytest.mark.parametrize("count,w", WIDTHS.items())
def test_event_layout(count, w):
    assert index_width(count) == w
    layout = EventLayout(count)
    assert layout.count == count
    assert fields(layout) == [("index", 0, w), ("eos", w, 1), ("last", w + 1, 1)]


@pytest.mark.parametrize("count,w", [(1, 1), (5, 3), (300, 9)])
@pytest.mark.parametrize("events", [1, 2, 3, 4])
def test_event_group_layout(count, w, events):
    layout = EventGroupLayout(count, events)
    assert (layout.count, layout.events) == (count, events)
    base = events * w
    c = events.bit_length()                  # holds counts 0 to events
    assert (1 << c) > events
    assert fields(layout) == [("index", 0, base), ("count", base, c), ("eos", base + c, 1),
                              ("last", base + c + 1, 1)]
    assert layout["index"].shape.length == events
    assert layout["index"].shape.elem_shape.width == w


def test_value_event_layout():
    assert fields(ValueEventLayout(5)) == [("index", 0, 3), ("value", 3, 8), ("eos", 11, 1),
                                           ("last", 12, 1)]
    layout = ValueEventLayout(300, value_bits=4)
    assert (layout.count, layout.value_bits) == (300, 4)
    assert fields(layout) == [("index", 0, 9), ("value", 9, 4), ("eos", 13, 1),
                              ("last", 14, 1)]


@pytest.mark.parametrize("classes,count_bits", [(1, 1), (3, 4), (10, 8), (256, 16)])
def test_result_layout(classes, count_bits):
    layout = ResultLayout(classes, count_bits)
    w = index_width(classes)
    assert (layout.classes, layout.count_bits) == (classes, count_bits)
    assert fields(layout) == [("cls", 0, w), ("counts", w, classes * count_bits)]
    # counts[k] at bit w + k * count_bits: the response encoder reads them in that order
    rng = np.random.default_rng(classes)
    counts = [int(c) for c in rng.integers(0, 1 << count_bits, classes)]
    cls = classes - 1
    value = layout.const({"cls": cls, "counts": counts}).as_value().value
    assert value == cls | sum(c << (w + k * count_bits) for k, c in enumerate(counts))


def test_layout_errors():
    with pytest.raises(TypeError, match=r"Events per beat must be a positive integer, not 0"):
        EventGroupLayout(5, 0)
    with pytest.raises(TypeError, match=r"Events per beat must be a positive integer, "
                                        r"not '2'"):
        EventGroupLayout(5, "2")
    with pytest.raises(TypeError, match=r"Count width must be a positive integer, not 0"):
        ResultLayout(4, 0)
    with pytest.raises(TypeError, match=r"Count width must be a positive integer, not 2.0"):
        ResultLayout(4, 2.0)
    with pytest.raises(TypeError, match=r"Neuron count must be a positive integer, not 0"):
        EventLayout(0)


def test_pack_helpers_are_the_link_formats():
    """One packing for the whole project: event.py re-exports the link format's."""
    assert pack_event is link_format.pack_event
    assert pack_group is link_format.pack_group
    assert index_width is link_format.index_width


@pytest.mark.parametrize("count", [1, 4, 5])
def test_pack_event_is_the_layout_value(count):
    """Every token of a small population."""
    layout = EventLayout(count)
    for index, eos, last in itertools.product(range(count), (0, 1), (0, 1)):
        want = layout.const({"index": index, "eos": eos, "last": last}).as_value().value
        assert pack_event(count, index, eos=eos, last=last) == want


@pytest.mark.parametrize("count,events", [(4, 2), (5, 3), (1, 1)])
def test_pack_group_is_the_layout_value(count, events):
    """Every beat of ascending events of a small population, and the end-of-step beats."""
    layout = EventGroupLayout(count, events)
    for n in range(1, events + 1):
        for indices in itertools.combinations(range(count), n):
            want = layout.const({"index": list(indices) + [0] * (events - n), "count": n,
                                 "eos": 0, "last": 0}).as_value().value
            assert pack_group(count, events, indices) == want
    for last in (0, 1):
        want = layout.const({"index": [0] * events, "count": 0, "eos": 1,
                             "last": last}).as_value().value
        assert pack_group(count, events, eos=True, last=last) == want


class Bridge(wiring.Component):
    """``connect_events`` from a stream of ``source`` tokens to one of ``sink`` tokens."""
    def __init__(self, source, sink):
        super().__init__({"i": In(stream.Signature(source)), "o": Out(stream.Signature(sink))})

    def elaborate(self, platform):
        m = Module()
        connect_events(m, wiring.flipped(self.i), wiring.flipped(self.o))
        return m


def tokens(count):
    """Every single-event token of a small population, then the end-of-step tokens."""
    return ([(index, 0, 0) for index in range(count)] + [(0, 1, 0), (0, 1, 1)])


def drive(dut, items, check):
    """Offer each item (a payload's fields, or its integer value) with ``valid`` and
    ``ready`` in every combination; ``check(ctx, item)`` reads the other side."""
    async def bench(ctx):
        for item in items:
            if isinstance(item, int):
                ctx.set(dut.i.payload.as_value(), item)
            else:
                ctx.set(dut.i.payload, item)
            for valid, ready in itertools.product((0, 1), (0, 1)):
                ctx.set(dut.i.valid, valid)
                ctx.set(dut.o.ready, ready)
                assert ctx.get(dut.o.valid) == valid
                assert ctx.get(dut.i.ready) == ready
                check(ctx, item)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("events", [1, 2, 3])
def test_connect_single_events_to_group_beats(events):
    """A one-event token becomes a beat of one event; an end of step a beat of none."""
    count = 6
    dut = Bridge(EventLayout(count), EventGroupLayout(count, events))
    items = [{"index": i, "eos": e, "last": la} for i, e, la in tokens(count)]

    def check(ctx, item):
        beat = ctx.get(dut.o.payload)
        assert beat.index[0] == (0 if item["eos"] else item["index"])
        assert beat.count == (0 if item["eos"] else 1)
        assert (beat.eos, beat.last) == (item["eos"], item["last"])
        # the beat's value is the one the host side packs
        if item["eos"]:
            packed = pack_group(count, events, eos=True, last=item["last"])
        else:
            packed = pack_group(count, events, [item["index"]])
        assert ctx.get(dut.o.payload.as_value()) == packed

    drive(dut, items, check)


@pytest.mark.parametrize("layouts", [(EventLayout(6), EventLayout(6)),
                                     (EventGroupLayout(6, 2), EventGroupLayout(6, 2))])
def test_connect_same_layouts_directly(layouts):
    """Equal layouts: every payload passes unchanged."""
    dut = Bridge(*layouts)
    rng = np.random.default_rng(3)
    items = [int(v) for v in rng.integers(0, 1 << layouts[0].size, 40)]

    def check(ctx, item):
        assert ctx.get(dut.o.payload.as_value()) == item

    drive(dut, items, check)
