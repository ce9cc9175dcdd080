"""Radiona ULX3S with an ECP5 LFE5U-85F: an accelerator behind the board's USB-UART.

The FT231X is wired to the FPGA as ``uart`` 0. The design clock comes from a PLL on the
25 MHz oscillator: 60 MHz by default (the digits network reaches about 80 MHz on this part),
which makes 3 Mbaud, the FT231X's fastest rate, at exactly 20 cycles per bit. The ESP32's
GPIO0 is held high so that the ESP32 does not reset the board.

LEDs: 0 to 3 show the class of the latest result in binary (LED 0 is bit 0), LED 5 blinks
once a second while the clock runs, LED 6 on link activity and LED 7 on a link error. Button
F1 (``fire`` 0) resets the design.
"""
from amaranth.hdl import Module
from amaranth.lib import io
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from ._board import Board, BoardTop, Capacity, ClockPlan, clock_and_reset
from ._pll import ecp5_pll, ecp5_pll_instance
from ._yowasp import YowaspBoard


__all__ = ["ULX3STop", "ULX3S85FBoard"]


class ULX3STop(BoardTop):
    """Top level for a ULX3S: PLL and reset, UART pins and LEDs around a
    :class:`SerialAccelerator`; parameters as for :class:`~._board.BoardTop`, and ``osc_hz``
    the frequency of the oscillator the PLL multiplies."""
    def __init__(self, accel, clock, divisor, *, rx_fifo_depth, osc_hz=25_000_000):
        super().__init__(accel, clock, divisor, rx_fifo_depth=rx_fifo_depth)
        self.osc_hz = osc_hz

    def elaborate(self, platform):
        m = Module()
        clk25 = platform.request("clk25", 0, dir="-")
        m.submodules.clk25 = clk25_buf = io.Buffer("i", clk25)
        button = platform.request("button_fire", 0, dir="-")
        m.submodules.button = button_buf = io.Buffer("i", button)
        if self.clock.source == "pll":
            pll, clk, lock = ecp5_pll_instance(clk25_buf.i, dict(self.clock.params),
                                               fin=self.osc_hz, fout=self.clock.hz)
            m.submodules.pll = pll
            platform.add_clock_constraint(clk, self.clock.hz)
            async_reset = ~lock | button_buf.i
        else:
            clk, async_reset = clk25_buf.i, button_buf.i
        clock_and_reset(m, clk, async_reset=async_reset)

        core = self.add_core(m, platform)

        esp32 = platform.request("esp32", 0, dir={"gpio0": "-", "en": "-", "tx": "-",
                                                   "rx": "-", "gpio5": "-", "gpio16": "-",
                                                   "gpio17": "-"})
        m.submodules.esp32_gpio0 = gpio0 = io.Buffer("o", esp32.gpio0)
        m.d.comb += gpio0.o.eq(1)

        leds = []
        for k in range(8):
            m.submodules[f"led_{k}"] = led = io.Buffer("o", platform.request("led", k,
                                                                            dir="-"))
            leds.append(led)
        self.show_class(m, leds[:4])
        m.d.comb += [
            leds[5].o.eq(self.heartbeat(m)),
            leds[6].o.eq(core.activity & ~core.error),
            leds[7].o.eq(core.error),
        ]
        return m


class ULX3S85FBoard(YowaspBoard, Board):
    """Radiona ULX3S, LFE5U-85F-6BG381C: a bitstream from the YoWASP tools."""
    platform = ULX3S_85F_Platform
    name = "ulx3s-85f"
    part = "LFE5U-85F-6BG381C"
    description = "Radiona ULX3S, Lattice ECP5 85K"
    capacity = Capacity(family="ecp5", luts=83640, ffs=83640, bram=208, bram_name="DP16KD",
                        ios=197)
    osc_hz = 25_000_000
    clock_hz = 60_000_000
    bridge = "FT231X"
    bridge_max_baud = 3_000_000
    default_baud = 3_000_000
    # 4096 x 9 bits: 2 of the 208 DP16KD
    rx_fifo_depth = 4096
    # clock, UART (2), button, ESP32 GPIO0, LEDs (8)
    pins = 13
    bitstream_ext = ".bit"
    report_cells = {"TRELLIS_COMB": "LUT4", "TRELLIS_FF": "FF", "DP16KD": "DP16KD",
                    "MULT18X18D": "MULT18X18D", "EHXPLLL": "PLL", "TRELLIS_IO": "IO"}

    def _clock_plan(self, hz):
        if hz == self.osc_hz:
            return ClockPlan(hz, "oscillator")
        params = ecp5_pll(self.osc_hz, hz)
        return None if params is None else ClockPlan(hz, "pll", tuple(params.items()))

    def clock_choices(self):
        choices = {self.osc_hz}
        choices.update(mhz * 1_000_000 for mhz in range(5, 201)
                       if ecp5_pll(self.osc_hz, mhz * 1_000_000) is not None)
        return sorted(choices, reverse=True)

    def top(self, accel, clock, divisor):
        return ULX3STop(accel, clock, divisor, rx_fifo_depth=self.rx_fifo_depth,
                        osc_hz=self.osc_hz)
