"""A pipeline register on a stream: cuts the combinational path of the payload."""
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["StreamRegister"]


class StreamRegister(wiring.Component):
    """Registers ``valid`` and ``payload`` of a stream, one cycle of latency, full rate.

    The consumer's logic then starts from flip-flops instead of the producer's logic (timing
    closure between blocks); ``ready`` passes through combinationally
    (``i.ready = ~o.valid | o.ready``), so a beat can enter every cycle.

    Members
    -------
    i : In(stream.Signature(layout))
    o : Out(stream.Signature(layout))
    """
    def __init__(self, layout):
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(layout)),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m
