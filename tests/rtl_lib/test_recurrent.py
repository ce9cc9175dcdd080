"""RecurrentEvents against a Python model: each step's input events pass (widened), then the
previous step's spikes as events ``inputs + j`` in ascending ``j``, then the end of step;
the spikes are taken only once ``busy`` is low."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.event import EventGroupLayout, EventLayout
from rtl_lib.recurrent import RecurrentEvents

from helpers.streams import sink, source


INPUTS, OUTPUTS = 5, 4


def input_beats(steps, events, rng):
    """Beats of the input events of ``steps`` (lists of indices), in random sizes."""
    out = []
    for t, active in enumerate(steps):
        if events == 1:
            out += [{"index": i, "eos": 0, "last": 0} for i in active]
            out.append({"index": 0, "eos": 1, "last": int(t == len(steps) - 1)})
            continue
        while active:
            size = int(rng.integers(1, events + 1))
            beat, active = active[:size], active[size:]
            out.append({"index": beat + [0] * (events - len(beat)), "count": len(beat),
                        "eos": 0, "last": 0})
        out.append({"index": [0] * events, "count": 0, "eos": 1,
                    "last": int(t == len(steps) - 1)})
    return out


def model(beats, masks):
    """``(events, eos, last)`` of each output beat: input beats unchanged, and before each
    end of step one beat per set bit of that step's spike mask."""
    out, t = [], 0
    for beat in beats:
        if not beat["eos"]:
            index = beat["index"]
            out.append(((index,) if isinstance(index, int) else tuple(index[:beat["count"]]),
                        0, 0))
            continue
        out += [((INPUTS + j,), 0, 0) for j in range(OUTPUTS) if masks[t] >> j & 1]
        out.append(((), 1, beat["last"]))
        t += 1
    return out


def convert(events):
    if events == 1:
        return lambda p: ((() if p.eos else (int(p.index),)), int(p.eos), int(p.last))
    return lambda p: (tuple(int(p.index[k]) for k in range(int(p.count))), int(p.eos),
                      int(p.last))


@pytest.mark.parametrize("events", [1, 2])
@pytest.mark.parametrize("p_valid,p_ready,max_busy", [(1.0, 1.0, 0), (0.6, 1.0, 3),
                                                      (1.0, 0.5, 2), (0.7, 0.6, 6)])
def test_spikes_follow_the_input_events(events, p_valid, p_ready, max_busy):
    """Random steps over several inferences. Before each step's end of step the testbench
    holds ``busy`` high for a few cycles with a wrong spike mask, then offers that step's
    mask with ``busy`` low until the step's end of step has left."""
    rng = np.random.default_rng(events * 100 + int(p_ready * 10) + max_busy)
    steps = [[int(i) for i in np.flatnonzero(rng.random(INPUTS) < rng.uniform(0, 1))]
             for _ in range(14)]
    masks = [int(m) for m in rng.integers(0, 1 << OUTPUTS, len(steps))]
    masks[0], masks[1] = (1 << OUTPUTS) - 1, 0                     # all spike, none spike
    inferences = [steps[:3], steps[3:4], steps[4:9], steps[9:]]
    beats = [b for inference in inferences for b in input_beats(inference, events, rng)]
    want = model(beats, masks)
    dut = RecurrentEvents(INPUTS, OUTPUTS, events)
    got = []

    async def spikes(ctx):
        # like the layer: busy rises right after an end of step has left, with no valid
        # spikes, and falls (the step's spikes valid) a few cycles later
        wrong = (1 << OUTPUTS) - 1
        for mask in masks:
            ctx.set(dut.busy, 1)
            for _ in range(int(rng.integers(0, max_busy + 1))):
                ctx.set(dut.spikes, ~mask & wrong)
                await ctx.tick()
            ctx.set(dut.spikes, mask)
            ctx.set(dut.busy, 0)
            while True:
                _, _, valid, ready, eos = await ctx.tick().sample(dut.o.valid, dut.o.ready,
                                                                  dut.o.payload.eos)
                if valid and ready and eos:
                    break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source(dut.i, beats, rng, p_valid))
    sim.add_testbench(spikes, background=True)
    sim.add_testbench(sink(dut.o, got, len(want), np.random.default_rng(3), p_ready,
                           convert=convert(events)))
    sim.run()
    assert got == want


def test_end_of_step_waits_while_busy():
    """No output and no input taken while ``busy`` is high at an end of step; the spikes
    read are those present when ``busy`` falls."""
    dut = RecurrentEvents(INPUTS, OUTPUTS)

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.busy, 1)
        ctx.set(dut.spikes, 0b0001)
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, {"index": 0, "eos": 1, "last": 1})
        for _ in range(5):
            _, _, i_ready, o_valid = await ctx.tick().sample(dut.i.ready, dut.o.valid)
            assert not i_ready and not o_valid
        ctx.set(dut.spikes, 0b1010)
        ctx.set(dut.busy, 0)
        out = []
        for _ in range(6):
            _, _, valid, payload, i_ready = await ctx.tick().sample(dut.o.valid, dut.o.payload,
                                                                    dut.i.ready)
            ctx.set(dut.busy, 1)              # spikes are taken once, when busy falls
            ctx.set(dut.spikes, 0b0100)
            if valid:
                out.append((int(payload.index), int(payload.eos), int(payload.last)))
            if i_ready:
                break
        assert out == [(INPUTS + 1, 0, 0), (INPUTS + 3, 0, 0), (0, 1, 1)]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("events", [1, 2])
def test_output_indices_are_widened(events):
    dut = RecurrentEvents(INPUTS, OUTPUTS, events)
    layout = (EventLayout if events == 1 else lambda n: EventGroupLayout(n, events))
    assert dut.i.payload.shape() == layout(INPUTS)
    assert dut.o.payload.shape() == layout(INPUTS + OUTPUTS)
    assert len(dut.spikes) == OUTPUTS
