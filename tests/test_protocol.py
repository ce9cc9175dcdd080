"""Host side of the link protocol (version 1): payloads, framing, responses."""
import random

import numpy as np
import pytest
from cobs import cobs as cobs_oracle

from spikegen import protocol
from spikegen.protocol import (MAX_INPUTS, RESPONSE_HEADER, ResponseParser, cobs_decode,
                               cobs_encode, crc16, decode_responses, encode_error,
                               encode_info, encode_pixels, encode_result, encode_sample,
                               encode_token, info_request, request_frame, response_size,
                               sample_frame)


def test_encode_sample_example():
    # The sample of the worked example in docs/host-protocol.md.
    spikes = [[0, 1, 0, 1],
              [0, 0, 0, 0],
              [1, 0, 0, 0]]
    assert encode_sample(spikes) == bytes.fromhex("0001 0003 8000 8000 0000 C000")


def test_encode_sample_order_and_last():
    rng = np.random.default_rng(1)
    spikes = rng.random((6, 300)) < 0.1
    data = encode_sample(spikes)
    words = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    steps, step = [], []
    for word in words:
        if word & 0x8000:
            steps.append((step, bool(word & 0x4000)))
            step = []
        else:
            assert not word & 0x4000
            step.append(word)
    assert step == []
    assert [last for _, last in steps] == [False] * 5 + [True]
    for t, (indices, _) in enumerate(steps):
        assert indices == sorted(indices)
        assert indices == list(np.flatnonzero(spikes[t]))


def test_encode_sample_largest_index():
    spikes = np.zeros((1, 16384), dtype=np.uint8)
    spikes[0, -1] = 1
    assert encode_sample(spikes) == bytes.fromhex("3FFF C000")
    spikes = np.zeros((1, MAX_INPUTS), dtype=np.uint8)
    spikes[0, -1] = 1
    assert encode_sample(spikes) == bytes.fromhex("00FFFE C00000")


def test_wide_tokens():
    # An event camera's two polarities of 128 x 128 pixels: 3-byte events, 4-byte pixels,
    # and the board's reference decoder reads them back.
    inputs = 2 * 128 * 128
    spikes = np.zeros((2, inputs), dtype=np.uint8)
    spikes[0, [3, 16384, inputs - 1]] = 1
    payload = encode_sample(spikes)
    assert payload == bytes.fromhex("000003 004000 007FFF 800000 C00000")
    assert encode_token(16384, inputs=inputs) == bytes.fromhex("004000")
    assert protocol.token_bytes(inputs, pixels=False) == 3
    verdict = protocol.board_parse(cobs_decode(sample_frame(4, payload, 3)[:-1]),
                                   pixels=False, inputs=inputs)
    assert (verdict.code, verdict.tokens) == \
        (0, ((3, 0, 0), (16384, 0, 0), (inputs - 1, 0, 0), (0, 1, 0), (0, 1, 1)))
    # a 2-byte reading of the same frame would disagree
    assert protocol.board_parse(cobs_decode(sample_frame(4, payload, 3)[:-1]), pixels=False,
                                inputs=16384).code != 0

    pixels = np.zeros(inputs, dtype=np.int64)
    pixels[[1, inputs - 1]] = [5, 200]
    payload = encode_pixels(pixels)
    assert payload == bytes.fromhex("00000105 807FFFC8")
    verdict = protocol.board_parse(cobs_decode(sample_frame(1, payload, 4)[:-1]), pixels=True,
                                   inputs=inputs, max_count=inputs)
    assert (verdict.code, verdict.tokens) == (0, ((1, 5, 0), (inputs - 1, 200, 1)))
    assert encode_pixels(np.zeros(inputs)) == bytes.fromhex("80000000")
    [info] = decode_responses(encode_info(9, pixels=True, inputs=inputs, classes=3,
                                          rx_buffer=4096), 3)
    assert info.info == {"version": 1, "pixels": True, "word_bytes": 3, "inputs": inputs,
                         "classes": 3, "rx_buffer": 4096}


def test_compiler_input_limit():
    # the build stops with one line naming the limit and the fix
    from types import SimpleNamespace
    from spikegen.compiler import Build, BuildOptions, check
    from spikegen.errors import SpikegenError

    with pytest.raises(SpikegenError, match=r"^the network has 65536 inputs; the host link "
                                            r"carries at most 65535: crop or pool the input$"):
        check(Build(BuildOptions("net.pt", steps=16),
                    qnet=SimpleNamespace(inputs=MAX_INPUTS + 1)))
    build = Build(BuildOptions("net.pt", board=None, steps=16),
                  qnet=SimpleNamespace(inputs=2 * 128 * 128))
    assert check(build).evaluation is None


