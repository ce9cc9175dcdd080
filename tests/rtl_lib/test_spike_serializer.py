"""SpikeSerializer: every set bit once, ascending, in the beats its cycle model predicts."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.spike_serializer import SpikeSerializer, chunk_bits, serializer_beats


@pytest.mark.parametrize("outputs, lanes, events", [
    (128, 128, 2), (128, 128, 1), (10, 10, 2), (20, 6, 2), (7, 3, 1), (5, 1, 2), (33, 33, 2),
    (100, 24, 2), (30, 10, 2), (40, 16, 1), (12, 3, 2),
])
def test_words_become_ascending_events(outputs, lanes, events):
    rng = np.random.default_rng(outputs * 7 + lanes + events)
    groups = -(-outputs // lanes)
    steps = 6
    spikes = (rng.random((steps, outputs)) < rng.uniform(0.05, 0.7)).astype(np.uint8)
    spikes[2] = 0                                     # a step without spikes
    dut = SpikeSerializer(outputs, lanes, groups, events)
    words = []
    for t in range(steps):
        padded = np.zeros(groups * lanes, dtype=np.uint8)
        padded[:outputs] = spikes[t]
        for g in range(groups):
            lane_bits = padded[g * lanes:(g + 1) * lanes]
            bits = sum(int(b) << j for j, b in enumerate(lane_bits))
            c = chunk_bits(lanes)
            nonzero = sum(int(lane_bits[k:k + c].any()) << (k // c)
                          for k in range(0, lanes, c))
            words.append({"bits": bits, "nonzero": nonzero, "group": g,
                          "final": int(g == groups - 1), "last": int(t == steps - 1)})
    got, beats = [[] for _ in range(steps)], [0] * steps

    async def producer(ctx):
        for word in words:
            ctx.set(dut.i_words.payload, word)
            ctx.set(dut.i_words.valid, 1)
            await ctx.tick().until(dut.i_words.ready)
        ctx.set(dut.i_words.valid, 0)

    async def consumer(ctx):
        t = 0
        cycle = 0
        while t < steps:
            ready = int(rng.random() < 0.8)
            ctx.set(dut.o_events.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o_events.valid,
                                                           dut.o_events.payload)
            cycle += 1
            assert cycle < 5000
            if not (valid and ready):
                continue
            if payload.eos:
                assert payload.last == (t == steps - 1)
                t += 1
                continue
            beats[t] += 1
            if events == 1:
                got[t].append(int(payload.index))
            else:
                got[t].extend(int(payload.index[k]) for k in range(int(payload.count)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    for t in range(steps):
        assert got[t] == list(np.flatnonzero(spikes[t])), f"step {t}"
    np.testing.assert_array_equal(beats, serializer_beats(spikes, lanes, events))


def test_events_per_beat_checked():
    with pytest.raises(ValueError, match="Events per beat must be 1 or 2"):
        SpikeSerializer(8, 8, 1, 3)
