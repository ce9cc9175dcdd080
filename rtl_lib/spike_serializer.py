"""Turning a layer's spike words into spike-event tokens, one or two per cycle."""
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .event import EventGroupLayout, EventLayout, index_width
from .stream_register import StreamRegister


__all__ = ["SpikeWordLayout", "SpikeSerializer", "chunk_bits", "chunk_flags",
           "serializer_beats"]


#: Bits of the chunks the serializer scans (a power of two): small enough for a short
#: search inside a chunk, large enough that few chunks need a priority search over them.
CHUNK = 8


def chunk_bits(lanes):
    """Bits per scanned chunk for a word of ``lanes`` spikes."""
    return min(CHUNK, 1 << ceil_log2(lanes)) if lanes > 1 else 1


def chunk_flags(bits):
    """Per chunk of ``bits`` (a value of :func:`chunk_bits` ``(len(bits))`` bits per chunk),
    whether it has a set bit: the ``nonzero`` field of :class:`SpikeWordLayout`."""
    c = chunk_bits(len(bits))
    return Cat(bits[k:k + c].any() for k in range(0, len(bits), c))


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


def _table(m, bits, function, width, name):
    """``function`` (an int of ``len(bits)`` bits -> an int of ``width`` bits) as a table
    indexed by ``bits``: logic of a few LUT levels, no carry chain."""
    out = Signal(width, name=name)
    table = Array(Const(function(v), width) for v in range(1 << len(bits)))
    m.d.comb += out.eq(table[bits])
    return out


def _at_most(m, bits, count):
    """Whether ``bits`` has at most ``count`` set bits: nibble popcounts from 16-entry tables,
    then one table of their sum; a few LUT levels and no carry chain."""
    nibbles = [bits[k:k + 4] for k in range(0, len(bits), 4)]
    counts = []
    for nibble in nibbles:
        table = Array(Const(bin(v).count("1"), 3) for v in range(1 << len(nibble)))
        counts.append(table[nibble])
    if len(counts) == 1:
        return counts[0] <= count
    assert len(counts) == 2, "chunks are at most 8 bits"
    few = Signal(name="few_left")
    table = Array(Const(int(a + b <= count), 1) for b in range(8) for a in range(8))
    m.d.comb += few.eq(table[Cat(counts[0], counts[1])])
    return few


