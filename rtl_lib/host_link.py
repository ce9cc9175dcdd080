"""Byte-level host link of an accelerator (protocol version 1).

The host sends one frame per request (a sample to classify, or a request for the build's
description); the board answers each with one frame, in request order. The framing is
described in ``docs/host-protocol.md``, its types, codes, limits and token format are
:mod:`rtl_lib.link_format`'s, and ``spikegen.protocol`` models it bit-exactly
(:func:`~spikegen.protocol.board_parse` is the reference of
:class:`~rtl_lib.frame_decoder.FrameDecoder`).

Host to board: COBS-encoded frames closed by a 0x00 byte, so that a lost or damaged byte
spoils one frame only, and the next 0x00 always starts afresh::

    type, seq, count (2 bytes), payload (count tokens), CRC-16

with tokens of 2 bytes (events) or 3 (pixels) while the input indices fit in 14 bits, a byte
more beyond that.

Board to host: ``0xA5``, ``type``, ``seq``, body, CRC-16 (from ``type`` to the end of the
body); a result (class and spike counts), an error (a code; the host sends the request
again), or the build's description.

The chain, one component per job, one file per component (:mod:`rtl_lib.cobs`,
:mod:`rtl_lib.frame_decoder`, :mod:`rtl_lib.response_encoder`)::

    bytes + lost flags -> CobsDecoder -> FrameDecoder -> accelerator input
                                             | verdicts (seq, error code)
                                             v
                          accelerator results -> ResponseEncoder -> bytes

A frame always yields exactly one verdict and at most one inference: the decoder takes the
end of an inference from the frame's ``count``, not from the tokens, and closes an inference
that a short frame left open. Tokens go to the accelerator as they arrive, before the CRC is
known; the verdict decides whether the result is sent or replaced by an error frame.
"""
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .cobs import CobsDecoder, LinkByteLayout
from .event import EventGroupLayout, EventLayout, ResultLayout, connect_events, index_width
from .frame_decoder import FrameDecoder, VerdictLayout, check_input_layout, check_positive
from .link_format import info_body
from .rate_coder import PixelLayout
from .response_encoder import ResponseEncoder, check_result_layout
from .uart import UARTRx, UARTTx, check_divisor


__all__ = ["HostLink", "SerialAccelerator", "accelerator_layouts"]


