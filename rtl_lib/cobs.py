"""Consistent Overhead Byte Stuffing (COBS) decoder: the framing of the host link's requests.

The host encodes each request frame so that it holds no 0x00 byte and closes it with a 0x00
(``docs/host-protocol.md``), so that a lost or damaged byte spoils one frame only, and the
next 0x00 always starts afresh. :func:`spikegen.protocol.cobs_decode` is the reference.
"""
from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["LinkByteLayout", "FrameByteLayout", "CobsDecoder"]


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
