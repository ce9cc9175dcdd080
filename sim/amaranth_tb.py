"""Drive an accelerator (or one layer) in Amaranth's simulator, token by token.

The same stimulus and the same checks as the cocotb testbench, for component tests that
need no Verilator build. ``run`` returns the output spikes per step, the results and the
cycles of every sample.
"""
import numpy as np
from amaranth.sim import Simulator


__all__ = ["tokens", "run"]


def tokens(sample):
    """Tokens of one sample (steps, inputs) as dicts: events ascending, then end of step."""
    steps = sample.shape[0]
    for t in range(steps):
        for i in np.flatnonzero(sample[t]):
            yield {"index": int(i), "eos": 0, "last": 0}
        yield {"index": 0, "eos": 1, "last": int(t == steps - 1)}


def run(dut, spikes, *, outputs, result=True, overlap=False, stall_every=0):
    """Feed ``spikes`` (samples, steps, inputs) to ``dut``; collect what comes out.

    ``dut`` has ``i_events`` and either ``o_spikes`` and ``o_result`` (an accelerator,
    ``result=True``) or ``o_events`` (a layer). ``overlap`` feeds samples back to back instead
    of waiting for each result; ``stall_every`` > 0 drops the output ``ready`` every that
    many cycles, to exercise back-pressure.
    """
    samples, steps, _ = spikes.shape
    out_stream = dut.o_spikes if result else dut.o_events
    got = np.zeros((samples, steps, outputs), dtype=np.uint8)
    results, starts, ends = [], {}, {}
    clock = {"cycle": 0, "done": 0}

    async def driver(ctx):
        for b in range(samples):
            if not overlap:
                while clock["done"] < b:
                    await ctx.tick()
            starts[b] = clock["cycle"]
            for token in tokens(spikes[b]):
                ctx.set(dut.i_events.payload, token)
                ctx.set(dut.i_events.valid, 1)
                await ctx.tick().until(dut.i_events.ready)
            ctx.set(dut.i_events.valid, 0)

    def finish(b):
        ends[b] = clock["cycle"]
        clock["done"] += 1

    async def monitor(ctx):
        b, t = 0, 0
        if result:
            ctx.set(dut.o_result.ready, 1)
        watched = [out_stream.valid, out_stream.payload]
        if result:
            watched += [dut.o_result.valid, dut.o_result.payload]
        while clock["done"] < samples:
            stalled = bool(stall_every) and clock["cycle"] % stall_every == stall_every - 1
            ctx.set(out_stream.ready, 0 if stalled else 1)
            _, _, valid, payload, *res = await ctx.tick().sample(*watched)
            clock["cycle"] += 1
            if valid and not stalled:
                if not payload.eos:
                    got[b, t, payload.index] = 1
                elif payload.last and not result:
                    finish(b)
                    b, t = b + 1, 0
                else:
                    t += 1
            if res and res[0]:
                r = res[1]
                results.append((int(r.cls), [int(r.counts[k]) for k in range(outputs)]))
                finish(b)
                b, t = b + 1, 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(driver, background=True)
    sim.add_testbench(monitor)
    sim.run()
    return got, results, [ends[b] - starts[b] for b in range(samples)]