class HostLink(wiring.Component):
    """Bytes from the host to accelerator tokens, and results to bytes for the host.

    :class:`CobsDecoder`, :class:`FrameDecoder`, a FIFO of ``verdict_depth`` verdicts (the
    frames whose inferences are still in the accelerator), :class:`ResponseEncoder`.

    Parameters
    ----------
    input_layout : EventLayout or PixelLayout
        Token layout of the accelerator's input (``i_events``, or ``i_pixels`` with on-chip
        input coding); at most :data:`~rtl_lib.link_format.MAX_INPUTS` inputs.
    result_layout : ResultLayout
        Result layout of the accelerator's ``o_result``; at most 256 classes.
    rx_buffer : int
        Bytes the receive buffer before the link holds, reported to the host.
    verdict_depth : int
        Verdicts waiting for their results.

    Members
    -------
    i_bytes : In(stream.Signature(LinkByteLayout()))
        Bytes from the host, each with a flag that bytes were lost before it.
    o_events : Out(stream.Signature(input_layout))
    i_result : In(stream.Signature(result_layout))
    o_bytes : Out(stream.Signature(8))
        Bytes to the host.
    err : Out(1)
        Pulses for one cycle when a frame gets an error verdict.
    """
    def __init__(self, input_layout, result_layout, *, rx_buffer=512, verdict_depth=4):
        check_input_layout(input_layout)
        check_result_layout(result_layout)
        self._input_layout = input_layout
        self._result_layout = result_layout
        self._rx_buffer = check_positive(rx_buffer, "Receive buffer size", 0xFFFF)
        self._verdict_depth = check_positive(verdict_depth, "Verdict FIFO depth")
        super().__init__({
            "i_bytes":  In(stream.Signature(LinkByteLayout())),
            "o_events": Out(stream.Signature(input_layout)),
            "i_result": In(stream.Signature(result_layout)),
            "o_bytes":  Out(stream.Signature(8)),
            "err":      Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.cobs = cobs = CobsDecoder()
        m.submodules.decoder = decoder = FrameDecoder(self._input_layout)
        m.submodules.verdicts = verdicts = fifo.SyncFIFO(width=VerdictLayout().size,
                                                         depth=self._verdict_depth)
        m.submodules.encoder = encoder = ResponseEncoder(self._result_layout, info_body(
            pixels=isinstance(self._input_layout, PixelLayout),
            inputs=self._input_layout.count, classes=self._result_layout.classes,
            rx_buffer=self._rx_buffer))

        wiring.connect(m, wiring.flipped(self.i_bytes), cobs.i)
        wiring.connect(m, cobs.o, decoder.i)
        wiring.connect(m, decoder.o_events, wiring.flipped(self.o_events))
        m.d.comb += [
            verdicts.w_data.eq(decoder.o_verdict.payload),
            verdicts.w_en.eq(decoder.o_verdict.valid),
            decoder.o_verdict.ready.eq(verdicts.w_rdy),
            encoder.i_verdict.payload.eq(verdicts.r_data),
            encoder.i_verdict.valid.eq(verdicts.r_rdy),
            verdicts.r_en.eq(encoder.i_verdict.ready),
        ]
        wiring.connect(m, wiring.flipped(self.i_result), encoder.i_result)
        wiring.connect(m, encoder.o_bytes, wiring.flipped(self.o_bytes))
        verdict = decoder.o_verdict
        m.d.sync += self.err.eq(verdict.valid & verdict.ready & (verdict.payload.code != 0))
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
                        f"{_names(layout_cls)}(...)))` port, not {member!r}")
    return member.signature.members["payload"].shape


def _names(classes):
    classes = classes if isinstance(classes, tuple) else (classes,)
    return " or ".join(cls.__name__ for cls in classes)


def accelerator_layouts(accel):
    """The input and result layouts of an accelerator: its ``i_events`` (``EventLayout``) or,
    with an on-chip input coder, its ``i_pixels`` (``PixelLayout``), and its ``o_result``."""
    if not isinstance(accel, wiring.Component):
        raise TypeError(f"Accelerator must be a wiring.Component, not {accel!r}")
    if "i_pixels" in accel.signature.members:
        source = _stream_member(accel, "i_pixels", wiring.In, PixelLayout)
    else:
        source = _stream_member(accel, "i_events", wiring.In,
                                (EventLayout, EventGroupLayout))
        if isinstance(source, EventGroupLayout):
            # the link sends one event per token; the first layer pairs them itself
            source = EventLayout(source.count)
    return source, _stream_member(accel, "o_result", wiring.Out, ResultLayout)


def _input_port(accel):
    return accel.i_pixels if "i_pixels" in accel.signature.members else accel.i_events


class SerialAccelerator(wiring.Component):
    """An accelerator behind a UART host link: the board-independent core of a board top.

    UART receiver, receive FIFO, :class:`HostLink`, accelerator, :class:`HostLink`, UART
    transmitter. Any other output stream of the accelerator (a spike monitor, say) is drained:
    its ``ready`` is held high. Any other input stream is left idle.

    The UART has no flow control: the FIFO absorbs the accelerator's pauses while the host
    keeps sending, and the host keeps at most ``rx_fifo_depth`` bytes of unanswered requests
    on the way (the info frame tells it the size). A byte that finds the FIFO full is lost;
    the next byte kept carries a ``lost`` flag, so the frame gets an error verdict and the
    host sends it again.

    Parameters
    ----------
    accel : wiring.Component
        The accelerator, with ``i_events`` (or ``i_pixels``) and ``o_result`` stream ports.
    divisor : int
        Clock cycles per UART bit, at least 4.
    blink_cycles : int
        How long, in clock cycles, ``activity`` and ``error`` stay high after an event, so that
        an LED shows it.
    rx_fifo_depth : int
        Bytes the receive FIFO holds, at most 65535.

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
        High for ``blink_cycles`` after a UART framing error or overrun, or a frame with an
        error verdict.
    """
    def __init__(self, accel, divisor, *, blink_cycles=1, rx_fifo_depth=512):
        self._input_layout, self._result_layout = accelerator_layouts(accel)
        check_input_layout(self._input_layout)
        check_result_layout(self._result_layout)
        if not isinstance(blink_cycles, int) or isinstance(blink_cycles, bool):
            raise TypeError(f"Blink length must be an integer, not {blink_cycles!r}")
        if blink_cycles < 1:
            raise ValueError(f"Blink length must be at least 1 cycle, not {blink_cycles}")
        if not isinstance(rx_fifo_depth, int) or isinstance(rx_fifo_depth, bool):
            raise TypeError(f"Receive FIFO depth must be an integer, not {rx_fifo_depth!r}")
        if not 1 <= rx_fifo_depth <= 0xFFFF:
            raise ValueError(f"Receive FIFO depth must be from 1 to 65535, not {rx_fifo_depth}")
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

    @property
    def divisor(self):
        return self._divisor

    @property
    def rx_fifo_depth(self):
        return self._rx_fifo_depth

    @property
    def pixels(self):
        """The accelerator takes pixels (on-chip input coding) rather than event tokens."""
        return isinstance(self._input_layout, PixelLayout)

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
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=LinkByteLayout().size,
                                                               depth=self._rx_fifo_depth)
        m.submodules.link = link = HostLink(self._input_layout, self._result_layout,
                                            rx_buffer=self._rx_fifo_depth)
        m.submodules.accel = accel = self.accel

        m.d.comb += [
            uart_rx.rx.eq(self.rx),
            self.tx.eq(uart_tx.tx),
        ]

        # A byte lost at the UART (overrun, framing error) or at the full FIFO flags the next
        # byte kept; when the loss and a kept byte coincide, both that byte and the next one
        # are flagged (which frame lost the byte is not known, so both are sent again).
        lost = Signal()
        flag = lost | uart_rx.err
        m.d.comb += [
            rx_fifo.w_stream.payload.eq(Cat(uart_rx.o.payload, flag)),
            rx_fifo.w_stream.valid.eq(uart_rx.o.valid),
            uart_rx.o.ready.eq(rx_fifo.w_stream.ready),
        ]
        with m.If(rx_fifo.w_stream.valid & rx_fifo.w_stream.ready):
            m.d.sync += lost.eq(uart_rx.err)
        with m.Elif(uart_rx.err):
            m.d.sync += lost.eq(1)
        m.d.comb += [
            link.i_bytes.payload.eq(rx_fifo.r_stream.payload),
            link.i_bytes.valid.eq(rx_fifo.r_stream.valid),
            rx_fifo.r_stream.ready.eq(link.i_bytes.ready),
        ]
        connect_events(m, link.o_events, _input_port(accel))
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
