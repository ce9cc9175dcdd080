"""On-chip input coders and direct input, against the reference model."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.rate_coder import RateCoder
from spikegen.assemble import accelerator
from spikegen.encode import rate_onchip
from spikegen.ir import HardwareConfig, InputCoding
from spikegen.quantize import quantize
from spikegen.reference import simulate
from spikegen.sim.amaranth_tb import pixel_tokens, run

from helpers.networks import random_network


def pixels(rng, samples, inputs, density=0.4):
    values = rng.integers(1, 256, (samples, inputs))
    values[rng.random((samples, inputs)) > density] = 0
    values[0] = 0                                 # a blank sample
    return values.astype(np.uint8)


def test_rate_coder_reproduces_the_model(rng):
    count, steps = 11, 6
    values = pixels(rng, 4, count)
    dut = RateCoder(count, steps, seed=12345)
    got = np.zeros((4, steps, count), dtype=np.uint8)

    async def feed(ctx):
        for b in range(4):
            for token in pixel_tokens(values[b]):
                ctx.set(dut.i_pixels.payload, token)
                ctx.set(dut.i_pixels.valid, 1)
                await ctx.tick().until(dut.i_pixels.ready)
            ctx.set(dut.i_pixels.valid, 0)

    async def collect(ctx):
        b = t = cycle = 0
        while b < 4:
            ctx.set(dut.o_events.ready, int(cycle % 3 != 2))    # back-pressure
            cycle += 1
            _, _, valid, ready, p = await ctx.tick().sample(
                dut.o_events.valid, dut.o_events.ready, dut.o_events.payload)
            if valid and ready:
                if p.eos:
                    t += 1
                    if p.last:
                        assert t == steps
                        b, t = b + 1, 0
                else:
                    got[b, t, p.index] = 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(feed, background=True)
    sim.add_testbench(collect)
    sim.run()
    np.testing.assert_array_equal(got, rate_onchip(values, steps, seed=12345))


@pytest.mark.parametrize("kind", ["rate", "direct"])
@pytest.mark.parametrize("reset,delay", [("subtract", True), ("zero", False),
                                         ("subtract", False), ("none", True)])
def test_accelerator_with_coder(rng, kind, reset, delay):
    net = random_network(rng, (14, 9, 5), beta=0.8125, reset=reset, reset_delay=delay,
                         scale=0.8, mean=0.3)
    qnet = quantize(net, weight_bits=6, coding=InputCoding(kind=kind, steps=5),
                    hardware=HardwareConfig(parallelism=int(rng.choice([0, 2, 4])),
                                            fifo_depth=4))
    values = pixels(rng, 4, 14, density=0.5)
    ref = simulate(qnet, values)
    assert ref.spikes.sum() > 0
    got, results, _ = run(accelerator(qnet), values, outputs=5, steps=5,
                          overlap=kind == "rate", stall_every=4)
    np.testing.assert_array_equal(got, ref.spikes)
    assert [r[0] for r in results] == ref.predicted.tolist()
    assert [r[1] for r in results] == ref.counts.tolist()
