"""Output layer readout: per-class spike counts and the predicted class."""
from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .event import EventLayout, ResultLayout


__all__ = ["SpikeCounter"]


class SpikeCounter(wiring.Component):
    """Counts each output neuron's spikes over an inference and reports the winner.

    Spike events are counted (saturating at ``2**count_bits - 1``); the end-of-step token with
    ``last`` set closes the inference: ``o_result`` then offers the counts and the class with
    the largest count (the lowest index on a tie) until it is taken, and the counts restart
    from zero. Tokens are also passed on, unchanged, to ``o_spikes`` (for monitoring and
    verification); a token moves only when ``o_spikes`` is ready, so tie ``o_spikes.ready``
    high when it is not used.

    Members
    -------
    i_events : In(stream.Signature(EventLayout(classes)))
    o_spikes : Out(stream.Signature(EventLayout(classes)))
    o_result : Out(stream.Signature(ResultLayout(classes, count_bits)))
    """
    def __init__(self, classes, count_bits):
        self.classes, self.count_bits = classes, count_bits
        super().__init__({
            "i_events": In(stream.Signature(EventLayout(classes))),
            "o_spikes": Out(stream.Signature(EventLayout(classes))),
            "o_result": Out(stream.Signature(ResultLayout(classes, count_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        n, top = self.classes, (1 << self.count_bits) - 1
        counts = [Signal(self.count_bits, name=f"count{k}") for k in range(n)]
        # the running winner: counts only ever grow by one, so comparing the grown count with
        # the best so far keeps the argmax exact (ties to the lowest index) with no long chain
        best = Signal(range(n))
        best_count = Signal(self.count_bits)
        pending = Signal()
        token = self.i_events.payload
        cmp_valid = Signal()
        cmp_index = Signal(range(n))
        cmp_count = Signal(self.count_bits)
        m.d.sync += cmp_valid.eq(0)

        m.d.comb += [
            self.o_spikes.payload.eq(token),
            self.o_spikes.valid.eq(self.i_events.valid & ~pending),
            self.i_events.ready.eq(self.o_spikes.ready & ~pending),
        ]
        with m.If(self.i_events.valid & self.i_events.ready):
            with m.If(token.eos):
                m.d.sync += pending.eq(token.last)
            with m.Else():
                # one incrementer, shared: the spiking class's count is selected, grown and
                # loaded back (every counter takes the same value, its clock enable picks
                # which)
                index = Signal(range(n))
                m.d.comb += index.eq(token.index)
                selected = Signal(self.count_bits)
                m.d.comb += selected.eq(Array(counts)[index])
                grown = Signal(self.count_bits)
                m.d.comb += grown.eq(selected + 1)
                with m.If(selected != top):
                    with m.Switch(index):
                        for k in range(n):
                            with m.Case(k):
                                m.d.sync += counts[k].eq(grown)
                    m.d.sync += [cmp_valid.eq(1), cmp_index.eq(index), cmp_count.eq(grown)]

        # the winner is updated one cycle after its count, from registers (timing): the
        # comparisons still run in token order, and an inference's last token (its end of
        # step) arrives at least a cycle after its last spike, so the result sees them all
        with m.If(cmp_valid & ((cmp_count > best_count)
                               | ((cmp_count == best_count) & (cmp_index < best)))):
            m.d.sync += [best.eq(cmp_index), best_count.eq(cmp_count)]

        result = self.o_result.payload
        m.d.comb += [self.o_result.valid.eq(pending), result.cls.eq(best)]
        for k in range(n):
            m.d.comb += result.counts[k].eq(counts[k])
        with m.If(self.o_result.valid & self.o_result.ready):
            m.d.sync += [pending.eq(0), best.eq(0), best_count.eq(0)]
            m.d.sync += [count.eq(0) for count in counts]
        return m
