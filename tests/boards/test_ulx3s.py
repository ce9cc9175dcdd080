# amaranth: UnusedElaboratable=no
"""ULX3S board: its build plan, its PLL, and (slow) a real bitstream."""
import pytest

from spikegen.boards.ulx3s import ULX3S85FBoard

from helpers.fake_accel import CountingAccel


def make_accel():
    return CountingAccel(20, 3, 6)


def test_build_plan(tmp_path):
    info = ULX3S85FBoard().build(make_accel, tmp_path, run_vendor=False)
    assert {key: info[key] for key in ("board", "part", "family", "clock_hz", "clock", "baud",
                                       "divisor", "rx_fifo_depth", "bitstream")} == {
        "board": "ulx3s-85f", "part": "LFE5U-85F-6BG381C", "family": "ecp5",
        "clock_hz": 60_000_000, "clock": "60 MHz from a PLL on the 25 MHz oscillator",
        "baud": 3_000_000, "divisor": 20, "rx_fifo_depth": 4096, "bitstream": None}
    assert "spikegen.lpf" in info["files"]
    lpf = (tmp_path / "spikegen.lpf").read_text()
    for line in ('LOCATE COMP "uart_0__rx__io" SITE "M1";',
                 'LOCATE COMP "uart_0__tx__io" SITE "L4";',
                 'LOCATE COMP "clk25_0__io" SITE "G2";',
                 'LOCATE COMP "esp32_0__gpio0__io" SITE "L2";',
                 'LOCATE COMP "led_7__io" SITE "H3";',
                 'FREQUENCY NET "pll_clk" 60000000.0 HZ;'):
        assert line in lpf
    il = (tmp_path / "spikegen.il").read_text()
    assert "EHXPLLL" in il
    for name, value in (("CLKI_DIV", 5), ("CLKFB_DIV", 12), ("CLKOP_DIV", 10)):
        assert f"parameter \\{name} {value}" in il


def test_clocks():
    board = ULX3S85FBoard()
    assert board.clock_plan(25_000_000).source == "oscillator"
    assert dict(board.clock_plan(75_000_000).params) == {"CLKI_DIV": 1, "CLKFB_DIV": 3,
                                                         "CLKOP_DIV": 8}
    assert board.fastest_baud(25_000_000) == 1_500_000       # 17 cycles, 2.0 % slow
    assert board.fastest_baud(60_000_000) == 3_000_000
    with pytest.raises(ValueError, match=r"Baud rate must be between 1 and 3000000 on the "
                                         r"ulx3s-85f at 60 MHz, not 4000000"):
        board.divisor(4_000_000)


@pytest.mark.slow
def test_bitstream(tmp_path):
    info = ULX3S85FBoard().build(make_accel, tmp_path)
    assert info["toolchain_ran"] and info["bitstream"] == "spikegen.bit"
    assert (tmp_path / "spikegen.bit").stat().st_size > 100_000
    assert info["fmax_hz"] >= info["clock_hz"] == 60_000_000
    assert info["utilisation"]["PLL"]["used"] == 1
    assert 0 < info["utilisation"]["LUT4"]["used"] < 83640
