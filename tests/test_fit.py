"""Fit check before synthesis: block RAM, logic and pins of each board's part."""
import re

import numpy as np
import pytest
from amaranth.hdl import Shape

from rtl_lib.event import EventGroupLayout, EventLayout
from spikegen.assemble import accelerator
from spikegen.boards import get_board
from spikegen.errors import SpikegenError
from spikegen.fit import block_rams, check_fit, estimate, memories
from spikegen.ir import LIF, CubaLIF, DenseLayer, HardwareConfig, InputCoding, Network
from spikegen.quantize import quantize

from helpers.networks import random_network


def qnet_of(sizes, *, parallelism=0, weight_bits=8, seed=0, events=1, mem_bits=None):
    net = random_network(np.random.default_rng(seed), sizes)
    return quantize(net, weight_bits=weight_bits, mem_bits=mem_bits,
                    hardware=HardwareConfig(parallelism, events_per_cycle=events))


def model_qnet(*, parallelism=0, events=1, readout="spikes", coding=None, seed=0,
               mem_bits=None):
    """64 -> 40 (recurrent CubaLIF) -> 10 (LIF): a current, a recurrence and a plain layer."""
    rng = np.random.default_rng(seed)
    layers = (DenseLayer(rng.normal(0, 0.5, (40, 64)), rng.normal(0, 0.1, 40),
                         CubaLIF(alpha=0.5, beta=0.75), recurrent=rng.normal(0, 0.3, (40, 40))),
              random_network(rng, (40, 10)).layers[0])
    options = {} if coding is None else {"coding": coding}
    return quantize(Network(layers, readout=readout), **options, mem_bits=mem_bits,
                    hardware=HardwareConfig(parallelism, events_per_cycle=events))


def plan(qnet, **options):
    return {m.name: m for m in memories(qnet, rx_fifo_depth=1024, **options)}


def blocks_of(qnet, family, **options):
    found = estimate(qnet, family, rx_fifo_depth=1024, **options)
    return {row["name"]: row["blocks"] for row in found["memories"]}


def test_block_ram_shapes():
    assert block_rams(64, 256, "ice40") == 16          # 256 x 16 blocks, 16 side by side
    assert block_rams(2048, 8, "ice40") == 4           # 512 x 8
    assert block_rams(512, 36, "ecp5") == 1
    assert block_rams(1023, 9, "ecp5") == 1            # 2048 x 9
    assert block_rams(64, 256, "xc7") == 4             # 8 RAMB18 of 512 x 36
    with pytest.raises(ValueError, match=r"Unknown FPGA family 'gw1n'"):
        estimate(qnet_of((8, 4)), "gw1n", rx_fifo_depth=512)
    with pytest.raises(ValueError, match=r"Unknown FPGA family 'gw1n'"):
        block_rams(64, 8, "gw1n")


def test_two_read_ports():
    # true dual port on ECP5 and 7-series: the same blocks; iCE40's EBR reads through one
    # port, so a second read port takes a copy (what Yosys 0.70 maps a 512 x 16 ROM to)
    assert block_rams(512, 16, "ecp5", read_ports=2) == block_rams(512, 16, "ecp5") == 1
    assert block_rams(512, 16, "xc7", read_ports=2) == block_rams(512, 16, "xc7") == 0.5
    assert block_rams(512, 16, "ice40", read_ports=2) == 2 * block_rams(512, 16, "ice40") == 4


def test_memories_follow_the_hardware():
    qnet = qnet_of((64, 32, 10), parallelism=4)
    names = {name: (depth, width, kind) for name, depth, width, kind, _ in
             memories(qnet, rx_fifo_depth=1024)}
    assert names["layer0.weights"] == (64 * 8, 4 * 8, "block")
    assert names["layer0.state"] == (8, 4 * (qnet.layers[0].mem_format.bits + 1), "ram")
    assert names["layer0.bias"] == (8, 4 * qnet.layers[0].mem_format.bits, "rom")
    assert names["fifo0"] == (63, 5 + 2, "ram") and names["rx_fifo"] == (1023, 9, "ram")
    # 3,072 bits of weights would waste most of a block: LUTs
    assert names["layer1.weights"] == (32 * 3, 4 * 8, "lut")
    ice = estimate(qnet, "ice40", rx_fifo_depth=1024, pins=11)
    blocks = {row["name"]: row["blocks"] for row in ice["memories"]}
    # weights and deep enough RAMs in EBR; the small bias ROM in logic, spike words in FFs
    assert blocks["layer0.weights"] == 4 and blocks["layer0.state"] > 0
    assert blocks["layer1.weights"] == 0
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
                                            r"\(estimated before synthesis\); try parallelism \d+ "
                                            r"\(estimated to fit\), "
                                            r"or a bigger part \(arty-a7, arty-a7-100, "
                                            r"ulx3s-85f\)"):
        check_fit(qnet_of((64, 32, 10)), icebreaker)
    assert check_fit(qnet_of((64, 32, 10)), get_board("ulx3s-85f"))["shares"]["luts"] < 0.2


