"""Regrouping spike events into beats of exactly two, by their position in the time step."""
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .event import EventGroupLayout


__all__ = ["EventPacker"]


class EventPacker(wiring.Component):
    """Packs a step's events into pairs: events 0 and 1, 2 and 3, ... of each time step.

    A layer that integrates two events per cycle adds each pair's weights exactly and then
    saturates once (see :mod:`spikegen.reference`), so which events share a beat is part of
    the arithmetic. This block makes it independent of how the producer happened to fill its
    beats: whatever mix of one- and two-event beats arrives, every output beat holds two
    consecutive events of the step, except the last beat before an end of step when the step
    has an odd number of events. Full input beats pass at one beat per cycle.

    Members
    -------
    i : In(stream.Signature(EventGroupLayout(count, 2)))
    o : Out(stream.Signature(EventGroupLayout(count, 2)))
        Registered.
    """
    def __init__(self, count):
        self.count = count
        layout = EventGroupLayout(count, 2)
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(layout)),
        })

    def elaborate(self, platform):
        m = Module()
        i, o = self.i, self.o
        held = Signal()                       # one event waits for its partner
        held_index = Signal.like(i.payload.index[0])
        beat = i.payload
        two = beat.count == 2
        free = ~o.valid | o.ready             # the output register can take a beat
        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        # an end of step behind a held event waits one cycle: the event goes out first
        m.d.comb += i.ready.eq(free & ~(beat.eos & held))
        with m.If(free & i.valid):
            with m.If(beat.eos):
                m.d.sync += [o.valid.eq(1), o.payload.eos.eq(~held), o.payload.last.eq(0),
                             o.payload.count.eq(held), o.payload.index[0].eq(held_index),
                             held.eq(0)]
                with m.If(~held):
                    m.d.sync += o.payload.last.eq(beat.last)
            with m.Elif(held):
                m.d.sync += [o.valid.eq(1), o.payload.eos.eq(0), o.payload.last.eq(0),
                             o.payload.count.eq(2), o.payload.index[0].eq(held_index),
                             o.payload.index[1].eq(beat.index[0]),
                             held.eq(two), held_index.eq(beat.index[1])]
            with m.Elif(two):
                m.d.sync += [o.valid.eq(1), o.payload.eos.eq(0), o.payload.last.eq(0),
                             o.payload.count.eq(2), o.payload.index[0].eq(beat.index[0]),
                             o.payload.index[1].eq(beat.index[1])]
            with m.Else():
                m.d.sync += [held.eq(1), held_index.eq(beat.index[0])]
        return m