class SpikeWordLayout(data.StructLayout):
    """A group's spikes after an end-of-step update:
    ``{bits[lanes], nonzero[chunks], group, final, last}``.

    ``nonzero`` has a bit per chunk of :func:`chunk_bits` spikes, set when the chunk has a
    spike (:func:`chunk_flags` computes it where the word is made, so the serializer's search
    starts from a few stored bits instead of an OR over the whole word); ``final`` marks the
    last group of the step (an end-of-step token follows its spikes); ``last`` marks the
    inference's last step.
    """
    def __init__(self, lanes, groups):
        self.lanes, self.groups = lanes, groups
        super().__init__({
            "bits": unsigned(lanes),
            "nonzero": unsigned(-(-lanes // chunk_bits(lanes))),
            "group": unsigned(max(1, ceil_log2(groups))),
            "final": unsigned(1),
            "last": unsigned(1),
        })


class SpikeSerializer(wiring.Component):
    """Emits the set bits of each spike word as spike events, in ascending neuron index.

    Short pipelined loops instead of one search over the whole word. The chunk picker keeps
    the word at the head of ``i_words`` (it is taken once its last chunk with a spike has
    been read out) and chooses the lowest chunk of ``CHUNK`` bits with a spike not yet
    chosen, one per cycle; a second stage reads the chosen chunk into a two-entry queue to
    the beat maker; the beat maker sends the chunk's lowest one
    (``events`` = 1) or two (``events`` = 2) spikes per beat. After the spikes of a
    ``final`` word, an end-of-step token. A beat of two events holds two consecutive spikes
    of the step; a chunk with one spike left gives a beat of one (the next layer pairs events
    by their position in the step, whatever the beats); beats leave through a register.
    Chunks follow each other without a bubble, so a step of ``n`` spikes in chunks ``c`` takes ``sum ceil(n_c / events)`` beats
    and its end-of-step token one more (:func:`serializer_beats`).

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
        words = self.i_words
        word = words.payload

        # -- chunk picker, stage 1: choose the lowest chunk with spikes not yet picked -------
        bits = Signal(K * C)
        m.d.comb += bits.eq(word.bits)
        nonzero = word.nonzero
        picked = Signal(K)                 # chunks of the head word already chosen
        pending = Signal(K)
        m.d.comb += pending.eq(nonzero & ~picked)
        first = Signal(K)
        m.d.comb += first.eq(pending & (~pending + 1))
        chunk_no = Signal(kb)
        for k in range(kb):
            m.d.comb += chunk_no[k].eq(Cat(first[c] for c in range(K) if (c >> k) & 1).any()
                                       if K > (1 << k) else 0)
        more = (pending & ~first).any()    # chunks left after this one

        # the choice, registered: stage 2 reads that chunk of the (still held) head word
        sel_valid, sel_eos, sel_pop = Signal(), Signal(), Signal()
        sel_first, sel_no = Signal(K), Signal(kb)
        # the index of the word's first lane, registered with the choice: ``group × lanes``
        # as shifted copies of the group summed (a multiplier by a constant would take a
        # DSP block, slow here)
        sel_word_base = Signal(iw)
        word_base = sum((word.group << k) for k in range(P.bit_length()) if (P >> k) & 1) \
            if self.groups > 1 else 0

        # the picked items (a chunk with spikes, or an end-of-step marker) wait in a queue of
        # two: the picker sees only its registered fill level, so no combinational path runs
        # from the beat maker back through the picker to the word FIFO
        item = data.StructLayout({"bits": C, "base": iw, "eos": 1, "last": 1})
        m.submodules.items = items = fifo.SyncFIFO(width=item.size, depth=2)
        sel_free = ~sel_valid | items.w_rdy
        # stage 1 waits while stage 2 still has to take the head word out of the queue
        choose = sel_free & ~(sel_valid & sel_pop) & words.valid
        with m.If(sel_free):
            m.d.sync += sel_valid.eq(0)
        with m.If(choose):
            with m.If(pending.any()):
                m.d.sync += [sel_valid.eq(1), sel_eos.eq(0), sel_first.eq(first),
                             sel_no.eq(chunk_no), sel_word_base.eq(word_base),
                             sel_pop.eq(~more & ~word.final),
                             picked.eq(Mux(~more & ~word.final, 0, picked | first))]
            with m.Elif(word.final):
                m.d.sync += [sel_valid.eq(1), sel_eos.eq(1), sel_pop.eq(1), picked.eq(0)]
            with m.Else():
                m.d.comb += words.ready.eq(1)              # a word without spikes

        # -- chunk picker, stage 2: the chosen chunk's bits into the queue --------------------
        chunk = Signal(C)
        m.d.comb += chunk.eq(Cat(
            Cat(sel_first[c] & bits[c * C + j] for c in range(K)).any() for j in range(C)))
        new = data.View(item, items.w_data)
        m.d.comb += [new.bits.eq(chunk), new.eos.eq(sel_eos), new.last.eq(word.last)]
        # the index of the chunk's first bit
        chunk_base = Cat(Const(0, cb), sel_no) if cb else sel_no
        m.d.comb += new.base.eq(chunk_base if self.groups == 1 else sel_word_base + chunk_base)
        with m.If(sel_valid & items.w_rdy):
            m.d.comb += items.w_en.eq(1)
            with m.If(sel_pop):
                m.d.comb += words.ready.eq(1)

        # -- beat maker: the lowest one or two spikes of the chunk per beat ------------------
        # Positions inside the chunk and the bits left after the beat come from tables of the
        # chunk's C bits (a few LUT levels, no carry chain); the item carries the index of the
        # chunk's first bit, so an event's index is that base and its position side by side
        # (or one short addition, when the lanes are not a multiple of the chunk).
        b_valid, b_eos, b_last = Signal(), Signal(), Signal()
        b_bits = Signal(C)
        b_base = Signal(iw)

        def set_bits(v):
            return [j for j in range(C) if (v >> j) & 1]

        def index(position):
            if not cb:
                return b_base
            if self.groups == 1 or P % C == 0:     # the base is a multiple of the chunk
                return Cat(position, b_base[cb:])
            return b_base + position

        # the beat leaves through a register: the consumer starts from flip-flops
        m.submodules.out_reg = out_reg = StreamRegister(self.o_events.payload.shape())
        wiring.connect(m, out_reg.o, wiring.flipped(self.o_events))
        out = out_reg.i
        m.d.comb += [
            out.valid.eq(b_valid),
            out.payload.eos.eq(b_eos),
            out.payload.last.eq(b_eos & b_last),
        ]
        pos0 = _table(m, b_bits, lambda v: (set_bits(v) + [0])[0], max(1, cb), "first_pos")
        if E == 1:
            m.d.comb += out.payload.index.eq(index(pos0))
        else:
            pos1 = _table(m, b_bits, lambda v: (set_bits(v) + [0, 0])[1], max(1, cb),
                          "second_pos")
            two = _table(m, b_bits, lambda v: int(len(set_bits(v)) >= 2), 1, "two")
            m.d.comb += [
                out.payload.index[0].eq(index(pos0)),
                out.payload.index[1].eq(index(pos1)),
                out.payload.count.eq(Mux(b_eos, 0, Cat(~two, two))),
            ]
        remaining = _table(m, b_bits, lambda v: sum(1 << j for j in set_bits(v)[E:]), C,
                           "remaining")
        transfer = out.valid & out.ready
        with m.If(transfer):
            m.d.sync += b_bits.eq(remaining)
        # the item is finished by this beat (an end-of-step token, or the chunk's last spikes:
        # at most ``events`` left, counted by small tables rather than after the searches)
        finished = b_eos | _at_most(m, b_bits, E)
        b_free = ~b_valid | (transfer & finished)
        head = data.View(item, items.r_data)
        m.d.comb += items.r_en.eq(b_free)
        with m.If(b_free):
            m.d.sync += b_valid.eq(items.r_rdy)
            with m.If(items.r_rdy):
                m.d.sync += [b_eos.eq(head.eos), b_last.eq(head.last), b_bits.eq(head.bits),
                             b_base.eq(head.base)]
        return m
