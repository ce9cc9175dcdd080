"""Host side of the link protocol: encoding samples, decoding result frames."""
import numpy as np
import pytest

from spikegen.protocol import (MAX_INPUTS, RESULT_HEADER, decode_results, encode_result,
                               encode_sample, encode_token, result_frame_size)


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
    spikes = np.zeros((1, MAX_INPUTS), dtype=np.uint8)
    spikes[0, -1] = 1
    assert encode_sample(spikes) == bytes.fromhex("3FFF C000")


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
    with pytest.raises(ValueError, match=r"The link carries at most 16384 inputs, not 16385"):
        encode_sample(np.zeros((1, MAX_INPUTS + 1)))
    with pytest.raises(ValueError, match=r"Spikes must be 0 or 1"):
        encode_sample([[0, 2]])
    with pytest.raises(TypeError, match=r"Event index must be an integer, not 1\.5"):
        encode_token(1.5)
    with pytest.raises(ValueError, match=r"Event index must be in \[0, 16384\), not 16384"):
        encode_token(MAX_INPUTS)
    with pytest.raises(ValueError, match=r"A token with `last` set must also have `eos` set"):
        encode_token(last=True)
    with pytest.raises(ValueError, match=r"An end-of-step token carries no index, not 3"):
        encode_token(3, eos=True)


def test_result_round_trip():
    results = [(2, [1, 0, 70000, 5]), (0, [0, 0, 0, 0]), (3, [0xFFFF, 1, 2, 0x1234])]
    data = b"".join(encode_result(cls, counts) for cls, counts in results)
    assert len(data) == 3 * result_frame_size(4) == 30
    assert data[:10] == bytes.fromhex("A5 02 0001 0000 FFFF 0005")
    assert decode_results(data, 4) == [(cls, [min(c, 0xFFFF) for c in counts])
                                       for cls, counts in results]
    assert decode_results(b"", 4) == []
    assert decode_results(bytearray(data[10:20]), 4) == [(0, [0, 0, 0, 0])]


def test_decode_errors():
    good = encode_result(1, [3, 4])
    assert good[0] == RESULT_HEADER
    with pytest.raises(ValueError, match=r"Bad result header byte 0x5A at offset 6; "
                                         r"expected 0xA5"):
        decode_results(good + b"\x5A" + good[1:], 2)
    with pytest.raises(ValueError, match=r"Truncated result frame at offset 6: 4 of 6 bytes"):
        decode_results(good + good[:4], 2)
    with pytest.raises(ValueError, match=r"Class 2 at offset 1 out of range for 2 classes"):
        decode_results(b"\xA5\x02" + good[2:], 2)
    with pytest.raises(ValueError, match=r"Class count must be between 1 and 256, not 0"):
        decode_results(good, 0)
    with pytest.raises(TypeError, match=r"Class count must be an integer, not '2'"):
        decode_results(good, "2")
    with pytest.raises(TypeError, match=r"Result data must be bytes, not 'abc'"):
        decode_results("abc", 2)


def test_encode_result_errors():
    with pytest.raises(ValueError, match=r"Class 2 out of range for 2 classes"):
        encode_result(2, [0, 0])
    with pytest.raises(ValueError, match=r"Spike counts must not be negative: \[0, -1\]"):
        encode_result(0, [0, -1])


def test_docs_example():
    # The worked example of docs/host-protocol.md.
    assert encode_result(2, [1, 0, 70000, 5]) == bytes.fromhex("A5 02 0001 0000 FFFF 0005")
    assert decode_results(bytes.fromhex("A5 02 0001 0000 FFFF 0005"), 4) == \
        [(2, [1, 0, 65535, 5])]