def test_block_ram_too_small():
    # 784 inputs x 256 neurons of 8-bit weights: 1.6 Mbit, far more than the UP5K's 120 kbit
    with pytest.raises(SpikegenError, match=r"it needs about 40\d EBR of 30 \(\d+%, 3\d\d too "
                                            r"many\) \(estimated before synthesis\); try a "
                                            r"bigger part \(arty-a7 with weight_bits 7, "
                                            r"arty-a7-100, ulx3s-85f\)"):
        check_fit(qnet_of((784, 256, 10), parallelism=1), get_board("icebreaker"))
    # a dozen EBR more than the part has: fewer weight bits would fit
    with pytest.raises(SpikegenError, match=r"it needs about 4\d EBR of 30 .*; try "
                                            r"(parallelism \d )?weight_bits \d \(estimated to "
                                            r"fit\), or a bigger part"):
        check_fit(qnet_of((256, 64, 10), parallelism=2), get_board("icebreaker"))


def suggestions(message):
    """``(board or None, {"parallelism": p, "weight_bits": b})`` of each change a refusal
    names."""
    advice = message.split("; try ", 1)[1]
    found = []
    here = re.match(r"(.*?) \(estimated to fit\)", advice)
    if here:
        found.append((None, here.group(1)))
    bigger = re.search(r"a bigger part \((.*)\)$", advice)
    if bigger:
        for part in bigger.group(1).split(", "):
            board, _, change = part.partition(" with ")
            found.append((board, change))
    return [(board, {name: int(value) for name, value in
                     re.findall(r"(parallelism|weight_bits) (\d+)", change)})
            for board, change in found]


@pytest.mark.parametrize("sizes,parallelism,board", [
    ((784, 2048, 10), 0, "icebreaker"),        # fits nowhere as it is
    ((64, 32, 10), 0, "icebreaker"),           # too much logic: fewer lanes
    ((256, 64, 10), 2, "icebreaker"),          # too much block RAM: fewer weight bits
    ((784, 256, 10), 1, "icebreaker"),
    ((784, 512, 10), 0, "arty-a7"),
])
def test_every_suggestion_fits(sizes, parallelism, board):
    """A refusal names at least one change, and each one it names fits by the same
    estimate once the network is quantized and built that way."""
    with pytest.raises(SpikegenError) as refused:
        check_fit(qnet_of(sizes, parallelism=parallelism), get_board(board))
    changes = suggestions(str(refused.value))
    assert changes, str(refused.value)
    for target, change in changes:
        variant = qnet_of(sizes, parallelism=change.get("parallelism", parallelism),
                          weight_bits=change.get("weight_bits", 8))
        check_fit(variant, get_board(target or board))      # no refusal: it fits


def test_board_check_fit_arguments():
    board = get_board("icebreaker")
    with pytest.raises(ValueError, match=r"The estimate is for 'ecp5', the icebreaker is "
                                         r"'ice40'"):
        board.check_fit({"family": "ecp5", "luts": 1, "ffs": 1, "bram": 1, "ios": 1})


def hardware_memories(qnet):
    """``(depth, width, read ports, kind)`` of each memory the assembled accelerator builds (the
    bias ROM and FIFOs are made in ``elaborate``: their sizes from the components)."""
    top = accelerator(qnet)
    found = {}
    for k, layer in enumerate(top.layers):
        P, G = layer.lanes, layer.groups
        weights = layer.weights
        style = "block" if weights.attrs["ram_style"] == "block" else "lut"
        found[f"layer{k}.weights"] = (weights.depth, Shape.cast(weights.shape).width,
                                      layer.events, style)
        if G == 1:
            found[f"layer{k}.state"] = (1, len(layer.state_reg), 1, "reg")
        else:
            found[f"layer{k}.state"] = (layer.state.depth,
                                        Shape.cast(layer.state.shape).width, 1, "ram")
            if layer.bias is not None:
                found[f"layer{k}.bias"] = (len(layer.bias_image()), P * layer.params.acc_bits,
                                           1, "rom")
        if k + 1 < len(top.layers):
            events = layer.out_events
            layout = EventLayout(layer.outputs) if events == 1 else \
                EventGroupLayout(layer.outputs, events)
            found[f"fifo{k}"] = (qnet.hardware.fifo_depth - 1, layout.size, 1, "ram")
    return found


