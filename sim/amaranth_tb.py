"""Drive an accelerator (or one layer) in Amaranth's simulator, token by token.

The same stimulus and the same checks as the cocotb testbench, for component tests that
need no Verilator build. ``run`` returns the output spikes per step, the results and the
cycles of every sample.
"""
import numpy as np
from amaranth.sim import Simulator

from rtl_lib.event import EventGroupLayout


__all__ = ["tokens", "pixel_tokens", "run"]


def tokens(sample, events=1, rng=None):
    """Tokens of one sample (steps, inputs) as dicts: events ascending, then end of step.

    With ``events`` > 1, beats of :class:`~rtl_lib.event.EventGroupLayout` holding up to
    ``events`` consecutive events; with ``rng``, beats of random sizes (a layer must pair
    events by their position in the step whatever the beats)."""
    steps = sample.shape[0]
    for t in range(steps):
        active = [int(i) for i in np.flatnonzero(sample[t])]
        if events == 1:
            for i in active:
                yield {"index": i, "eos": 0, "last": 0}
            yield {"index": 0, "eos": 1, "last": int(t == steps - 1)}
            continue
        while active:
            size = events if rng is None else int(rng.integers(1, events + 1))
            group, active = active[:size], active[size:]
            yield {"index": group + [0] * (events - len(group)), "count": len(group),
                   "eos": 0, "last": 0}
        yield {"index": [0] * events, "count": 0, "eos": 1, "last": int(t == steps - 1)}


def pixel_tokens(pixels):
    """Tokens of one sample's pixels (inputs,) for on-chip coding: the nonzero pixels in
    ascending index, the last one marked; a sample with none sends one pixel of value 0."""
    index = np.flatnonzero(pixels)
    if index.size == 0:
        yield {"index": 0, "value": 0, "last": 1}
    for k, i in enumerate(index):
        yield {"index": int(i), "value": int(pixels[i]), "last": int(k == index.size - 1)}


def run(dut, spikes, *, outputs, result=True, overlap=False, stall_every=0, steps=None,
        mixed_beats=False):
    """Feed ``spikes`` (samples, steps, inputs) to ``dut``; collect what comes out.

    With ``steps`` given, ``spikes`` are instead pixel values (samples, inputs) for an
    accelerator with an on-chip coder (``i_pixels``) that runs ``steps`` time steps.

    ``dut`` has ``i_events`` and either ``o_spikes`` and ``o_result`` (an accelerator,
    ``result=True``) or ``o_events`` (a layer). ``overlap`` feeds samples back to back instead
    of waiting for each result; ``stall_every`` > 0 drops the output ``ready`` every that
    many cycles, to exercise back-pressure. ``mixed_beats`` sends beats of random sizes to
    a layer that takes several events per cycle.
    """
    if steps is None:
        samples, steps, _ = spikes.shape
        port = dut.i_events
        layout = port.payload.shape()
        events = layout.events if isinstance(layout, EventGroupLayout) else 1
        mix = np.random.default_rng(samples)
        stimulus = [list(tokens(sample, events, mix if mixed_beats else None))
                    for sample in spikes]
    else:
        samples = spikes.shape[0]
        stimulus, port = [list(pixel_tokens(sample)) for sample in spikes], dut.i_pixels
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
            for token in stimulus[b]:
                ctx.set(port.payload, token)
                ctx.set(port.valid, 1)
                await ctx.tick().until(port.ready)
            ctx.set(port.valid, 0)

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
