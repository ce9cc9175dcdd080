"""1BitSquared iCEBreaker (Lattice iCE40UP5K): an accelerator behind the board's USB-UART.

Channel B of the FT2232H is wired to the FPGA as ``uart`` 0. The design runs from the 12 MHz
oscillator by default: the UP5K is slow (the digits network at ``-P 4`` reaches about
20 MHz), and its PLL cannot make less than 16 MHz, so a PLL would buy little margin; 3 Mbaud
is 4 clock cycles per bit. Slower clocks come from dividing the oscillator, faster ones from
the PLL (``clock_hz``).

LEDs: green (LEDG) blinks on link activity, red (LEDR) on a link error; on the break-off
board, LEDs 2 to 5 show the class of the latest result in binary (LED 2 is bit 0) and LED 6
blinks once a second while the clock runs. The user button (BTN_N) resets the design.
"""
from amaranth.hdl import ClockDomain, Instance, Module, Signal
from amaranth.lib import io
from amaranth_boards.icebreaker import ICEBreakerPlatform

from ._board import Board, BoardTop, Capacity, ClockPlan, clock_and_reset
from ._pll import ice40_pll, ice40_pll_instance
from ._yowasp import YowaspBoard


__all__ = ["ICEBreakerTop", "ICEBreakerBoard"]


class ICEBreakerTop(BoardTop):
    """Top level for an iCEBreaker: clock and reset, UART pins and LEDs around a
    :class:`SerialAccelerator`; parameters as for :class:`~._board.BoardTop`, the clock made
    from the 12 MHz oscillator."""

    def elaborate(self, platform):
        m = Module()
        platform.add_resources(platform.break_off_pmod)
        clk12 = platform.request("clk12", 0, dir="-")
        button = platform.request("button", 0, dir="-")
        m.submodules.button = button_buf = io.Buffer("i", button)

        params = dict(self.clock.params)
        if self.clock.source == "pll":
            pll, clk, lock = ice40_pll_instance(clk12.io, params)
            m.submodules.pll = pll
            platform.add_clock_constraint(clk, self.clock.hz)
            async_reset = ~lock | button_buf.i
        else:
            m.submodules.clk12 = clk12_buf = io.Buffer("i", clk12)
            clk = clk12_buf.i
            if self.clock.source == "divider":
                m.domains.osc = osc = ClockDomain("osc", reset_less=True)
                m.d.comb += osc.clk.eq(clk)
                half = params["divide"] // 2
                count, toggle = Signal(range(half)), Signal()
                with m.If(count == half - 1):
                    m.d.osc += [count.eq(0), toggle.eq(~toggle)]
                with m.Else():
                    m.d.osc += count.eq(count + 1)
                clk = Signal(name="divided_clk")
                m.submodules.divided_gb = Instance("SB_GB", i_USER_SIGNAL_TO_GLOBAL_BUFFER=toggle,
                                                   o_GLOBAL_BUFFER_OUTPUT=clk)
                platform.add_clock_constraint(clk, self.clock.hz)
            async_reset = button_buf.i
        # iCE40 block RAM reads as zero for about 3 us after configuration: hold the reset
        # for 15 us.
        clock_and_reset(m, clk, async_reset=async_reset,
                        por_cycles=max(1, int(self.clock.hz * 15e-6)))

        core = self.add_core(m, platform)

        leds = {}
        for name, number in (("led_g", 0), ("led_r", 0), *(("led", k) for k in range(2, 7))):
            port = platform.request(name, number, dir="-")
            m.submodules[f"{name}_{number}"] = leds[name, number] = io.Buffer("o", port)
        m.d.comb += [
            leds["led_g", 0].o.eq(core.activity & ~core.error),
            leds["led_r", 0].o.eq(core.error),
        ]
        self.show_class(m, [leds["led", 2 + bit] for bit in range(4)])
        m.d.comb += leds["led", 6].o.eq(self.heartbeat(m))
        return m


class ICEBreakerBoard(YowaspBoard, Board):
    """1BitSquared iCEBreaker (iCE40UP5K-SG48): a bitstream from the YoWASP tools."""
    platform = ICEBreakerPlatform
    name = "icebreaker"
    part = "iCE40UP5K-SG48"
    description = "1BitSquared iCEBreaker, Lattice iCE40 UltraPlus 5K"
    capacity = Capacity(family="ice40", luts=5280, ffs=5280, bram=30, bram_name="EBR",
                        ios=39)
    osc_hz = 12_000_000
    clock_hz = 12_000_000
    bridge = "FT2232H"
    bridge_max_baud = 12_000_000
    default_baud = 3_000_000
    # 1024 x 9 bits: 3 of the 30 EBR; the UP5K has little block RAM to spare
    rx_fifo_depth = 1024
    # clock, UART (2), button, LEDs (2 + 5)
    pins = 11
    report_cells = {"ICESTORM_LC": "LC", "ICESTORM_RAM": "EBR", "ICESTORM_DSP": "DSP",
                    "ICESTORM_PLL": "PLL", "SB_IO": "IO", "SB_GB": "GB"}

    def _clock_plan(self, hz):
        if hz == self.osc_hz:
            return ClockPlan(hz, "oscillator")
        for divide in (2, 4):
            if hz * divide == self.osc_hz:
                return ClockPlan(hz, "divider", (("divide", divide),))
        params = ice40_pll(self.osc_hz, hz)
        return None if params is None else ClockPlan(hz, "pll", tuple(params.items()))

    def clock_choices(self):
        choices = [self.osc_hz, self.osc_hz // 2, self.osc_hz // 4]
        choices += [mhz * 1_000_000 for mhz in range(16, 61)
                    if ice40_pll(self.osc_hz, mhz * 1_000_000) is not None]
        return sorted(choices, reverse=True)

    def top(self, accel, clock, divisor):
        return ICEBreakerTop(accel, clock, divisor, rx_fifo_depth=self.rx_fifo_depth)
