"""StreamRegister: one cycle of latency at full rate, the stream rules, and nothing lost or
duplicated under random back-pressure."""
import numpy as np
import pytest
from amaranth.hdl import unsigned
from amaranth.lib import data
from amaranth.sim import Simulator

from rtl_lib.stream_register import StreamRegister

from helpers.streams import sink, source


LAYOUT = data.StructLayout({"a": unsigned(5), "b": unsigned(3)})


@pytest.mark.parametrize("p_valid,p_ready", [(1.0, 1.0), (0.5, 1.0), (1.0, 0.4), (0.6, 0.6),
                                             (0.2, 0.9)])
def test_no_loss_under_back_pressure(p_valid, p_ready):
    """Random items through idle producers and stalling consumers: the same items, in
    order; the sink checks that ``valid`` and the payload hold until each transfer."""
    dut = StreamRegister(LAYOUT)
    rng = np.random.default_rng(int(p_valid * 10 + p_ready * 100))
    items = [{"a": int(a), "b": int(b)} for a, b in zip(rng.integers(0, 32, 150),
                                                         rng.integers(0, 8, 150))]
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source(dut.i, items, rng, p_valid))
    sim.add_testbench(sink(dut.o, got, len(items), np.random.default_rng(1), p_ready,
                           convert=lambda p: {"a": p.a, "b": p.b}))
    sim.run()
    assert got == items


def test_latency_and_full_rate():
    """A beat offered every cycle to an always-ready consumer comes out the next cycle, one
    per cycle; ``i.ready`` is ``~o.valid | o.ready``, so it stays high."""
    dut = StreamRegister(unsigned(8))
    items = list(range(1, 21))
    out = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for cycle, item in enumerate(items + [None]):
            if item is not None:
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, item)
            else:
                ctx.set(dut.i.valid, 0)
            assert ctx.get(dut.i.ready) == 1
            valid, payload = ctx.get(dut.o.valid), ctx.get(dut.o.payload)
            assert valid == (cycle > 0)                       # one cycle of latency
            if valid:
                out.append(payload)
            await ctx.tick()
        assert ctx.get(dut.o.valid) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert out == items


def test_ready_follows_the_output():
    """A full register holds its beat while the consumer stalls, and takes no new one; an
    empty register takes a beat whatever the consumer does."""
    dut = StreamRegister(unsigned(8))

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        assert ctx.get(dut.i.ready) == 1                      # empty
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, 7)
        await ctx.tick()
        ctx.set(dut.i.payload, 9)
        for _ in range(3):                                    # full, stalled
            assert (ctx.get(dut.o.valid), ctx.get(dut.o.payload)) == (1, 7)
            assert ctx.get(dut.i.ready) == 0
            await ctx.tick()
        ctx.set(dut.o.ready, 1)                               # 7 leaves, 9 enters
        assert ctx.get(dut.i.ready) == 1
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        assert (ctx.get(dut.o.valid), ctx.get(dut.o.payload)) == (1, 9)
        await ctx.tick()
        assert ctx.get(dut.o.valid) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_ports_carry_the_layout():
    dut = StreamRegister(LAYOUT)
    assert dut.i.payload.shape() == LAYOUT
    assert dut.o.payload.shape() == LAYOUT
