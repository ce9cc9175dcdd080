"""Verdicts and results to the host link's board-to-host frames.

The frames are :mod:`rtl_lib.link_format`'s; :func:`spikegen.protocol.encode_result`,
:func:`~spikegen.protocol.encode_error` and :func:`~spikegen.protocol.encode_info` are the
references of :class:`ResponseEncoder`.
"""
from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .crc import crc16_next
from .event import ResultLayout
from .frame_decoder import VerdictLayout
from .link_format import (COUNT_MAX, CRC_INIT, ERROR, INFO_BODY_BYTES, INFO_RESPONSE,
                          MAX_CLASSES, RESPONSE_HEADER, RESULT)


__all__ = ["ResponseEncoder", "check_result_layout"]


def check_result_layout(result_layout):
    """Raise if the host link cannot carry the results of ``result_layout``."""
    if not isinstance(result_layout, ResultLayout):
        raise TypeError(f"Result layout must be a ResultLayout, not {result_layout!r}")
    if result_layout.classes > MAX_CLASSES:
        raise ValueError(f"The host link carries at most {MAX_CLASSES} classes (1-byte class), "
                         f"not {result_layout.classes}")


def _byte(value):
    """``value`` (at most 8 bits) zero-extended to a byte."""
    value = value.as_value() if hasattr(value, "as_value") else value
    return Cat(value, Const(0, 8 - len(value))) if len(value) < 8 else value


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
        Body of the info frame (8 bytes; see :func:`rtl_lib.link_format.info_body`).

    Members
    -------
    i_verdict : In(stream.Signature(VerdictLayout()))
    i_result : In(stream.Signature(result_layout))
    o_bytes : Out(stream.Signature(8))
        Frame bytes to the host.
    """
    def __init__(self, result_layout, info=bytes(INFO_BODY_BYTES)):
        check_result_layout(result_layout)
        info = bytes(info)
        if len(info) != INFO_BODY_BYTES:
            raise ValueError(f"The info frame body is {INFO_BODY_BYTES} bytes, "
                             f"not {len(info)}")
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
                m.d.comb += count.eq(Mux(result.counts[k] > COUNT_MAX, COUNT_MAX,
                                           result.counts[k]))
            else:
                m.d.comb += count.eq(result.counts[k])
            counts.append(Cat(count[8:16], count[0:8]))

        # type, seq and body, first byte in the low bits; sent a byte at a time
        body_bytes = 3 + 2 * layout.classes
        frames = {
            "result": (Cat(Const(RESULT, 8), verdict.seq, _byte(result.cls), *counts),
                       body_bytes),
            "error": (Cat(Const(ERROR, 8), verdict.seq, _byte(verdict.code)), 3),
            "info": (Cat(Const(INFO_RESPONSE, 8), verdict.seq,
                         Const(int.from_bytes(self._info, "little"), 8 * INFO_BODY_BYTES)),
                     2 + INFO_BODY_BYTES),
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
                    m.d.sync += crc.eq(CRC_INIT)
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