@pytest.mark.parametrize("parallelism,events,coding", [
    (4, 1, None), (4, 2, None), (7, 2, None), (0, 2, None), (0, 1, None),
    (5, 2, InputCoding("rate", steps=4)),
])
def test_plan_matches_the_assembled_accelerator(parallelism, events, coding):
    qnet = model_qnet(parallelism=parallelism, events=events, coding=coding)
    found = plan(qnet)
    built = hardware_memories(qnet)
    assert {"block", "lut"} <= {kind for *_, kind in built.values()}
    for name, shape in built.items():
        m = found[name]
        assert (m.depth, m.width, m.read_ports, m.kind) == shape, name


def test_cuba_state_holds_membrane_and_current():
    qnet = model_qnet(parallelism=4)
    layer = qnet.layers[0]
    found = plan(qnet)
    assert found["layer0.state"].width == 4 * (layer.mem_format.bits + layer.syn_format.bits)
    # the bias is added to the current: the ROM holds currents
    assert found["layer0.bias"].width == 4 * layer.syn_format.bits
    assert found["layer1.state"].width == 4 * (qnet.layers[1].mem_format.bits + 1)
    # the current is a second state per lane: more logic than the same layer of LIF neurons
    # with membranes as wide
    qnet = model_qnet(parallelism=4, mem_bits=16)
    lif = qnet_of((64, 40, 10), parallelism=4, mem_bits=16)
    assert estimate(qnet, "xc7", rx_fifo_depth=512)["luts"] > \
        estimate(lif, "xc7", rx_fifo_depth=512)["luts"]


def test_recurrent_layer_has_a_row_per_neuron_too():
    qnet = model_qnet(parallelism=4)
    found = plan(qnet)
    assert found["layer0.weights"].depth == (64 + 40) * 10         # 10 groups of 4 lanes
    assert found["layer1.weights"].depth == 40 * 3                 # feed-forward
    # 1,040 words of 32 bits: EBRs of 256 x 16, 5 deep and 2 wide (without the recurrent
    # rows 640 words, 3 deep)
    assert blocks_of(qnet, "ice40")["layer0.weights"] == 5 * 2


def test_two_events_per_cycle_read_through_two_ports():
    one, two = model_qnet(parallelism=4), model_qnet(parallelism=4, events=2)
    assert {m.read_ports for m in memories(two, rx_fifo_depth=512)
            if m.kind == "block"} == {2}
    for family in ("ecp5", "xc7"):
        assert estimate(two, family, rx_fifo_depth=512)["bram"] >= \
            estimate(one, family, rx_fifo_depth=512)["bram"]
    b1, b2 = blocks_of(one, "ice40"), blocks_of(two, "ice40")
    assert b2["layer0.weights"] == 2 * b1["layer0.weights"]
    assert b2["layer0.state"] == b1["layer0.state"]
    # two indices and a count per beat between the layers
    assert plan(two)["fifo0"].width == 2 * 6 + 2 + 2 and plan(one)["fifo0"].width == 6 + 2
    # a second registered weight row per lane
    assert estimate(two, "xc7", rx_fifo_depth=512)["ffs"] > \
        estimate(one, "xc7", rx_fifo_depth=512)["ffs"]
    # a first layer fed pixel values takes one value per cycle, through one port
    direct = quantize(random_network(np.random.default_rng(1), (64, 20, 10)),
                      coding=InputCoding("direct", steps=4),
                      hardware=HardwareConfig(4, events_per_cycle=2))
    found = plan(direct)
    assert found["layer0.weights"].read_ports == 1 and found["layer1.weights"].read_ports == 2


def test_fully_parallel_layers_keep_state_in_flip_flops():
    qnet = model_qnet()
    found = plan(qnet)
    layer = qnet.layers[0]
    assert found["layer0.state"].kind == "reg" and found["layer0.state"].depth == 1
    assert found["layer0.state"].width == 40 * (layer.mem_format.bits + layer.syn_format.bits)
    assert "layer0.bias" not in found                   # constants of the lanes
    for family in ("ice40", "ecp5", "xc7"):
        blocks = blocks_of(qnet, family)
        assert blocks["layer0.state"] == blocks["layer1.state"] == 0
        assert blocks["layer0.weights"] > 0             # the weights stay in block RAM


def test_membrane_readout_queues_classes():
    found = plan(model_qnet(parallelism=4, readout="membrane"))
    assert (found["layer1.classes"].depth, found["layer1.classes"].width) == (2, 4)
    assert found["layer1.classes"].kind == "async"
    assert "layer1.classes" not in plan(model_qnet(parallelism=4))


def test_two_read_ports_make_a_true_dual_port_block():
    """Measured with Yosys 0.70 (synth_xilinx, synth_ecp5) on a 1,500 x 64 ROM: one read port
    takes the 36-bit shapes, two read ports cannot."""
    assert block_rams(1500, 64, "xc7", 1) == 3 and block_rams(1500, 64, "xc7", 2) == 4
    assert block_rams(1500, 64, "ecp5", 1) == 6 and block_rams(1500, 64, "ecp5", 2) == 8
    # the Spiker+ layer (784 x 512 bits) takes 14.5 RAMB36 either way
    assert block_rams(784, 512, "xc7", 1) == block_rams(784, 512, "xc7", 2) == 14.5
    # iCE40's block RAM has one read port: a second one is a copy
    assert block_rams(1500, 64, "ice40", 2) == 2 * block_rams(1500, 64, "ice40", 1)


