"""Byte-level host link of an accelerator (protocol version 0).

The host sends event tokens, the board answers each inference with a result frame; the framing
is described in ``docs/host-protocol.md`` and modelled, bit-exactly, by ``spikegen.protocol``.

Host to board, one 2-byte big-endian word per token:

====== =============================================================
bits   meaning
====== =============================================================
15     ``eos``: end of the current time step (no spike)
14     ``last``: with ``eos``, the step is the last of the inference
13..0  ``index``: input neuron of a spike event (0 for ``eos`` tokens)
====== =============================================================

Board to host, one frame per result: ``0xA5``, ``cls`` (1 byte), then each class's count as
2 bytes big-endian (saturating at 0xFFFF), in class order.

Each direction is its own small component, with one state (or one frame byte) per protocol
field, so that a later protocol version can add fields such as a sequence number or a checksum
without touching the other direction.
"""
from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .event import EventLayout, ResultLayout, index_width
from .rate_coder import PixelLayout
from .uart import UARTRx, UARTTx, check_divisor


__all__ = [
    "RESULT_HEADER", "MAX_INPUTS", "MAX_CLASSES",
    "TokenDecoder", "PixelDecoder", "ResultEncoder", "HostLink", "SerialAccelerator",
    "accelerator_layouts",
]


#: First byte of every board-to-host result frame.
RESULT_HEADER = 0xA5
#: Largest input count whose indices fit in the 14-bit index field of a token.
MAX_INPUTS = 1 << 14
#: Largest class count whose class index fits in the 1-byte class field of a result frame.
MAX_CLASSES = 256


def _check_event_layout(event_layout):
    if not isinstance(event_layout, (EventLayout, PixelLayout)):
        raise TypeError(f"Event layout must be an EventLayout or a PixelLayout, "
                        f"not {event_layout!r}")
    if event_layout.count > MAX_INPUTS:
        raise ValueError(f"The host link carries at most {MAX_INPUTS} inputs (14-bit index), "
                         f"not {event_layout.count}")


def _check_result_layout(result_layout):
    if not isinstance(result_layout, ResultLayout):
        raise TypeError(f"Result layout must be a ResultLayout, not {result_layout!r}")
    if result_layout.classes > MAX_CLASSES:
        raise ValueError(f"The host link carries at most {MAX_CLASSES} classes (1-byte class), "
                         f"not {result_layout.classes}")


