"""A FIFO of spike-event tokens between two layers."""
from amaranth.hdl import Module
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .event import EventGroupLayout, EventLayout


__all__ = ["EventFIFO"]


class EventFIFO(wiring.Component):
    """Buffers ``depth`` spike-event tokens so the producing layer can run ahead.

    With a FIFO between them, layer ``k`` works on time step ``t + 1`` while layer ``k + 1``
    still integrates step ``t``. A full FIFO back-pressures the producer; nothing is lost.

    Members
    -------
    i : In(stream.Signature(EventLayout(count)))
    o : Out(stream.Signature(EventLayout(count)))
        Beats of ``EventGroupLayout(count, events)`` instead with ``events`` > 1.
    """
    def __init__(self, count, depth, events=1):
        if not isinstance(depth, int) or depth < 1:
            raise TypeError(f"FIFO depth must be a positive integer, not {depth!r}")
        self.count, self.depth, self.events = count, depth, events
        layout = EventLayout(count) if events == 1 else EventGroupLayout(count, events)
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(layout)),
        })

    def elaborate(self, platform):
        m = Module()
        layout = self.i.payload.shape()
        m.submodules.fifo = queue = fifo.SyncFIFOBuffered(width=layout.size, depth=self.depth)
        m.d.comb += [
            queue.w_data.eq(self.i.payload),
            queue.w_en.eq(self.i.valid),
            self.i.ready.eq(queue.w_rdy),
            self.o.payload.eq(queue.r_data),
            self.o.valid.eq(queue.r_rdy),
            queue.r_en.eq(self.o.ready),
        ]
        return m
