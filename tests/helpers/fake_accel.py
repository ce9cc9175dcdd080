"""A stand-in accelerator and serial-line helpers shared by the host-link and board tests."""
import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from rtl_lib.event import EventLayout, ResultLayout


class CountingAccel(wiring.Component):
    """A stand-in accelerator: output class ``k`` counts the input events whose index is
    ``k`` modulo the class count; the result is sent after the last step.

    Also has a monitor stream, ``o_spikes``, with one token per event, which stalls the input
    until it is taken: a board top that does not drain it hangs. After each end-of-step token
    it takes no input for ``pause`` cycles, as a real accelerator does while its neurons
    update.
    """
    def __init__(self, n_inputs, n_classes, count_bits, *, pause=0):
        self.n_classes = n_classes
        self.pause = pause
        super().__init__({
            "i_events": In(stream.Signature(EventLayout(n_inputs))),
            "o_result": Out(stream.Signature(ResultLayout(n_classes, count_bits))),
            "o_spikes": Out(stream.Signature(EventLayout(n_classes))),
        })

    def elaborate(self, platform):
        m = Module()
        event = self.i_events.payload
        result = self.o_result.payload
        counts = [Signal.like(result.counts[k], name=f"count_{k}")
                  for k in range(self.n_classes)]
        top = (1 << len(counts[0])) - 1

        busy = Signal(range(self.pause + 1))
        with m.If(busy != 0):
            m.d.sync += busy.eq(busy - 1)
        m.d.comb += self.i_events.ready.eq(~self.o_result.valid & ~self.o_spikes.valid
                                           & (busy == 0))
        with m.If(self.o_result.ready):
            m.d.sync += self.o_result.valid.eq(0)
        with m.If(self.o_spikes.ready):
            m.d.sync += self.o_spikes.valid.eq(0)

        with m.If(self.i_events.valid & self.i_events.ready):
            with m.If(~event.eos):
                bucket = event.index % self.n_classes
                for k, count in enumerate(counts):
                    with m.If((bucket == k) & (count != top)):
                        m.d.sync += count.eq(count + 1)
                m.d.sync += [
                    self.o_spikes.payload.index.eq(bucket),
                    self.o_spikes.valid.eq(1),
                ]
            with m.Else():
                m.d.sync += busy.eq(self.pause)
            with m.If(event.eos & event.last):
                best = 0
                best_count = counts[0]
                for k in range(1, self.n_classes):
                    better = counts[k] > best_count
                    best = better.as_unsigned() * k + (~better).as_unsigned() * best
                    best_count = better.as_unsigned() * counts[k] + \
                        (~better).as_unsigned() * best_count
                m.d.sync += result.cls.eq(best)
                for k, count in enumerate(counts):
                    m.d.sync += [result.counts[k].eq(count), count.eq(0)]
                m.d.sync += self.o_result.valid.eq(1)
        return m


def expected_result(spikes, n_classes, count_bits):
    """What :class:`CountingAccel` answers for ``spikes`` (steps, inputs)."""
    counts = [0] * n_classes
    for index in np.nonzero(spikes)[1]:
        counts[index % n_classes] += 1
    counts = [min(c, (1 << count_bits) - 1) for c in counts]
    return counts.index(max(counts)), counts


def line_levels(data, divisor, *, idle=5):
    """The serial line, one level per clock cycle, carrying ``data`` back to back (8N1)."""
    levels = [1] * idle
    for byte in data:
        for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
            levels += [bit] * divisor
    return levels


def decode_line(levels, divisor):
    """Bytes on a serial line, sampled at bit centres."""
    data, cycle = [], 0
    while cycle < len(levels):
        if levels[cycle]:
            cycle += 1
            continue
        bits = [levels[cycle + k * divisor + divisor // 2] for k in range(10)]
        assert bits[0] == 0 and bits[9] == 1
        data.append(sum(bit << i for i, bit in enumerate(bits[1:9])))
        cycle += 10 * divisor
    return bytes(data)
