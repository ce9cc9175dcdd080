"""Digilent Arty A7 (35T and 100T): an accelerator behind the board's USB-UART.

The FT2232H's second channel is wired to the FPGA as ``uart`` 0, at 3 Mbaud by default (33
cycles of the 100 MHz clock per bit, 1 % fast). The four green LEDs show the class of the
latest result in binary (LD4 is bit 0); RGB LED LD0 blinks green on link activity and red on
a link error.

The build writes a Vivado project and runs it only where Vivado is installed.
"""
import os
import shutil

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io
from amaranth_boards.arty_a7 import ArtyA7_35Platform, ArtyA7_100Platform

from rtl_lib.host_link import SerialAccelerator
from rtl_lib.link_format import PROTOCOL_VERSION

from ._board import Board, Capacity


__all__ = ["ArtyTop", "ArtyA7_35Board", "ArtyA7_100Board"]


class ArtyTop(Elaboratable):
    """Top level for an Arty A7: pins of the board around a :class:`SerialAccelerator`.

    Parameters
    ----------
    accel : wiring.Component
        The accelerator, with ``i_events`` and ``o_result`` stream ports.
    divisor : int
        Clock cycles per UART bit.
    clock_hz : int
        Frequency of the ``sync`` domain, for the LED blink length.
    rx_fifo_depth : int
        Bytes of the receive buffer.
    """
    def __init__(self, accel, divisor, *, clock_hz, rx_fifo_depth=4096):
        self.core = SerialAccelerator(accel, divisor, blink_cycles=max(1, clock_hz // 20),
                                      rx_fifo_depth=rx_fifo_depth)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core

        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buffer = rx_buffer = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx_buffer = io.Buffer("o", uart.tx)
        m.d.comb += [
            core.rx.eq(rx_buffer.i),
            tx_buffer.o.eq(core.tx),
        ]

        for i in range(4):
            m.submodules[f"led_{i}"] = led = io.Buffer("o", platform.request("led", i, dir="-"))
            if i < len(core.cls):
                m.d.comb += led.o.eq(core.cls[i])

        # The RGB LEDs are blinding at full drive: light them one cycle in eight.
        dim = Signal(3)
        m.d.sync += dim.eq(dim + 1)
        rgb = platform.request("rgb_led", 0, dir="-")
        m.submodules.rgb_green = green = io.Buffer("o", rgb.g)
        m.submodules.rgb_red = red = io.Buffer("o", rgb.r)
        m.d.comb += [
            green.o.eq(core.activity & ~core.error & (dim == 0)),
            red.o.eq(core.error & (dim == 0)),
        ]
        return m


class _ArtyA7Board(Board):
    toolchain = "vivado"
    #: Frequency of the board oscillator ``clk100``, which clocks the design.
    osc_hz = 100_000_000
    clock_hz = 100_000_000
    bridge = "FT2232H"
    bridge_max_baud = 12_000_000
    default_baud = 3_000_000
    # 4096 x 9 bits: one RAMB36
    rx_fifo_depth = 4096
    # clock, UART (2), LEDs (4 + 2)
    pins = 9

    def build(self, accel, build_dir, *, baud=None, clock_hz=None, run_vendor=None,
              extra_files=None):
        """Write the Vivado project of ``accel`` on this board, and run Vivado if present.

        The files (``spikegen.v``, ``spikegen.xdc``, ``spikegen.tcl`` and the
        ``build_spikegen.*`` scripts) are the same bytes for the same accelerator and options.

        Parameters
        ----------
        accel : wiring.Component or callable
            The accelerator, with ``i_events`` (or ``i_pixels``) and ``o_result`` stream
            ports, or a function that makes one; it runs in the ``sync`` domain at
            ``clock_hz``.
        build_dir : str or os.PathLike
            Where to write the project; created if needed.
        baud : int or None
            UART baud rate; ``default_baud`` if ``None``.
        clock_hz : int or None
            Design clock: only the 100 MHz oscillator.
        run_vendor : bool or None
            Run Vivado after writing the project; if ``None``, only when ``vivado`` is on
            ``PATH``.
        extra_files : dict or None
            More sources for the project (name -> text), e.g. the accelerator's VHDL when
            ``accel`` is a black box that refers to it by name.

        Returns
        -------
        dict
            ``board``, ``part``, ``family``, ``toolchain``, ``clock_hz``, ``clock``, ``baud``,
            ``divisor``, ``rx_fifo_depth``, ``protocol``, ``files`` (paths relative to
            ``build_dir``, sorted), ``bitstream`` (``None``: Vivado writes it) and
            ``vivado_ran`` (also as ``toolchain_ran``).
        """
        clock = self.clock_plan(clock_hz)
        if baud is None:
            baud = self.default_baud
        divisor = self.divisor(baud, clock.hz)
        if run_vendor is None:
            run_vendor = shutil.which("vivado") is not None
        if callable(accel) and not hasattr(accel, "signature"):
            accel = accel()

        top = ArtyTop(accel, divisor, clock_hz=clock.hz, rx_fifo_depth=self.rx_fifo_depth)
        # With do_build=False the platform ignores build_dir and returns the plan.
        platform = self.platform()
        for name, text in sorted((extra_files or {}).items()):
            platform.add_file(name, text)
        plan = platform.build(top, name="spikegen", do_build=False)
        build_dir = os.fspath(build_dir)
        if run_vendor:
            plan.execute_local(build_dir)
        else:
            plan.extract(build_dir)

        return {
            "board":         self.name,
            "part":          self.part,
            "family":        self.capacity.family,
            "toolchain":     self.toolchain,
            "clock_hz":      clock.hz,
            "clock":         clock.describe(self.osc_hz),
            "baud":          baud,
            "divisor":       divisor,
            "rx_fifo_depth": self.rx_fifo_depth,
            "protocol":      PROTOCOL_VERSION,
            "files":         sorted(plan.files),
            "bitstream":     None,
            "toolchain_ran": bool(run_vendor),
            "vivado_ran":    bool(run_vendor),
        }


class ArtyA7_35Board(_ArtyA7Board):
    """Digilent Arty A7-35T (XC7A35T)."""
    platform = ArtyA7_35Platform
    name = "arty-a7"
    part = "xc7a35ticsg324-1L"
    description = "Digilent Arty A7-35T, AMD Artix-7 35T"
    capacity = Capacity(family="xc7", luts=20800, ffs=41600, bram=50, bram_name="RAMB36",
                        ios=210, lut_name="LUT6")


class ArtyA7_100Board(_ArtyA7Board):
    """Digilent Arty A7-100T (XC7A100T)."""
    platform = ArtyA7_100Platform
    name = "arty-a7-100"
    part = "xc7a100ticsg324-1L"
    description = "Digilent Arty A7-100T, AMD Artix-7 100T"
    capacity = Capacity(family="xc7", luts=63400, ffs=126800, bram=135, bram_name="RAMB36",
                        ios=210, lut_name="LUT6")
