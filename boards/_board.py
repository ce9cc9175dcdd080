"""What every board has: a part with capacities, a USB-UART bridge, a clock, a fit check.

A board class names its amaranth-boards platform, the part's capacities (:class:`Capacity`),
its oscillator and the design clock it runs at, the UART rate of its bridge, and builds an
accelerator into a project (and, where the toolchain is present, a bitstream).
"""
from dataclasses import dataclass

from amaranth.hdl import ClockDomain, Elaboratable, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from rtl_lib.host_link import SerialAccelerator
from rtl_lib.link_format import PROTOCOL_VERSION


__all__ = ["Capacity", "ClockPlan", "Board", "BoardTop", "STANDARD_BAUDS", "MAX_BAUD_ERROR",
           "clock_and_reset"]


#: UART rates every FTDI bridge here makes exactly (or within 0.2 %), fastest first.
STANDARD_BAUDS = (3_000_000, 2_000_000, 1_500_000, 1_000_000, 921_600, 500_000, 460_800,
                  230_400, 115_200)
#: Largest relative error between the asked and the generated baud rate that the link accepts:
#: the receiver samples each bit at its centre, and drifts by 9.5 times the error over a byte.
MAX_BAUD_ERROR = 0.02


@dataclass(frozen=True)
class Capacity:
    """Resources of a part that an accelerator uses.

    ``luts`` are LUT4s (iCE40, ECP5) or LUT6s (7-series); ``bram`` counts block RAMs of the
    family's own kind, ``bram_name`` (``"EBR"`` of 4 kbit, ``"DP16KD"`` of 18 kbit,
    ``"RAMB36"`` of 36 kbit); ``ios`` the user pins of the package.
    """
    family: str
    luts: int
    ffs: int
    bram: int
    bram_name: str
    ios: int
    lut_name: str = "LUT4"


@dataclass(frozen=True)
class ClockPlan:
    """How a board makes its design clock: ``source`` is ``"oscillator"``, ``"divider"``
    (the oscillator divided by ``params["divide"]`` in fabric) or ``"pll"`` (family-specific
    ``params``)."""
    hz: int
    source: str
    params: tuple = ()

    def describe(self, osc_hz):
        mhz = f"{self.hz / 1e6:g} MHz"
        if self.source == "oscillator":
            return f"{mhz} from the {osc_hz / 1e6:g} MHz oscillator"
        if self.source == "divider":
            return f"{mhz}: the {osc_hz / 1e6:g} MHz oscillator divided by " \
                   f"{dict(self.params)['divide']}"
        return f"{mhz} from a PLL on the {osc_hz / 1e6:g} MHz oscillator"


def clock_and_reset(m, clk, *, async_reset, por_cycles=0):
    """Create the ``sync`` domain on ``clk``.

    Its reset is held while ``async_reset`` is high (a button, a PLL not yet locked) and for
    ``por_cycles`` after configuration (iCE40 block RAM needs a few microseconds), and is
    released in step with the clock.
    """
    m.domains.sync = sync = ClockDomain("sync")
    m.domains.por = por = ClockDomain("por", reset_less=True)
    m.d.comb += [sync.clk.eq(clk), por.clk.eq(clk)]
    ready = Signal()
    if por_cycles:
        timer = Signal(range(por_cycles + 1))
        with m.If(timer == por_cycles):
            m.d.por += ready.eq(1)
        with m.Else():
            m.d.por += timer.eq(timer + 1)
    else:
        m.d.por += ready.eq(1)
    m.submodules.reset_sync = ResetSynchronizer(async_reset | ~ready, domain="sync")


