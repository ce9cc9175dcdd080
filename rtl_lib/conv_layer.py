"""An event-driven 2-D convolution layer of LIF or current-based LIF neurons."""
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .conv_plan import ConvPlan
from .cuba_lif import CubaLIFLane
from .event import EventGroupLayout, EventLayout
from .lif import LIFLane
from .neuron_state import lane_start, pack
from .spike_serializer import SpikeSerializer, chunk_flags
from .stream_register import StreamRegister


__all__ = ["ConvLayer"]


class ConvLayer(wiring.Component):
    """Event-driven convolution: each input spike updates only the output neurons whose
    receptive field holds it.

    Input events ``(y, x, c)`` (channels-last flat indices, see
    :mod:`rtl_lib.conv_geometry`) are decoded without a divider (multiplications by exact
    reciprocals, :func:`~rtl_lib.conv_plan.reciprocal`), then a sequencer walks each event's
    row taps × column taps × groups, one per cycle (an event with no tap takes one cycle):
    tap tables hold the precomputed parts of the state address and the weight row, so the
    addresses are two sums. An op reads one weight row of ``P`` lanes (output channels
    ``g * P ..``) and adds it to one state word of ``P`` membranes (synaptic currents), with
    one saturating add per neuron as :mod:`spikegen.reference` defines. The end-of-step token
    runs the end-of-step update (:class:`~rtl_lib.lif.LIFLane`,
    :class:`~rtl_lib.cuba_lif.CubaLIFLane`) over every state word in order; the state is
    kept in max-pooling window order (:class:`~rtl_lib.conv_plan.ConvPlan`), so each
    ``out_pool²`` consecutive words OR into one pooled spike word, queued for the dense
    layer's :class:`~rtl_lib.spike_serializer.SpikeSerializer`.

    With a max pooling of currents (``current_pool`` = ``q`` > 1) the ops add into a current
    buffer of the convolution's size (block RAM, ``P`` lanes of ``acc_bits``) instead of the
    state, through the same pipeline and forwarding. The end-of-step pass then walks the
    buffer: for each state word it reads the ``q²`` buffer words of its window in turn,
    clears them for the next step and keeps the largest current of each lane; the state
    word (read alongside) takes that largest current with one saturating add (stage "x",
    registered), then the end-of-step update (stage "w"), and is written back a stage
    later, from flip-flops; the spikes leave from stage "w".

    Pipeline: five decoder stages; the sequencer; tap tables read (registered); address sums
    (registered); weight ROM and state addressed; weight row and state word registered out
    of block RAM; execute; write back. An op's state read comes before the writes of the
    three ops ahead of it: they are forwarded from the execute and write-back stages and
    from a register of the last write, so no op waits for another
    (the end-of-step pass ends with one idle cycle: see :meth:`_fetch`).

    Parameters
    ----------
    weight : 4-D array of int, shape (C_out, C_in, KH, KW)
        Signed weights of ``weight_bits`` bits.
    bias : array of int, shape (C_out,), or None
        Added to each neuron's membrane (synaptic current) once per step, in its LSBs.
    params : LIFParams or CubaLIFParams
    weight_bits : int
    geometry : ConvGeometry
    lanes : int or None
        Output channels updated per cycle (default: all); must divide ``C_out``.
    out_events : int
        Output events per beat (1 or 2).

    Members
    -------
    i_events : In(stream.Signature(EventLayout(inputs)))
        Input spike events and end-of-step tokens.
    o_events : Out(stream.Signature(EventLayout(outputs)))
        Output spike events of the (max-pooled) map and end-of-step tokens;
        ``EventGroupLayout(outputs, 2)`` with ``out_events`` = 2.
    """
    def __init__(self, weight, bias, params, weight_bits, geometry, lanes=None, *,
                 out_events=1):
        weight = np.asarray(weight)
        if (weight.ndim != 4 or not np.issubdtype(weight.dtype, np.number)
                or not np.array_equal(weight, np.round(weight))):
            raise TypeError("Weight must be a 4-D integer array (out channels, in channels, "
                            "kernel rows, kernel columns)")
        if lanes is None:
            lanes = getattr(geometry, "out_channels", None)
        #: Every hardware fact of the layer (:class:`~rtl_lib.conv_plan.ConvPlan`).
        self.plan = ConvPlan(geometry=geometry, lanes=lanes, weight_bits=weight_bits,
                             params=params, bias=bias is not None, out_events=out_events)
        g = geometry
        shape = (g.out_channels, g.in_channels, *g.kernel)
        if weight.shape != shape:
            raise ValueError(f"Weight must have shape {shape}, not {weight.shape}")
        lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
        if weight.size and (weight.min() < lo or weight.max() > hi):
            raise ValueError(f"Weights must fit {weight_bits} signed bits")
        if bias is not None:
            bias = [int(b) for b in bias]
            if len(bias) != g.out_channels:
                raise ValueError(f"Bias must have {g.out_channels} entries, not {len(bias)}")
            top = 1 << (params.acc_bits - 1)
            if any(not -top <= b < top for b in bias):
                raise ValueError(f"Biases must fit {params.acc_bits} signed bits (the state "
                                 f"the events accumulate into)")
        self.weight, self.bias = weight.astype(np.int64), bias
        plan = self.plan
        #: Weight ROM (see :meth:`weight_image`).
        self.weights = memory.Memory(shape=plan.weight_width, depth=plan.weight_depth,
                                     init=self.weight_image(),
                                     attrs={"ram_style": plan.weight_style})
        #: Neuron state: word order in :class:`~rtl_lib.conv_plan.ConvPlan`; lane ``j`` holds
        #: the fields of :meth:`ConvPlan.state_fields` (membrane at the start of the next
        #: step and reset flag, or membrane and synaptic current), LSB first.
        self.state = memory.Memory(shape=plan.lanes * plan.lane_state_bits,
                                   depth=plan.state_depth, init=self.state_image())
        #: Current buffer of a max pooling of currents (else ``None``): word order in
        #: :class:`~rtl_lib.conv_plan.ConvPlan`, lane ``j`` the ``acc_bits`` current of
        #: channel ``g * P + j``, zero between steps.
        self.currents = memory.Memory(shape=plan.lanes * params.acc_bits,
                                      depth=plan.buffer_depth, init=[]) \
            if plan.pooled_currents else None
        super().__init__({
            "i_events": In(stream.Signature(EventLayout(plan.inputs))),
            "o_events": Out(stream.Signature(
                EventLayout(plan.outputs) if out_events == 1
                else EventGroupLayout(plan.outputs, out_events))),
        })

    # -- the plan's facts, by name ------------------------------------------------------------

    inputs = property(lambda self: self.plan.inputs)
    outputs = property(lambda self: self.plan.outputs)
    lanes = property(lambda self: self.plan.lanes)
    groups = property(lambda self: self.plan.groups)
    params = property(lambda self: self.plan.params)
    weight_bits = property(lambda self: self.plan.weight_bits)
    geometry = property(lambda self: self.plan.geometry)
    out_events = property(lambda self: self.plan.out_events)
    cuba = property(lambda self: self.plan.cuba)
    lane_state_bits = property(lambda self: self.plan.lane_state_bits)

    # -- memory images ------------------------------------------------------------------------

    def weight_image(self):
        """Weight ROM words: row :meth:`ConvPlan.weight_row` ``(ky, kx, c, g)`` holds
        ``weight[g * P + j, c, ky, kx]`` in lane ``j`` (bits ``[j * wb, (j + 1) * wb)``)."""
        g, P = self.geometry, self.lanes
        image = [0] * self.plan.weight_depth
        for ky in range(g.kernel[0]):
            for kx in range(g.kernel[1]):
                for c in range(g.in_channels):
                    for grp in range(self.groups):
                        lanes = self.weight[grp * P:(grp + 1) * P, c, ky, kx]
                        image[self.plan.weight_row(ky, kx, c, grp)] = pack(lanes,
                                                                           self.weight_bits)
        return image

    def group_bias(self, group):
        return [0 if self.bias is None else self.bias[group * self.lanes + j]
                for j in range(self.lanes)]

    def rest_words(self):
        """Per group, the state word of its channels' neurons at rest."""
        return [pack([lane_start(self.params, b) for b in self.group_bias(grp)],
                     self.lane_state_bits) for grp in range(self.groups)]

    def state_image(self):
        """Every word of group ``g`` starts as :meth:`rest_words` ``[g]``."""
        words = self.rest_words()
        window = self.plan.window
        return [words[(w // window) % self.groups] for w in range(self.plan.state_depth)]

    def bias_image(self):
        return [pack(self.group_bias(grp), self.params.acc_bits) for grp in range(self.groups)]

    # -- hardware -----------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        mem = self._memories(m)
        event = self._decode(m)
        op = self._sequence(m, mem, event)
        pipe = self._fetch(m, mem, op)
        spikes = self._execute(m, mem, pipe)
        self._serialize(m, mem, pipe.neuron, spikes)
        return m

    def _memories(self, m):
        """Weight ROM, state memory, bias ROM (several groups), tap tables, and the queue of
        output spike words."""
        plan, P = self.plan, self.lanes
        mem = SimpleNamespace()
        m.submodules.weights = self.weights
        mem.w_rd = self.weights.read_port()
        m.submodules.state = self.state
        mem.s_wr = self.state.write_port()
        # the memory the events add into: the current buffer, else the state. Its read port
        # is not transparent: :meth:`_fetch` forwards the write of the read's cycle itself
        if self.currents is not None:
            mem.s_rd = self.state.read_port(transparent_for=(mem.s_wr,))
            m.submodules.currents = self.currents
            mem.t_wr = self.currents.write_port()
            mem.t_rd = self.currents.read_port()
        else:
            mem.s_rd = self.state.read_port()
            mem.t_wr, mem.t_rd = mem.s_wr, mem.s_rd
        if self.bias is not None and self.groups > 1:
            m.submodules.biases = biases = memory.Memory(
                shape=P * self.params.acc_bits, depth=self.groups, init=self.bias_image())
            mem.b_rd = biases.read_port()
        else:
            mem.b_rd = None
        # tap tables: small, read every cycle, in LUTs
        bits = plan.tap_entry_bits
        for name, image in (("rows", plan.row_table()), ("columns", plan.column_table())):
            m.submodules[name] = table = memory.Memory(shape=bits, depth=len(image), init=image,
                                                       attrs={"ram_style": "logic"})
            setattr(mem, name, table.read_port())
        mem.row_rd, mem.col_rd = mem.rows, mem.columns
        m.submodules.words = mem.words = fifo.SyncFIFO(width=plan.word_layout.size,
                                                       depth=plan.words_depth)
        return mem

    def _decode(self, m):
        """Five stages from an input token to ``(y, x, c)`` and its tap counts: the token;
        products by the reciprocals of ``W * C`` and ``C``; the quotients times the divisors;
        the remainders; the tap counts from tables and ``c * G``. The stages advance together
        (``advance``) when the sequencer takes the last stage's token or that stage is
        empty."""
        g, plan = self.geometry, self.plan
        H, W, C = *g.in_hw, g.in_channels
        token = self.i_events.payload
        iw = len(token.index)
        (my, sy), (mp, sp) = plan.row_divider, plan.position_divider
        advance = Signal()
        ev = SimpleNamespace(advance=advance)
        m.d.comb += self.i_events.ready.eq(advance)

        # stage 0: the token, registered (it may come from a block RAM's slow output)
        d0_valid, d0_eos, d0_last = Signal(), Signal(), Signal()
        d0_index = Signal(iw)
        # stage 1: products
        d1_valid, d1_eos, d1_last = Signal(), Signal(), Signal()
        d1_index = Signal(iw)
        d1_py = Signal(iw + my.bit_length())
        d1_pp = Signal(iw + mp.bit_length())
        # stage 2: quotients and their products by the divisors
        d2_valid, d2_eos, d2_last = Signal(), Signal(), Signal()
        d2_index = Signal(iw)
        d2_y, d2_pos = Signal(range(H)), Signal(range(H * W))
        d2_yw, d2_pc = Signal(iw), Signal(iw)
        # stage 3: remainders
        d3_valid, d3_eos, d3_last = Signal(), Signal(), Signal()
        d3_y, d3_x, d3_c = Signal(range(H)), Signal(range(W)), Signal(range(C))
        # stage 4: tap counts (stored as last tap numbers) and the channel's weight row part
        ev.valid, ev.eos, ev.last = Signal(), Signal(), Signal()
        ev.y, ev.x = Signal(range(H)), Signal(range(W))
        ev.row_last = Signal(range(max(2, plan.row_slots)))
        ev.col_last = Signal(range(max(2, plan.column_slots)))
        ev.empty = Signal()
        ev.cbase = Signal(plan.weight_address_bits)

        rows = [len(g.row_taps(y)) for y in range(H)]
        cols = [len(g.col_taps(x)) for x in range(W)]

        def table(values, index, width):
            return Array(Const(v, width) for v in values)[index]

        rb, cb = len(ev.row_last), len(ev.col_last)
        with m.If(advance):
            m.d.sync += [
                d0_valid.eq(self.i_events.valid), d0_eos.eq(token.eos),
                d0_last.eq(token.last), d0_index.eq(token.index),
                d1_valid.eq(d0_valid), d1_eos.eq(d0_eos), d1_last.eq(d0_last),
                d1_index.eq(d0_index), d1_py.eq(d0_index * my), d1_pp.eq(d0_index * mp),
                d2_valid.eq(d1_valid), d2_eos.eq(d1_eos), d2_last.eq(d1_last),
                d2_index.eq(d1_index), d2_y.eq(d1_py >> sy), d2_pos.eq(d1_pp >> sp),
                d2_yw.eq((d1_py >> sy) * W), d2_pc.eq((d1_pp >> sp) * C),
                d3_valid.eq(d2_valid), d3_eos.eq(d2_eos), d3_last.eq(d2_last),
                d3_y.eq(d2_y), d3_x.eq(d2_pos - d2_yw), d3_c.eq(d2_index - d2_pc),
                ev.valid.eq(d3_valid), ev.eos.eq(d3_eos), ev.last.eq(d3_last),
                ev.y.eq(d3_y), ev.x.eq(d3_x),
                ev.row_last.eq(table([max(0, n - 1) for n in rows], d3_y, rb)),
                ev.col_last.eq(table([max(0, n - 1) for n in cols], d3_x, cb)),
                ev.empty.eq(table([int(n == 0) for n in rows], d3_y, 1)
                            | table([int(n == 0) for n in cols], d3_x, 1)),
                ev.cbase.eq(d3_c * self.groups),
            ]
        return ev

    def _sequence(self, m, mem, ev):
        """The sequencer: one op per cycle, each tap × group of the event it holds, or each
        state word of the end-of-step pass; the tap tables are read at its counters."""
        plan, G, k2, q2 = self.plan, self.groups, self.plan.window, self.plan.current_window
        N = plan.target_depth
        end = N + plan.pass_idle - 1                     # the pass's last (idle) cycle
        busy, eos, last = Signal(), Signal(), Signal()
        y, x = Signal.like(ev.y), Signal.like(ev.x)
        row_last, col_last = Signal.like(ev.row_last), Signal.like(ev.col_last)
        empty = Signal()
        cbase = Signal.like(ev.cbase)
        rt, ct = Signal.like(ev.row_last), Signal.like(ev.col_last)
        group = Signal(range(G)) if G > 1 else Const(0, 1)
        cg = Signal(plan.weight_address_bits)            # c * G + group
        gk = Signal(plan.state_address_bits)             # group * k²
        word = Signal(range(end + 1))                    # the pass's state word
        win = Signal(range(k2)) if k2 > 1 else Const(0, 1)
        credits = Signal(range(plan.words_depth + 1), init=plan.words_depth)

        win_last = win == k2 - 1
        if q2 > 1:
            # the pass's buffer word within its state word's window, and that state word
            cwin = Signal(range(q2))
            nword = Signal(range(plan.state_depth))
            cwin_last = cwin == q2 - 1
            win_last = win_last & cwin_last
        group_last = group == G - 1
        # the pass ends with an idle cycle: no op then reads a word in the cycle after its
        # end-of-step update, which is thus never forwarded (see _fetch)
        passing = eos & (word != N) if end == N else eos & (word < N)
        stall = busy & passing & win_last & (credits == 0)
        tap_done = empty | (group_last & (ct == col_last) & (rt == row_last))
        done = Mux(eos, word == end, tap_done) & ~stall
        load = ~busy | done
        m.d.comb += ev.advance.eq(~ev.valid | load)
        issue = busy & ~stall
        emit_word = issue & passing & win_last

        # a word taken by the serializer is counted a cycle later, from a register (its
        # decision does not also cross the die to this counter); credits are then
        # underestimated for a cycle, never overestimated
        pop = Signal()
        m.d.sync += [pop.eq(mem.words.r_en & mem.words.r_rdy),
                     credits.eq(credits - emit_word + pop)]

        m.d.comb += [mem.row_rd.addr.eq(Cat(rt, y) if plan.row_slots > 1 else y),
                     mem.col_rd.addr.eq(Cat(ct, x) if plan.column_slots > 1 else x)]

        with m.If(load):
            m.d.sync += [busy.eq(ev.valid), eos.eq(ev.eos), last.eq(ev.last), y.eq(ev.y),
                         x.eq(ev.x), row_last.eq(ev.row_last), col_last.eq(ev.col_last),
                         empty.eq(ev.empty), cbase.eq(ev.cbase), cg.eq(ev.cbase), gk.eq(0),
                         rt.eq(0), ct.eq(0), word.eq(0)]
            if q2 > 1:
                m.d.sync += [cwin.eq(0), nword.eq(0)]
            if G > 1:
                m.d.sync += group.eq(0)
            if k2 > 1:
                m.d.sync += win.eq(0)
        with m.Elif(issue & eos):
            m.d.sync += word.eq(word + 1)
            if q2 > 1:
                m.d.sync += cwin.eq(Mux(cwin_last, 0, cwin + 1))
                with m.If(cwin_last):
                    m.d.sync += nword.eq(nword + 1)
                    if k2 > 1:
                        m.d.sync += win.eq(Mux(win_last, 0, win + 1))
                    if G > 1:
                        with m.If(win_last):
                            m.d.sync += group.eq(Mux(group_last, 0, group + 1))
            else:
                if k2 > 1:
                    m.d.sync += win.eq(Mux(win_last, 0, win + 1))
                if G > 1:
                    with m.If(win_last):
                        m.d.sync += group.eq(Mux(group_last, 0, group + 1))
        with m.Elif(issue):
            with m.If(group_last):
                m.d.sync += [cg.eq(cbase), gk.eq(0)]
                if G > 1:
                    m.d.sync += group.eq(0)
                with m.If(ct == col_last):
                    m.d.sync += [ct.eq(0), rt.eq(rt + 1)]
                with m.Else():
                    m.d.sync += ct.eq(ct + 1)
            with m.Else():
                m.d.sync += [cg.eq(cg + 1), gk.eq(gk + plan.group_stride)]
                if G > 1:
                    m.d.sync += group.eq(group + 1)

        # stage "taps": the tap tables' entries arrive, with the op's own fields
        op = SimpleNamespace()
        op.valid, op.step, op.last = Signal(), Signal(), Signal()
        op.final, op.win_first, op.win_last = Signal(), Signal(), Signal()
        op.group, op.cg, op.gk = Signal.like(group), Signal.like(cg), Signal.like(gk)
        op.word = Signal.like(word)
        m.d.sync += [
            op.valid.eq(issue & Mux(eos, passing, ~empty)), op.step.eq(eos), op.last.eq(last),
            op.final.eq(word == N - 1), op.win_first.eq(win == 0), op.win_last.eq(win_last),
            op.group.eq(group), op.cg.eq(cg), op.gk.eq(gk), op.word.eq(word),
        ]
        if q2 > 1:
            op.cwin_first, op.cwin_last = Signal(), Signal()
            op.nword = Signal.like(nword)
            m.d.sync += [op.cwin_first.eq(cwin == 0), op.cwin_last.eq(cwin_last),
                         op.nword.eq(nword)]
        return op

    def _fetch(self, m, mem, op):
        """The address sums (stage "a", registered), then stage "f" addresses the weight ROM
        and the state, stage "g" registers the weight row and the state word in the fabric
        (block RAM outputs are slow and far), and reads the bias; stage "x" executes, stage
        "w" writes back from flip-flops.

        The state word of an op is read before the three ops ahead of it are written: stage
        "g" takes their results instead (from "x", from "w", and a register of the write of
        the read's cycle) when they address the same word, chosen by flags computed in
        stage "f". Only
        integrate ops are forwarded from "x" (an end-of-step update is never followed by an
        op on its word in the next cycle), so the long end-of-step arithmetic ends at the
        write-back register rather than looping through the forwarding multiplexer.

        With a max pooling of currents, all this addresses the current buffer (an op of the
        pass clears its word), and the pass's ops address their state word too: read at
        stage "f", it joins the window's largest current in stage "x", takes the end-of-step
        update in stage "w" and is written back from stage "v". Only the next pass reads a
        state word again: stage "v" forwards it to a pass onto a single state word, whose
        idle cycles (:attr:`ConvPlan.pass_idle`) cover the rest."""
        plan, sab = self.plan, self.plan.state_address_bits
        pooled = plan.pooled_currents
        row, col = mem.row_rd.data, mem.col_rd.data
        names = ("valid", "step", "last", "final", "win_first", "win_last", "group")
        if pooled:
            names += ("cwin_first", "cwin_last", "nword")

        def stage(prefix, before, extra=()):
            after = SimpleNamespace(**{name: Signal.like(getattr(before, name),
                                                         name=f"{prefix}_{name}")
                                       for name in names + tuple(extra)})
            m.d.sync += [getattr(after, name).eq(getattr(before, name)) for name in vars(after)]
            return after

        a = stage("a", op)
        a.waddr = Signal(plan.weight_address_bits)
        a.saddr = Signal(sab)
        m.d.sync += [
            a.waddr.eq(row[sab:] + col[sab:] + op.cg),
            a.saddr.eq(Mux(op.step, op.word, row[:sab] + col[:sab] + op.gk)),
        ]
        f = stage("f", a, ("waddr", "saddr"))
        m.d.comb += [mem.w_rd.addr.eq(f.waddr), mem.t_rd.addr.eq(f.saddr)]
        if pooled:
            m.d.comb += mem.s_rd.addr.eq(f.nword)
        g = stage("g", f, ("saddr",))
        if mem.b_rd is not None and not pooled:
            m.d.comb += mem.b_rd.addr.eq(g.group)
        x = stage("x", g, ("saddr",))
        x.row = Signal(plan.weight_width)
        width = len(mem.t_rd.data)
        if pooled:
            x.state, x.integrated = Signal(width), Signal(width)
        else:
            x.state, x.stepped, x.integrated = Signal(width), Signal(width), Signal(width)
        # stage "w" writes the result back, from flip-flops: both lane results are registered
        # and chosen there, with the state at rest that restarts an inference after its last
        # step (a constant of the group), so the end-of-step arithmetic ends at a register
        words = self.rest_words()
        if not pooled:
            w = stage("w", x, ("saddr",))
            w.stepped, w.integrated = Signal(width), Signal(width)
            m.d.sync += [w.stepped.eq(x.stepped), w.integrated.eq(x.integrated)]
            rest = Const(words[0], width) if self.groups == 1 else \
                Array(Const(word, width) for word in words)[w.group]
            result = Signal(width)
            m.d.comb += [
                result.eq(Mux(w.step, Mux(w.last, rest, w.stepped), w.integrated)),
                mem.s_wr.addr.eq(w.saddr), mem.s_wr.data.eq(result), mem.s_wr.en.eq(w.valid),
            ]
            x.neuron = x
        else:
            if mem.b_rd is not None:
                m.d.comb += mem.b_rd.addr.eq(x.group)
            state_width = len(mem.s_rd.data)
            x.nstate, x.joined = Signal(state_width), Signal(state_width)
            w = stage("w", x, ("saddr",))
            w.integrated, w.joined = Signal(width), Signal(state_width)
            w.stepped = Signal(state_width)
            m.d.sync += [w.integrated.eq(x.integrated), w.joined.eq(x.joined)]
            # the pass clears the buffer for the next step
            result = Signal(width)
            m.d.comb += [
                result.eq(Mux(w.step, 0, w.integrated)),
                mem.t_wr.addr.eq(w.saddr), mem.t_wr.data.eq(result), mem.t_wr.en.eq(w.valid),
            ]
            # stage "v" writes the state back from flip-flops, choosing there the state at
            # rest that restarts an inference after its last step
            v = stage("v", w)
            v.stepped = Signal(state_width)
            m.d.sync += v.stepped.eq(w.stepped)
            rest = Const(words[0], state_width) if self.groups == 1 else \
                Array(Const(word, state_width) for word in words)[v.group]
            v_valid, v_addr = Signal(name="v_write"), v.nword
            v_state = Signal(state_width, name="v_state")
            m.d.comb += [v_valid.eq(v.valid & v.step & v.cwin_last),
                         v_state.eq(Mux(v.last, rest, v.stepped)),
                         mem.s_wr.addr.eq(v_addr), mem.s_wr.data.eq(v_state),
                         mem.s_wr.en.eq(v_valid)]
            # the state word from the write-back register when it is the word being read
            # (a pass right after a pass onto one state word): a register of the fabric after
            # the block RAM, as for the buffer's word
            m.d.sync += x.nstate.eq(Mux(v_valid & (v_addr == g.nword), v_state,
                                        mem.s_rd.data))
            x.neuron = w
        # The word of the op in "g" is the word read, or the result of one of the three ops
        # ahead of it: in "x", in "w", or the write of the cycle of its read, kept in a
        # register (the read port is not transparent: Yosys would build its bypass after
        # the block RAM's slow output). Which one is known a cycle early, in "f", and
        # registered: after the block RAM's output comes a single multiplexer.
        wrote = Signal(width)
        m.d.sync += wrote.eq(result)
        ahead_in_g = g.valid & ~g.step & (g.saddr == f.saddr)       # then in "x"
        ahead_in_x = x.valid & (x.saddr == f.saddr)                 # then in "w"
        ahead_in_w = w.valid & (w.saddr == f.saddr)                 # written meanwhile
        from_x, from_w, read = Signal(), Signal(), Signal()
        m.d.sync += [from_x.eq(ahead_in_g), from_w.eq(ahead_in_x),
                     read.eq(~(ahead_in_g | ahead_in_x | ahead_in_w))]
        # (the forwarded word is kept a net of its own, so the block RAM's data meets only
        # the last multiplexer)
        forward = Signal(width, attrs={"keep": 1})
        m.d.comb += forward.eq(Mux(from_x, x.integrated, Mux(from_w, result, wrote)))
        m.d.sync += [x.row.eq(mem.w_rd.data), x.state.eq(Mux(read, mem.t_rd.data, forward))]
        return x

    def _execute(self, m, mem, x):
        """The lanes compute and write back; the step's spikes of the word (from stage "x",
        or "w" with a max pooling of currents)."""
        p, P = self.params, self.lanes
        mb, wb, sw, ab = p.mem_bits, self.weight_bits, self.lane_state_bits, p.acc_bits
        buffered = self.plan.pooled_currents
        neuron = x.neuron
        state = neuron.joined if buffered else x.state
        spikes = Signal(P)
        stepped, integrated, joined = [], [], []
        kind = CubaLIFLane if self.cuba else LIFLane
        second = (lambda lane: lane.syn_next) if self.cuba else (lambda lane: lane.r_next)
        maxima = Signal(P * ab)

        def feed(lane, op, word, weight):
            """A lane's inputs: the op, and the fields of one lane of a state word."""
            m.d.comb += [lane.op.eq(op), lane.last.eq(0), lane.mem.eq(word[:mb]),
                         lane.weight.eq(weight)]
            if self.cuba:
                m.d.comb += lane.syn.eq(word[mb:])
            else:
                m.d.comb += lane.r.eq(word[mb])

        for j in range(P):
            word = state[j * sw:(j + 1) * sw]
            weight = x.row[j * wb:(j + 1) * wb].as_signed()
            # a lane for the end-of-step update and one for integrating: the short integrate
            # path alone is forwarded to the next op (see _fetch)
            if self.groups == 1:
                step = kind(p, wb, bias=self.group_bias(0)[j])
            else:
                step = kind(p, wb)
                m.d.comb += step.bias.eq(0 if mem.b_rd is None
                                         else mem.b_rd.data[j * ab:(j + 1) * ab])
            add = kind(p, wb, bias=0)
            m.submodules[f"lane{j}"], m.submodules[f"add{j}"] = step, add
            if not buffered:
                for lane, op in ((step, 1), (add, 0)):
                    feed(lane, op, word, weight)
                stepped.append(Cat(step.mem_next, second(step)))
                integrated.append(Cat(add.mem_next, second(add)))
                m.d.comb += spikes[j].eq(step.spike)
                continue
            # the current buffer's lane: the event's weight added to its current
            current = x.state[j * ab:(j + 1) * ab]
            feed(step, 1, word, 0)
            # the current in the lane's accumulating field (the membrane, or the synaptic
            # current), the other field zero
            feed(add, 0, Cat(Const(0, mb), current) if self.cuba
                 else Cat(current, Const(0, 1)), weight)
            integrated.append(add.syn_next if self.cuba else add.mem_next)
            stepped.append(Cat(step.mem_next, second(step)))
            m.d.comb += spikes[j].eq(step.spike)
            # the window's largest current so far, joined to the neuron's state with one
            # saturating add (an integrate op of a lane taking currents unshifted). A
            # saturating add never decreases with its addend, so each word's current joins
            # the state in parallel with the comparison, and the larger's result is kept:
            # one carry chain on the path instead of two
            join = kind(replace(p, weight_shift=0), ab, bias=0)
            m.submodules[f"join{j}"] = join
            feed(join, 0, x.nstate[j * sw:(j + 1) * sw], current.as_signed())
            kept = maxima[j * ab:(j + 1) * ab].as_signed()
            kept_joined = Signal(sw, name=f"kept_joined{j}")
            larger = Signal(name=f"larger{j}")
            m.d.comb += larger.eq(x.cwin_first | (current.as_signed() > kept))
            best = Mux(larger, Cat(join.mem_next, second(join)), kept_joined)
            with m.If(x.valid & x.step):
                m.d.sync += [maxima[j * ab:(j + 1) * ab].eq(Mux(larger, current, kept)),
                             kept_joined.eq(best)]
            joined.append(best)
        m.d.comb += [neuron.stepped.eq(Cat(*stepped)), x.integrated.eq(Cat(*integrated))]
        if buffered:
            m.d.comb += x.joined.eq(Cat(*joined))
        if self.plan.window == 1:
            return spikes
        # max pooling: the OR of a window's words
        pooled, held = Signal(P), Signal(P)
        fire = neuron.valid & neuron.step & neuron.cwin_last if buffered else x.valid & x.step
        m.d.comb += pooled.eq(Mux(neuron.win_first, 0, held) | spikes)
        with m.If(fire):
            m.d.sync += held.eq(pooled)
        return pooled

    def _serialize(self, m, mem, x, spikes):
        """The window's spike word into the queue, then out as events."""
        plan, words = self.plan, mem.words
        out_word = Signal(range(plan.out_words)) if plan.out_words > 1 else Const(0, 1)
        write = x.valid & x.step & x.win_last
        if plan.out_words > 1:
            with m.If(write):
                m.d.sync += out_word.eq(Mux(x.final, 0, out_word + 1))
        # the word is registered where the lanes are, before the queue (the lanes' spikes
        # and the pooling OR end there); its chunk flags are computed after that register.
        # The sequencer counted the word's place in the queue when it issued the op
        spikes_q, write_q = Signal(len(spikes)), Signal()
        tail = Cat(out_word[:max(1, ceil_log2(plan.out_words))], x.final, x.last)
        tail_q = Signal(len(tail))
        m.d.sync += [spikes_q.eq(spikes), tail_q.eq(tail), write_q.eq(write)]
        m.d.comb += [
            words.w_data.eq(Cat(spikes_q, chunk_flags(spikes_q), tail_q)),
            words.w_en.eq(write_q),
        ]
        m.submodules.serializer = serializer = SpikeSerializer(
            plan.outputs, self.lanes, plan.out_words, self.out_events)
        # the queue holds a whole step: Yosys turns it and the first register after it into
        # block RAM with a registered read (slow: ~6 ns on ECP5), or LUT RAM with deep read
        # multiplexers; the second register gives the serializer (and its multiplication by
        # P) the head word from flip-flops of the fabric
        m.submodules.head = head = StreamRegister(plan.word_layout)
        m.submodules.head_fabric = head_fabric = StreamRegister(plan.word_layout)
        m.d.comb += [
            head.i.payload.eq(words.r_data),
            head.i.valid.eq(words.r_rdy),
            words.r_en.eq(head.i.ready),
        ]
        wiring.connect(m, head.o, head_fabric.i)
        wiring.connect(m, head_fabric.o, serializer.i_words)
        wiring.connect(m, serializer.o_events, wiring.flipped(self.o_events))
