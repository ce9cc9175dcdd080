"""Digilent Arty A7 (35T and 100T): an accelerator behind the board's USB-UART.

The FT2232's second channel is wired to the FPGA as ``uart`` 0. The four green LEDs show the
class of the latest result in binary (LD4 is bit 0); RGB LED LD0 blinks green on link activity
and red on a link error.
"""
import os
import shutil

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io
from amaranth_boards.arty_a7 import ArtyA7_35Platform, ArtyA7_100Platform

from rtl_lib.host_link import SerialAccelerator


__all__ = ["ArtyTop", "ArtyA7_35Board", "ArtyA7_100Board"]


#: Largest baud rate of the FT2232H's UART mode.
_FT2232_MAX_BAUD = 12_000_000
#: Largest relative error between the asked and the generated baud rate that the link accepts.
_MAX_BAUD_ERROR = 0.02


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
    """
    def __init__(self, accel, divisor, *, clock_hz):
        self.core = SerialAccelerator(accel, divisor, blink_cycles=max(1, clock_hz // 20))

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


class _ArtyA7Board:
    platform = None
    name = None
    part = None
    #: Frequency of the board oscillator ``clk100``, which clocks the design.
    clock_hz = 100_000_000
    #: 100 clock cycles per bit; well within the FT2232's range.
    default_baud = 1_000_000

    def divisor(self, baud=None):
        """Clock cycles per UART bit for ``baud`` (the board's default if ``None``).

        Raises
        ------
        ValueError
            If the baud rate is out of the link's range, or the nearest whole divisor misses it
            by more than 2 %.
        """
        if baud is None:
            baud = self.default_baud
        if not isinstance(baud, int) or isinstance(baud, bool):
            raise TypeError(f"Baud rate must be an integer, not {baud!r}")
        if not 0 < baud <= min(_FT2232_MAX_BAUD, self.clock_hz // 4):
            raise ValueError(f"Baud rate must be between 1 and "
                             f"{min(_FT2232_MAX_BAUD, self.clock_hz // 4)} on the {self.name}, "
                             f"not {baud}")
        divisor = round(self.clock_hz / baud)
        error = abs(self.clock_hz / divisor - baud) / baud
        if error > _MAX_BAUD_ERROR:
            raise ValueError(f"Baud rate {baud} is {error:.1%} off the nearest one a "
                             f"{self.clock_hz} Hz clock makes ({self.clock_hz / divisor:.0f}); "
                             f"at most {_MAX_BAUD_ERROR:.0%} is allowed")
        return divisor

    def build(self, accel, build_dir, *, baud=None, run_vendor=None):
        """Write the Vivado project of ``accel`` on this board, and run Vivado if present.

        The files (``spikegen.v``, ``spikegen.xdc``, ``spikegen.tcl`` and the
        ``build_spikegen.*`` scripts) are the same bytes for the same accelerator and options.

        Parameters
        ----------
        accel : wiring.Component
            The accelerator, with ``i_events`` and ``o_result`` stream ports; it runs in the
            ``sync`` domain at ``clock_hz``.
        build_dir : str or os.PathLike
            Where to write the project; created if needed.
        baud : int or None
            UART baud rate; ``default_baud`` if ``None``.
        run_vendor : bool or None
            Run Vivado after writing the project; if ``None``, only when ``vivado`` is on
            ``PATH``.

        Returns
        -------
        dict
            ``board``, ``part``, ``clock_hz``, ``baud``, ``divisor``, ``files`` (paths relative
            to ``build_dir``, sorted) and ``vivado_ran``.
        """
        if baud is None:
            baud = self.default_baud
        divisor = self.divisor(baud)
        if run_vendor is None:
            run_vendor = shutil.which("vivado") is not None

        top = ArtyTop(accel, divisor, clock_hz=self.clock_hz)
        # With do_build=False the platform ignores build_dir and returns the plan.
        plan = self.platform().build(top, name="spikegen", do_build=False)
        build_dir = os.fspath(build_dir)
        if run_vendor:
            plan.execute_local(build_dir)
        else:
            plan.extract(build_dir)

        return {
            "board":      self.name,
            "part":       self.part,
            "clock_hz":   self.clock_hz,
            "baud":       baud,
            "divisor":    divisor,
            "files":      sorted(plan.files),
            "vivado_ran": bool(run_vendor),
        }


class ArtyA7_35Board(_ArtyA7Board):
    """Digilent Arty A7-35T (XC7A35T)."""
    platform = ArtyA7_35Platform
    name = "arty-a7"
    part = "xc7a35ticsg324-1L"
    #: Block RAM of the part in RAMB36 (1.8 Mb), less one for the host link's byte FIFO.
    bram36 = 49


class ArtyA7_100Board(_ArtyA7Board):
    """Digilent Arty A7-100T (XC7A100T)."""
    platform = ArtyA7_100Platform
    name = "arty-a7-100"
    part = "xc7a100ticsg324-1L"
    #: Block RAM of the part in RAMB36 (4.9 Mb), less one for the host link's byte FIFO.
    bram36 = 134
