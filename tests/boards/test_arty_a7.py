# amaranth: UnusedElaboratable=no
"""Arty A7 board: the Vivado project it writes (the board core's logic is tested end to end in
tests/rtl_lib/test_host_link.py and tests/test_runtime.py)."""
import os
import stat

import pytest

from spikegen.boards import BOARDS, DEFAULT_BOARD, get_board
from spikegen.boards.arty_a7 import ArtyA7_35Board, ArtyA7_100Board
from spikegen.boards.icebreaker import ICEBreakerBoard
from spikegen.boards.ulx3s import ULX3S85FBoard

from helpers.fake_accel import CountingAccel


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One default build, shared by the tests that only read it."""
    build_dir = tmp_path_factory.mktemp("arty")
    report = get_board("arty-a7").build(CountingAccel(20, 3, 6), build_dir, run_vendor=False)
    return build_dir, report


def test_build_writes_vivado_project(built):
    build_dir, report = built
    assert report == {
        "board": "arty-a7",
        "part": "xc7a35ticsg324-1L",
        "family": "xc7",
        "toolchain": "vivado",
        "clock_hz": 100_000_000,
        "clock": "100 MHz from the 100 MHz oscillator",
        "baud": 3_000_000,
        "divisor": 33,
        "rx_fifo_depth": 4096,
        "protocol": 1,
        "files": ["build_spikegen.bat", "build_spikegen.json", "build_spikegen.sh",
                  "spikegen.debug.v", "spikegen.tcl", "spikegen.v", "spikegen.xdc"],
        "bitstream": None,
        "toolchain_ran": False,
        "vivado_ran": False,
    }
    for name in report["files"]:
        assert (build_dir / name).is_file()
    tcl = (build_dir / "spikegen.tcl").read_text()
    assert "-part xc7a35ticsg324-1L" in tcl
    assert "add_files spikegen.v" in tcl and "read_xdc spikegen.xdc" in tcl
    xdc = (build_dir / "spikegen.xdc").read_text()
    assert 'set_property LOC A9 [get_ports "uart_0__rx__io"]' in xdc
    assert 'set_property LOC D10 [get_ports "uart_0__tx__io"]' in xdc
    assert 'set_property LOC H5 [get_ports "led_0__io"]' in xdc
    assert "create_clock -name clk100_0__io -period 10.0" in xdc
    verilog = (build_dir / "spikegen.v").read_text()
    assert "module spikegen(" in verilog


def test_build_is_deterministic(built, tmp_path):
    build_dir, report = built
    again = get_board("arty-a7").build(CountingAccel(20, 3, 6), tmp_path, run_vendor=False)
    assert again == report
    for name in report["files"]:
        assert (tmp_path / name).read_bytes() == (build_dir / name).read_bytes(), name


def test_build_100t_with_baud(tmp_path):
    report = get_board("arty-a7-100").build(CountingAccel(8, 2, 4), tmp_path, baud=115_200,
                                            run_vendor=False)
    assert (report["part"], report["baud"], report["divisor"]) == \
        ("xc7a100ticsg324-1L", 115_200, 868)
    assert "-part xc7a100ticsg324-1L" in (tmp_path / "spikegen.tcl").read_text()


def test_build_runs_vivado_when_present(tmp_path, monkeypatch):
    # A stand-in `vivado` on PATH: the build runs the plan's script, which calls it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vivado"
    fake.write_text('#!/bin/sh\necho "$@" > vivado_args.txt\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("VIVADO", raising=False)
    monkeypatch.delenv("AMARANTH_ENV_VIVADO", raising=False)

    report = ArtyA7_35Board().build(CountingAccel(4, 2, 2), tmp_path / "out")
    assert report["vivado_ran"] is True
    assert (tmp_path / "out" / "vivado_args.txt").read_text() == \
        "-mode batch -log spikegen.log -source spikegen.tcl\n"


def test_board_registry():
    assert BOARDS == {"arty-a7": ArtyA7_35Board, "arty-a7-100": ArtyA7_100Board,
                      "icebreaker": ICEBreakerBoard, "ulx3s-85f": ULX3S85FBoard}
    assert DEFAULT_BOARD == "arty-a7"
    assert isinstance(get_board(), ArtyA7_35Board)
    with pytest.raises(ValueError, match=r"Unknown board 'arty'; choose one of: "
                                         r"arty-a7, arty-a7-100, icebreaker, ulx3s-85f"):
        get_board("arty")


@pytest.mark.parametrize("board", [ArtyA7_35Board, ArtyA7_100Board])
def test_board_matches_platform(board):
    platform = board.platform
    assert board.part == f"{platform.device}{platform.package}-{platform.speed}"
    assert board.clock_hz == platform().default_clk_frequency
    assert board().divisor() == 33


def test_baud_rates():
    board = ArtyA7_35Board()
    assert board.divisor() == 33                    # 3 Mbaud, 1 % off: accepted
    assert board.divisor(115_200) == 868
    assert board.divisor(1_000_000) == 100
    with pytest.raises(ValueError, match=r"Baud rate 7000000 is 2\.0% off the nearest one a "
                                         r"100000000 Hz clock makes \(7142857\); at most 2% "
                                         r"is allowed"):
        board.divisor(7_000_000)
    with pytest.raises(ValueError, match=r"Baud rate must be between 1 and 12000000 on the "
                                         r"arty-a7 at 100 MHz, not 13000000"):
        board.divisor(13_000_000)
    with pytest.raises(ValueError, match=r"not 0"):
        board.divisor(0)
    with pytest.raises(TypeError, match=r"Baud rate must be an integer, not 9600\.0"):
        board.divisor(9600.0)


def test_only_the_oscillator_clock():
    board = ArtyA7_35Board()
    assert board.clock_choices() == [100_000_000]
    with pytest.raises(ValueError, match=r"The arty-a7 cannot make a 50 MHz clock; choose one "
                                         r"of 100 MHz"):
        board.build(CountingAccel(4, 2, 2), "unused", clock_hz=50_000_000, run_vendor=False)


def test_board_table_and_build_line(built):
    from spikegen.boards import board_table, describe_build

    lines = board_table()
    assert lines[0].split() == ["board", "part", "clock", "UART", "toolchain", "logic",
                                "block", "RAM"]
    assert any(line.startswith("icebreaker") and "iCE40UP5K-SG48" in line and "12 MHz" in line
               and "bitstream (YoWASP)" in line and "30 EBR" in line for line in lines)
    assert any(line.startswith("ulx3s-85f") and "60 MHz" in line for line in lines)
    _, report = built
    assert describe_build(report) == (
        "board: arty-a7 (xc7a35ticsg324-1L), 100 MHz from the 100 MHz oscillator, UART "
        "3000000 baud, Vivado project written (not run)")
