"""Byte-level host link of an accelerator (protocol version 1).

The host sends one frame per request (a sample to classify, or a request for the build's
description); the board answers each with one frame, in request order. The framing is
described in ``docs/host-protocol.md`` and modelled, bit-exactly, by ``spikegen.protocol``
(:func:`~spikegen.protocol.board_parse` is the reference of :class:`FrameDecoder`).

Host to board: COBS-encoded frames closed by a 0x00 byte, so that a lost or damaged byte
spoils one frame only, and the next 0x00 always starts afresh::

    type, seq, count (2 bytes), payload (count tokens of 2 bytes or pixels of 3 bytes), CRC-16

Board to host: ``0xA5``, ``type``, ``seq``, body, CRC-16 (from ``type`` to the end of the
body); a result (class and spike counts), an error (a code; the host sends the request
again), or the build's description.

The chain, one component per job::

    bytes + lost flags -> CobsDecoder -> FrameDecoder -> accelerator input
                                             | verdicts (seq, error code)
                                             v
                          accelerator results -> ResponseEncoder -> bytes

A frame always yields exactly one verdict and at most one inference: the decoder takes the
end of an inference from the frame's ``count``, not from the tokens, and closes an inference
that a short frame left open. Tokens go to the accelerator as they arrive, before the CRC is
known; the verdict decides whether the result is sent or replaced by an error frame.
"""
from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .event import EventGroupLayout, EventLayout, ResultLayout, connect_events, index_width
from .rate_coder import PixelLayout
from .uart import UARTRx, UARTTx, check_divisor


__all__ = [
    "PROTOCOL_VERSION", "RESPONSE_HEADER", "MAX_INPUTS", "MAX_CLASSES", "MAX_COUNT",
    "LinkByteLayout", "FrameByteLayout", "VerdictLayout", "crc16_next",
    "CobsDecoder", "FrameDecoder", "ResponseEncoder", "HostLink", "SerialAccelerator",
    "accelerator_layouts",
]


PROTOCOL_VERSION = 1
#: First byte of every board-to-host frame.
RESPONSE_HEADER = 0xA5
#: Largest input count whose indices fit in the 14-bit index field of a token.
MAX_INPUTS = 1 << 14
#: Largest class count whose class index fits in the 1-byte class field of a result frame.
MAX_CLASSES = 256
#: Largest token count of one sample frame (a 2-byte field).
MAX_COUNT = 0xFFFF

# request and response types, error codes: see spikegen.protocol
_SAMPLE, _INFO = 0x01, 0x02
_RESULT, _ERROR, _INFO_RESPONSE = 0x01, 0x02, 0x03
_OVERRUN, _CHECKSUM, _LENGTH, _TYPE, _COUNT, _MALFORMED = 1, 2, 3, 4, 5, 6
_CRC_INIT = 0xFFFF


def _check_input_layout(layout):
    if not isinstance(layout, (EventLayout, PixelLayout)):
        raise TypeError(f"Input layout must be an EventLayout or a PixelLayout, "
                        f"not {layout!r}")
    if isinstance(layout, PixelLayout) and layout.value_bits != 8:
        raise ValueError(f"The host link carries 8-bit pixels, not {layout.value_bits}-bit")
    if layout.count > MAX_INPUTS:
        raise ValueError(f"The host link carries at most {MAX_INPUTS} inputs (14-bit index), "
                         f"not {layout.count}")


def _check_result_layout(result_layout):
    if not isinstance(result_layout, ResultLayout):
        raise TypeError(f"Result layout must be a ResultLayout, not {result_layout!r}")
    if result_layout.classes > MAX_CLASSES:
        raise ValueError(f"The host link carries at most {MAX_CLASSES} classes (1-byte class), "
                         f"not {result_layout.classes}")


def _check_positive(value, what, maximum=None):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    if value < 1 or (maximum is not None and value > maximum):
        limit = f" and at most {maximum}" if maximum is not None else ""
        raise ValueError(f"{what} must be at least 1{limit}, not {value}")
    return value


class LinkByteLayout(data.StructLayout):
    """A received byte, and whether a byte was lost (UART overrun, framing error, full
    buffer) since the previous one was kept."""
    def __init__(self):
        super().__init__({"data": unsigned(8), "lost": unsigned(1)})


