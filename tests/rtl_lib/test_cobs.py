"""The COBS decoder of the host link against the host-side encoder (spikegen.protocol)."""
import random

import pytest
from amaranth.sim import Simulator
from cobs import cobs as cobs_oracle

import spikegen.protocol as protocol
from rtl_lib.cobs import CobsDecoder

from helpers.streams import sink, source


def decode(items, count, rng, *, p_valid, p_ready):
    """The first ``count`` outputs of a CobsDecoder fed ``items`` (byte, lost): ``(data, 0,
    0)`` for a frame's byte, ``(0, 1, lost)`` for its end."""
    dut = CobsDecoder()
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i, [{"data": b, "lost": l} for b, l in items], rng, p_valid))
    sim.add_testbench(sink(dut.o, got, count, rng, p_ready,
                           convert=lambda p: (0, 1, p.lost) if p.end else (p.data, 0, 0)))
    sim.run()
    return got


@pytest.mark.parametrize("seed", [0, 1])
def test_cobs_decoder(seed):
    rng = random.Random(seed)
    frames = [bytes(rng.choice([0, 0, rng.randrange(1, 256)]) for _ in range(n))
              for n in (1, 5, 254, 255, 300, 600)]
    frames.append(bytes(range(1, 256)) * 2)
    items = [(b, 0) for f in frames for b in protocol.cobs_encode(f) + b"\x00"]
    expected = []
    for f in frames:
        expected += [(b, 0, 0) for b in f] + [(0, 1, 0)]
    assert decode(items, len(expected), rng, p_valid=0.7, p_ready=0.6) == expected
    for f in frames:
        assert protocol.cobs_decode(protocol.cobs_encode(f)) == f
        assert 0 not in protocol.cobs_encode(f)


def test_cobs_decoder_against_oracle():
    # Frames encoded by the `cobs` package, which closes a frame that ends with a full run
    # of 254 bytes without a code byte; a lost byte's flag reaches the frame's end.
    rng = random.Random(5)
    frames = [bytes(rng.randrange(1, 256) for _ in range(254)), b"\x00" * 3, b"\x11",
              bytes(rng.choice([0, rng.randrange(1, 256)]) for _ in range(700))]
    items, expected = [], []
    for k, f in enumerate(frames):
        encoded = cobs_oracle.encode(f) + b"\x00"
        lost = k == 2
        items += [(b, int(lost and i == 0)) for i, b in enumerate(encoded)]
        expected += [(b, 0, 0) for b in f] + [(0, 1, int(lost))]
    assert decode(items, len(expected), rng, p_valid=0.8, p_ready=0.8) == expected
