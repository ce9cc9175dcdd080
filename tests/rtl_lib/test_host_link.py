# amaranth: UnusedElaboratable=no
"""The host link (protocol version 1) against the host-side reference, spikegen.protocol."""
import random

import numpy as np
import pytest
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

import spikegen.protocol as protocol
from rtl_lib.event import EventLayout, ResultLayout
from rtl_lib.host_link import HostLink, SerialAccelerator, accelerator_layouts
from rtl_lib.link_format import MAX_INPUTS, PROTOCOL_VERSION
from rtl_lib.rate_coder import PixelLayout

from helpers.fake_accel import CountingAccel, decode_line, expected_result, line_levels
from helpers.streams import sink, source, token_fields


# -- testbench pieces -------------------------------------------------------------------------


def fake_result(tokens, classes, count_bits):
    """A result that depends on every token of an inference, standing in for the network."""
    top = (1 << count_bits) - 1
    total = sum((k + 1) * sum(token) for k, token in enumerate(tokens))
    counts = [(total * (j + 3) + len(tokens)) & top for j in range(classes)]
    return total % classes, counts


def link_model(items, *, pixels, inputs, classes, count_bits, rx_buffer=512):
    """Tokens and response bytes of a HostLink fed ``items`` (byte, lost), from the
    reference: frames split at 0x00, COBS-decoded, then :func:`protocol.board_parse`."""
    tokens, out = [], bytearray()
    segment, lost = [], False
    for byte, flag in items:
        lost |= bool(flag)
        if byte:
            segment.append(byte)
            continue
        frame = protocol.cobs_decode(bytes(segment))
        segment, was_lost, lost = [], lost, False
        if not frame:
            continue
        verdict = protocol.board_parse(frame, pixels=pixels, inputs=inputs, lost=was_lost)
        tokens += verdict.tokens
        if verdict.info:
            out += protocol.encode_info(verdict.seq, pixels=pixels, inputs=inputs,
                                        classes=classes, rx_buffer=rx_buffer)
        elif verdict.has_result and verdict.code == 0:
            cls, counts = fake_result(verdict.tokens, classes, count_bits)
            out += protocol.encode_result(verdict.seq, cls,
                                          [min(c, 0xFFFF) for c in counts])
        else:
            out += protocol.encode_error(verdict.seq, verdict.code)
    return tokens, bytes(out)


def run_link(dut, items, *, pixels, classes, count_bits, n_tokens, n_bytes, seed,
             p_valid=1.0, p_ready=1.0):
    """Feed ``items`` to a HostLink; the results come from :func:`fake_result`."""
    rng = random.Random(seed)
    tokens, out, results, current = [], [], [], []

    convert = token_fields(pixels)

    def on_token(token):
        current.append(token)
        if token[2]:
            cls, counts = fake_result(current, classes, count_bits)
            results.append({"cls": cls, "counts": counts})
            current.clear()

    async def result_source(ctx):
        sent = 0
        while True:
            if sent == len(results):
                await ctx.tick()
                continue
            ctx.set(dut.i_result.valid, 1)
            ctx.set(dut.i_result.payload, results[sent])
            await ctx.tick().until(dut.i_result.ready)
            ctx.set(dut.i_result.valid, 0)
            sent += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i_bytes, [{"data": b, "lost": int(l)} for b, l in items],
                             rng, p_valid))
    sim.add_testbench(sink(dut.o_events, tokens, n_tokens, rng, p_ready, convert=convert,
                           on_item=on_token))
    sim.add_testbench(sink(dut.o_bytes, out, n_bytes, rng, p_ready))
    sim.add_testbench(result_source, background=True)
    sim.run()
    return tokens, bytes(out)


def wire(frames):
    """(byte, lost) items of whole frames, no byte lost."""
    return [(byte, False) for frame in frames for byte in frame]


