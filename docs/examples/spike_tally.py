"""A user's own component built from ``rtl_lib``: spike events queue in an
:class:`rtl_lib.event_fifo.EventFIFO` and are counted as they leave it.

The worked example of ``docs/custom-rtl.md``: emit it with
``spikegen emit spike_tally:SpikeTally --flat -o spike_tally.vhd`` in this folder, or test it
with ``python run_spike_tally.py`` (cocotb on Verilator and GHDL).
"""
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from rtl_lib.event import EventLayout
from rtl_lib.event_fifo import EventFIFO


class SpikeTally(wiring.Component):
    """Counts the spike events and the time steps of a stream of event tokens.

    Parameters
    ----------
    count : int
        Neurons of the population the events come from.
    depth : int
        Tokens the FIFO holds.

    Members
    -------
    i : In(stream.Signature(EventLayout(count)))
        Event tokens: a spike of neuron ``index``, or (``eos``) the end of a time step.
    spikes : Out(8)
        Spike events counted so far (wraps around).
    steps : Out(8)
        End-of-step tokens counted so far (wraps around).
    """
    def __init__(self, count=16, depth=4):
        self.count, self.depth = count, depth
        super().__init__({
            "i": In(stream.Signature(EventLayout(count))),
            "spikes": Out(8),
            "steps": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = EventFIFO(self.count, self.depth)
        wiring.connect(m, wiring.flipped(self.i), fifo.i)
        # always ready: the tally never holds a token back
        m.d.comb += fifo.o.ready.eq(1)
        with m.If(fifo.o.valid):
            with m.If(fifo.o.payload.eos):
                m.d.sync += self.steps.eq(self.steps + 1)
            with m.Else():
                m.d.sync += self.spikes.eq(self.spikes + 1)
        return m
