"""The compiler's steps: each a plain function of the build record, in order; the fit of a
board refused before anything is written; the plan read by every later step."""
import os

import numpy as np
import pytest

import spikegen
from spikegen import compiler
from spikegen.compiler import STEPS, Build, BuildOptions, build
from spikegen.errors import SpikegenError
from spikegen.evaluation import Evaluation
from spikegen.plan import plan_network

from helpers.networks import random_network, saved_network_and_data


@pytest.fixture
def net_and_data(tmp_path):
    return saved_network_and_data(tmp_path, samples=6, steps=5)


def test_steps_in_order():
    assert [step.__name__ for step in STEPS] == [
        "load", "quantize", "plan", "check", "assemble", "emit", "board", "synth", "report"]


def test_each_step_adds_its_result(tmp_path, net_and_data):
    net, data = net_and_data
    b = Build(options=BuildOptions(source=str(net), out=str(tmp_path / "out"), board=None,
                                   eval=str(data), parallelism=4, events_per_cycle=2,
                                   hdl="verilog"))
    seen = []
    for step in STEPS:
        b = step(b)
        seen.append(step.__name__)
        if step is compiler.plan:
            assert b.plan == plan_network(b.qnet) and b.component is None
            assert not os.path.exists(tmp_path / "out")      # nothing written yet
        if step is compiler.check:
            assert isinstance(b.evaluation, Evaluation)
            assert b.evaluation.metrics["samples"] == 6
            assert len(b.evaluation.events) == len(b.qnet.layers) + 1
            assert b.fit is None                              # no board
        if step is compiler.assemble:
            assert [layer.plan for layer in b.component.layers] == list(b.plan.layers)
    assert set(b.hdl) == {"verilog"} and b.files[:2] == ("network.json",
                                                         "hdl/verilog/spikegen_top.v")
    assert b.report["cycles"]["groups"] == [layer.groups for layer in b.plan.layers]


def test_a_design_that_does_not_fit_is_refused_before_anything_is_written(tmp_path):
    rng = np.random.default_rng(0)
    net = tmp_path / "big.pt"
    spikegen.save(random_network(rng, (256, 200, 10)), net)
    out = tmp_path / "out"
    with pytest.raises(SpikegenError, match=r"the design does not fit the icebreaker.*"
                                            r"\(estimated before synthesis\); try "):
        build(BuildOptions(source=str(net), out=str(out), board="icebreaker"))
    assert not out.exists()


@pytest.mark.slow
def test_board_instantiates_the_written_core(tmp_path, net_and_data):
    """The core elaborates once: both board flows read its written Verilog (the iCEBreaker
    makes a real bitstream from it when the YoWASP tools are installed)."""
    net, _ = net_and_data
    for board in ("arty-a7", "icebreaker"):
        out = tmp_path / board
        result = build(BuildOptions(source=str(net), out=str(out), board=board, parallelism=4,
                                    hdl="vhdl"))
        # the board needs the Verilog of the core even when only VHDL is written
        assert "verilog" in result.hdl and not (out / "hdl" / "verilog").exists()
        assert result.board["board"] == board
        written = sorted(os.listdir(out / "board"))
        assert "spikegen_top.v" in written, written
        with open(out / "board" / "spikegen_top.v") as f:
            assert f.read() == result.hdl["verilog"]


def test_board_hdl_errors(tmp_path, net_and_data):
    net, _ = net_and_data
    with pytest.raises(SpikegenError, match="board_hdl vhdl needs a vendor flow that reads "
                                            "VHDL"):
        build(BuildOptions(source=str(net), out=str(tmp_path / "a"), board="icebreaker",
                           board_hdl="vhdl"))
    with pytest.raises(SpikegenError, match="board_hdl vhdl needs the VHDL: drop hdl verilog"):
        build(BuildOptions(source=str(net), out=str(tmp_path / "b"), board="arty-a7",
                           board_hdl="vhdl", hdl="verilog"))


def test_steps_with_nothing_to_do_say_why(tmp_path, net_and_data):
    net, _ = net_and_data
    lines = []
    build(BuildOptions(source=str(net), out=str(tmp_path / "out"), board=None, hdl="verilog"),
          log=lines.append)
    assert "[synth] skipped: no synthesis (--synth not given)" in lines
    assert "[board] skipped: no board (--board none)" in lines
    assert "[emit]" in lines


def test_the_checkpoints_coding_is_the_default(tmp_path):
    from spikegen.ir import InputCoding
    from spikegen.report import summary

    net = tmp_path / "net.pt"
    spikegen.save(random_network(np.random.default_rng(1), (12, 8, 3)), net,
                  coding=InputCoding("direct", steps=8))
    assert spikegen.load(net).coding == InputCoding("direct", steps=8)
    common = dict(source=str(net), board=None, hdl="verilog")
    built = build(BuildOptions(out=str(tmp_path / "a"), **common))
    assert (built.qnet.coding.kind, built.qnet.coding.steps) == ("direct", 8)
    assert "input coding: direct, 8 steps" in summary(built.report)
    assert "(as trained, recorded in the checkpoint)" in summary(built.report)
    told = build(BuildOptions(out=str(tmp_path / "b"), coding="events", **common))
    assert told.qnet.coding.kind == "events"
    assert "(trained with direct coding, 8 steps: the accuracy may differ)" in \
        summary(told.report)
    # a state_dict records no coding: events and 16 steps
    plain = tmp_path / "plain.pt"
    spikegen.save(random_network(np.random.default_rng(1), (12, 8, 3)), plain)
    assert build(BuildOptions(source=str(plain), out=str(tmp_path / "c"), board=None,
                              hdl="verilog")).options.steps == 16


def test_a_bad_recorded_coding_is_refused(tmp_path):
    import torch

    net = tmp_path / "net.pt"
    spikegen.save(random_network(np.random.default_rng(1), (12, 8, 3)), net)
    tree = torch.load(net, weights_only=True)
    tree["coding"] = {"kind": "morse", "steps": 4}
    torch.save(tree, net)
    with pytest.raises(SpikegenError, match=r"net.pt: .*recorded input coding .* is not valid"):
        spikegen.load(net)


def test_auto_parallelism_is_fitted_to_the_board_before_anything_is_written(tmp_path):
    rng = np.random.default_rng(1)
    net = tmp_path / "net.pt"
    spikegen.save(random_network(rng, (64, 32, 10)), net)
    b = Build(options=BuildOptions(source=str(net), out=str(tmp_path / "out"),
                                   board="icebreaker"))
    for step in (compiler.load, compiler.quantize, compiler.plan, compiler.check):
        b = step(b)
    assert 0 < b.qnet.hardware.parallelism < 32
    assert b.plan == plan_network(b.qnet)
    assert b.fit["chosen"].startswith(f"-P auto: {b.qnet.hardware.parallelism} lanes per "
                                      "layer")
    assert not os.path.exists(tmp_path / "out")
    # without a board every neuron keeps its own lane, one event per cycle
    b = Build(options=BuildOptions(source=str(net), out=str(tmp_path / "out"), board=None))
    for step in (compiler.load, compiler.quantize, compiler.plan, compiler.check):
        b = step(b)
    assert (b.qnet.hardware.parallelism, b.qnet.hardware.events_per_cycle) == (0, 1)
