"""EventFIFO: tokens leave in order, a full FIFO back-pressures without losing a token, it
holds exactly ``depth`` tokens, and its constructor checks its arguments."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.event import EventGroupLayout, EventLayout, pack_event, pack_group
from rtl_lib.event_fifo import EventFIFO

from helpers.streams import sink, source


COUNT = 6


def random_tokens(rng, events, n):
    """``n`` tokens of random steps (ascending events, then an end of step), as payload
    fields, and their integer values (what must come out)."""
    items, values = [], []
    while len(items) < n:
        active = sorted(int(i) for i in rng.choice(COUNT, int(rng.integers(0, COUNT + 1)),
                                                   replace=False))
        last = int(rng.integers(2))
        if events == 1:
            for i in active:
                items.append({"index": i, "eos": 0, "last": 0})
                values.append(pack_event(COUNT, i))
            items.append({"index": 0, "eos": 1, "last": last})
            values.append(pack_event(COUNT, 0, eos=True, last=last))
            continue
        while active:
            size = int(rng.integers(1, events + 1))
            beat, active = active[:size], active[size:]
            items.append({"index": beat + [0] * (events - len(beat)), "count": len(beat),
                          "eos": 0, "last": 0})
            values.append(pack_group(COUNT, events, beat))
        items.append({"index": [0] * events, "count": 0, "eos": 1, "last": last})
        values.append(pack_group(COUNT, events, eos=True, last=last))
    return items, values


def as_int(payload):
    return payload.as_value().value


@pytest.mark.parametrize("events", [1, 2])
@pytest.mark.parametrize("depth", [1, 2, 5])
@pytest.mark.parametrize("p_valid,p_ready", [(0.9, 0.3), (0.4, 0.9), (0.7, 0.7)])
def test_order_under_back_pressure(events, depth, p_valid, p_ready):
    """Random tokens through a randomly idle producer and a randomly stalling consumer:
    every token comes out once, in order, and the sink checks the stream rules."""
    dut = EventFIFO(COUNT, depth, events)
    rng = np.random.default_rng(events * 100 + depth * 10 + int(p_ready * 10))
    items, values = random_tokens(rng, events, 120)
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source(dut.i, items, rng, p_valid))
    sim.add_testbench(sink(dut.o, got, len(items), np.random.default_rng(depth), p_ready,
                           convert=as_int))
    sim.run()
    assert got == values


@pytest.mark.parametrize("depth", [1, 2, 3, 8])
def test_holds_depth_tokens(depth):
    """With the consumer stalled, exactly ``depth`` tokens are taken and the producer is then
    held; once the consumer runs they all come out, in order."""
    dut = EventFIFO(COUNT, depth)
    tokens = [{"index": i % COUNT, "eos": 0, "last": 0} for i in range(depth + 3)]

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        taken = 0
        for _ in range(3 * depth + 10):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, tokens[taken])
            _, _, ready = await ctx.tick().sample(dut.i.ready)
            taken += ready
        assert taken == depth
        assert ctx.get(dut.o.valid) == 1
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.o.ready, 1)
        out = []
        for _ in range(depth + 5):
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid:
                out.append(int(payload.index))
        assert out == [t["index"] for t in tokens[:depth]]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_ports_follow_events():
    assert EventFIFO(COUNT, 4).i.payload.shape() == EventLayout(COUNT)
    assert EventFIFO(COUNT, 4).o.payload.shape() == EventLayout(COUNT)
    assert EventFIFO(COUNT, 4, events=2).o.payload.shape() == EventGroupLayout(COUNT, 2)
    fifo = EventFIFO(300, 16, events=2)
    assert (fifo.count, fifo.depth, fifo.events) == (300, 16, 2)


def test_constructor_errors():
    with pytest.raises(TypeError, match=r"FIFO depth must be a positive integer, not 0"):
        EventFIFO(COUNT, 0)
    with pytest.raises(TypeError, match=r"FIFO depth must be a positive integer, not '4'"):
        EventFIFO(COUNT, "4")
    with pytest.raises(TypeError, match=r"FIFO depth must be a positive integer, not 2.5"):
        EventFIFO(COUNT, 2.5)
    with pytest.raises(TypeError, match=r"Events per beat must be a positive integer, not 0"):
        EventFIFO(COUNT, 4, events=0)
    with pytest.raises(TypeError, match=r"Neuron count must be a positive integer, not 0"):
        EventFIFO(0, 4)
