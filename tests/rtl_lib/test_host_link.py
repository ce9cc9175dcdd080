# amaranth: UnusedElaboratable=no
"""HostLink against the host-side reference, spikegen.protocol."""
import random

import numpy as np
import pytest
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

import spikegen.protocol as protocol
from rtl_lib.event import EventLayout, ResultLayout
from rtl_lib.host_link import (MAX_CLASSES, MAX_INPUTS, RESULT_HEADER, HostLink,
                               SerialAccelerator, accelerator_layouts)


def source(stream_, items, rng, p_valid):
    """Testbench offering ``items`` on ``stream_``, idle on a random share of cycles."""
    async def testbench(ctx):
        for item in items:
            while rng.random() >= p_valid:
                await ctx.tick()
            ctx.set(stream_.valid, 1)
            ctx.set(stream_.payload, item)
            await ctx.tick().until(stream_.ready)
            ctx.set(stream_.valid, 0)
    return testbench


def sink(stream_, got, count, rng, p_ready, *, convert=lambda payload: payload, limit=100_000):
    """Testbench taking ``count`` items from ``stream_`` into ``got``, ready on a random share
    of cycles; checks that the producer obeys the stream rules."""
    async def testbench(ctx):
        held = None
        for _ in range(limit):
            if len(got) == count:
                break
            ctx.set(stream_.ready, rng.random() < p_ready)
            _, _, valid, ready, payload = await ctx.tick().sample(
                stream_.valid, stream_.ready, stream_.payload)
            item = convert(payload) if valid else None
            if held is not None:
                assert valid and item == held, "valid dropped or payload changed before transfer"
            held = item if valid and not ready else None
            if valid and ready:
                got.append(item)
        assert len(got) == count, f"got {len(got)} of {count} items"
    return testbench


def event_tuple(payload):
    return (payload.index, payload.eos, payload.last)


def expected_tokens(spikes):
    """Tokens of a sample, from the definition rather than from encode_sample."""
    tokens = []
    for t, row in enumerate(spikes):
        tokens += [(i, 0, 0) for i in range(len(row)) if row[i]]
        tokens.append((0, 1, int(t == len(spikes) - 1)))
    return tokens


def run_events(dut, data, count, seed, p_valid, p_ready):
    rng = random.Random(seed)
    got, errors = [], []

    async def watch_err(ctx):
        async for _, _, err in ctx.tick().sample(dut.err):
            if err:
                errors.append(err)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i_bytes, list(data), rng, p_valid))
    sim.add_testbench(sink(dut.o_events, got, count, rng, p_ready, convert=event_tuple))
    sim.add_testbench(watch_err, background=True)
    sim.run()
    return got, errors


@pytest.mark.parametrize("n_inputs, p_valid, p_ready", [
    (20, 1.0, 1.0),
    (20, 0.5, 0.3),
    (1, 0.7, 0.7),
    (300, 1.0, 0.2),
    (MAX_INPUTS, 0.8, 0.9),
])
def test_bytes_to_events(n_inputs, p_valid, p_ready):
    rng = np.random.default_rng(n_inputs)
    spikes = (rng.random((5, n_inputs)) < min(0.3, 8 / n_inputs)).astype(np.uint8)
    spikes[2] = 0                   # a step without spikes
    spikes[3, [0, -1]] = 1          # both ends of the index range
    samples = [spikes, spikes[:1]]  # two inferences back to back, the second one step long
    data = b"".join(protocol.encode_sample(s) for s in samples)
    tokens = [token for s in samples for token in expected_tokens(s)]
    dut = HostLink(EventLayout(n_inputs), ResultLayout(2, 4))
    got, errors = run_events(dut, data, len(tokens), n_inputs, p_valid, p_ready)
    assert got == tokens
    assert errors == []


def test_out_of_range_event_dropped():
    n_inputs = 20
    data = (protocol.encode_token(3) + protocol.encode_token(20) + protocol.encode_token(31)
            + protocol.encode_token(19) + protocol.encode_token(eos=True, last=True))
    dut = HostLink(EventLayout(n_inputs), ResultLayout(2, 4))
    got, errors = run_events(dut, data, 3, 0, 1.0, 1.0)
    assert got == [(3, 0, 0), (19, 0, 0), (0, 1, 1)]
    assert len(errors) == 2


@pytest.mark.parametrize("classes, count_bits, p_valid, p_ready", [
    (3, 4, 1.0, 1.0),
    (3, 16, 0.4, 0.5),
    (10, 20, 1.0, 0.3),
    (1, 1, 0.5, 1.0),
    (2, 8, 0.3, 0.1),
])
def test_results_to_bytes(classes, count_bits, p_valid, p_ready):
    rng = random.Random(classes * 100 + count_bits)
    top = (1 << count_bits) - 1
    results = [(0, [top] * classes), (classes - 1, [0] * classes)]
    for _ in range(4):
        counts = [rng.choice([0, 1, top, rng.randrange(top + 1)]) for _ in range(classes)]
        results.append((rng.randrange(classes), counts))
    items = [{"cls": cls, "counts": counts} for cls, counts in results]

    dut = HostLink(EventLayout(4), ResultLayout(classes, count_bits))
    size = protocol.result_frame_size(classes)
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i_result, items, rng, p_valid))
    sim.add_testbench(sink(dut.o_bytes, got, size * len(results), rng, p_ready))
    sim.run()

    data = bytes(got)
    assert data == b"".join(protocol.encode_result(cls, counts) for cls, counts in results)
    assert protocol.decode_results(data, classes) == [
        (cls, [min(c, 0xFFFF) for c in counts]) for cls, counts in results]


