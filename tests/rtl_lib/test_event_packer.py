"""EventPacker against a Python model: whatever mix of one- and two-event beats arrives,
events 0-1, 2-3, ... of each step leave together, an odd step's last event alone, and the
end-of-step tokens pass with their ``last`` flag."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.event import EventGroupLayout
from rtl_lib.event_packer import EventPacker

from helpers.streams import sink, source


COUNT = 9


def random_steps(rng, steps, p_spike=0.5):
    """Each step's events (ascending), some steps empty, some odd, some even."""
    return [[int(i) for i in np.flatnonzero(rng.random(COUNT) < p_spike)]
            for _ in range(steps)]


def beats(steps, mode, rng):
    """The input beats of ``steps``: ``mode`` "single" (one event per beat), "pairs" (two,
    the step's last alone when odd, as a producer pairing by position would) or "mixed"
    (random sizes, so beats straddle the pairs)."""
    out = []
    for t, active in enumerate(steps):
        while active:
            size = {"single": 1, "pairs": 2}.get(mode) or int(rng.integers(1, 3))
            beat, active = active[:size], active[size:]
            out.append({"index": beat + [0] * (2 - len(beat)), "count": len(beat), "eos": 0,
                        "last": 0})
        out.append({"index": [0, 0], "count": 0, "eos": 1, "last": int(t == len(steps) - 1)})
    return out


def model(steps):
    """``(events, eos, last)`` of each output beat."""
    out = []
    for t, active in enumerate(steps):
        out += [(tuple(active[k:k + 2]), 0, 0) for k in range(0, len(active), 2)]
        out.append(((), 1, int(t == len(steps) - 1)))
    return out


def convert(payload):
    n = int(payload.count)
    return tuple(int(payload.index[k]) for k in range(n)), int(payload.eos), int(payload.last)


@pytest.mark.parametrize("mode", ["single", "pairs", "mixed"])
@pytest.mark.parametrize("p_valid,p_ready", [(1.0, 1.0), (0.6, 1.0), (1.0, 0.5), (0.7, 0.7)])
def test_pairs_by_position(mode, p_valid, p_ready):
    rng = np.random.default_rng(["single", "pairs", "mixed"].index(mode) * 10
                                + int(p_ready * 5 + p_valid))
    inferences = [random_steps(rng, int(rng.integers(1, 6)), float(rng.uniform(0.1, 0.9)))
                  for _ in range(6)]
    inferences.append([[], [0], [], [1, 2, 3], [4, 5]])             # empty and odd steps
    items = [beat for steps in inferences for beat in beats(steps, mode, rng)]
    want = [beat for steps in inferences for beat in model(steps)]
    dut = EventPacker(COUNT)
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source(dut.i, items, rng, p_valid))
    sim.add_testbench(sink(dut.o, got, len(want), np.random.default_rng(2), p_ready,
                           convert=convert))
    sim.run()
    assert got == want


def test_full_beats_at_full_rate():
    """Pairs offered every cycle to an always-ready consumer leave one per cycle."""
    dut = EventPacker(COUNT)
    pairs = [[k % COUNT, (k + 1) % COUNT] for k in range(0, 40, 2)]
    out = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for pair in pairs:
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, {"index": pair, "count": 2, "eos": 0, "last": 0})
            _, _, ready, valid, payload = await ctx.tick().sample(dut.i.ready, dut.o.valid,
                                                                   dut.o.payload)
            assert ready
            if valid:
                out.append(convert(payload)[0])
        ctx.set(dut.i.valid, 0)
        _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
        assert valid
        out.append(convert(payload)[0])
        assert len(out) == len(pairs)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert out == [tuple(pair) for pair in pairs]


def test_ports():
    dut = EventPacker(COUNT)
    assert dut.i.payload.shape() == EventGroupLayout(COUNT, 2)
    assert dut.o.payload.shape() == EventGroupLayout(COUNT, 2)
