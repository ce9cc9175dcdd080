"""Asynchronous serial (UART) receiver and transmitter, 8N1.

A frame is one start bit (0), eight data bits LSB first and one stop bit (1); the line idles
at 1. Both directions run from the ``sync`` domain with a whole number of clock cycles per bit,
``divisor``. The receiver samples each bit at its centre, so it tolerates a bit period mismatch
of a few percent between the two ends (the byte ends about 9.5 bit periods after its start edge;
half a bit of drift over that is about 5 %).
"""
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


__all__ = ["UARTRx", "UARTTx", "check_divisor"]


def check_divisor(divisor):
    """Validate a clock-cycles-per-bit ``divisor`` and return it."""
    if not isinstance(divisor, int) or isinstance(divisor, bool):
        raise TypeError(f"UART divisor must be an integer, not {divisor!r}")
    if divisor < 4:
        raise ValueError(f"UART divisor must be at least 4 clock cycles per bit, not {divisor}")
    return divisor


class UARTRx(wiring.Component):
    """UART receiver, 8N1.

    The pin goes through a two-flop synchroniser. A falling edge on an idle line starts a frame;
    the start bit is checked again half a bit later (a shorter glitch is ignored), then each bit
    is sampled one bit period after the previous one. A frame whose stop bit reads 0 is dropped
    and pulses ``err``; the receiver then waits for the line to go high again (a break holds it
    low).

    A received byte waits in a one-byte buffer until the consumer takes it. A byte that arrives
    while the buffer is still full is dropped (the buffered one is kept) and pulses ``err``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4: ``round(f_clk / baud)``.

    Members
    -------
    rx : In(1)
        Serial input pin, asynchronous to the clock; idles high.
    o : Out(stream.Signature(8))
        Received bytes.
    err : Out(1)
        Pulses for one cycle on a framing error (stop bit 0) or an overrun (byte dropped
        because ``o`` was not taken in time).
    """
    rx: In(1, init=1)
    o: Out(stream.Signature(8))
    err: Out(1)

    def __init__(self, divisor):
        self._divisor = check_divisor(divisor)
        super().__init__()

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        divisor = self._divisor

        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)

        timer = Signal(range(divisor))
        bits = Signal(range(8))
        shreg = Signal(8)

        m.d.sync += self.err.eq(0)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # Half a bit from the edge to the middle of the start bit.
                    m.d.sync += timer.eq(divisor // 2 - 1)
                    m.next = "START"

            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [
                            timer.eq(divisor - 1),
                            bits.eq(0),
                        ]
                        m.next = "DATA"

            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [
                        shreg.eq(Cat(shreg[1:], rx)),
                        bits.eq(bits + 1),
                        timer.eq(divisor - 1),
                    ]
                    with m.If(bits == 7):
                        m.next = "STOP"

            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(~rx):
                        m.d.sync += self.err.eq(1)
                        m.next = "BREAK"
                    with m.Elif(self.o.valid & ~self.o.ready):
                        m.d.sync += self.err.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [
                            self.o.payload.eq(shreg),
                            self.o.valid.eq(1),
                        ]
                        m.next = "IDLE"

            with m.State("BREAK"):
                with m.If(rx):
                    m.next = "IDLE"

        return m


class UARTTx(wiring.Component):
    """UART transmitter, 8N1.

    Takes a byte whenever the previous frame has finished, so bytes offered back to back go out
    with no idle time between the stop bit of one and the start bit of the next.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4: ``round(f_clk / baud)``.

    Members
    -------
    i : In(stream.Signature(8))
        Bytes to send.
    tx : Out(1)
        Serial output pin, registered; idles high.
    """
    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor):
        self._divisor = check_divisor(divisor)
        super().__init__()

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        divisor = self._divisor

        busy = Signal()
        timer = Signal(range(divisor))
        remaining = Signal(range(10))   # bits still to send after the current one
        shreg = Signal(9)               # data bits, then the stop bit

        bit_done = timer == 0
        m.d.comb += self.i.ready.eq(~busy | (bit_done & (remaining == 0)))

        with m.If(busy):
            m.d.sync += timer.eq(timer - 1)
            with m.If(bit_done):
                m.d.sync += timer.eq(divisor - 1)
                with m.If(remaining == 0):
                    m.d.sync += busy.eq(0)
                with m.Else():
                    m.d.sync += [
                        self.tx.eq(shreg[0]),
                        shreg.eq(shreg >> 1),
                        remaining.eq(remaining - 1),
                    ]

        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [
                busy.eq(1),
                self.tx.eq(0),
                shreg.eq(Cat(self.i.payload, 1)),
                remaining.eq(9),
                timer.eq(divisor - 1),
            ]

        return m
