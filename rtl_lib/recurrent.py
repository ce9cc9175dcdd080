"""A recurrent layer's own spikes of the previous step, as input events of the current one."""
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .event import EventGroupLayout, EventLayout


__all__ = ["RecurrentEvents"]


class RecurrentEvents(wiring.Component):
    """Appends a layer's previous-step spikes to the input events of each time step.

    A recurrent layer integrates ``[x_t, spk_{t-1}]`` (see :mod:`spikegen.ir`): input events
    ``i`` keep their index, and the layer's own neuron ``j`` becomes input ``inputs + j``.
    Input events pass through (their indices widened); an end-of-step token is held back
    until the layer has finished the previous step's end-of-step update (``busy`` low), then
    the set bits of ``spikes`` go out as events in ascending index, one per beat, and the
    token follows them. A layer that takes two events per cycle pairs the merged stream by
    position, so a step's last input event and its first own spike may share a beat, as the
    reference groups the concatenated list.

    Parameters
    ----------
    inputs, outputs : int
        The layer's input and neuron counts.
    events : int
        Events per beat of the input and output streams (:class:`~rtl_lib.event.EventLayout`
        when 1, :class:`~rtl_lib.event.EventGroupLayout` otherwise).

    Members
    -------
    i : In(stream.Signature(layout(inputs)))
    o : Out(stream.Signature(layout(inputs + outputs)))
    spikes : In(outputs)
        The layer's spikes of the previous step (zero at the first step of an inference).
    busy : In(1)
        The layer's previous end-of-step update is still in flight: ``spikes`` not yet valid.
        ``spikes`` are read in the first cycle an end-of-step token waits with ``busy`` low,
        so the layer raises ``busy`` in the cycle after it takes an end-of-step token (as
        :class:`~rtl_lib.fc_layer.FCLayer` does); raised later, an empty step that follows
        would send the previous step's spikes again.
    """
    def __init__(self, inputs, outputs, events=1):
        self.inputs, self.outputs, self.events = inputs, outputs, events

        def layout(count):
            return EventLayout(count) if events == 1 else EventGroupLayout(count, events)

        super().__init__({
            "i": In(stream.Signature(layout(inputs))),
            "o": Out(stream.Signature(layout(inputs + outputs))),
            "spikes": In(outputs),
            "busy": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        i, o, E = self.i, self.o, self.events
        pending = Signal(self.outputs)
        lowest = Signal(range(self.outputs))
        for k in reversed(range(self.outputs)):
            with m.If(pending[k]):
                m.d.comb += lowest.eq(k)

        def put_event(index):
            if E == 1:
                return [o.payload.index.eq(index)]
            return [o.payload.index[0].eq(index), o.payload.count.eq(1)]

        with m.FSM():
            with m.State("pass"):
                m.d.comb += o.payload.eos.eq(0)
                if E == 1:
                    m.d.comb += o.payload.index.eq(i.payload.index)
                else:
                    m.d.comb += o.payload.count.eq(i.payload.count)
                    for k in range(E):
                        m.d.comb += o.payload.index[k].eq(i.payload.index[k])
                with m.If(i.payload.eos):
                    with m.If(i.valid & ~self.busy):
                        m.d.sync += pending.eq(self.spikes)
                        m.next = "inject"
                with m.Else():
                    m.d.comb += [o.valid.eq(i.valid), i.ready.eq(o.ready)]
            with m.State("inject"):
                m.d.comb += o.valid.eq(1)
                with m.If(pending != 0):
                    m.d.comb += put_event(self.inputs + lowest)
                    with m.If(o.ready):
                        m.d.sync += pending.eq(pending & (pending - 1))   # clear the lowest
                with m.Else():
                    m.d.comb += [o.payload.eos.eq(1), o.payload.last.eq(i.payload.last),
                                 i.ready.eq(o.ready)]
                    with m.If(o.ready):
                        m.next = "pass"
        return m
