"""The host link's format: the rule of the token size, pack/unpack round trips, and agreement
with the Amaranth layouts the hardware uses."""
import random

import pytest

import spikegen.protocol as protocol
from rtl_lib import link_format as fmt_
from rtl_lib.event import EventGroupLayout, EventLayout
from rtl_lib.link_format import (MAX_CLASSES, MAX_COUNT, MAX_INPUTS, PROTOCOL_VERSION,
                                 RESPONSE_HEADER, TokenFormat, index_width, info_body,
                                 pack_event, pack_group, pack_pixel, parse_info, token_bytes,
                                 unpack_event, unpack_group, unpack_pixel, word_bytes)
from rtl_lib.rate_coder import PixelLayout


def test_constants_match_host_side():
    assert RESPONSE_HEADER == protocol.RESPONSE_HEADER
    assert PROTOCOL_VERSION == protocol.PROTOCOL_VERSION
    assert MAX_INPUTS == protocol.MAX_INPUTS
    assert MAX_CLASSES == protocol.MAX_CLASSES
    assert MAX_COUNT == protocol.MAX_COUNT
    for name in ("SAMPLE", "INFO", "RESULT", "ERROR", "INFO_RESPONSE", "ERRORS",
                 "TRANSIENT_ERRORS", "OVERRUN", "CHECKSUM", "LENGTH", "TYPE", "COUNT",
                 "MALFORMED"):
        assert getattr(protocol, name) is getattr(fmt_, name), name


@pytest.mark.parametrize("inputs, size, index_bits", [
    (1, 2, 14), (2, 2, 14), (16384, 2, 14), (16385, 3, 22), (2 * 128 * 128, 3, 22),
    (MAX_INPUTS, 3, 22),
])
def test_word_size_follows_the_inputs(inputs, size, index_bits):
    assert word_bytes(inputs) == size
    fmt = TokenFormat.for_inputs(inputs)
    assert (fmt.word_bytes, fmt.index_bits, fmt.top_bit, fmt.last_bit) == \
        (size, index_bits, 8 * size - 1, 8 * size - 2)
    # every index of the build fits in the field, with the two flags above it
    assert inputs - 1 < 1 << fmt.index_bits
    assert token_bytes(inputs, pixels=False) == size
    assert token_bytes(inputs, pixels=True) == size + 1


def test_token_bit_positions():
    narrow, wide = TokenFormat(2), TokenFormat(3)
    assert narrow.encode(0x1234) == b"\x12\x34"
    assert narrow.encode(eos=True) == b"\x80\x00"
    assert narrow.encode(eos=True, last=True) == b"\xC0\x00"
    assert wide.encode(0x3FFFFF) == b"\x3F\xFF\xFF"
    assert wide.encode(32767) == b"\x00\x7F\xFF"
    assert wide.encode(eos=True, last=True) == b"\xC0\x00\x00"
    assert TokenFormat(2, True).encode(5, value=7, last=True) == b"\x80\x05\x07"
    assert TokenFormat(3, True).encode(32767, value=255) == b"\x00\x7F\xFF\xFF"
    assert TokenFormat(3, True).encode(1, value=2, last=True) == b"\x80\x00\x01\x02"


@pytest.mark.parametrize("size, pixels", [(2, False), (3, False), (4, False), (2, True),
                                          (3, True)])
def test_token_round_trip(size, pixels):
    rng = random.Random(size * 2 + pixels)
    fmt = TokenFormat(size, pixels)
    for _ in range(200):
        index = rng.randrange(1 << fmt.index_bits)
        if pixels:
            value, last = rng.randrange(256), rng.random() < 0.5
            token = fmt.encode(index, value=value, last=last)
            assert fmt.decode(token) == (index, value, int(last))
        else:
            token = fmt.encode(index)
            assert fmt.decode(token) == (index, 0, 0)
            last = rng.random() < 0.5
            assert fmt.decode(fmt.encode(eos=True, last=last)) == (0, 1, int(last))
        assert len(token) == fmt.token_bytes