def random_frames(rng, *, pixels, inputs, n, steps_max=5, junk=False):
    """Request frames with random samples; with ``junk``, also info requests and frames the
    board must refuse with a valid CRC (unknown type, bad count, bad index, bad length)."""
    frames = []
    for seq in range(n):
        choice = rng.random() if junk else 1.0
        if choice < 0.1:
            frames.append(protocol.info_request(seq))
        elif choice < 0.15:
            frames.append(protocol.request_frame(rng.choice([0, 3, 0x7F]), seq, b"\x01\x02"))
        elif choice < 0.2:
            frames.append(protocol.request_frame(protocol.SAMPLE, seq, b"\x00\x00"))
        elif choice < 0.25:
            # a payload one byte short of its count
            frames.append(protocol.request_frame(protocol.SAMPLE, seq, b"\x00\x02\x80\x00\x80"))
        elif choice < 0.3:
            bad = bytes([0x3F, 0xFF, 0x07]) if pixels else b"\x3f\xff"
            payload = (protocol.encode_pixels(np.eye(inputs)[0] * 9) if pixels
                       else protocol.encode_sample(np.zeros((1, inputs))))
            payload = bad + payload
            frames.append(protocol.sample_frame(seq, payload, 3 if pixels else 2))
        elif pixels:
            values = rng_pixels(rng, inputs)
            frames.append(protocol.sample_frame(seq, protocol.encode_pixels(values), 3))
        else:
            steps = rng.randint(1, steps_max)
            spikes = np.array([[rng.random() < 0.3 for _ in range(inputs)]
                               for _ in range(steps)], dtype=np.uint8)
            frames.append(protocol.sample_frame(seq, protocol.encode_sample(spikes), 2))
    return frames


def rng_pixels(rng, inputs):
    values = np.array([rng.randrange(256) if rng.random() < 0.3 else 0 for _ in range(inputs)])
    return values


def corrupt(rng, items, n):
    """``n`` random faults: a changed byte, a lost byte (flagged on the next one kept, as the
    UART does), an extra byte, or a changed byte next to a 0x00 delimiter."""
    items = list(items)
    for _ in range(n):
        i = rng.randrange(len(items) - 1)
        fault = rng.choice(["flip", "zero", "lose", "insert"])
        byte, lost = items[i]
        if fault == "flip":
            items[i] = (byte ^ (1 << rng.randrange(8)), lost)
        elif fault == "zero":
            items[i] = (0, lost)
        elif fault == "lose":
            del items[i]
            items[i] = (items[i][0], True)
        else:
            items.insert(i, (rng.randrange(256), lost))
    return items


# -- the link: bytes to tokens, verdicts and results to bytes ---------------------------------


@pytest.mark.parametrize("pixels, inputs, p_valid, p_ready", [
    (False, 20, 1.0, 1.0),
    (False, 20, 0.5, 0.3),
    (False, 1, 0.7, 0.7),
    (False, 300, 1.0, 0.2),
    (True, 40, 1.0, 1.0),
    (True, 40, 0.6, 0.4),
])
def test_good_frames(pixels, inputs, p_valid, p_ready):
    rng = random.Random(inputs * 7 + int(pixels))
    frames = random_frames(rng, pixels=pixels, inputs=inputs, n=6)
    items = wire(frames)
    classes, count_bits = 3, 4
    tokens, expected = link_model(items, pixels=pixels, inputs=inputs, classes=classes,
                                  count_bits=count_bits)
    layout = PixelLayout(inputs) if pixels else EventLayout(inputs)
    dut = HostLink(layout, ResultLayout(classes, count_bits))
    got_tokens, got = run_link(dut, items, pixels=pixels, classes=classes,
                               count_bits=count_bits, n_tokens=len(tokens),
                               n_bytes=len(expected), seed=inputs, p_valid=p_valid,
                               p_ready=p_ready)
    assert got_tokens == tokens
    assert got == expected
    responses = protocol.decode_responses(got, classes)
    assert [r.kind for r in responses] == ["result"] * 6
    assert [r.seq for r in responses] == list(range(6))


def test_tokens_follow_the_definition():
    # The tokens of a sample, from the definition rather than from the model.
    spikes = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=np.uint8)
    frame = protocol.sample_frame(9, protocol.encode_sample(spikes), 2)
    tokens, _ = link_model(wire([frame]), pixels=False, inputs=4, classes=2, count_bits=4)
    assert tokens == [(0, 0, 0), (2, 0, 0), (3, 0, 0), (0, 1, 0), (0, 1, 0), (1, 0, 0),
                      (0, 1, 1)]
    pixels = protocol.sample_frame(3, protocol.encode_pixels([0, 7, 0, 9]), 3)
    tokens, _ = link_model(wire([pixels]), pixels=True, inputs=4, classes=2, count_bits=4)
    assert tokens == [(1, 7, 0), (3, 9, 1)]