def test_estimate_follows_placed_designs():
    """nextpnr placed the digits network (64-32-10, 8-bit weights) with its host link in
    4,206 logic cells at P = 4 and 6,299 at P = 8 (benchmarks/estimate_vs_yosys.py): the
    estimate fits the first on the iCEBreaker's 5,280 and refuses the second, and stays
    within 15 % of what was placed."""
    icebreaker = get_board("icebreaker")
    fits = check_fit(qnet_of((64, 32, 10), parallelism=4), icebreaker)
    assert abs(fits["luts"] / 4206 - 1) < 0.15
    with pytest.raises(SpikegenError, match=r"LUT4 of 5,280"):
        check_fit(qnet_of((64, 32, 10), parallelism=8), icebreaker)
    # a leak by a constant multiply (beta 0.9) costs more logic than a shift (beta 0.875)
    def core(beta):
        net = Network(tuple(DenseLayer(layer.weight, layer.bias, LIF(beta=beta))
                            for layer in random_network(np.random.default_rng(0),
                                                        (64, 32, 10)).layers))
        return estimate(quantize(net, hardware=HardwareConfig(4)), "xc7",
                        rx_fifo_depth=512)["luts"]
    assert core(0.9) > core(0.875)


def test_auto_takes_the_fastest_parallelism_that_fits():
    from spikegen.fit import AUTO_HEADROOM, _candidates, fastest_fit

    icebreaker = get_board("icebreaker")
    qnet = qnet_of((64, 32, 10))
    chosen, plan, why = fastest_fit(qnet, icebreaker)
    p, e = chosen.hardware.parallelism, chosen.hardware.events_per_cycle
    assert 0 < p < 32
    assert why.startswith(f"-P auto: {p} lanes per layer, {e} input event")
    assert "the fastest estimated to fit the icebreaker; every neuron its own lane with 2 " \
           "events per cycle would need about" in why
    shares = check_fit(chosen, icebreaker)["shares"]
    assert max(shares.values()) <= AUTO_HEADROOM
    # every faster candidate is over the part (or the headroom)
    order = _candidates(qnet, (2, 1))
    for faster in order[:order.index((p, e))]:
        found = estimate(qnet_of((64, 32, 10), parallelism=faster[0], events=faster[1]),
                         "ice40", rx_fifo_depth=icebreaker.rx_fifo_depth,
                         pins=icebreaker.pins or 0)
        assert max(found["luts"] / icebreaker.capacity.luts,
                   found["bram"] / icebreaker.capacity.bram) > AUTO_HEADROOM


def test_auto_on_a_big_part_keeps_every_neuron_in_its_own_lane():
    from spikegen.fit import fastest_fit

    chosen, _, why = fastest_fit(qnet_of((64, 32, 10)), get_board("arty-a7"))
    assert (chosen.hardware.parallelism, chosen.hardware.events_per_cycle) == (0, 2)
    assert why == ("-P auto: every neuron its own lane, 2 input events per cycle, the fastest "
                   "estimated to fit the arty-a7")


def test_auto_refuses_what_fits_nowhere():
    from spikegen.fit import fastest_fit

    with pytest.raises(SpikegenError, match="the design does not fit the icebreaker"):
        fastest_fit(qnet_of((784, 2048, 10)), get_board("icebreaker"))


def test_max_pooling_of_currents_adds_its_lanes_logic():
    """A current pooling's comparison, join and registers per lane, near what Yosys counts
    (652 LUT and 623 FF more for this layer: benchmarks/component_resources.py)."""
    from rtl_lib.conv_geometry import ConvGeometry
    from rtl_lib.conv_plan import ConvPlan
    from rtl_lib.lif import LIFParams
    from spikegen.fit import LOGIC

    params = LIFParams(mem_bits=10, threshold=200, decay=3, decay_bits=4, weight_shift=2)

    def logic(**pools):
        g = ConvGeometry(in_hw=(28, 28), in_channels=1, out_channels=12, kernel=5,
                         out_hw=(24, 24), **pools)
        return LOGIC.get("conv2d")(ConvPlan(g, 12, 6, params, bias=True))

    (plain_luts, plain_ffs), (luts, ffs) = logic(), logic(current_pool=2)
    assert 0.85 * 652 <= luts - plain_luts <= 1.15 * 652
    assert 0.85 * 623 <= ffs - plain_ffs <= 1.15 * 623