class FrameByteLayout(data.StructLayout):
    """A byte of a decoded frame, or (``end``) the end of the frame; ``lost`` (with ``end``
    only): a byte of the frame was lost."""
    def __init__(self):
        super().__init__({"data": unsigned(8), "end": unsigned(1), "lost": unsigned(1)})


class VerdictLayout(data.StructLayout):
    """What a frame came to: its ``seq``, an error ``code`` (0: good), whether it started an
    inference (``has_result``), and whether it asks for the build's description (``info``)."""
    def __init__(self):
        super().__init__({"seq": unsigned(8), "code": unsigned(3), "has_result": unsigned(1),
                          "info": unsigned(1)})


def _byte(value):
    """``value`` (at most 8 bits) zero-extended to a byte."""
    value = value.as_value() if hasattr(value, "as_value") else value
    return Cat(value, Const(0, 8 - len(value))) if len(value) < 8 else value


def crc16_next(crc, byte):
    """CRC-16/CCITT-FALSE register ``crc`` after ``byte``, as an expression (one byte per
    cycle, most significant bit first, polynomial 0x1021)."""
    bits = [crc[i] for i in range(16)]
    for i in reversed(range(8)):
        feedback = bits[15] ^ byte[i]
        bits = [feedback] + bits[:15]
        bits[5] = bits[5] ^ feedback
        bits[12] = bits[12] ^ feedback
    return Cat(*bits)


class CobsDecoder(wiring.Component):
    """Undoes Consistent Overhead Byte Stuffing: frames of bytes with no 0x00, each closed by
    a 0x00, to the frames' bytes and an ``end`` marker.

    A code byte ``n`` announces ``n - 1`` data bytes, then (for ``n`` < 0xFF, unless the frame
    ends) a 0x00 data byte. A frame cut short gives the bytes there are; its CRC tells. The
    ``lost`` flags of a frame's bytes (delimiter included) are gathered on its ``end`` item.

    Members
    -------
    i : In(stream.Signature(LinkByteLayout()))
    o : Out(stream.Signature(FrameByteLayout()))
    """
    i: In(stream.Signature(LinkByteLayout()))
    o: Out(stream.Signature(FrameByteLayout()))

    def elaborate(self, platform):
        m = Module()
        remaining = Signal(8)       # data bytes left in the current run
        zero = Signal()             # the run ends with a 0x00 (sent when the next run starts)
        lost = Signal()
        byte = self.i.payload

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.comb += self.i.ready.eq(~self.o.valid)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += lost.eq(lost | byte.lost)
            with m.If(byte.data == 0):
                m.d.sync += [
                    self.o.payload.end.eq(1),
                    self.o.payload.lost.eq(lost | byte.lost),
                    self.o.valid.eq(1),
                    remaining.eq(0), zero.eq(0), lost.eq(0),
                ]
            with m.Elif(remaining == 0):
                m.d.sync += [remaining.eq(byte.data - 1), zero.eq(byte.data != 0xFF)]
                with m.If(zero):
                    m.d.sync += [
                        self.o.payload.data.eq(0),
                        self.o.payload.end.eq(0),
                        self.o.payload.lost.eq(0),
                        self.o.valid.eq(1),
                    ]
            with m.Else():
                m.d.sync += [
                    self.o.payload.data.eq(byte.data),
                    self.o.payload.end.eq(0),
                    self.o.payload.lost.eq(0),
                    self.o.valid.eq(1),
                    remaining.eq(remaining - 1),
                ]
        return m