def test_both_directions_at_once():
    spikes = np.array([[1, 0, 1, 1], [0, 1, 0, 0]], dtype=np.uint8)
    data = protocol.encode_sample(spikes)
    results = [(1, [7, 9]), (0, [15, 2])]
    dut = HostLink(EventLayout(4), ResultLayout(2, 4))
    rng = random.Random(5)
    tokens, out = [], []
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i_bytes, list(data), rng, 0.6))
    sim.add_testbench(sink(dut.o_events, tokens, 6, rng, 0.6, convert=event_tuple))
    sim.add_testbench(source(dut.i_result, [{"cls": c, "counts": n} for c, n in results],
                             rng, 0.6))
    sim.add_testbench(sink(dut.o_bytes, out, 12, rng, 0.6))
    sim.run()
    assert tokens == expected_tokens(spikes)
    assert protocol.decode_results(bytes(out), 2) == results


def test_constants_match_host_side():
    assert RESULT_HEADER == protocol.RESULT_HEADER
    assert MAX_INPUTS == protocol.MAX_INPUTS
    assert MAX_CLASSES == protocol.MAX_CLASSES


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"The host link carries at most 16384 inputs "
                                         r"\(14-bit index\), not 16385"):
        HostLink(EventLayout(MAX_INPUTS + 1), ResultLayout(2, 4))
    with pytest.raises(ValueError, match=r"The host link carries at most 256 classes "
                                         r"\(1-byte class\), not 257"):
        HostLink(EventLayout(4), ResultLayout(257, 4))
    with pytest.raises(TypeError, match=r"Event layout must be an EventLayout, not 8"):
        HostLink(8, ResultLayout(2, 4))
    with pytest.raises(TypeError, match=r"Result layout must be a ResultLayout, not 8"):
        HostLink(EventLayout(4), 8)


class _Accel(wiring.Component):
    def __init__(self, members):
        super().__init__(members)

    def elaborate(self, platform):
        raise NotImplementedError


def test_accelerator_layouts():
    events, result = EventLayout(7), ResultLayout(3, 5)
    accel = _Accel({"i_events": In(stream.Signature(events)),
                    "o_result": Out(stream.Signature(result))})
    assert accelerator_layouts(accel) == (events, result)

    with pytest.raises(TypeError, match=r"Accelerator must be a wiring.Component, not 3"):
        accelerator_layouts(3)
    no_result = _Accel({"i_events": In(stream.Signature(events))})
    with pytest.raises(TypeError, match=r"Accelerator must have an `o_result: Out\(stream."
                                        r"Signature\(ResultLayout\(\.\.\.\)\)\)` port, not None"):
        accelerator_layouts(no_result)
    wrong_flow = _Accel({"i_events": Out(stream.Signature(events)),
                         "o_result": Out(stream.Signature(result))})
    with pytest.raises(TypeError, match=r"Accelerator must have an `i_events: In\("):
        accelerator_layouts(wrong_flow)
    with pytest.raises(TypeError, match=r"Blink length must be an integer, not 0\.5"):
        SerialAccelerator(accel, 8, blink_cycles=0.5)
    with pytest.raises(ValueError, match=r"Blink length must be at least 1 cycle, not 0"):
        SerialAccelerator(accel, 8, blink_cycles=0)
    with pytest.raises(TypeError, match=r"Receive FIFO depth must be an integer, not '8'"):
        SerialAccelerator(accel, 8, rx_fifo_depth="8")
    with pytest.raises(ValueError, match=r"Receive FIFO depth must be at least 1, not 0"):
        SerialAccelerator(accel, 8, rx_fifo_depth=0)
    with pytest.raises(ValueError, match=r"UART divisor must be at least 4"):
        SerialAccelerator(accel, 2)


@pytest.mark.parametrize("p_valid, p_ready", [(1.0, 1.0), (0.6, 0.4)])
def test_bytes_to_pixels(p_valid, p_ready):
    """On-chip input coding: three bytes per nonzero pixel, the last one marked."""
    from rtl_lib.rate_coder import PixelLayout

    rng = np.random.default_rng(3)
    samples = rng.integers(0, 256, (3, 40))
    samples[samples < 180] = 0
    samples[1] = 0                  # a blank sample: pixel 0 with value 0
    data = b"".join(protocol.encode_pixels(s) for s in samples)
    expected = []
    for s in samples:
        index = np.flatnonzero(s)
        if index.size == 0:
            expected.append((0, 0, 1))
        expected += [(int(i), int(s[i]), int(k == index.size - 1)) for k, i in enumerate(index)]
    dut = HostLink(PixelLayout(40), ResultLayout(3, 4))
    rng_ = random.Random(5)
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i_bytes, list(data), rng_, p_valid))
    sim.add_testbench(sink(dut.o_events, got, len(expected), rng_, p_ready,
                           convert=lambda p: (p.index, p.value, p.last)))
    sim.run()
    assert got == expected


def test_encode_pixels_errors():
    with pytest.raises(ValueError, match="Pixel values must be from 0 to 255"):
        protocol.encode_pixels(np.array([0, 300]))
    assert protocol.encode_pixels(np.zeros(5)) == bytes([0x80, 0, 0])
    assert protocol.encode_pixels(np.array([0, 7, 0, 9])) == bytes([0, 1, 7, 0x80, 3, 9])