def test_encode_token():
    assert encode_token(0x1234) == b"\x12\x34"
    assert encode_token(eos=True) == b"\x80\x00"
    assert encode_token(eos=True, last=True) == b"\xC0\x00"


def test_encode_errors():
    with pytest.raises(ValueError, match=r"Spikes must be a 2-D array \(time_steps, n_inputs\), "
                                         r"not of shape \(4,\)"):
        encode_sample([0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"Spikes must have at least one time step"):
        encode_sample(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"The host link carries at most 65535 inputs "
                                         r"\(2-byte count in the info frame\), not 65536"):
        encode_sample(np.zeros((1, MAX_INPUTS + 1)))
    with pytest.raises(ValueError, match=r"Spikes must be 0 or 1"):
        encode_sample([[0, 2]])
    with pytest.raises(TypeError, match=r"Event index must be an integer, not 1\.5"):
        encode_token(1.5)
    with pytest.raises(ValueError, match=r"Event index must be in \[0, 16384\), not 16384"):
        encode_token(16384)
    with pytest.raises(ValueError, match=r"A token with `last` set must also have `eos` set"):
        encode_token(last=True)
    with pytest.raises(ValueError, match=r"An end-of-step token carries no index, not 3"):
        encode_token(3, eos=True)


def test_crc16():
    assert crc16(b"123456789") == 0x29B1           # CRC-16/CCITT-FALSE check value
    assert crc16(b"") == 0xFFFF
    data = bytes(range(50))
    assert crc16(data + crc16(data).to_bytes(2, "big")) == 0


@pytest.mark.parametrize("data, encoded", [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x00\x00", b"\x02\x11\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255)) + b"\x01"),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
])
def test_cobs(data, encoded):
    assert cobs_encode(data) == encoded
    assert cobs_decode(encoded) == data


def test_cobs_random_round_trip():
    rng = random.Random(0)
    for n in (0, 1, 253, 254, 255, 508, 1000):
        data = bytes(rng.choice([0, rng.randrange(256)]) for _ in range(n))
        encoded = cobs_encode(data)
        assert 0 not in encoded
        assert len(encoded) <= n + 1 + n // 254
        assert cobs_decode(encoded) == data
    with pytest.raises(ValueError, match="COBS data must not contain 0x00"):
        cobs_decode(b"\x02\x00")
    # a run cut short gives the bytes there are, as on the board
    assert cobs_decode(b"\x05\x11\x22") == b"\x11\x22"


def test_cobs_against_oracle():
    # The `cobs` package decodes what the host sends, and the host (as the board) decodes
    # what the package sends; the two differ only where data ends with a full run of 254
    # bytes, which the package closes without a code byte.
    rng = random.Random(2)
    for n in (0, 1, 2, 253, 254, 255, 300, 508, 509, 1000):
        for data in (bytes(rng.choice([0, rng.randrange(1, 256)]) for _ in range(n)),
                     bytes(rng.randrange(1, 256) for _ in range(n)), bytes(n)):
            ours, theirs = cobs_encode(data), cobs_oracle.encode(data)
            assert cobs_oracle.decode(ours) == data
            assert cobs_decode(theirs) == data
            assert ours == theirs or (ours == theirs + b"\x01" and n % 254 == 0)


def test_frames():
    frame = sample_frame(7, encode_sample([[0, 1], [1, 0]]), 2)
    assert frame[-1] == 0 and 0 not in frame[:-1]
    raw = cobs_decode(frame[:-1])
    assert raw[:4] == bytes([protocol.SAMPLE, 7, 0, 4])
    assert crc16(raw) == 0
    assert cobs_decode(info_request(255)[:-1])[:2] == bytes([protocol.INFO, 255])
    with pytest.raises(ValueError, match=r"A sample frame carries 1 to 65535 whole tokens of "
                                         r"2 bytes, not 3 bytes"):
        sample_frame(0, b"abc", 2)
    with pytest.raises(ValueError, match=r"Tokens are at least 2 bytes, not 1"):
        sample_frame(0, b"abcd", 1)
    with pytest.raises(ValueError, match=r"Request type and sequence number must be bytes, "
                                         r"not 1, 256"):
        request_frame(1, 256)
    with pytest.raises(TypeError, match=r"Sequence number must be an integer, not '1'"):
        request_frame(1, "1")


