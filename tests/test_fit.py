"""Fit check before synthesis: block RAM, logic and pins of each board's part."""
import numpy as np
import pytest

from spikegen.boards import get_board
from spikegen.errors import SpikegenError
from spikegen.fit import block_rams, check_fit, estimate, memories
from spikegen.ir import HardwareConfig
from spikegen.quantize import quantize

from conftest import random_network


def qnet_of(sizes, *, parallelism=0, weight_bits=8, seed=0):
    net = random_network(np.random.default_rng(seed), sizes)
    return quantize(net, weight_bits=weight_bits, hardware=HardwareConfig(parallelism))


def test_block_ram_shapes():
    assert block_rams(64, 256, "ice40") == 16          # 256 x 16 blocks, 16 side by side
    assert block_rams(2048, 8, "ice40") == 4           # 512 x 8
    assert block_rams(512, 36, "ecp5") == 1
    assert block_rams(1023, 9, "ecp5") == 1            # 2048 x 9
    assert block_rams(64, 256, "xc7") == 4             # 8 RAMB18 of 512 x 36
    with pytest.raises(ValueError, match=r"Unknown FPGA family 'gw1n'"):
        estimate(qnet_of((8, 4)), "gw1n", rx_fifo_depth=512)


def test_memories_follow_the_hardware():
    qnet = qnet_of((64, 32, 10), parallelism=4)
    names = {name: (depth, width, kind) for name, depth, width, kind in
             memories(qnet, rx_fifo_depth=1024)}
    assert names["layer0.weights"] == (64 * 8, 4 * 8, "block")
    assert names["layer0.state"][:2] == (8, 4 * (qnet.layers[0].mem_format.bits + 1))
    assert names["fifo0"][0] == 63 and names["rx_fifo"] == (1023, 9, "ram")
    ice = estimate(qnet, "ice40", rx_fifo_depth=1024, pins=11)
    blocks = {row["name"]: row["blocks"] for row in ice["memories"]}
    # weights and deep enough RAMs in EBR; the small bias ROM in logic, spike words in FFs
    assert blocks["layer0.weights"] == 4 and blocks["layer0.state"] > 0
    assert blocks["layer0.bias"] == 0 and blocks["layer0.words"] == 0
    assert blocks["layer1.state"] == 0            # 3 groups: flip-flops
    assert ice["bram"] == sum(blocks.values()) and ice["ios"] == 11
    # more lanes, more logic; fewer weight bits, fewer block RAMs
    assert estimate(qnet_of((64, 32, 10), parallelism=8), "ice40",
                    rx_fifo_depth=1024)["luts"] > ice["luts"]
    assert estimate(qnet_of((64, 32, 10)), "ecp5", rx_fifo_depth=4096)["bram"] > \
        estimate(qnet_of((64, 32, 10), weight_bits=4), "ecp5", rx_fifo_depth=4096)["bram"]


def test_digits_network_fits_with_fewer_lanes():
    icebreaker = get_board("icebreaker")
    found = check_fit(qnet_of((64, 32, 10), parallelism=4), icebreaker)
    assert 0.3 < found["shares"]["luts"] < 1 and found["shares"]["bram"] < 1
    with pytest.raises(SpikegenError, match=r"the design does not fit the icebreaker "
                                            r"\(iCE40UP5K-SG48\): it needs about [\d,]+ LUT4 "
                                            r"of 5,280 \(\d+%, [\d,]+ too many\) "
                                            r"\(estimated before synthesis\); try -P \d+ "
                                            r"\(estimated to fit\), "
                                            r"or a bigger part \(arty-a7, arty-a7-100, "
                                            r"ulx3s-85f\)"):
        check_fit(qnet_of((64, 32, 10)), icebreaker)
    assert check_fit(qnet_of((64, 32, 10)), get_board("ulx3s-85f"))["shares"]["luts"] < 0.2


def test_block_ram_too_small():
    # 784 inputs x 256 neurons of 8-bit weights: 1.6 Mbit, far more than the UP5K's 120 kbit
    with pytest.raises(SpikegenError, match=r"it needs about 40\d EBR of 30 \(\d+%, 3\d\d too "
                                            r"many\) \(estimated before synthesis\); try "
                                            r"fewer --weight-bits, or a bigger part "
                                            r"\(arty-a7-100, ulx3s-85f\)"):
        check_fit(qnet_of((784, 256, 10), parallelism=1), get_board("icebreaker"))
    # a dozen EBR more than the part has: fewer weight bits would fit
    with pytest.raises(SpikegenError, match=r"it needs about 4\d EBR of 30 .*; try "
                                            r"--weight-bits \d \(its weights fit the block "
                                            r"RAM\), or a bigger part"):
        check_fit(qnet_of((256, 64, 10), parallelism=2), get_board("icebreaker"))


def test_board_check_fit_arguments():
    board = get_board("icebreaker")
    with pytest.raises(ValueError, match=r"The estimate is for 'ecp5', the icebreaker is "
                                         r"'ice40'"):
        board.check_fit({"family": "ecp5", "luts": 1, "ffs": 1, "bram": 1, "ios": 1})
