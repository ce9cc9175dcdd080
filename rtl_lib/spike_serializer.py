"""Turning a layer's spike words into spike-event tokens, one or two per cycle."""
from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .event import EventGroupLayout, EventLayout, index_width


__all__ = ["SpikeWordLayout", "SpikeSerializer", "chunk_bits", "serializer_beats"]


#: Bits of the chunks the serializer scans (a power of two): small enough for a short
#: search inside a chunk, large enough that few chunks need a priority search over them.
CHUNK = 8


def chunk_bits(lanes):
    """Bits per scanned chunk for a word of ``lanes`` spikes."""
    return min(CHUNK, 1 << ceil_log2(lanes)) if lanes > 1 else 1


def serializer_beats(spikes, lanes, events):
    """Beats of spike events the serializer sends for ``spikes`` (..., neurons) of 0/1:
    per chunk, ``ceil(spikes / events)``; summed over the step's words (the end-of-step
    token not included). The cycle model of :mod:`spikegen.report` uses it."""
    import numpy as np

    spikes = np.asarray(spikes)
    n = spikes.shape[-1]
    groups = -(-n // lanes)
    c = chunk_bits(lanes)
    chunks = -(-lanes // c)
    padded = np.zeros(spikes.shape[:-1] + (groups * lanes,), dtype=np.int64)
    padded[..., :n] = spikes
    words = padded.reshape(spikes.shape[:-1] + (groups, lanes))
    wide = np.zeros(words.shape[:-1] + (chunks * c,), dtype=np.int64)
    wide[..., :lanes] = words
    counts = wide.reshape(words.shape[:-1] + (chunks, c)).sum(axis=-1)
    return (-(-counts // events)).sum(axis=(-1, -2))


class SpikeWordLayout(data.StructLayout):
    """A group's spikes after an end-of-step update: ``{bits[lanes], group, final, last}``.

    ``final`` marks the last group of the step (an end-of-step token follows its spikes);
    ``last`` marks the inference's last step.
    """
    def __init__(self, lanes, groups):
        self.lanes, self.groups = lanes, groups
        super().__init__({
            "bits": unsigned(lanes),
            "group": unsigned(max(1, ceil_log2(groups))),
            "final": unsigned(1),
            "last": unsigned(1),
        })


class SpikeSerializer(wiring.Component):
    """Emits the set bits of each spike word as spike events, in ascending neuron index.

    The word is scanned in chunks of ``CHUNK`` bits: the lowest chunk with a spike is
    selected, and its lowest one (``events`` = 1) or two (``events`` = 2) spikes leave in one
    beat, so a beat never waits for a search over the whole word. After the spikes of a
    ``final`` word, an end-of-step token. A beat of two events holds two consecutive spikes
    of the step; a chunk with one spike left gives a beat of one (the next layer pairs events
    by their position in the step, whatever the beats).

    Members
    -------
    i_words : In(stream.Signature(SpikeWordLayout(lanes, groups)))
    o_events : Out(stream.Signature(EventLayout(outputs)))
        Or ``EventGroupLayout(outputs, 2)`` with ``events`` = 2.
    """
    def __init__(self, outputs, lanes, groups, events=1):
        if events not in (1, 2):
            raise ValueError(f"Events per beat must be 1 or 2, not {events!r}")
        self.outputs, self.lanes, self.groups, self.events = outputs, lanes, groups, events
        out_layout = EventLayout(outputs) if events == 1 else EventGroupLayout(outputs, events)
        super().__init__({
            "i_words": In(stream.Signature(SpikeWordLayout(lanes, groups))),
            "o_events": Out(stream.Signature(out_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        P, E = self.lanes, self.events
        C = chunk_bits(P)
        K = -(-P // C)
        cb = ceil_log2(C)                  # bit position inside a chunk
        kb = max(1, ceil_log2(K))          # chunk number
        iw = index_width(self.outputs)

        cur_bits = Signal(K * C)
        cur_base = Signal(iw)
        cur_eos = Signal()
        cur_last = Signal()
        cur_valid = Signal()

        chunks = [cur_bits[c * C:(c + 1) * C] for c in range(K)]
        nonzero = Signal(K)
        m.d.comb += nonzero.eq(Cat(chunk.any() for chunk in chunks))
        has_bits = nonzero.any()
        # the lowest chunk with a spike (one-hot, then its number)
        first = Signal(K)
        m.d.comb += first.eq(nonzero & (~nonzero + 1))
        chunk_no = Signal(kb)
        for k in range(kb):
            m.d.comb += chunk_no[k].eq(Cat(first[c] for c in range(K) if (c >> k) & 1).any()
                                       if K > (1 << k) else 0)
        chunk = Signal(C)
        m.d.comb += chunk.eq(cur_bits.word_select(chunk_no, C) if K > 1 else cur_bits)

        def lowest(bits, name):
            """One-hot lowest set bit of ``bits`` and its position."""
            one_hot = Signal(C, name=f"{name}_hot")
            m.d.comb += one_hot.eq(bits & (~bits + 1))
            position = Signal(max(1, cb), name=f"{name}_pos")
            for k in range(cb):
                m.d.comb += position[k].eq(Cat(one_hot[j] for j in range(C) if (j >> k) & 1)
                                           .any() if C > (1 << k) else 0)
            return one_hot, position

        hot0, pos0 = lowest(chunk, "first")
        taken = hot0
        if E == 2:
            rest = Signal(C)
            m.d.comb += rest.eq(chunk & ~hot0)
            hot1, pos1 = lowest(rest, "second")
            two = rest.any()
            taken = hot0 | hot1

        out = self.o_events
        def index(position):
            local = Cat(position, chunk_no) if cb else chunk_no
            return local if self.groups == 1 else cur_base + local

        m.d.comb += [
            out.valid.eq(cur_valid & (has_bits | cur_eos)),
            out.payload.eos.eq(~has_bits),
            out.payload.last.eq(~has_bits & cur_last),
        ]
        if E == 1:
            m.d.comb += out.payload.index.eq(index(pos0))
        else:
            m.d.comb += [
                out.payload.index[0].eq(index(pos0)),
                out.payload.index[1].eq(index(pos1)),
                out.payload.count.eq(Cat(~two & has_bits, two)),
            ]
        transfer = out.valid & out.ready
        # spikes left after this beat: in later chunks, or in this chunk beyond those taken
        left = Signal()
        m.d.comb += left.eq((nonzero & ~first).any() | (chunk & ~taken).any())
        # the head word is finished by this transfer: its last beat of spikes (no end-of-step
        # token to follow) or its end-of-step token; a finished or empty head is refilled
        done = ~cur_valid | (transfer & ((has_bits & ~left & ~cur_eos) | ~has_bits))
        words = self.i_words
        m.d.comb += words.ready.eq(done)
        with m.If(transfer & has_bits):
            for c in range(K):
                with m.If(first[c]):
                    m.d.sync += chunks[c].eq(chunks[c] & ~taken)
        with m.If(done):
            m.d.sync += cur_valid.eq(words.valid)
            with m.If(words.valid):
                head = words.payload
                m.d.sync += [
                    cur_bits.eq(head.bits),
                    cur_base.eq(head.group * P if self.groups > 1 else Const(0, 1)),
                    cur_eos.eq(head.final),
                    cur_last.eq(head.last),
                ]
        return m