@pytest.mark.parametrize("pixels, seed", [(False, 0), (False, 1), (False, 2), (True, 3),
                                          (True, 4)])
def test_damaged_and_refused_frames(pixels, seed):
    # Random faults on the line and frames the board must refuse: the hardware agrees with
    # the reference on every token, every verdict and every byte sent back, and every frame
    # the board saw gets exactly one answer.
    rng = random.Random(seed)
    inputs, classes, count_bits = 12, 3, 5
    frames = random_frames(rng, pixels=pixels, inputs=inputs, n=14, junk=True)
    items = corrupt(rng, [(0, False)] + wire(frames), 6)
    tokens, expected = link_model(items, pixels=pixels, inputs=inputs, classes=classes,
                                  count_bits=count_bits)
    layout = PixelLayout(inputs) if pixels else EventLayout(inputs)
    dut = HostLink(layout, ResultLayout(classes, count_bits))
    got_tokens, got = run_link(dut, items, pixels=pixels, classes=classes,
                               count_bits=count_bits, n_tokens=len(tokens),
                               n_bytes=len(expected), seed=seed, p_valid=0.8, p_ready=0.7)
    assert got_tokens == tokens
    assert got == expected
    kinds = [r.kind for r in protocol.decode_responses(got, classes)]
    assert "error" in kinds and "result" in kinds


def test_error_codes():
    inputs = 4
    sample = protocol.encode_sample(np.eye(inputs, dtype=np.uint8)[:2])
    good = protocol.sample_frame(1, sample, 2)
    raw = bytearray(protocol.cobs_decode(good[:-1]))
    bad_crc = bytearray(raw)
    bad_crc[5] ^= 0x40
    cases = [
        (protocol.cobs_encode(bad_crc) + b"\x00", protocol.CHECKSUM),
        (protocol.request_frame(7, 2, b""), protocol.TYPE),
        (protocol.request_frame(protocol.SAMPLE, 3, b"\x00\x00"), protocol.COUNT),
        (protocol.request_frame(protocol.SAMPLE, 4, b"\x00\x01\x80"), protocol.LENGTH),
        (protocol.request_frame(protocol.SAMPLE, 5, b"\x00\x01\xc0\x00\x55"), protocol.LENGTH),
        (protocol.request_frame(protocol.SAMPLE, 6, b"\x00\x02\x00\x04\xc0\x00"),
         protocol.MALFORMED),
        (protocol.request_frame(protocol.SAMPLE, 7, b"\x00\x01\x00\x01"), protocol.MALFORMED),
        (protocol.request_frame(protocol.INFO, 8, b"\x00"), protocol.LENGTH),
    ]
    for frame, code in cases:
        verdict = protocol.board_parse(protocol.cobs_decode(frame[:-1]), pixels=False,
                                       inputs=inputs)
        assert verdict.code == code, (frame, verdict)
    lost = protocol.board_parse(bytes(raw), pixels=False, inputs=inputs, lost=True)
    assert lost.code == protocol.OVERRUN and lost.seq == 1 and lost.has_result
    # the error frames the hardware sends for them
    items = wire([frame for frame, _ in cases])
    tokens, expected = link_model(items, pixels=False, inputs=inputs, classes=2, count_bits=4)
    dut = HostLink(EventLayout(inputs), ResultLayout(2, 4))
    got_tokens, got = run_link(dut, items, pixels=False, classes=2, count_bits=4,
                               n_tokens=len(tokens), n_bytes=len(expected), seed=0)
    assert got == expected
    assert [(r.kind, r.code) for r in protocol.decode_responses(got, 2)] == \
        [("error", code) for _, code in cases]