def test_info_body():
    # the 2-byte-word builds send the info body of the first builds, byte for byte
    assert info_body(pixels=False, inputs=64, classes=10, rx_buffer=1024) == \
        bytes([1, 0, 0, 64, 0, 10, 4, 0])
    assert info_body(pixels=True, inputs=16384, classes=2, rx_buffer=512)[1] == 0x01
    assert info_body(pixels=False, inputs=32768, classes=2, rx_buffer=512)[1] == 0x10
    assert info_body(pixels=True, inputs=32768, classes=2, rx_buffer=512)[1] == 0x11
    for pixels in (False, True):
        for inputs in (3, 16384, 16385, 32768, MAX_INPUTS):
            body = info_body(pixels=pixels, inputs=inputs, classes=7, rx_buffer=4096)
            assert parse_info(body) == {"version": PROTOCOL_VERSION, "pixels": pixels,
                                        "word_bytes": word_bytes(inputs), "inputs": inputs,
                                        "classes": 7, "rx_buffer": 4096}


@pytest.mark.parametrize("count", [1, 2, 5, 300, 16384, 2 * 128 * 128])
def test_stream_tokens_match_the_layouts(count):
    # the integers a testbench drives are the hardware layouts' values, and unpack inverts
    rng = random.Random(count)
    w = index_width(count)
    assert w == EventLayout(count)["index"].shape.width
    for _ in range(20):
        index, eos, last = rng.randrange(count), rng.randrange(2), rng.randrange(2)
        word = pack_event(count, index, eos=eos, last=last)
        assert word == EventLayout(count).const(
            {"index": index, "eos": eos, "last": last}).as_value().value
        assert unpack_event(count, word) == (index, eos, last)

        value = rng.randrange(256)
        word = pack_pixel(count, index, value, last=last)
        assert word == PixelLayout(count).const(
            {"index": index, "value": value, "last": last}).as_value().value
        assert unpack_pixel(count, word) == (index, value, last)

        events = rng.randrange(1, 4)
        indices = sorted(rng.randrange(count) for _ in range(rng.randrange(1, events + 1)))
        word = pack_group(count, events, indices)
        layout = EventGroupLayout(count, events)
        assert word == layout.const({"index": indices + [0] * (events - len(indices)),
                                     "count": len(indices), "eos": 0,
                                     "last": 0}).as_value().value
        assert unpack_group(count, events, word) == (tuple(indices), 0, 0)
        end = pack_group(count, events, eos=True, last=last)
        assert unpack_group(count, events, end) == ((), 1, last)


def test_errors():
    with pytest.raises(ValueError, match=r"The host link carries at most 65535 inputs "
                                         r"\(2-byte count in the info frame\), not 65536"):
        word_bytes(MAX_INPUTS + 1)
    with pytest.raises(ValueError, match=r"Input count must be at least 1, not 0"):
        TokenFormat.for_inputs(0)
    with pytest.raises(TypeError, match=r"Input count must be an integer, not 'x'"):
        word_bytes("x")
    with pytest.raises(ValueError, match=r"Token words are at least 2 bytes, not 1"):
        TokenFormat(1)
    with pytest.raises(TypeError, match=r"Pixels must be a bool, not 1"):
        TokenFormat(2, 1)
    with pytest.raises(ValueError, match=r"Event index must be in \[0, 4194304\), not 4194304"):
        TokenFormat(3).encode(1 << 22)
    with pytest.raises(ValueError, match=r"An event token carries no value, not 3"):
        TokenFormat(2).encode(1, value=3)
    with pytest.raises(ValueError, match=r"A pixel carries a value from 0 to 255 and no end "
                                         r"of step, not value=256, eos=False"):
        TokenFormat(2, True).encode(1, value=256)
    with pytest.raises(ValueError, match=r"A token is 3 bytes, not 2"):
        TokenFormat(3).decode(b"\x00\x00")
    with pytest.raises(ValueError, match=r"The info frame body is 8 bytes, not 7"):
        parse_info(bytes(7))
    with pytest.raises(ValueError, match=r"Event index 8 out of range for 5 neurons"):
        pack_event(5, 8)
    with pytest.raises(ValueError, match=r"Pixel value 256 out of range for 8 bits"):
        pack_pixel(5, 1, 256)
    with pytest.raises(ValueError, match=r"A beat carries 1 to 2 events or an end of step, "
                                         r"not 3 events with eos=False"):
        pack_group(5, 2, [0, 1, 2])
    with pytest.raises(TypeError, match=r"Events per beat must be a positive integer, not 0"):
        pack_group(5, 0, [1])
    with pytest.raises(TypeError, match=r"Neuron count must be a positive integer, not 0"):
        index_width(0)