class BoardTop(Elaboratable):
    """Base of the board top levels: a :class:`SerialAccelerator` and the parts of the board
    every top wires the same way.

    A board's top calls :meth:`add_core` (the core on ``uart`` 0), :meth:`heartbeat` and
    :meth:`show_class` from its ``elaborate``, around its own clock, reset and LEDs.

    Parameters
    ----------
    accel : wiring.Component
        The accelerator, with ``i_events`` (or ``i_pixels``) and ``o_result`` stream ports.
    clock : ClockPlan
        How the board makes the design clock (the ``sync`` domain); its frequency sets the
        LED blink lengths.
    divisor : int
        Clock cycles per UART bit.
    rx_fifo_depth : int
        Bytes of the receive buffer.
    """
    def __init__(self, accel, clock, divisor, *, rx_fifo_depth):
        self.clock = clock
        self.core = SerialAccelerator(accel, divisor, blink_cycles=max(1, clock.hz // 20),
                                      rx_fifo_depth=rx_fifo_depth)

    def add_core(self, m, platform):
        """Add the core, its receiver and transmitter on the board's ``uart`` 0; returns it."""
        m.submodules.core = core = self.core
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buffer = rx_buffer = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx_buffer = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx_buffer.i), tx_buffer.o.eq(core.tx)]
        return core

    def heartbeat(self, m):
        """A signal that toggles every half second: a LED on it shows the clock runs."""
        heartbeat = Signal(range(max(2, self.clock.hz // 2)))
        beat = Signal()
        with m.If(heartbeat == 0):
            m.d.sync += [heartbeat.eq(max(1, self.clock.hz // 2) - 1), beat.eq(~beat)]
        with m.Else():
            m.d.sync += heartbeat.eq(heartbeat - 1)
        return beat

    def show_class(self, m, leds):
        """Show the class of the latest result in binary on ``leds`` (output buffers, the
        first is bit 0); a LED above the class's width stays off."""
        for bit, led in enumerate(leds):
            if bit < len(self.core.cls):
                m.d.comb += led.o.eq(self.core.cls[bit])


class Board:
    """Base of the board classes: capacities, clock and UART rate, the fit check.

    Subclasses set the class attributes below and implement ``build``.
    """
    #: Name users type (``--board``).
    name = None
    #: The amaranth-boards platform class.
    platform = None
    #: FPGA part.
    part = None
    #: One line for ``spikegen boards``.
    description = None
    #: ``"vivado"`` (a project; run where Vivado is installed) or ``"yowasp"`` (a bitstream).
    toolchain = None
    #: :class:`Capacity` of the part.
    capacity = None
    #: Frequency of the board's oscillator.
    osc_hz = None
    #: Frequency of the design clock by default.
    clock_hz = None
    #: The USB-UART bridge, and the fastest rate it makes.
    bridge = None
    bridge_max_baud = None
    #: UART rate by default: the fastest the bridge handles reliably.
    default_baud = 3_000_000
    #: Bytes of the receive buffer in front of the host link.
    rx_fifo_depth = 4096
    #: User pins the top level uses (clock, UART, LEDs, buttons).
    pins = None

    def clock_plan(self, clock_hz=None):
        """The :class:`ClockPlan` that makes ``clock_hz`` (the board's default if ``None``).

        Raises
        ------
        ValueError
            If the board cannot make that frequency.
        """
        hz = self.clock_hz if clock_hz is None else clock_hz
        if not isinstance(hz, int) or isinstance(hz, bool):
            raise TypeError(f"Clock frequency must be an integer number of Hz, not {hz!r}")
        plan = self._clock_plan(hz)
        if plan is None:
            choices = ", ".join(f"{f / 1e6:g}" for f in self.clock_choices())
            raise ValueError(f"The {self.name} cannot make a {hz / 1e6:g} MHz clock; "
                             f"choose one of {choices} MHz")
        return plan

    def _clock_plan(self, hz):
        return ClockPlan(hz, "oscillator") if hz == self.osc_hz else None

    def clock_choices(self):
        """Design clock frequencies the board can make, in Hz, fastest first."""
        return [self.osc_hz]

    def divisor(self, baud=None, clock_hz=None):
        """Clock cycles per UART bit for ``baud`` (the board's default if ``None``) at
        ``clock_hz`` (the board's default clock if ``None``).

        Raises
        ------
        ValueError
            If the baud rate is out of the link's range, or the nearest whole divisor misses it
            by more than 2 %.
        """
        clock_hz = self.clock_hz if clock_hz is None else clock_hz
        if baud is None:
            baud = self.default_baud
        if not isinstance(baud, int) or isinstance(baud, bool):
            raise TypeError(f"Baud rate must be an integer, not {baud!r}")
        top = min(self.bridge_max_baud, clock_hz // 4)
        if not 0 < baud <= top:
            raise ValueError(f"Baud rate must be between 1 and {top} on the {self.name} at "
                             f"{clock_hz / 1e6:g} MHz, not {baud}")
        divisor = round(clock_hz / baud)
        error = abs(clock_hz / divisor - baud) / baud
        if error > MAX_BAUD_ERROR:
            raise ValueError(f"Baud rate {baud} is {error:.1%} off the nearest one a "
                             f"{clock_hz} Hz clock makes ({clock_hz / divisor:.0f}); "
                             f"at most {MAX_BAUD_ERROR:.0%} is allowed")
        return divisor

    def fastest_baud(self, clock_hz):
        """The fastest of :data:`STANDARD_BAUDS` that the bridge and ``clock_hz`` make."""
        for baud in STANDARD_BAUDS:
            try:
                self.divisor(baud, clock_hz)
            except ValueError:
                continue
            return baud
        raise ValueError(f"No standard baud rate works at {clock_hz / 1e6:g} MHz")

    def describe(self):
        """One row of ``spikegen boards``."""
        c = self.capacity
        return {
            "name": self.name,
            "part": self.part,
            "family": c.family,
            "clock_hz": self.clock_hz,
            "baud": self.default_baud,
            "toolchain": self.toolchain,
            "luts": c.luts,
            "lut_name": c.lut_name,
            "bram": c.bram,
            "bram_name": c.bram_name,
            "description": self.description,
        }

    def record(self, clock, baud, divisor, *, files, bitstream, ran):
        """The build record: ``board``, ``part``, ``family``, ``toolchain``, ``clock_hz``,
        ``clock`` (how it is made), ``baud`` (nominal; the board makes it within 2 %),
        ``divisor``, ``rx_fifo_depth``, ``protocol``, ``files`` (relative to the build
        folder, sorted), ``bitstream`` (or ``None``) and ``toolchain_ran``."""
        return {
            "board": self.name,
            "part": self.part,
            "family": self.capacity.family,
            "toolchain": self.toolchain,
            "clock_hz": clock.hz,
            "clock": clock.describe(self.osc_hz),
            "baud": baud,
            "divisor": divisor,
            "rx_fifo_depth": self.rx_fifo_depth,
            "protocol": PROTOCOL_VERSION,
            "files": sorted(files),
            "bitstream": bitstream,
            "toolchain_ran": bool(ran),
        }

    def check_fit(self, estimate):
        """Refuse a design that does not fit the part.

        Parameters
        ----------
        estimate : dict
            ``luts``, ``ffs``, ``bram`` (in this family's units) and ``ios`` of the design,
            as :func:`spikegen.fit.estimate` gives them for this board's family.

        Returns
        -------
        dict
            For each resource, the estimated share of the part used (0.5: half).

        Raises
        ------
        ValueError
            Naming each resource that does not fit, and by how much.
        """
        c = self.capacity
        if estimate.get("family") != c.family:
            raise ValueError(f"The estimate is for {estimate.get('family')!r}, the "
                             f"{self.name} is {c.family!r}")
        rows = [("luts", c.luts, c.lut_name), ("ffs", c.ffs, "flip-flops"),
                ("bram", c.bram, c.bram_name), ("ios", c.ios, "pins")]
        shares, over = {}, []
        for key, available, unit in rows:
            need = estimate[key]
            shares[key] = need / available
            if need > available:
                over.append(f"about {need:,.0f} {unit} of {available:,} "
                            f"({need / available:.0%}, {need - available:,.0f} too many)")
        if over:
            raise ValueError(f"the design does not fit the {self.name} ({self.part}): it needs "
                             + " and ".join(over))
        return shares