def test_info_frame():
    layout = PixelLayout(300)
    dut = HostLink(layout, ResultLayout(10, 8), rx_buffer=1024)
    items = wire([protocol.info_request(77)])
    _, got = run_link(dut, items, pixels=True, classes=10, count_bits=8, n_tokens=0,
                      n_bytes=protocol.response_size(protocol.INFO_RESPONSE, 10), seed=0)
    [response] = protocol.decode_responses(got, 10)
    assert response.kind == "info" and response.seq == 77
    assert response.info == {"version": PROTOCOL_VERSION, "pixels": True, "inputs": 300,
                             "classes": 10, "rx_buffer": 1024, "word_bytes": 2}


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"The host link carries at most 65535 inputs "
                                         r"\(2-byte count in the info frame\), not 65536"):
        HostLink(EventLayout(MAX_INPUTS + 1), ResultLayout(2, 4))
    with pytest.raises(ValueError, match=r"The host link carries at most 256 classes "
                                         r"\(1-byte class\), not 257"):
        HostLink(EventLayout(4), ResultLayout(257, 4))
    with pytest.raises(TypeError, match=r"Input layout must be an EventLayout or a "
                                        r"PixelLayout, not 8"):
        HostLink(8, ResultLayout(2, 4))
    with pytest.raises(TypeError, match=r"Result layout must be a ResultLayout, not 8"):
        HostLink(EventLayout(4), 8)
    with pytest.raises(ValueError, match=r"Receive buffer size must be at least 1 and at "
                                         r"most 65535, not 70000"):
        HostLink(EventLayout(4), ResultLayout(2, 4), rx_buffer=70000)


class _Accel(wiring.Component):
    def __init__(self, members):
        super().__init__(members)

    def elaborate(self, platform):
        raise AssertionError("only the signature of this stand-in is inspected")


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
    with pytest.raises(ValueError, match=r"Receive FIFO depth must be from 1 to 65535, "
                                         r"not 0"):
        SerialAccelerator(accel, 8, rx_fifo_depth=0)
    with pytest.raises(ValueError, match=r"UART divisor must be at least 4"):
        SerialAccelerator(accel, 2)
    pixel_accel = _Accel({"i_pixels": In(stream.Signature(PixelLayout(5))),
                          "o_result": Out(stream.Signature(result))})
    assert SerialAccelerator(pixel_accel, 8).pixels
    assert not SerialAccelerator(accel, 8).pixels


# -- the serial core: UART bits in, UART bits out ---------------------------------------------


N_INPUTS, N_CLASSES, COUNT_BITS, DIVISOR = 12, 3, 4, 8


def simulate_core(dut, rx, cycles):
    """Drive ``rx`` (then an idle line) into a SerialAccelerator for ``cycles`` cycles; return
    the ``tx``, ``cls``, ``activity`` and ``error`` of every cycle."""
    trace = {"tx": [], "cls": [], "activity": [], "error": []}

    async def testbench(ctx):
        for cycle in range(cycles):
            ctx.set(dut.rx, rx[cycle] if cycle < len(rx) else 1)
            _, _, *values = await ctx.tick().sample(dut.tx, dut.cls, dut.activity, dut.error)
            for key, value in zip(trace, values):
                trace[key].append(value)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return trace


def two_samples():
    rng = np.random.default_rng(3)
    samples = [rng.random((4, N_INPUTS)) < 0.3, np.zeros((2, N_INPUTS), dtype=bool)]
    samples[1][:, [2, 5, 8]] = True     # class 2 wins the second sample
    samples[0][:, 1] = True             # more than the 4-bit counter holds
    samples[0][:, [4, 7, 10]] = True
    return samples


def frames_of(samples, first_seq=0):
    return b"\x00" + b"".join(
        protocol.sample_frame(first_seq + k, protocol.encode_sample(s.astype(np.uint8)), 2)
        for k, s in enumerate(samples))