class FrameDecoder(wiring.Component):
    """Request frames to accelerator input tokens and one verdict per frame.

    Parameters
    ----------
    input_layout : EventLayout or PixelLayout
        Token layout of the accelerator's input: event tokens (2 bytes each on the wire) or
        8-bit pixels for on-chip input coding (3 bytes each).
    max_count : int or None
        Largest token count of a sample frame; by default 65535 for events, and the input
        count for pixels (an on-chip coder stores at most that many).

    Members
    -------
    i : In(stream.Signature(FrameByteLayout()))
        Decoded frame bytes.
    o_events : Out(stream.Signature(input_layout))
        Tokens to the accelerator: the frame's ``count``-th token closes the inference
        (``last``, and ``eos`` for events); an inference left open by a short frame is
        closed by an extra token.
    o_verdict : Out(stream.Signature(VerdictLayout()))
        One verdict per frame (none for an empty frame), after the frame's tokens.
    """
    def __init__(self, input_layout, *, max_count=None):
        _check_input_layout(input_layout)
        self._pixels = isinstance(input_layout, PixelLayout)
        if max_count is None:
            max_count = input_layout.count if self._pixels else MAX_COUNT
        self._max_count = _check_positive(max_count, "Largest token count", MAX_COUNT)
        self._layout = input_layout
        super().__init__({
            "i":         In(stream.Signature(FrameByteLayout())),
            "o_events":  Out(stream.Signature(input_layout)),
            "o_verdict": Out(stream.Signature(VerdictLayout())),
        })

    @property
    def max_count(self):
        return self._max_count

    def elaborate(self, platform):
        m = Module()
        pixels = self._pixels
        token_bytes = 3 if pixels else 2
        item = self.i.payload
        out = self.o_events.payload

        crc = Signal(16, init=_CRC_INIT)
        kind, seq = Signal(8), Signal(8)
        count_hi = Signal(8)
        final = Signal(16)                  # index of the frame's last token
        k = Signal(16)                      # tokens of the frame so far
        pos = Signal(range(token_bytes))
        hi, lo = Signal(8), Signal(8)
        emitted, complete, too_long = Signal(), Signal(), Signal()
        bad_count, malformed, lost = Signal(), Signal(), Signal()

        def emit(index, *, eos=0, last=0, value=0):
            fields = [out.index.eq(index), out.last.eq(last), self.o_events.valid.eq(1),
                      emitted.eq(1)]
            fields.append(out.value.eq(value) if pixels else out.eos.eq(eos))
            m.d.sync += fields

        def close():
            if pixels:
                emit(0, value=0, last=1)
            else:
                emit(0, eos=1, last=1)

        with m.If(self.o_events.ready):
            m.d.sync += self.o_events.valid.eq(0)
        took = self.i.valid & self.i.ready
        data_byte = took & ~item.end
        with m.If(data_byte):
            m.d.sync += crc.eq(crc16_next(crc, item.data))

        with m.FSM():
            def on_end(state):
                # a frame's end in `state`: close an open inference, then give the verdict
                # (an empty frame, ended in TYPE, gives none)
                with m.If(took & item.end):
                    m.d.sync += lost.eq(item.lost)
                    if state == "PAYLOAD":
                        with m.If(emitted):
                            m.next = "CLOSE"
                        with m.Else():
                            m.next = "VERDICT"
                    else:
                        m.next = "VERDICT"

            with m.State("TYPE"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(data_byte):
                    m.d.sync += kind.eq(item.data)
                    m.next = "SEQ"

            with m.State("SEQ"):
                m.d.comb += self.i.ready.eq(1)
                on_end("SEQ")
                with m.If(data_byte):
                    m.d.sync += seq.eq(item.data)
                    with m.If(kind == _SAMPLE):
                        m.next = "COUNT_HI"
                    with m.Elif(kind == _INFO):
                        m.next = "CRC_HI"
                    with m.Else():
                        m.next = "SKIP"

            with m.State("COUNT_HI"):
                m.d.comb += self.i.ready.eq(1)
                on_end("COUNT_HI")
                with m.If(data_byte):
                    m.d.sync += count_hi.eq(item.data)
                    m.next = "COUNT_LO"

            with m.State("COUNT_LO"):
                m.d.comb += self.i.ready.eq(1)
                on_end("COUNT_LO")
                count = Cat(item.data, count_hi)
                with m.If(data_byte):
                    m.d.sync += [final.eq(count - 1), k.eq(0), pos.eq(0)]
                    with m.If((count == 0) | (count > self._max_count)):
                        m.d.sync += bad_count.eq(1)
                        m.next = "SKIP"
                    with m.Else():
                        m.next = "PAYLOAD"

            with m.State("PAYLOAD"):
                # a byte is taken only when the output register is free for a token
                m.d.comb += self.i.ready.eq(~self.o_events.valid)
                on_end("PAYLOAD")
                with m.If(data_byte):
                    m.d.sync += pos.eq(pos + 1)
                    with m.If(pos == 0):
                        m.d.sync += hi.eq(item.data)
                    if pixels:
                        with m.If(pos == 1):
                            m.d.sync += lo.eq(item.data)
                    with m.If(pos == token_bytes - 1):
                        word = Cat(lo, hi) if pixels else Cat(item.data, hi)
                        index, eos = word[:14], word[15]
                        last = k == final
                        in_range = index < self._layout.count
                        m.d.sync += [pos.eq(0), k.eq(k + 1)]
                        if pixels:
                            with m.If(~in_range):
                                m.d.sync += malformed.eq(1)
                                with m.If(last):
                                    close()
                            with m.Else():
                                emit(index, value=item.data, last=last)
                        else:
                            with m.If(last):
                                close()
                                with m.If(~eos):
                                    m.d.sync += malformed.eq(1)
                            with m.Elif(eos):
                                emit(0, eos=1)
                            with m.Elif(~in_range):
                                m.d.sync += malformed.eq(1)
                            with m.Else():
                                emit(index)
                        with m.If(last):
                            m.next = "CRC_HI"

            with m.State("CRC_HI"):
                m.d.comb += self.i.ready.eq(1)
                on_end("CRC_HI")
                with m.If(data_byte):
                    m.next = "CRC_LO"

            with m.State("CRC_LO"):
                m.d.comb += self.i.ready.eq(1)
                on_end("CRC_LO")
                with m.If(data_byte):
                    m.d.sync += complete.eq(1)
                    m.next = "TRAIL"

            with m.State("TRAIL"):
                m.d.comb += self.i.ready.eq(1)
                on_end("TRAIL")
                with m.If(data_byte):
                    m.d.sync += too_long.eq(1)

            with m.State("SKIP"):
                m.d.comb += self.i.ready.eq(1)
                on_end("SKIP")

            with m.State("CLOSE"):
                with m.If(~self.o_events.valid):
                    close()
                    m.next = "VERDICT"

            with m.State("VERDICT"):
                verdict = self.o_verdict.payload
                code = Signal(3)
                with m.If(lost):
                    m.d.comb += code.eq(_OVERRUN)
                with m.Elif(crc != 0):
                    m.d.comb += code.eq(_CHECKSUM)
                with m.Elif((kind != _SAMPLE) & (kind != _INFO)):
                    m.d.comb += code.eq(_TYPE)
                with m.Elif(bad_count):
                    m.d.comb += code.eq(_COUNT)
                with m.Elif(~complete | too_long):
                    m.d.comb += code.eq(_LENGTH)
                with m.Elif(malformed):
                    m.d.comb += code.eq(_MALFORMED)
                m.d.comb += [
                    self.o_verdict.valid.eq(1),
                    verdict.seq.eq(seq),
                    verdict.code.eq(code),
                    verdict.has_result.eq(emitted),
                    verdict.info.eq((kind == _INFO) & (code == 0)),
                ]
                with m.If(self.o_verdict.ready):
                    m.d.sync += [
                        crc.eq(_CRC_INIT), kind.eq(0), seq.eq(0),
                        emitted.eq(0), complete.eq(0), too_long.eq(0),
                        bad_count.eq(0), malformed.eq(0), lost.eq(0),
                    ]
                    m.next = "TYPE"
        return m


class ResponseEncoder(wiring.Component):
    """Verdicts and results to board-to-host frames.

    For each verdict in turn: if it started an inference, the next result is taken with it;
    the frame sent is the result (a good sample), the build's description (a good info
    request) or an error with the verdict's code (the result, if any, is dropped).

    Parameters
    ----------
    result_layout : ResultLayout
        Result layout of the accelerator, at most 256 classes.
    info : bytes
        Body of the info frame (8 bytes; see :func:`spikegen.protocol.encode_info`).

    Members
    -------
    i_verdict : In(stream.Signature(VerdictLayout()))
    i_result : In(stream.Signature(result_layout))
    o_bytes : Out(stream.Signature(8))
        Frame bytes to the host.
    """
    def __init__(self, result_layout, info=bytes(8)):
        _check_result_layout(result_layout)
        info = bytes(info)
        if len(info) != 8:
            raise ValueError(f"The info frame body is 8 bytes, not {len(info)}")
        self._result_layout = result_layout
        self._info = info
        super().__init__({
            "i_verdict": In(stream.Signature(VerdictLayout())),
            "i_result":  In(stream.Signature(result_layout)),
            "o_bytes":   Out(stream.Signature(8)),
        })

    @property
    def result_frame_bytes(self):
        """Length of one result frame in bytes."""
        return 6 + 2 * self._result_layout.classes

    def elaborate(self, platform):
        m = Module()
        layout = self._result_layout
        verdict = self.i_verdict.payload
        result = self.i_result.payload

        counts = []
        for k in range(layout.classes):
            count = Signal(16, name=f"count_{k}")
            if layout.count_bits > 16:
                m.d.comb += count.eq(Mux(result.counts[k] > 0xFFFF, 0xFFFF, result.counts[k]))
            else:
                m.d.comb += count.eq(result.counts[k])
            counts.append(Cat(count[8:16], count[0:8]))

        # type, seq and body, first byte in the low bits; sent a byte at a time
        body_bytes = 3 + 2 * layout.classes
        frames = {
            "result": (Cat(Const(_RESULT, 8), verdict.seq, _byte(result.cls), *counts),
                       body_bytes),
            "error": (Cat(Const(_ERROR, 8), verdict.seq, _byte(verdict.code)), 3),
            "info": (Cat(Const(_INFO_RESPONSE, 8), verdict.seq,
                         Const(int.from_bytes(self._info, "little"), 64)), 10),
        }
        width = 8 * max(size for _, size in frames.values())
        shreg = Signal(width)
        remaining = Signal(range(width // 8 + 1))
        crc = Signal(16)

        out = self.o_bytes
        sent = out.valid & out.ready
        with m.FSM():
            with m.State("IDLE"):
                go = self.i_verdict.valid & (~verdict.has_result | self.i_result.valid)
                m.d.comb += [
                    self.i_verdict.ready.eq(go),
                    self.i_result.ready.eq(self.i_verdict.valid & verdict.has_result),
                ]
                with m.If(go):
                    m.d.sync += crc.eq(_CRC_INIT)
                    m.next = "HEADER"
                    with m.If(verdict.info):
                        m.d.sync += [shreg.eq(frames["info"][0]),
                                     remaining.eq(frames["info"][1])]
                    with m.Elif(verdict.has_result & (verdict.code == 0)):
                        m.d.sync += [shreg.eq(frames["result"][0]),
                                     remaining.eq(frames["result"][1])]
                    with m.Else():
                        m.d.sync += [shreg.eq(frames["error"][0]),
                                     remaining.eq(frames["error"][1])]
            with m.State("HEADER"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(RESPONSE_HEADER)]
                with m.If(sent):
                    m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(shreg[:8])]
                with m.If(sent):
                    m.d.sync += [
                        crc.eq(crc16_next(crc, shreg[:8])),
                        shreg.eq(shreg >> 8),
                        remaining.eq(remaining - 1),
                    ]
                    with m.If(remaining == 1):
                        m.next = "CRC_HI"
            with m.State("CRC_HI"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(crc[8:])]
                with m.If(sent):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(crc[:8])]
                with m.If(sent):
                    m.next = "IDLE"
        return m


def _info_body(input_layout, result_layout, rx_buffer):
    pixels = isinstance(input_layout, PixelLayout)
    return (bytes([PROTOCOL_VERSION, int(pixels)]) + input_layout.count.to_bytes(2, "big")
            + result_layout.classes.to_bytes(2, "big") + rx_buffer.to_bytes(2, "big"))


class HostLink(wiring.Component):
    """Bytes from the host to accelerator tokens, and results to bytes for the host.

    :class:`CobsDecoder`, :class:`FrameDecoder`, a FIFO of ``verdict_depth`` verdicts (the
    frames whose inferences are still in the accelerator), :class:`ResponseEncoder`.

    Parameters
    ----------
    input_layout : EventLayout or PixelLayout
        Token layout of the accelerator's input (``i_events``, or ``i_pixels`` with on-chip
        input coding); at most 16384 inputs.
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
        _check_input_layout(input_layout)
        _check_result_layout(result_layout)
        self._input_layout = input_layout
        self._result_layout = result_layout
        self._rx_buffer = _check_positive(rx_buffer, "Receive buffer size", 0xFFFF)
        self._verdict_depth = _check_positive(verdict_depth, "Verdict FIFO depth")
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
        m.submodules.encoder = encoder = ResponseEncoder(
            self._result_layout,
            _info_body(self._input_layout, self._result_layout, self._rx_buffer))

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
        _check_input_layout(self._input_layout)
        _check_result_layout(self._result_layout)
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