class TokenDecoder(wiring.Component):
    """Host-to-board direction: pairs of bytes to event tokens.

    A spike event whose index is not below ``event_layout.count`` is dropped and pulses
    ``err``. Bytes are paired from reset on; a lost byte shifts the pairing until the next
    reset (protocol version 0 has no frame marker).

    Parameters
    ----------
    event_layout : EventLayout
        Token layout of the accelerator's input, at most 16384 inputs.

    Members
    -------
    i_bytes : In(stream.Signature(8))
        Bytes from the host.
    o_events : Out(stream.Signature(event_layout))
        Event tokens.
    err : Out(1)
        Pulses for one cycle when an out-of-range event is dropped.
    """
    def __init__(self, event_layout):
        _check_event_layout(event_layout)
        self._event_layout = event_layout
        super().__init__({
            "i_bytes":  In(stream.Signature(8)),
            "o_events": Out(stream.Signature(event_layout)),
            "err":      Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        count = self._event_layout.count

        high = Signal(8)
        word = Cat(self.i_bytes.payload, high)
        index = word[:14]
        last = word[14]
        eos = word[15]

        m.d.sync += self.err.eq(0)
        with m.If(self.o_events.ready):
            m.d.sync += self.o_events.valid.eq(0)

        # Hold off the host while a token waits: the link, not this buffer, sets the pace.
        m.d.comb += self.i_bytes.ready.eq(~self.o_events.valid)
        with m.FSM():
            with m.State("HIGH"):
                with m.If(self.i_bytes.valid & self.i_bytes.ready):
                    m.d.sync += high.eq(self.i_bytes.payload)
                    m.next = "LOW"
            with m.State("LOW"):
                with m.If(self.i_bytes.valid & self.i_bytes.ready):
                    with m.If(~eos & (index >= count)):
                        m.d.sync += self.err.eq(1)
                    with m.Else():
                        m.d.sync += [
                            self.o_events.payload.index.eq(Mux(eos, 0, index)),
                            self.o_events.payload.eos.eq(eos),
                            self.o_events.payload.last.eq(eos & last),
                            self.o_events.valid.eq(1),
                        ]
                    m.next = "HIGH"

        return m


class PixelDecoder(wiring.Component):
    """Host-to-board direction for on-chip input coding: three bytes per pixel.

    A 2-byte big-endian word (bit 15: ``last``, the sample's final pixel; bits 13..0:
    ``index``) then the pixel's 8-bit ``value``. A pixel whose index is not below
    ``pixel_layout.count`` is dropped and pulses ``err``.

    Members
    -------
    i_bytes : In(stream.Signature(8))
    o_events : Out(stream.Signature(pixel_layout))
    err : Out(1)
    """
    def __init__(self, pixel_layout):
        if not isinstance(pixel_layout, PixelLayout) or pixel_layout.value_bits != 8:
            raise TypeError(f"Pixel layout must be a PixelLayout of 8-bit values, "
                            f"not {pixel_layout!r}")
        _check_event_layout(pixel_layout)
        self._layout = pixel_layout
        super().__init__({
            "i_bytes":  In(stream.Signature(8)),
            "o_events": Out(stream.Signature(pixel_layout)),
            "err":      Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        high, low = Signal(8), Signal(8)
        word = Cat(low, high)
        index, last = word[:14], word[15]

        m.d.sync += self.err.eq(0)
        with m.If(self.o_events.ready):
            m.d.sync += self.o_events.valid.eq(0)
        m.d.comb += self.i_bytes.ready.eq(~self.o_events.valid)
        took = self.i_bytes.valid & self.i_bytes.ready
        with m.FSM():
            with m.State("HIGH"):
                with m.If(took):
                    m.d.sync += high.eq(self.i_bytes.payload)
                    m.next = "LOW"
            with m.State("LOW"):
                with m.If(took):
                    m.d.sync += low.eq(self.i_bytes.payload)
                    m.next = "VALUE"
            with m.State("VALUE"):
                with m.If(took):
                    with m.If(index >= self._layout.count):
                        m.d.sync += self.err.eq(1)
                    with m.Else():
                        m.d.sync += [
                            self.o_events.payload.index.eq(index),
                            self.o_events.payload.value.eq(self.i_bytes.payload),
                            self.o_events.payload.last.eq(last),
                            self.o_events.valid.eq(1),
                        ]
                    m.next = "HIGH"
        return m


class ResultEncoder(wiring.Component):
    """Board-to-host direction: results to result-frame bytes.

    Parameters
    ----------
    result_layout : ResultLayout
        Result layout of the accelerator, at most 256 classes.

    Members
    -------
    i_result : In(stream.Signature(result_layout))
        Results; one is taken whenever the previous frame has been sent.
    o_bytes : Out(stream.Signature(8))
        Frame bytes to the host.
    """
    def __init__(self, result_layout):
        _check_result_layout(result_layout)
        self._result_layout = result_layout
        super().__init__({
            "i_result": In(stream.Signature(result_layout)),
            "o_bytes":  Out(stream.Signature(8)),
        })

    @property
    def frame_bytes(self):
        """Length of one result frame in bytes."""
        return 2 + 2 * self._result_layout.classes

    def elaborate(self, platform):
        m = Module()
        layout = self._result_layout
        result = self.i_result.payload

        # Fields in the order they are sent; a shift register sends them a byte at a time.
        fields = [Const(RESULT_HEADER, 8), result.cls.as_unsigned()]
        for k in range(layout.classes):
            count = Signal(16, name=f"count_{k}")
            if layout.count_bits > 16:
                m.d.comb += count.eq(Mux(result.counts[k] > 0xFFFF, 0xFFFF, result.counts[k]))
            else:
                m.d.comb += count.eq(result.counts[k])
            fields += [count[8:16], count[0:8]]

        frame = Signal(8 * self.frame_bytes)
        remaining = Signal(range(self.frame_bytes + 1))

        m.d.comb += [
            self.o_bytes.payload.eq(frame[:8]),
            self.o_bytes.valid.eq(remaining != 0),
            self.i_result.ready.eq(remaining == 0),
        ]
        with m.If(self.o_bytes.valid & self.o_bytes.ready):
            m.d.sync += [
                frame.eq(frame >> 8),
                remaining.eq(remaining - 1),
            ]
        with m.If(self.i_result.valid & self.i_result.ready):
            m.d.sync += [
                frame.eq(Cat(*(Cat(field, Const(0, 8 - len(field))) for field in fields))),
                remaining.eq(self.frame_bytes),
            ]

        return m


class HostLink(wiring.Component):
    """Turns host bytes into event tokens, and results into host bytes (protocol version 0).

    Parameters
    ----------
    event_layout : EventLayout
        Token layout of the accelerator's ``i_events``; at most 16384 inputs.
    result_layout : ResultLayout
        Result layout of the accelerator's ``o_result``; at most 256 classes.

    Members
    -------
    i_bytes : In(stream.Signature(8))
        Bytes from the host: 2 bytes per token.
    o_events : Out(stream.Signature(event_layout))
        Event tokens to the accelerator.
    i_result : In(stream.Signature(result_layout))
        Results from the accelerator.
    o_bytes : Out(stream.Signature(8))
        Bytes to the host: one frame of ``2 + 2 * classes`` bytes per result.
    err : Out(1)
        Pulses for one cycle when an event with an out-of-range index is dropped.
    """
    def __init__(self, event_layout, result_layout):
        _check_event_layout(event_layout)
        _check_result_layout(result_layout)
        self._event_layout = event_layout
        self._result_layout = result_layout
        super().__init__({
            "i_bytes":  In(stream.Signature(8)),
            "o_events": Out(stream.Signature(event_layout)),
            "i_result": In(stream.Signature(result_layout)),
            "o_bytes":  Out(stream.Signature(8)),
            "err":      Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        decoder_cls = PixelDecoder if isinstance(self._event_layout, PixelLayout) \
            else TokenDecoder
        m.submodules.decoder = decoder = decoder_cls(self._event_layout)
        m.submodules.encoder = encoder = ResultEncoder(self._result_layout)
        wiring.connect(m, wiring.flipped(self.i_bytes), decoder.i_bytes)
        wiring.connect(m, decoder.o_events, wiring.flipped(self.o_events))
        wiring.connect(m, wiring.flipped(self.i_result), encoder.i_result)
        wiring.connect(m, encoder.o_bytes, wiring.flipped(self.o_bytes))
        m.d.comb += self.err.eq(decoder.err)
        return m


def _stream_member(accel, name, flow, layout_cls):
    members = accel.signature.members
    member = members[name] if name in members else None
    # stream.Signature keeps its payload shape private in Amaranth 0.5; the payload member's
    # shape is the public way to it.
    if (member is None or not member.is_signature or member.flow != flow
            or not isinstance(member.signature, stream.Signature)
            or not isinstance(member.signature.members["payload"].shape, layout_cls)):
        raise TypeError(f"Accelerator must have an `{name}: {flow.name}(stream.Signature("
                        f"{layout_cls.__name__}(...)))` port, not {member!r}")
    return member.signature.members["payload"].shape


def accelerator_layouts(accel):
    """The input and result layouts of an accelerator: its ``i_events`` (``EventLayout``) or,
    with an on-chip input coder, its ``i_pixels`` (``PixelLayout``), and its ``o_result``."""
    if not isinstance(accel, wiring.Component):
        raise TypeError(f"Accelerator must be a wiring.Component, not {accel!r}")
    if "i_pixels" in accel.signature.members:
        source = _stream_member(accel, "i_pixels", wiring.In, PixelLayout)
    else:
        source = _stream_member(accel, "i_events", wiring.In, EventLayout)
    return source, _stream_member(accel, "o_result", wiring.Out, ResultLayout)


def _input_port(accel):
    return accel.i_pixels if "i_pixels" in accel.signature.members else accel.i_events


class SerialAccelerator(wiring.Component):
    """An accelerator behind a UART host link: the board-independent core of a board top.

    UART receiver, byte FIFO, :class:`HostLink`, accelerator, :class:`HostLink`, UART
    transmitter. Any other output stream of the accelerator (a spike monitor, say) is drained:
    its ``ready`` is held high. Any other input stream is left idle.

    The UART has no flow control, so the FIFO absorbs the accelerator's pauses (at the end of
    a time step or of an inference) while the host keeps sending; a byte that finds it full is
    lost, and flagged on ``error``.

    Parameters
    ----------
    accel : wiring.Component
        The accelerator, with ``i_events`` and ``o_result`` stream ports.
    divisor : int
        Clock cycles per UART bit, at least 4.
    blink_cycles : int
        How long, in clock cycles, ``activity`` and ``error`` stay high after an event, so that
        an LED shows it.
    rx_fifo_depth : int
        Bytes the receive FIFO holds.

    Members
    -------
    rx : In(1)
        Serial input pin from the host; idles high.
    tx : Out(1)
        Serial output pin to the host; idles high.
    cls : Out(index_width(classes))
        Class of the latest result (0 before the first one).
    activity : Out(1)
        High for ``blink_cycles`` after a byte is received or sent.
    error : Out(1)
        High for ``blink_cycles`` after a UART framing error or overrun, or a dropped event.
    """
    def __init__(self, accel, divisor, *, blink_cycles=1, rx_fifo_depth=512):
        self._event_layout, self._result_layout = accelerator_layouts(accel)
        _check_event_layout(self._event_layout)
        _check_result_layout(self._result_layout)
        if not isinstance(blink_cycles, int) or isinstance(blink_cycles, bool):
            raise TypeError(f"Blink length must be an integer, not {blink_cycles!r}")
        if blink_cycles < 1:
            raise ValueError(f"Blink length must be at least 1 cycle, not {blink_cycles}")
        if not isinstance(rx_fifo_depth, int) or isinstance(rx_fifo_depth, bool):
            raise TypeError(f"Receive FIFO depth must be an integer, not {rx_fifo_depth!r}")
        if rx_fifo_depth < 1:
            raise ValueError(f"Receive FIFO depth must be at least 1, not {rx_fifo_depth}")
        self.accel = accel
        self._divisor = check_divisor(divisor)
        self._blink_cycles = blink_cycles
        self._rx_fifo_depth = rx_fifo_depth
        super().__init__({
            "rx":       In(1, init=1),
            "tx":       Out(1, init=1),
            "cls":      Out(index_width(self._result_layout.classes)),
            "activity": Out(1),
            "error":    Out(1),
        })

    def _stretch(self, m, name, pulse):
        timer = Signal(range(self._blink_cycles + 1), name=f"{name}_timer")
        with m.If(pulse):
            m.d.sync += timer.eq(self._blink_cycles)
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        return timer != 0

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = UARTRx(self._divisor)
        m.submodules.uart_tx = uart_tx = UARTTx(self._divisor)
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=8,
                                                               depth=self._rx_fifo_depth)
        m.submodules.link = link = HostLink(self._event_layout, self._result_layout)
        m.submodules.accel = accel = self.accel

        m.d.comb += [
            uart_rx.rx.eq(self.rx),
            self.tx.eq(uart_tx.tx),
        ]
        wiring.connect(m, uart_rx.o, rx_fifo.w_stream)
        wiring.connect(m, rx_fifo.r_stream, link.i_bytes)
        wiring.connect(m, link.o_events, _input_port(accel))
        wiring.connect(m, accel.o_result, link.i_result)
        wiring.connect(m, link.o_bytes, uart_tx.i)

        for name, member in accel.signature.members.items():
            if (name != "o_result" and member.is_signature and member.flow == wiring.Out
                    and isinstance(member.signature, stream.Signature)):
                m.d.comb += getattr(accel, name).ready.eq(1)

        with m.If(accel.o_result.valid & accel.o_result.ready):
            m.d.sync += self.cls.eq(accel.o_result.payload.cls)

        activity = ((uart_rx.o.valid & uart_rx.o.ready) | (uart_tx.i.valid & uart_tx.i.ready))
        m.d.comb += [
            self.activity.eq(self._stretch(m, "activity", activity)),
            self.error.eq(self._stretch(m, "error", uart_rx.err | link.err)),
        ]
        return m