@pytest.mark.parametrize("pause", [0, 1500])
def test_core_end_to_end(pause):
    # UART bits in, result frames out, through the core that every board top puts on its
    # pins; with pauses of many byte times after each step, the receive FIFO keeps every byte.
    samples = two_samples()
    expected = [expected_result(s, N_CLASSES, COUNT_BITS) for s in samples]
    assert [cls for cls, _ in expected] == [1, 2]

    accel = CountingAccel(N_INPUTS, N_CLASSES, COUNT_BITS, pause=pause)
    dut = SerialAccelerator(accel, DIVISOR, blink_cycles=4)
    rx = line_levels(frames_of(samples, 40), DIVISOR)
    frame_cycles = 10 * DIVISOR * protocol.response_size(protocol.RESULT, N_CLASSES)
    steps = sum(len(s) for s in samples)
    trace = simulate_core(dut, rx, len(rx) + steps * pause + 3 * frame_cycles)

    responses = protocol.decode_responses(decode_line(trace["tx"], DIVISOR), N_CLASSES)
    assert [(r.kind, r.seq, r.cls, list(r.counts)) for r in responses] == \
        [("result", 40 + k, cls, counts) for k, (cls, counts) in enumerate(expected)]
    assert trace["cls"][0] == 0 and trace["cls"][-1] == 2 and 1 in trace["cls"]
    assert any(trace["activity"]) and not any(trace["error"])


def test_core_reports_lost_bytes():
    # Without room to buffer the bytes that arrive during a pause, some are lost: each frame
    # still gets one answer, an error frame for the ones that lost bytes; none is dropped.
    samples = two_samples() * 2
    accel = CountingAccel(N_INPUTS, N_CLASSES, COUNT_BITS, pause=1500)
    dut = SerialAccelerator(accel, DIVISOR, blink_cycles=4, rx_fifo_depth=4)
    rx = line_levels(frames_of(samples), DIVISOR)
    trace = simulate_core(dut, rx, len(rx) + 20 * 1500)
    responses = protocol.decode_responses(decode_line(trace["tx"], DIVISOR), N_CLASSES)
    assert any(trace["error"])
    assert (protocol.ERROR, protocol.OVERRUN) in [(protocol.ERROR, r.code) for r in responses]
    assert all(r.kind == "error" and r.code in protocol.TRANSIENT_ERRORS or r.kind == "result"
               for r in responses)
    # every sample answered once at most, in order; the last one at least
    seqs = [r.seq for r in responses]
    assert seqs == sorted(set(seqs)) and seqs[-1] == len(samples) - 1


def test_event_camera_network_end_to_end():
    # An event camera's two polarities of 128 x 128 pixels into a tiny network: more inputs
    # than a 14-bit index holds, so the host sends 3-byte tokens; UART bits in, the
    # reference model's results out, through the core that every board top puts on its pins.
    from spikegen.assemble import accelerator
    from spikegen.ir import LIF, DenseLayer, Network
    from spikegen.quantize import quantize
    from spikegen.reference import simulate

    inputs, divisor = 2 * 128 * 128, 4
    rng = np.random.default_rng(7)
    hidden = rng.normal(0.0, 0.3, (3, inputs))
    busy = [5, 16384, 20000, inputs - 1]        # inputs past the 14-bit range drive it
    hidden[:, busy] = [[0.9, 0.2, 0.6, 0.5], [0.1, 0.8, 0.4, 0.7], [0.3, 0.3, 0.9, 0.2]]
    net = Network((DenseLayer(hidden, None, LIF(beta=0.9)),
                   DenseLayer(np.array([[0.9, 0.1, 0.5], [0.2, 0.9, 0.6]]), None,
                              LIF(beta=0.9))))
    qnet = quantize(net, weight_bits=6, beta_bits=6, mem_frac_bits=2)
    spikes = np.zeros((2, 4, inputs), dtype=np.uint8)
    spikes[0][:, busy[:2]] = 1
    spikes[1][:, busy[2:]] = 1
    spikes[1, 1, rng.integers(0, inputs, 6)] = 1
    ref = simulate(qnet, spikes)
    assert ref.counts.sum() > 0

    size = protocol.token_bytes(inputs, pixels=False)
    assert size == 3
    data = b"\x00" + b"".join(protocol.sample_frame(k, protocol.encode_sample(s), size)
                              for k, s in enumerate(spikes))
    dut = SerialAccelerator(accelerator(qnet), divisor)
    rx = line_levels(data, divisor)
    trace = simulate_core(dut, rx, len(rx) + 20_000)
    responses = protocol.decode_responses(decode_line(trace["tx"], divisor), 2)
    assert [(r.kind, r.seq, r.cls, list(r.counts)) for r in responses] == \
        [("result", k, int(ref.predicted[k]), [int(c) for c in ref.counts[k]])
         for k in range(2)]
    assert not any(trace["error"])
