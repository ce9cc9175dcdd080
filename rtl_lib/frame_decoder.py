"""Request frames of the host link to accelerator input tokens and one verdict per frame.

:func:`spikegen.protocol.board_parse` is the reference of :class:`FrameDecoder`; the format
of the frames and their tokens is :mod:`rtl_lib.link_format`'s.
"""
from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .cobs import FrameByteLayout
from .crc import crc16_next
from .event import EventLayout
from .link_format import (CHECKSUM, COUNT, CRC_INIT, INFO, LENGTH, MALFORMED, MAX_COUNT,
                          OVERRUN, SAMPLE, TYPE, TokenFormat)
from .rate_coder import PixelLayout


__all__ = ["VerdictLayout", "FrameDecoder", "check_input_layout", "check_positive"]


def check_input_layout(layout):
    """The wire format of the tokens of an accelerator whose input is ``layout``
    (:class:`~rtl_lib.link_format.TokenFormat`), if the host link carries them."""
    if not isinstance(layout, (EventLayout, PixelLayout)):
        raise TypeError(f"Input layout must be an EventLayout or a PixelLayout, "
                        f"not {layout!r}")
    if isinstance(layout, PixelLayout) and layout.value_bits != 8:
        raise ValueError(f"The host link carries 8-bit pixels, not {layout.value_bits}-bit")
    return TokenFormat.for_inputs(layout.count, pixels=isinstance(layout, PixelLayout))


def check_positive(value, what, maximum=None):
    """``value``, if it is an integer from 1 to ``maximum``; ``what`` names it in errors."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    if value < 1 or (maximum is not None and value > maximum):
        limit = f" and at most {maximum}" if maximum is not None else ""
        raise ValueError(f"{what} must be at least 1{limit}, not {value}")
    return value


class VerdictLayout(data.StructLayout):
    """What a frame came to: its ``seq``, an error ``code`` (0: good), whether it started an
    inference (``has_result``), and whether it asks for the build's description (``info``)."""
    def __init__(self):
        super().__init__({"seq": unsigned(8), "code": unsigned(3), "has_result": unsigned(1),
                          "info": unsigned(1)})


class FrameDecoder(wiring.Component):
    """Request frames to accelerator input tokens and one verdict per frame.

    Parameters
    ----------
    input_layout : EventLayout or PixelLayout
        Token layout of the accelerator's input: event tokens or 8-bit pixels for on-chip
        input coding; their size on the wire follows the input count
        (:meth:`~rtl_lib.link_format.TokenFormat.for_inputs`): 2 bytes per event and 3 per
        pixel up to 16384 inputs.
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
        self._format = check_input_layout(input_layout)
        self._pixels = self._format.pixels
        if max_count is None:
            max_count = input_layout.count if self._pixels else MAX_COUNT
        self._max_count = check_positive(max_count, "Largest token count", MAX_COUNT)
        self._layout = input_layout
        super().__init__({
            "i":         In(stream.Signature(FrameByteLayout())),
            "o_events":  Out(stream.Signature(input_layout)),
            "o_verdict": Out(stream.Signature(VerdictLayout())),
        })

    @property
    def max_count(self):
        return self._max_count

    @property
    def token_format(self):
        """The wire format of the tokens this decoder takes."""
        return self._format

    def elaborate(self, platform):
        m = Module()
        pixels, fmt = self._pixels, self._format
        token_bytes = fmt.token_bytes
        item = self.i.payload
        out = self.o_events.payload

        crc = Signal(16, init=CRC_INIT)
        kind, seq = Signal(8), Signal(8)
        count_hi = Signal(8)
        final = Signal(16)                  # index of the frame's last token
        k = Signal(16)                      # tokens of the frame so far
        pos = Signal(range(token_bytes))
        # the token's bytes before its last one, in wire order (the word's high byte first):
        # an event's word but its low byte, or a pixel's whole word, whose value follows
        stored = [Signal(8) for _ in range(fmt.word_bytes - 1)]
        if pixels:
            stored.append(Signal(8, name="lo"))
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
                    with m.If(kind == SAMPLE):
                        m.next = "COUNT_HI"
                    with m.Elif(kind == INFO):
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
                    for n, byte in enumerate(stored):
                        with m.If(pos == n):
                            m.d.sync += byte.eq(item.data)
                    with m.If(pos == token_bytes - 1):
                        # a pixel's last byte is its value, an event's the word's low byte
                        low = [] if pixels else [item.data]
                        word = Cat(*low, *reversed(stored))
                        index, eos = word[:fmt.index_bits], word[fmt.top_bit]
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
                    m.d.comb += code.eq(OVERRUN)
                with m.Elif(crc != 0):
                    m.d.comb += code.eq(CHECKSUM)
                with m.Elif((kind != SAMPLE) & (kind != INFO)):
                    m.d.comb += code.eq(TYPE)
                with m.Elif(bad_count):
                    m.d.comb += code.eq(COUNT)
                with m.Elif(~complete | too_long):
                    m.d.comb += code.eq(LENGTH)
                with m.Elif(malformed):
                    m.d.comb += code.eq(MALFORMED)
                m.d.comb += [
                    self.o_verdict.valid.eq(1),
                    verdict.seq.eq(seq),
                    verdict.code.eq(code),
                    verdict.has_result.eq(emitted),
                    verdict.info.eq((kind == INFO) & (code == 0)),
                ]
                with m.If(self.o_verdict.ready):
                    m.d.sync += [
                        crc.eq(CRC_INIT), kind.eq(0), seq.eq(0),
                        emitted.eq(0), complete.eq(0), too_long.eq(0),
                        bad_count.eq(0), malformed.eq(0), lost.eq(0),
                    ]
                    m.next = "TYPE"
        return m