def test_responses_round_trip():
    results = [(2, [1, 0, 70000, 5]), (0, [0, 0, 0, 0]), (3, [0xFFFF, 1, 2, 0x1234])]
    data = b"".join(encode_result(10 + k, cls, counts) for k, (cls, counts) in
                    enumerate(results))
    data += encode_error(13, protocol.CHECKSUM)
    data += encode_info(14, pixels=True, inputs=784, classes=4, rx_buffer=4096)
    assert len(data) == 3 * response_size(protocol.RESULT, 4) + 6 + 13
    got = decode_responses(data, 4)
    assert [(r.kind, r.seq, r.cls, list(r.counts)) for r in got[:3]] == \
        [("result", 10 + k, cls, [min(c, 0xFFFF) for c in counts])
         for k, (cls, counts) in enumerate(results)]
    assert (got[3].kind, got[3].seq, got[3].code) == ("error", 13, protocol.CHECKSUM)
    assert got[4].info == {"version": 1, "pixels": True, "inputs": 784, "classes": 4,
                           "rx_buffer": 4096, "word_bytes": 2}
    assert decode_responses(b"", 4) == []


def test_parser_in_pieces_and_resync():
    good = [encode_result(k, k % 2, [k, 2 * k]) for k in range(6)]
    damaged = bytearray(good[2])
    damaged[4] ^= 1
    stream = b"\x17\xa5" + good[0] + good[1] + bytes(damaged) + good[3] + b"\xa5\x01" \
        + good[4] + good[5]
    parser = ResponseParser(2)
    got = []
    for i in range(0, len(stream), 3):
        got += parser.feed(stream[i:i + 3])
    assert [r.seq for r in got] == [0, 1, 3, 4, 5]
    assert parser.skipped == 2 + len(damaged) + 2
    assert parser.pending == 0


def test_decode_errors():
    good = encode_result(1, 1, [3, 4])
    assert good[0] == RESPONSE_HEADER
    with pytest.raises(ValueError, match=r"1 bytes of 21 are not valid frames, 0 bytes cut "
                                         r"short"):
        decode_responses(good + b"\x5A" + good, 2)
    with pytest.raises(ValueError, match=r"0 bytes of 14 are not valid frames, 4 bytes cut "
                                         r"short"):
        decode_responses(good + good[:4], 2)
    # a class out of range does not check out either
    bad = bytearray(good)
    bad[3] = 2
    bad[-2:] = crc16(bytes(bad[1:-2])).to_bytes(2, "big")
    with pytest.raises(ValueError, match=r"10 bytes of 10 are not valid frames"):
        decode_responses(bytes(bad), 2)
    with pytest.raises(ValueError, match=r"Class count must be between 1 and 256, not 0"):
        decode_responses(good, 0)
    with pytest.raises(TypeError, match=r"Class count must be an integer, not '2'"):
        decode_responses(good, "2")
    with pytest.raises(TypeError, match=r"Response data must be bytes, not 'abc'"):
        decode_responses("abc", 2)
    with pytest.raises(ValueError, match=r"Unknown response type 9"):
        response_size(9, 2)


def test_encode_response_errors():
    with pytest.raises(ValueError, match=r"Class 2 out of range for 2 classes"):
        encode_result(0, 2, [0, 0])
    with pytest.raises(ValueError, match=r"Spike counts must not be negative: \[0, -1\]"):
        encode_result(0, 0, [0, -1])
    with pytest.raises(ValueError, match=r"Unknown error code 9"):
        encode_error(0, 9)


def test_encode_pixels():
    assert encode_pixels([0, 7, 0, 9]) == bytes([0, 1, 7, 0x80, 3, 9])
    assert encode_pixels(np.zeros(5)) == bytes([0x80, 0, 0])
    with pytest.raises(ValueError, match="Pixel values must be from 0 to 255"):
        encode_pixels(np.array([0, 300]))


def test_docs_example():
    # The worked example of docs/host-protocol.md.
    payload = encode_sample([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]])
    assert sample_frame(7, payload, 2) == bytes.fromhex(
        "03 01 07 02 06 02 01 03 03 80 02 80 01 01 02 c0 03 ff 2a 00")
    answer = bytes.fromhex("a5 01 07 02 00 01 00 00 ff ff 00 05 ba df")
    assert encode_result(7, 2, [1, 0, 70000, 5]) == answer
    [result] = decode_responses(answer, 4)
    assert (result.seq, result.cls, result.counts) == (7, 2, (1, 0, 65535, 5))
    assert encode_error(8, protocol.CHECKSUM) == bytes.fromhex("a5 02 08 02 0b 17")
    assert info_request(0) == bytes.fromhex("02 02 03 7b 6d 00")
    assert encode_info(0, pixels=False, inputs=64, classes=10, rx_buffer=1024) == \
        bytes.fromhex("a5 03 00 01 00 00 40 00 0a 04 00 0d 48")
    assert sample_frame(3, encode_pixels([0, 7, 0, 9]), 3) == bytes.fromhex(
        "03 01 03 02 02 08 01 07 80 03 09 c7 87 00")
