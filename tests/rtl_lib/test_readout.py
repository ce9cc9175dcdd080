"""SpikeCounter against a Python model: saturating counts per class, the class of the largest
count (the lowest index on a tie), one result per inference, and every token passed on."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.event import EventLayout, ResultLayout
from rtl_lib.readout import SpikeCounter

from helpers.streams import sink, source


def tokens(inference):
    """The tokens of an inference given as steps of spiking classes (ascending)."""
    out = []
    for t, step in enumerate(inference):
        out += [{"index": k, "eos": 0, "last": 0} for k in step]
        out.append({"index": 0, "eos": 1, "last": int(t == len(inference) - 1)})
    return out


def model(inference, classes, count_bits):
    """``(cls, counts)``: counts saturate at ``2**count_bits - 1``; ``np.argmax`` takes the
    lowest index on a tie."""
    counts = np.zeros(classes, dtype=int)
    for step in inference:
        for k in step:
            counts[k] += 1
    counts = np.minimum(counts, (1 << count_bits) - 1)
    return int(np.argmax(counts)), [int(c) for c in counts]


def random_inference(rng, classes, steps):
    return [[int(k) for k in np.flatnonzero(rng.random(classes) < rng.uniform(0.1, 0.9))]
            for _ in range(steps)]


def run(classes, count_bits, inferences, rng, p_valid, p_ready_spikes, p_ready_result):
    dut = SpikeCounter(classes, count_bits)
    items = [token for inference in inferences for token in tokens(inference)]
    spikes, results = [], []
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source(dut.i_events, items, rng, p_valid))
    sim.add_testbench(sink(dut.o_spikes, spikes, len(items), np.random.default_rng(1),
                           p_ready_spikes,
                           convert=lambda p: {"index": p.index, "eos": p.eos, "last": p.last}))
    sim.add_testbench(sink(dut.o_result, results, len(inferences), np.random.default_rng(2),
                           p_ready_result,
                           convert=lambda p: (p.cls, [p.counts[k] for k in range(classes)])))
    sim.run()
    assert spikes == items                           # tokens passed on, unchanged, in order
    assert results == [model(inference, classes, count_bits) for inference in inferences]


@pytest.mark.parametrize("classes,count_bits", [(1, 2), (3, 2), (5, 3), (10, 8)])
@pytest.mark.parametrize("p_valid,p_spikes,p_result", [(1.0, 1.0, 1.0), (0.7, 0.6, 0.3),
                                                       (1.0, 0.9, 0.1)])
def test_counts_and_class(classes, count_bits, p_valid, p_spikes, p_result):
    """Random inferences back to back, with idle and stalling streams; narrow counts
    saturate, so ties at the top are common."""
    rng = np.random.default_rng(classes * 100 + count_bits * 10 + int(p_result * 10))
    inferences = [random_inference(rng, classes, int(rng.integers(1, 8))) for _ in range(8)]
    run(classes, count_bits, inferences, rng, p_valid, p_spikes, p_result)


def test_ties_go_to_the_lowest_index():
    """Equal counts reached in either order, all-zero counts, and classes that saturate at
    the same count after different numbers of spikes."""
    inferences = [
        [[2, 3], [1, 2], [1, 3]],                    # 0, 2, 2, 2: class 1
        [[3], [3], [0], [0]],                        # 3 first, 0 catches up: class 0
        [[], [], []],                                # no spikes: class 0
        [[1, 3]] * 9 + [[3]] * 4,                    # 9 and 13 spikes, both count 7: class 1
        [[0, 1, 2, 3]],                              # all equal: class 0
        [[3], [2], [3]],                             # a strict winner with the top index
    ]
    run(4, 3, inferences, np.random.default_rng(0), 1.0, 1.0, 1.0)
    assert [model(i, 4, 3)[0] for i in inferences] == [1, 0, 0, 1, 0, 3]


def test_result_waits_and_blocks_the_next_inference():
    """The result is offered until taken; meanwhile no token moves, and the counts of the
    next inference start from zero."""
    dut = SpikeCounter(3, 4)

    async def bench(ctx):
        ctx.set(dut.o_spikes.ready, 1)
        ctx.set(dut.o_result.ready, 0)
        for token in tokens([[0, 2], [2]]):
            ctx.set(dut.i_events.valid, 1)
            ctx.set(dut.i_events.payload, token)
            await ctx.tick().until(dut.i_events.ready)
        ctx.set(dut.i_events.payload, {"index": 1, "eos": 0, "last": 0})
        for _ in range(4):
            _, _, valid, result, ready = await ctx.tick().sample(
                dut.o_result.valid, dut.o_result.payload, dut.i_events.ready)
            assert valid and not ready
            assert (result.cls, [result.counts[k] for k in range(3)]) == (2, [1, 0, 2])
            assert ctx.get(dut.o_spikes.valid) == 0
        ctx.set(dut.o_result.ready, 1)
        await ctx.tick()
        ctx.set(dut.o_result.ready, 0)
        await ctx.tick().until(dut.i_events.ready)   # the held spike of class 1 goes in
        ctx.set(dut.i_events.payload, {"index": 0, "eos": 1, "last": 1})
        await ctx.tick().until(dut.i_events.ready)
        ctx.set(dut.i_events.valid, 0)
        await ctx.tick()
        result = ctx.get(dut.o_result.payload)
        assert ctx.get(dut.o_result.valid)
        assert (result.cls, [result.counts[k] for k in range(3)]) == (1, [0, 1, 0])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_ports():
    dut = SpikeCounter(7, 5)
    assert dut.i_events.payload.shape() == EventLayout(7)
    assert dut.o_spikes.payload.shape() == EventLayout(7)
    assert dut.o_result.payload.shape() == ResultLayout(7, 5)
