"""The response encoder of the host link against the host-side reference (spikegen.protocol)."""
import random

import pytest
from amaranth.sim import Simulator

import spikegen.protocol as protocol
from rtl_lib.event import ResultLayout
from rtl_lib.response_encoder import ResponseEncoder

from helpers.streams import sink, source


@pytest.mark.parametrize("classes, count_bits", [(3, 4), (10, 20), (1, 1)])
def test_result_frames(classes, count_bits):
    # Counts wider than 16 bits saturate on the wire; every frame checks out.
    rng = random.Random(classes)
    top = (1 << count_bits) - 1
    results = [(0, [top] * classes), (classes - 1, [0] * classes)]
    for _ in range(3):
        results.append((rng.randrange(classes), [rng.choice([0, 1, top, rng.randrange(top + 1)])
                                                 for _ in range(classes)]))
    dut = ResponseEncoder(ResultLayout(classes, count_bits))
    verdicts = [{"seq": 200 + k, "code": 0, "has_result": 1, "info": 0}
                for k in range(len(results))]
    expected = b"".join(protocol.encode_result(200 + k, cls, counts)
                        for k, (cls, counts) in enumerate(results))
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i_verdict, verdicts, rng, 0.5))
    sim.add_testbench(source(dut.i_result, [{"cls": c, "counts": n} for c, n in results],
                             rng, 0.4))
    sim.add_testbench(sink(dut.o_bytes, got, len(expected), rng, 0.5))
    sim.run()
    assert bytes(got) == expected
    assert dut.result_frame_bytes == protocol.response_size(protocol.RESULT, classes)


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"The info frame body is 8 bytes, not 3"):
        ResponseEncoder(ResultLayout(2, 4), b"abc")
    with pytest.raises(ValueError, match=r"The host link carries at most 256 classes "
                                         r"\(1-byte class\), not 257"):
        ResponseEncoder(ResultLayout(257, 4))
    with pytest.raises(TypeError, match=r"Result layout must be a ResultLayout, not 8"):
        ResponseEncoder(8)
