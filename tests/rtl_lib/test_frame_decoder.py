# amaranth: UnusedElaboratable=no
"""The frame decoder of the host link against its reference, spikegen.protocol.board_parse."""
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

import spikegen.protocol as protocol
from rtl_lib.event import EventLayout
from rtl_lib.frame_decoder import FrameDecoder
from rtl_lib.link_format import MAX_COUNT, TokenFormat
from rtl_lib.rate_coder import PixelLayout

from helpers.streams import sink, source, token_fields


def decode_frames(dut, frames, *, pixels, n_tokens, seed):
    """Feed whole wire frames to ``dut`` as decoded bytes; return its tokens and verdicts."""
    rng = random.Random(seed)
    items = []
    for frame in frames:
        items += [{"data": b, "end": 0, "lost": 0} for b in protocol.cobs_decode(frame[:-1])]
        items.append({"data": 0, "end": 1, "lost": 0})
    tokens, verdicts = [], []
    convert = token_fields(pixels)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i, items, rng, 0.8))
    sim.add_testbench(sink(dut.o_events, tokens, n_tokens, rng, 0.7, convert=convert))
    sim.add_testbench(sink(dut.o_verdict, verdicts, len(frames), rng, 0.7,
                           convert=lambda v: (v.seq, v.code, v.has_result, v.info)))
    sim.run()
    return tokens, verdicts


def token(fmt, index, value):
    """An event token, or a pixel of ``value``."""
    return fmt.encode(index, value=value) if fmt.pixels else fmt.encode(index)


def wide_frames(rng, fmt, inputs):
    """Samples whose indices span all of ``inputs`` (beyond 14 bits), and frames the board
    must refuse: indices just past the inputs or at the top of the index field, and a
    sample whose last token is not an end of step (for pixels, an extra pixel: good)."""
    frames = []
    top = (1 << fmt.index_bits) - 1
    for seq, bad in enumerate([None, inputs, None, top, None, "no-eos"]):
        if fmt.pixels:
            values = np.zeros(inputs, dtype=np.int64)
            values[rng.sample(range(inputs), 6) + [inputs - 1, 16384]] = 200
            values[rng.randrange(inputs)] = 7
            payload = protocol.encode_pixels(values)
        else:
            spikes = np.zeros((3, inputs), dtype=np.uint8)
            for t in range(3):
                spikes[t, rng.sample(range(inputs), 5) + [inputs - 1]] = 1
            spikes[1, [0, 16383, 16384]] = 1
            payload = protocol.encode_sample(spikes)
        if bad == "no-eos":
            payload += token(fmt, 3, 1)
        elif bad is not None:
            payload = token(fmt, bad, 9) + payload
        frames.append(protocol.sample_frame(seq, payload, fmt.token_bytes))
    frames.append(protocol.info_request(len(frames)))
    return frames


@pytest.mark.parametrize("inputs, pixels, token_bytes", [
    (16385, False, 3),
    (2 * 128 * 128, False, 3),
    (2 * 128 * 128, True, 4),
    (65535, False, 3),
])
def test_wide_tokens_agree_with_reference(inputs, pixels, token_bytes):
    # More inputs than a 14-bit index holds: the tokens grow a byte, and the hardware still
    # agrees with the reference on every token and every verdict.
    rng = random.Random(inputs + pixels)
    fmt = TokenFormat.for_inputs(inputs, pixels=pixels)
    assert fmt.token_bytes == token_bytes
    frames = wide_frames(rng, fmt, inputs)
    expected_tokens, expected_verdicts = [], []
    for frame in frames:
        verdict = protocol.board_parse(protocol.cobs_decode(frame[:-1]), pixels=pixels,
                                       inputs=inputs, max_count=inputs if pixels else MAX_COUNT)
        expected_tokens += verdict.tokens
        expected_verdicts.append((verdict.seq, verdict.code, int(verdict.has_result),
                                  int(verdict.info)))
    codes = [code for _, code, _, _ in expected_verdicts]
    bad = protocol.MALFORMED
    assert codes == [0, bad, 0, bad, 0, 0 if pixels else bad, 0]
    # the spikes beyond index 16383 reach the accelerator
    assert max(index for index, _, _ in expected_tokens) == inputs - 1

    dut = FrameDecoder(PixelLayout(inputs) if pixels else EventLayout(inputs))
    assert dut.token_format == fmt
    tokens, verdicts = decode_frames(dut, frames, pixels=pixels,
                                     n_tokens=len(expected_tokens), seed=inputs)
    assert tokens == expected_tokens
    assert verdicts == expected_verdicts


def test_narrow_tokens_keep_two_bytes():
    # Up to 16384 inputs an event is 2 bytes and a pixel 3, as in the first builds.
    spikes = np.zeros((1, 16384), dtype=np.uint8)
    spikes[0, [1, 16383]] = 1
    frame = protocol.sample_frame(5, protocol.encode_sample(spikes), 2)
    dut = FrameDecoder(EventLayout(16384))
    assert dut.token_format.token_bytes == 2
    tokens, verdicts = decode_frames(dut, [frame], pixels=False, n_tokens=3, seed=0)
    assert tokens == [(1, 0, 0), (16383, 0, 0), (0, 1, 1)]
    assert verdicts == [(5, 0, 1, 0)]
    assert FrameDecoder(PixelLayout(16384)).token_format.token_bytes == 3


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"The host link carries 8-bit pixels, not 4-bit"):
        FrameDecoder(PixelLayout(4, 4))
    with pytest.raises(ValueError, match=r"Largest token count must be at least 1 and at "
                                         r"most 65535, not 0"):
        FrameDecoder(EventLayout(4), max_count=0)
    with pytest.raises(TypeError, match=r"Largest token count must be an integer, not 2.5"):
        FrameDecoder(EventLayout(4), max_count=2.5)
    assert FrameDecoder(PixelLayout(40)).max_count == 40
    assert FrameDecoder(EventLayout(40)).max_count == MAX_COUNT
