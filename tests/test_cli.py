"""The command line: builds, determinism, errors, and the digits network end to end."""
import json
import os
import shutil

import numpy as np
import pytest
import torch

import spikegen
from spikegen.cli import main

from helpers.networks import random_network


@pytest.fixture
def small_net(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "net.pt"
    spikegen.save(random_network(rng, (12, 9, 4), beta=0.875, scale=0.6, mean=0.2), path)
    spikes = (rng.random((20, 8, 12)) < 0.3).astype(np.uint8)
    data = tmp_path / "eval.npz"
    np.savez(data, spikes=spikes, labels=rng.integers(0, 4, 20))
    return path, data


def tree(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


def test_two_builds_are_byte_identical(tmp_path, small_net, capsys):
    net, data = small_net
    for out in ("a", "b"):
        assert main(["build", str(net), "--out", str(tmp_path / out), "--eval", str(data),
                     "-P", "3"]) == 0
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert {"report.json", "network.json", "hdl/verilog/spikegen_top.v", "board/spikegen.v",
            "board/spikegen.xdc", "board/spikegen.tcl", "data/eval.npz"} <= set(a)
    for name in a:
        assert a[name] == b[name], name
    assert "hdl/vhdl/spikegen_top.vhd" in a
    out = capsys.readouterr().out
    assert "bit-exact reference" in out and "cycles:" in out
    report = json.loads(a["report.json"])
    assert report["network"]["shape"] == [12, 9, 4]
    assert report["network"]["layers"][0]["leak"] == "shift"      # beta = 1 - 2^-3
    assert report["network"]["layers"][0]["lanes"] == 3
    assert report["evaluation"]["samples"] == 20
    assert 0 <= report["evaluation"]["reference_accuracy"] <= 1


@pytest.mark.ghdl
def test_built_vhdl_analyses_and_synthesizes(tmp_path, small_net):
    net, data = small_net
    assert main(["build", str(net), "--out", str(tmp_path / "a"), "--eval", str(data),
                 "-P", "3"]) == 0
    check_vhdl(tmp_path / "a" / "hdl" / "vhdl" / "spikegen_top.vhd", tmp_path / "ghdl-work")


def check_vhdl(path, work):
    """``ghdl -a --std=08`` without a warning, and ``ghdl --synth`` accepts it."""
    import shutil
    import subprocess

    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed (scripts/setup.sh installs it)")
    work.mkdir(exist_ok=True)
    analysed = subprocess.run(["ghdl", "-a", "--std=08", f"--workdir={work}", str(path)],
                              capture_output=True, text=True)
    assert analysed.returncode == 0 and analysed.stdout + analysed.stderr == ""
    synth = subprocess.run(["ghdl", "--synth", "--std=08", f"--workdir={work}",
                            "spikegen_top"], capture_output=True, text=True)
    assert synth.returncode == 0, synth.stderr[-2000:]


@pytest.mark.verilator
@pytest.mark.ghdl
def test_build_without_board_and_verify_random_spikes(tmp_path, small_net, capsys):
    net, _ = small_net
    out = tmp_path / "core"
    assert main(["build", str(net), "--out", str(out), "--board", "none"]) == 0
    assert not (out / "board").exists()
    assert main(["verify", str(out), "--samples", "6", "--density", "0.4", "--steps", "5"]) == 0
    result = json.loads((out / "verify.json").read_text())
    assert {"simulator", "samples", "mismatched_samples", "mismatched_spikes",
            "cycles_per_inference"} <= set(result)
    assert result["samples"] == 6 and result["steps"] == 5
    assert result["mismatched_samples"] == 0 and result["mismatched_spikes"] == 0
    assert "random spike trains, density 0.4" in result["source"]
    assert "0 mismatched spikes" in capsys.readouterr().out
    if shutil.which("ghdl"):
        assert main(["verify", str(out), "--samples", "6", "--density", "0.4", "--steps", "5",
                     "--simulator", "ghdl"]) == 0
        on_ghdl = json.loads((out / "verify.json").read_text())
        assert on_ghdl["simulator"] == "ghdl" and on_ghdl["mismatched_samples"] == 0
        assert on_ghdl["cycles_per_inference"] == result["cycles_per_inference"]
        report = json.loads((out / "report.json").read_text())
        assert set(report["simulation"]) == {"verilator", "ghdl"}


@pytest.mark.parametrize("argv,message,code", [
    (["--board", "zedboard"], "unknown board 'zedboard'", 2),
    (["--weight-bits", "0"], "0 is not a positive integer", 2),
    (["--eval", "pictures.csv"], "unknown data set 'pictures.csv'", 1),
    (["--weight-bits", "20"], "--weight-bits must be an integer from 2 to 16, not 20", 1),
    (["--mem-bits", "2"], "--mem-bits 2 cannot hold layer 0's threshold without rounding", 1),
    (["--steps", "300"], "--steps 300 must be from 1 to --max-steps (255)", 1),
    (["--events-per-cycle", "3"], "argument --events-per-cycle/-E: invalid choice: 3", 2),
    (["--readout", "voltage"], "argument --readout: invalid choice: 'voltage'", 2),
    (["-P", "fast"], "'fast' is not auto or a non-negative integer", 2),
    (["-P", "0", "--board", "icebreaker", "--weight-bits", "16", "--mem-frac-bits", "8"],
     "the design does not fit the icebreaker", 1),
])
def test_bad_options_give_one_line(tmp_path, small_net, capsys, argv, message, code):
    net, _ = small_net
    try:
        got = main(["build", str(net), "--out", str(tmp_path / "x"), *argv])
    except SystemExit as exit:      # argparse's own errors
        got = exit.code
    assert got == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_eval_file_with_wrong_width(tmp_path, small_net, capsys):
    net, _ = small_net
    data = tmp_path / "wide.npz"
    np.savez(data, spikes=np.zeros((3, 4, 13), dtype=np.uint8))
    assert main(["build", str(net), "--out", str(tmp_path / "x"), "--eval", str(data)]) == 1
    assert "'spikes' has shape (3, 4, 13), expected (samples, steps, 12)" in \
        capsys.readouterr().err


def test_verify_needs_a_build(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 1
    assert "no network.json; run 'spikegen build' into it first" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.verilator
def test_digits_demo_end_to_end(tmp_path, capsys):
    """The README's main job: train 64-32-10 on digits, build for the Arty A7, verify 200."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--samples", "200"]) == 0
    verify = json.loads((out / "build" / "verify.json").read_text())
    report = json.loads((out / "build" / "report.json").read_text())
    assert verify["samples"] == 200
    assert verify["mismatched_spikes"] == 0 and verify["mismatched_samples"] == 0
    assert report["network"]["shape"] == [64, 32, 10]
    assert report["evaluation"]["float_accuracy"] > 0.9
    assert report["evaluation"]["reference_accuracy"] > 0.9
    # issue 14: the demo agrees with snnTorch and never saturates
    assert report["evaluation"]["output_spike_agreement"] >= 0.995
    assert report["evaluation"]["saturated_additions"] == 0
    estimate = report["cycles"]["per_inference_mean"]
    assert 0.8 < verify["cycles_per_inference"] / estimate < 1.25
    assert (out / "build" / "board" / "spikegen.tcl").exists()
    printed = capsys.readouterr().out
    assert "verify (verilator): 200 samples, 0 mismatched samples" in printed
    # where everything is
    assert f"wrote the build to {out / 'build'}/" in printed
    assert f"report:   {out / 'build' / 'report.json'}" in printed
    assert f"network:  {out / 'net.pt'}" in printed
    assert f"plot:     {out / 'build' / 'plots' / 'raster.png'}" in printed
    # the trained state_dict loads back as the same network
    assert spikegen.load(out / "net.pt").shape == (64, 32, 10)
    assert isinstance(torch.load(out / "net.pt", weights_only=True), dict)


@pytest.mark.verilator
@pytest.mark.parametrize("coding", ["rate", "direct"])
def test_on_chip_coding_builds_and_verifies(tmp_path, small_net, capsys, coding):
    net, _ = small_net
    rng = np.random.default_rng(9)
    pixels = rng.integers(0, 256, (15, 12))
    pixels[pixels < 120] = 0
    data = tmp_path / "pixels.npz"
    np.savez(data, pixels=pixels, labels=rng.integers(0, 4, 15))
    out = tmp_path / coding
    assert main(["build", str(net), "--out", str(out), "--coding", coding, "--steps", "7",
                 "--eval", str(data)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["coding"] == {"kind": coding, "steps": 7, "value_bits": 8,
                                "seed": 0x2545F491 if coding == "rate" else None,
                                "trained": None}
    assert (out / "board" / "spikegen.v").exists()
    assert main(["verify", str(out), "--no-summary"]) == 0
    result = json.loads((out / "verify.json").read_text())
    assert result["samples"] == 15 and result["steps"] == 7
    assert result["mismatched_samples"] == 0
    estimate = json.loads((out / "report.json").read_text())["cycles"]["per_inference_mean"]
    assert 0.75 < result["cycles_per_inference"] / estimate < 1.3


@pytest.fixture
def mydesign(tmp_path, monkeypatch):
    """A user's module ``mydesign`` with a function ``make`` returning a component."""
    (tmp_path / "mydesign.py").write_text(
        "from rtl_lib.event_fifo import EventFIFO\n"
        "def make():\n"
        "    return EventFIFO(20, 8)\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_emit_a_users_own_component(tmp_path, mydesign, capsys):
    vhd, v = tmp_path / "fifo.vhd", tmp_path / "fifo.v"
    assert main(["emit", "mydesign:make", "--flat", "--name", "fifo", "-o", str(vhd)]) == 0
    assert main(["emit", "mydesign:make", "--flat", "--hdl", "verilog", "--name", "fifo",
                 "-o", str(v)]) == 0
    assert "entity fifo is" in vhd.read_text()
    for port in ("i_payload", "i_valid", "i_ready", "o_payload", "o_valid", "o_ready"):
        assert port in vhd.read_text() and port in v.read_text()
    assert main(["emit", "mydesign"]) == 1
    assert "must be MODULE:NAME" in capsys.readouterr().err


@pytest.mark.ghdl
def test_emitted_component_analyses(tmp_path, mydesign):
    import subprocess

    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed (scripts/setup.sh installs it)")
    vhd = tmp_path / "fifo.vhd"
    assert main(["emit", "mydesign:make", "--flat", "--name", "fifo", "-o", str(vhd)]) == 0
    work = tmp_path / "work"
    work.mkdir()
    assert subprocess.run(["ghdl", "-a", "--std=08", f"--workdir={work}", str(vhd)],
                          capture_output=True).returncode == 0


def _without_cwd_on_path(monkeypatch, folder):
    """Run from ``folder`` as the installed ``spikegen`` script does: the current folder is
    not on ``sys.path`` (pytest's ``python -m`` puts it there)."""
    import sys

    monkeypatch.chdir(folder)
    here = {os.getcwd(), str(folder), ""}
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in here])


def test_emit_finds_a_module_in_the_current_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "herdesign.py").write_text(
        "from rtl_lib.event_fifo import EventFIFO\n"
        "def make():\n"
        "    return EventFIFO(20, 8)\n")
    _without_cwd_on_path(monkeypatch, tmp_path)
    assert main(["emit", "herdesign:make", "--flat", "--hdl", "verilog", "-o", "top.v"]) == 0
    assert "module top(" in (tmp_path / "top.v").read_text()
    assert main(["emit", "nosuchdesign:make"]) == 1
    assert "cannot import 'nosuchdesign' (looked in" in capsys.readouterr().err


def test_emit_instantiates_a_component_class(tmp_path, monkeypatch, capsys):
    (tmp_path / "classdesign.py").write_text(
        "from amaranth.hdl import Module\n"
        "from amaranth.lib import wiring\n"
        "from amaranth.lib.wiring import In, Out\n"
        "from rtl_lib.event_fifo import EventFIFO\n"
        "class Blinky(wiring.Component):\n"
        "    led: Out(1)\n"
        "    en: In(1)\n"
        "    def elaborate(self, platform):\n"
        "        m = Module()\n"
        "        m.d.sync += self.led.eq(self.led ^ self.en)\n"
        "        return m\n"
        "class Plain:\n"
        "    pass\n")
    _without_cwd_on_path(monkeypatch, tmp_path)
    assert main(["emit", "classdesign:Blinky", "-o", "blinky.vhd"]) == 0
    text = (tmp_path / "blinky.vhd").read_text()
    assert "entity top is" in text and "led : out std_logic" in text
    assert main(["emit", "classdesign:EventFIFO"]) == 1
    assert ("class classdesign:EventFIFO needs arguments (count, depth): name a function"
            in capsys.readouterr().err)
    assert main(["emit", "classdesign:Plain"]) == 1
    assert "is the class Plain, not a subclass of Amaranth's wiring.Component" \
        in capsys.readouterr().err


def test_emit_help_explains_every_option(capsys):
    import argparse

    from spikegen.cli import _parser

    commands = next(action for action in _parser()._actions
                    if isinstance(action, argparse._SubParsersAction))
    emit = commands.choices["emit"]
    assert all(action.help for action in emit._actions), \
        [action.dest for action in emit._actions if not action.help]
    with pytest.raises(SystemExit):
        main(["emit", "--help"])
    out = capsys.readouterr().out
    assert "output language" in out and "VHDL standard" in out and "current folder" in out


def test_emit_warns_about_ports_named_differently_in_vhdl(tmp_path, mydesign, capsys):
    v, vhd = tmp_path / "fifo.v", tmp_path / "fifo.vhd"
    assert main(["emit", "mydesign:make", "--hdl", "verilog", "-o", str(v)]) == 0
    err = capsys.readouterr().err
    assert "warning: ports named differently in Verilog and VHDL: " in err
    assert "i__valid -> i_valid" in err and "o__payload -> o_payload" in err
    assert "--flat gives the same names in both" in err
    assert main(["emit", "mydesign:make", "-o", str(vhd)]) == 0
    assert "i__valid -> i_valid" in capsys.readouterr().err
    # what the warning says is what the two texts hold
    assert "input i__valid;" in v.read_text() and "i_valid : in std_logic" in vhd.read_text()
    assert main(["emit", "mydesign:make", "--flat", "-o", str(vhd)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_port_names_match_both_texts():
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out

    from rtl_lib.event_fifo import EventFIFO
    from spikegen import emit
    from spikegen.flat_top import FlatTop

    fifo = EventFIFO(20, 8)
    verilog, vhdl = emit.both(fifo, name="fifo")
    for v, h in emit.port_names(fifo, name="fifo").items():
        assert f" {v};" in verilog and f" {h} : " in vhdl
    assert emit.renamed_ports(FlatTop(fifo)) == {}

    class Odd(wiring.Component):
        def __init__(self):
            super().__init__({"out": Out(2), "x_": In(stream.Signature(0))})

        def elaborate(self, platform):
            from amaranth.hdl import Module
            return Module()

    assert emit.renamed_ports(Odd()) == {"out": "out_r", "x___payload": None,
                                         "x___valid": "x_valid", "x___ready": "x_ready"}


def test_board_project_with_the_vhdl_core(tmp_path, small_net, capsys):
    net, _ = small_net
    out = tmp_path / "b"
    assert main(["build", str(net), "--out", str(out), "--board-hdl", "vhdl"]) == 0
    board = out / "board"
    assert (board / "spikegen_top.vhd").read_bytes() == \
        (out / "hdl" / "vhdl" / "spikegen_top.vhd").read_bytes()
    verilog = (board / "spikegen.v").read_text()
    assert "spikegen_top " in verilog and "module spikegen_top" not in verilog
    assert 'add_files "spikegen_top.vhd"' in (board / "spikegen.tcl").read_text()
    assert main(["build", str(net), "--out", str(tmp_path / "c"), "--board", "icebreaker",
                 "--board-hdl", "vhdl"]) == 1
    assert "needs a vendor flow that reads VHDL" in capsys.readouterr().err


def test_train_writes_a_network_that_builds(tmp_path, capsys):
    net = tmp_path / "net.pt"
    assert main(["train", "--epochs", "2", "--qat-epochs", "1", "--hidden", "8", "--steps", "4",
                 "--out", str(net)]) == 0
    assert "direct coding, 4 steps, 8-bit fine-tuned" in capsys.readouterr().out
    assert spikegen.load(net).shape == (64, 8, 10)
    assert main(["build", str(net), "--out", str(tmp_path / "b"), "--board", "none",
                 "--coding", "direct", "--steps", "4", "--hdl", "verilog"]) == 0


@pytest.mark.verilator
@pytest.mark.ghdl
def test_two_events_per_cycle_and_membrane_readout_verify(tmp_path, small_net, capsys):
    """-E 2 (paired events, both block-RAM ports) and --readout membrane, bit-exact on
    Verilator (and GHDL when installed), board project included."""
    net, _ = small_net
    out = tmp_path / "e2"
    assert main(["build", str(net), "--out", str(out), "-E", "2", "--readout", "membrane",
                 "--hdl", "both"]) == 0
    qnet = json.loads((out / "network.json").read_text())
    assert qnet["hardware"]["events_per_cycle"] == 2 and qnet["readout"] == "membrane"
    assert (out / "board" / "spikegen.v").exists()
    assert main(["verify", str(out), "--samples", "8", "--density", "0.5", "--steps", "6"]) == 0
    result = json.loads((out / "verify.json").read_text())
    assert result["mismatched_samples"] == 0 and result["samples"] == 8
    if shutil.which("ghdl"):
        assert main(["verify", str(out), "--samples", "3", "--density", "0.5", "--steps", "6",
                     "--simulator", "ghdl"]) == 0
        assert json.loads((out / "verify.json").read_text())["mismatched_samples"] == 0


def test_library_words_become_the_commands_flags():
    from spikegen.cli import _flag_speller, _parser
    from spikegen.errors import SpikegenError

    parser = _parser()
    spell = _flag_speller(parser, parser.parse_args(["build", "net.pt"]))
    error = SpikegenError("try `parallelism` 4, fewer `weight_bits`, or `no_reset_delay`")
    assert str(error) == "try parallelism 4, fewer weight_bits, or no_reset_delay"
    assert error.render(spell) == "try -P 4, fewer --weight-bits, or --no-reset-delay"
    assert SpikegenError("`unknown` stays").render(spell) == "unknown stays"


def test_every_option_has_help():
    import argparse

    from spikegen.cli import _parser

    missing = []
    parser = _parser()
    commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0]
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.help in (None, "") and not isinstance(action, argparse._HelpAction):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing
