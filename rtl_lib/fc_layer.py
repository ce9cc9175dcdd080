"""An event-driven fully connected layer of LIF or current-based LIF neurons."""
from dataclasses import fields
from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .event import EventGroupLayout, EventLayout, ValueEventLayout
from .event_packer import EventPacker
from .cuba_lif import CubaLIFLane, CubaLIFParams
from .fc_plan import DISTRIBUTED_BITS, FCPlan
from .lif import DirectLIFLane, LIFLane, LIFParams
from .membrane_readout import membrane_argmax
from .neuron_state import pack, rest_state
from .recurrent import RecurrentEvents
from .spike_serializer import SpikeSerializer, chunk_flags


__all__ = ["FCLayer", "DISTRIBUTED_BITS"]


def _delayed(m, signal, cycles):
    """``signal`` through ``cycles`` registers."""
    for _ in range(cycles):
        q = Signal.like(signal)
        m.d.sync += q.eq(signal)
        signal = q
    return signal


def _neuron_params(params, outputs):
    """One :class:`LIFParams` (or :class:`CubaLIFParams`) per neuron, from one for the layer
    or a list of them."""
    kinds = (LIFParams, CubaLIFParams)
    if isinstance(params, kinds):
        return [params] * outputs
    given = params
    params = list(params) if isinstance(params, (list, tuple)) else []
    if not params or not all(type(q) is type(params[0]) and isinstance(q, kinds)
                             for q in params):
        raise TypeError(f"Neuron parameters must be LIFParams, CubaLIFParams or a list of "
                        f"one kind of them, not {given!r}")
    if len(params) != outputs:
        raise ValueError(f"Neuron parameters must have {outputs} entries, not {len(params)}")
    shared = [f.name for f in fields(params[0])
              if f.name not in ("threshold", "decay", "syn_decay")]
    if any(getattr(q, name) != getattr(params[0], name) for q in params for name in shared):
        raise ValueError("Per-neuron parameters may differ only in threshold and decays")
    return params


class FCLayer(wiring.Component):
    """Event-driven fully connected layer: each input spike reads one weight row.

    ``outputs`` neurons are updated ``lanes`` (P) at a time, in ``groups`` = ⌈N/P⌉ groups whose
    membranes and reset flags live in a memory of ``groups`` words of P lanes. An input spike
    event ``i`` reads weight rows ``i * groups + g`` (block RAM unless tiny) and adds
    them to group ``g``'s membranes, one group per cycle; the end-of-step token runs the
    end-of-step update (fire, reset, leak, bias; see :class:`~rtl_lib.lif.LIFLane`) over every
    group and emits the step's output spikes in ascending index, then an end-of-step token.
    A time step thus costs ``(input events + 1) * groups`` cycles when the output is not
    blocked. Output spikes wait in a queue of P-bit words so the layer can run a whole step
    ahead of its consumer.

    The pipeline has three stages (issue, fetch with a registered block RAM output, execute
    and write back); a read of the group being written returns the new value (transparent
    read port), so events need no stalls.

    With :class:`~rtl_lib.cuba_lif.CubaLIFParams` the events accumulate into each neuron's
    synaptic current instead (:class:`~rtl_lib.cuba_lif.CubaLIFLane`; the state is the
    membrane and the current). A recurrent layer appends its own spikes of the previous step
    to each step's input events (:class:`~rtl_lib.recurrent.RecurrentEvents`), reading weight
    rows ``(inputs + j) * groups + g``.

    Parameters
    ----------
    weight : 2-D array of int, shape (outputs, inputs)
        Signed weights of ``weight_bits`` bits.
    bias : array of int, shape (outputs,), or None
        Added to each membrane (synaptic current) once per step, in its LSBs.
    params : LIFParams or CubaLIFParams, or a list of one per neuron
        A list whose entries differ (per-neuron thresholds and decays) needs a fully parallel
        layer (``lanes`` = ``outputs``): each lane then has its own constants.
    weight_bits : int
    lanes : int or None
        Neurons updated per cycle (default: all).
    value_bits : int or None
        Input values of this width instead of spikes (``direct`` coding, LIF only).
    events, out_events : int
        Input events integrated per cycle (1 or 2) and output events per beat.
    recurrent : 2-D array of int, shape (outputs, outputs), or None
        Weights of the layer's own spikes of the previous step (``weight_bits`` bits).
    membrane_class : bool
        Report the largest final membrane of each inference on ``o_class``.

    Members
    -------
    i_events : In(stream.Signature(EventLayout(inputs)))
        Input spike events and end-of-step tokens.
    o_events : Out(stream.Signature(EventLayout(outputs)))
        Output spike events and end-of-step tokens.
    o_class : Out(stream.Signature(range(outputs)))
        With ``membrane_class``: per inference, the neuron with the largest membrane after
        the last step (the lowest index on a tie), offered once that step's end-of-step
        update is done; a membrane readout (leaky-integrator output layer).
    """
    def __init__(self, weight, bias, params, weight_bits, lanes=None, *, value_bits=None,
                 events=1, out_events=1, recurrent=None, membrane_class=False):
        rows = [[int(w) for w in row] for row in weight]
        if not rows or not rows[0] or any(len(row) != len(rows[0]) for row in rows):
            raise TypeError("Weight must be a non-empty 2-D matrix (outputs, inputs)")
        if recurrent is not None:
            recurrent = [[int(v) for v in row] for row in recurrent]
            if len(recurrent) != len(rows) or any(len(row) != len(rows) for row in recurrent):
                raise ValueError(f"Recurrent weights must be a {len(rows)}x{len(rows)} matrix")
        outputs, inputs = len(rows), len(rows[0])
        self.neuron_params = _neuron_params(params, outputs)
        params = self.neuron_params[0]
        if not isinstance(weight_bits, int) or weight_bits < 1:
            raise TypeError(f"Weight width must be a positive integer, not {weight_bits!r}")
        lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
        if any(not lo <= w <= hi for row in rows + (recurrent or []) for w in row):
            raise ValueError(f"Weights must fit {weight_bits} signed bits")
        if bias is not None:
            bias = [int(b) for b in bias]
            if len(bias) != outputs:
                raise ValueError(f"Bias must have {outputs} entries, not {len(bias)}")
            top = 1 << (params.acc_bits - 1)
            if any(not -top <= b < top for b in bias):
                raise ValueError(f"Biases must fit {params.acc_bits} signed bits (the state "
                                 f"the events accumulate into)")
        if lanes is None:
            lanes = outputs
        if not isinstance(lanes, int) or lanes < 1:
            raise TypeError(f"Lane count must be a positive integer, not {lanes!r}")
        #: Every hardware fact of the layer (:class:`~rtl_lib.fc_plan.FCPlan`).
        self.plan = FCPlan(inputs=inputs, outputs=outputs, lanes=min(lanes, outputs),
                           weight_bits=weight_bits, params=params,
                           uniform=all(q == params for q in self.neuron_params),
                           bias=bias is not None, recurrent=recurrent is not None,
                           value_bits=value_bits, events=events, out_events=out_events,
                           membrane_class=bool(membrane_class))
        self.weight, self.bias, self.recurrent = rows, bias, recurrent
        #: Weight ROM: see :meth:`weight_image`. Block RAM, except for a small memory (under
        #: ``DISTRIBUTED_BITS``), which would waste most of a block and goes to LUTs.
        self.weights = memory.Memory(shape=self.plan.weight_width, depth=self.plan.weight_depth,
                                     init=self.weight_image(),
                                     attrs={"ram_style": self.plan.weight_style})
        #: Neuron state, word ``g`` = group ``g``; lane ``j`` holds ``mem | r << mem_bits`` in
        #: bits ``[j * (mem_bits + 1), (j + 1) * (mem_bits + 1))``: between time steps, the
        #: membrane at the start of the next step and its reset flag. A memory of ``groups``
        #: words, or with one group (fully parallel) the register ``state_reg``.
        if self.plan.state_in_registers:
            self.state, self.state_reg = None, Signal(self.lanes * self.lane_state_bits,
                                                      init=self.state_image()[0])
        else:
            self.state = memory.Memory(shape=self.lanes * self.lane_state_bits,
                                       depth=self.groups, init=self.state_image())
            self.state_reg = None
        if value_bits is not None:
            in_layout = ValueEventLayout(inputs, value_bits)
        elif events > 1:
            in_layout = EventGroupLayout(inputs, events)
        else:
            in_layout = EventLayout(inputs)
        ports = {
            "i_events": In(stream.Signature(in_layout)),
            "o_events": Out(stream.Signature(
                EventLayout(outputs) if out_events == 1
                else EventGroupLayout(outputs, out_events))),
        }
        if self.membrane_class:
            ports["o_class"] = Out(stream.Signature(range(outputs)))
        super().__init__(ports)

    # -- the plan's facts, by name ------------------------------------------------------------

    inputs = property(lambda self: self.plan.inputs)
    outputs = property(lambda self: self.plan.outputs)
    lanes = property(lambda self: self.plan.lanes)
    groups = property(lambda self: self.plan.groups)
    rows = property(lambda self: self.plan.rows, doc="Weight rows per group (inputs, and "
                                                     "the layer's own neurons if recurrent).")
    params = property(lambda self: self.plan.params)
    weight_bits = property(lambda self: self.plan.weight_bits)
    value_bits = property(lambda self: self.plan.value_bits)
    events = property(lambda self: self.plan.events)
    out_events = property(lambda self: self.plan.out_events)
    membrane_class = property(lambda self: self.plan.membrane_class)
    cuba = property(lambda self: self.plan.cuba)
    acc_bits = property(lambda self: self.plan.acc_bits)
    uniform = property(lambda self: self.plan.uniform)
    variable_params = property(lambda self: self.plan.variable_params)
    lane_state_bits = property(lambda self: self.plan.lane_state_bits)

    def state_fields(self):
        """``(name, bits)`` of the fields of one lane's state word, LSB first."""
        return list(self.plan.state_fields())

    # -- memory images ------------------------------------------------------------------------

    def _neuron(self, group, lane):
        index = group * self.lanes + lane
        return index if index < self.outputs else None

    def weight_image(self):
        """Weight ROM words: row ``i * groups + g`` holds the weights of group ``g`` from input
        ``i``, lane ``j`` in bits ``[j * weight_bits, (j + 1) * weight_bits)``; in a recurrent
        layer, input ``inputs + k`` is the layer's own neuron ``k`` (``recurrent[:, k]``)."""
        columns = [list(col) for col in zip(*self.weight)]
        if self.recurrent is not None:
            columns += [list(col) for col in zip(*self.recurrent)]
        image = []
        for i in range(self.rows):
            for g in range(self.groups):
                lanes = [columns[i][n] if (n := self._neuron(g, j)) is not None else 0
                         for j in range(self.lanes)]
                image.append(pack(lanes, self.weight_bits))
        return image

    def initial_state(self, index):
        """Membrane and reset flag (synaptic current, current-based) of neuron ``index`` at
        the start of an inference (:func:`~rtl_lib.neuron_state.rest_state`)."""
        p = self.params if index is None else self.neuron_params[index]
        return rest_state(p, 0 if self.bias is None or index is None else self.bias[index])

    def state_image(self):
        if self.value_bits:
            return [0] * self.groups         # membrane and accumulator start at zero
        mb = self.params.mem_bits
        image = []
        for g in range(self.groups):
            lanes = []
            for j in range(self.lanes):
                index = self._neuron(g, j)
                mem, high = self.initial_state(index)
                lanes.append((mem & ((1 << mb) - 1)) | (high << mb))
            image.append(pack(lanes, self.lane_state_bits))
        return image

    def param_image(self):
        """Words of the parameter memory: lane ``j`` of word ``g`` holds the threshold
        (``mem_bits``) then the decay (``decay_bits + 1`` bits) of neuron ``g * P + j``."""
        mb, db = self.params.mem_bits, self.params.decay_bits + 1
        image = []
        for g in range(self.groups):
            word = 0
            for j in range(self.lanes):
                n = self._neuron(g, j)
                q = self.params if n is None else self.neuron_params[n]
                lane = (q.threshold & ((1 << mb) - 1)) | (q.decay << mb)
                word |= lane << (j * (mb + db))
            image.append(word)
        return image

    def bias_image(self):
        return [pack([self.bias[n] if (n := self._neuron(g, j)) is not None else 0
                       for j in range(self.lanes)], self.params.acc_bits)
                for g in range(self.groups)]

    # -- hardware -----------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        mem = self._memories(m)
        pipe = self._issue(m, mem)
        spikes = self._execute(m, mem, pipe)
        self._serialize(m, mem, pipe, spikes)
        return m

    # -- the stages of elaborate, in the order they are built ----------------------------------

    def _memories(self, m):
        """Weight ROM (one read port per event of a group), state (memory or register), bias
        and parameter ROMs, and the queue of output spike words."""
        p, P, G, E = self.params, self.lanes, self.groups, self.events
        mem = SimpleNamespace()
        m.submodules.weights = weights = self.weights
        mem.w_rds = [weights.read_port() for _ in range(E)]
        if G == 1:
            # fully parallel: the state is a register, read and written by the execute stage
            mem.s_rd = mem.s_wr = None
        else:
            m.submodules.state = state = self.state
            mem.s_wr = s_wr = state.write_port()
            mem.s_rd = state.read_port(transparent_for=(s_wr,))
        if self.bias is not None and G > 1:
            m.submodules.biases = biases = memory.Memory(
                shape=P * p.acc_bits, depth=G, init=self.bias_image())
            mem.b_rd = biases.read_port()
        else:
            mem.b_rd = None
            mem.bias_data = Const(0 if self.bias is None else self.bias_image()[0],
                                  P * p.acc_bits)
        mem.pw = pw = self.plan.param_lane_bits
        mem.v_rd = None
        if self.variable_params:
            m.submodules.params = params_rom = memory.Memory(
                shape=P * pw, depth=G, init=self.param_image())
            mem.v_rd = params_rom.read_port()
        # Output spike words: lanes' spikes of one group, plus the end-of-step marker.
        # (the serializer holds the word at the head until its last spikes are read out)
        mem.depth = self.plan.words_depth
        m.submodules.words = mem.words = fifo.SyncFIFO(width=self.plan.word_layout.size,
                                                       depth=mem.depth)
        return mem

    def _issue(self, m, mem):
        """Stage 1 issues one group of the token at the head of the input per cycle; stage 2
        ("fetch") registers the weight rows out of block RAM; with two events per cycle, a
        "pair" stage sums each lane's two weights. The group's state is read two cycles
        before the lanes take it."""
        G, E = self.groups, self.events
        gw = max(1, ceil_log2(G))
        words, depth = mem.words, mem.depth
        pipe = SimpleNamespace()
        source = wiring.flipped(self.i_events)
        pipe.merge = None
        if self.recurrent is not None:
            # the layer's own spikes of the previous step follow each step's input events
            m.submodules.merge = merge = RecurrentEvents(self.inputs, self.outputs, E)
            wiring.connect(m, source, merge.i)
            prev_spikes = Signal(G * self.lanes)
            busy = Signal()
            m.d.comb += [merge.spikes.eq(prev_spikes[:self.outputs]), merge.busy.eq(busy)]
            with m.If(merge.o.valid & merge.o.ready & merge.o.payload.eos):
                m.d.sync += busy.eq(1)
            source = merge.o
            pipe.prev_spikes, pipe.busy = prev_spikes, busy
        if E > 1:
            # pairs are formed by position in the step, whatever beats the producer sent
            m.submodules.packer = packer = EventPacker(self.rows)
            wiring.connect(m, source, packer.i)
            source = packer.o
        elif self.recurrent is None:
            source = self.i_events
        group = Signal(range(G)) if G > 1 else Const(0, 1)
        token = source.payload
        indices = [token.index[k] for k in range(E)] if E > 1 else [token.index]
        # stage 2 ("fetch"): the weight rows leave block RAM and are registered in the
        # fabric (block RAM outputs are slow and spread over the die), and so are the
        # group's state and bias, read in stage 1. Stage 3 ("execute", the s2_ signals): the
        # lanes compute and write back. The state read of one op and the write of the op
        # before it on the same group share a cycle at the latest; the transparent read
        # port hands over the new value, so back-to-back ops need no stall.
        f_valid, f_step, f_last, f_final = Signal(), Signal(), Signal(), Signal()
        f_group = Signal(gw)
        f_pair = Signal()
        s2_valid = Signal()
        s2_step = Signal()
        s2_last = Signal()
        s2_final = Signal()
        s2_group = Signal(gw)
        # An end-of-step op is issued only when its spike word will find room in the queue:
        # the words queued and on their way (in fetch, in execute, in the register before
        # the queue) stay below its depth. A counter of the free places, one less per
        # end-of-step op issued and one more per word the serializer takes, tells it from a
        # register beside the issue logic: no adder over the queue's level (which sits
        # with the queue, far across the die) in front of the issue decision.
        issue = Signal()
        final = group == G - 1
        pipe.w_pending = Signal()
        # The word taken is counted a cycle later, from a register: the serializer's decision
        # to take it (a few LUT levels after the queue's read) does not also cross the die
        # to the counter. The room is then underestimated for one cycle, never overestimated.
        free = Signal(range(depth + 1), init=depth)
        taken = _delayed(m, words.r_en & words.r_rdy, 1)
        m.d.sync += free.eq(free - (issue & token.eos) + taken)
        room = Signal()
        m.d.comb += room.eq(free != 0)
        pipe.classes = None
        if self.membrane_class:
            # and the class of an inference's last step finds room in its queue of two
            classes = fifo.SyncFIFO(width=len(self.o_class.payload), depth=2)
            m.submodules.classes = classes
            free_classes = Signal(range(3), init=2)
            m.d.sync += free_classes.eq(free_classes - (issue & token.eos & token.last & final)
                                        + _delayed(m, classes.r_en & classes.r_rdy, 1))
            m.d.comb += room.eq((free != 0) & (free_classes != 0))
            pipe.classes = classes
        m.d.comb += issue.eq(source.valid & (~token.eos | room))
        if self.plan.split_end_of_step:
            # a group's end-of-step update takes two cycles: the next op waits one, so the
            # update writes its group back alone and no op reads a state about to change
            after_eos = Signal()
            m.d.sync += after_eos.eq(issue & token.eos)
            m.d.comb += issue.eq(source.valid & (~token.eos | room) & ~after_eos)

        for port, index in zip(mem.w_rds, indices):
            m.d.comb += port.addr.eq(index * G + group)
        # the group's state, bias and parameters are read in the issue stage and registered
        # in the fabric in the fetch stage, beside the weight rows: the lanes start from
        # flip-flops, not from the distributed RAM's read and its address fan-out. An op
        # reads its group's state in the cycle the op before it on that group writes it
        # (two groups or more: the read port is transparent), or later
        pair_stage = self.plan.pair_stage
        # the control of the op before execute: fetch's, or one cycle later in stage 2½
        # ("pair")
        before_execute = tuple(_delayed(m, s, pair_stage)
                               for s in (f_valid, f_step, f_last, f_final, f_group))
        # (with a pair stage, the reads are one stage later: still two cycles before the
        # lanes, so an op on a group reads what the op before it on that group wrote)
        read_group = f_group if pair_stage else group
        for port, name in ((mem.s_rd, "state_data"), (mem.b_rd, "bias_data"),
                           (mem.v_rd, "param_data")):
            if port is not None:
                m.d.comb += port.addr.eq(read_group)
                data = Signal.like(port.data, name=f"{name}_q")
                m.d.sync += data.eq(port.data)
                setattr(mem, name, data)
        m.d.sync += [
            f_valid.eq(issue),
            f_step.eq(token.eos),
            f_last.eq(token.last),
            f_final.eq(final),
            f_group.eq(group),
            s2_valid.eq(before_execute[0]),
            s2_step.eq(before_execute[1]),
            s2_last.eq(before_execute[2]),
            s2_final.eq(before_execute[3]),
            s2_group.eq(before_execute[4]),
        ]
        if E > 1:
            m.d.sync += f_pair.eq(~token.eos & (token.count == 2))
        wb = self.weight_bits
        rows = [Signal(self.lanes * wb, name=f"weights_row{k}") for k in range(E)]
        m.d.sync += rows[0].eq(mem.w_rds[0].data)
        if E > 1:
            # a lone event's partner row is zero: a synchronous reset of the row register
            m.d.sync += rows[1].eq(Mux(f_pair, mem.w_rds[1].data, 0))
        pipe.row_bits = wb
        if pair_stage:
            # each lane's two weights, summed and registered
            pair = Signal(self.lanes * (wb + 1), name="weights_pair")
            m.d.sync += pair.eq(Cat(
                sum(row[j * wb:(j + 1) * wb].as_signed() for row in rows)[:wb + 1]
                for j in range(self.lanes)))
            rows, pipe.row_bits = [pair], wb + 1
        pipe.to_execute = lambda at_fetch: _delayed(m, at_fetch, 1 + pair_stage)
        with m.If(issue):
            with m.If(final):
                m.d.comb += source.ready.eq(1)
                if G > 1:
                    m.d.sync += group.eq(0)
            if G > 1:
                with m.Else():
                    m.d.sync += group.eq(group + 1)
        pipe.token, pipe.rows = token, rows
        pipe.s2_valid, pipe.s2_step, pipe.s2_last = s2_valid, s2_step, s2_last
        pipe.s2_final, pipe.s2_group = s2_final, s2_group
        return pipe

    def _execute(self, m, mem, pipe):
        """Stage 3: the lanes compute and write back; the step's spikes of the group."""
        p, P, G = self.params, self.lanes, self.groups
        mb, rb = p.mem_bits, pipe.row_bits
        sw, pw = self.lane_state_bits, mem.pw
        bias_data, rows = mem.bias_data, pipe.rows
        s2_valid, s2_step, s2_last = pipe.s2_valid, pipe.s2_step, pipe.s2_last
        s2_final, s2_group = pipe.s2_final, pipe.s2_group
        spikes = Signal(P)
        next_state = []
        membranes = []
        state_reg = self.state_reg
        state_word = state_reg if G == 1 else mem.state_data
        if self.value_bits:
            f_value = Signal(self.value_bits)
            m.d.sync += f_value.eq(pipe.token.value)
            s2_value = pipe.to_execute(f_value)
        split = self.plan.split_end_of_step
        # with a split update, the end-of-step op of the cycle before completes now (the
        # issue stage left this cycle empty) and writes its group back
        finish, s3_group = Signal(), Signal.like(s2_group)
        if split:
            m.d.sync += [finish.eq(s2_valid & s2_step), s3_group.eq(s2_group)]
        for j in range(P):
            # with one group each lane is one neuron, with its own parameters
            lane_p = self.neuron_params[j] if G == 1 else p
            word = state_word[j * sw:(j + 1) * sw]
            weight = rows[0][j * rb:(j + 1) * rb].as_signed()
            for row in rows[1:]:
                weight = weight + row[j * rb:(j + 1) * rb].as_signed()
            if self.value_bits:
                lane = DirectLIFLane(lane_p, rb, self.value_bits, self.acc_bits)
                m.d.comb += [lane.acc.eq(word[mb:]), lane.value.eq(s2_value),
                             lane.bias.eq(bias_data[j * mb:(j + 1) * mb])]
                next_state.append(Cat(lane.mem_next, lane.acc_next))
            else:
                kind = CubaLIFLane if self.cuba else LIFLane
                ab = p.acc_bits
                if G == 1:
                    # one neuron per lane: its bias is a constant of the lane
                    bias = 0 if self.bias is None or j >= self.outputs else self.bias[j]
                    lane = kind(lane_p, self.plan.adder_bits, bias=bias, **self._lane_split)
                elif self.variable_params:
                    # per-neuron parameters on shared lanes: read with the group's state
                    lane = kind(p, self.plan.adder_bits, variable=True, **self._lane_split)
                    word_p = mem.param_data[j * pw:(j + 1) * pw]
                    m.d.comb += [lane.bias.eq(bias_data[j * ab:(j + 1) * ab]),
                                 lane.threshold.eq(word_p[:mb]), lane.decay.eq(word_p[mb:])]
                else:
                    lane = kind(p, self.plan.adder_bits, **self._lane_split)
                    m.d.comb += lane.bias.eq(bias_data[j * ab:(j + 1) * ab])
                if self.cuba:
                    m.d.comb += lane.syn.eq(word[mb:])
                    next_state.append(Cat(lane.mem_next, lane.syn_next))
                else:
                    m.d.comb += lane.r.eq(word[mb])
                    next_state.append(Cat(lane.mem_next, lane.r_next))
            m.submodules[f"lane{j}"] = lane
            m.d.comb += [
                lane.op.eq(s2_step),
                lane.last.eq(s2_last),
                lane.mem.eq(word[:mb]),
                lane.weight.eq(weight),
                spikes[j].eq(lane.spike),
            ]
            if split:
                m.d.comb += lane.finish.eq(finish)
            if self.membrane_class:
                membranes.append(lane.mem_out)
        pad = self.plan.pad
        if pad:
            # lanes beyond the last neuron exist only in the last group; they never spike
            valid_lanes = (1 << (P - pad)) - 1
            masked = Signal(P)
            m.d.comb += masked.eq(spikes)
            with m.If(s2_group == G - 1):
                m.d.comb += masked.eq(spikes & valid_lanes)
            spikes = masked
        if self.membrane_class:
            membrane_argmax(m, self.plan, membranes, pipe.classes,
                            s2_valid & s2_step & s2_last, s2_group, s2_final)
        if self.recurrent is not None:
            # keep the step's spikes for the next step (none after an inference's last step)
            with m.If(s2_valid & s2_step):
                with m.Switch(s2_group):
                    for g in range(G):
                        with m.Case(g):
                            m.d.sync += pipe.prev_spikes[g * P:(g + 1) * P].eq(
                                Mux(s2_last, 0, spikes))
                with m.If(s2_final):
                    m.d.sync += pipe.busy.eq(0)
        # the state is written by an integrate op, by an end-of-step op that is not split,
        # or by a split one completing
        write = (s2_valid & ~s2_step) | finish if split else s2_valid
        if G == 1:
            with m.If(write):
                m.d.sync += state_reg.eq(Cat(*next_state))
        else:
            m.d.comb += [
                mem.s_wr.addr.eq(Mux(finish, s3_group, s2_group) if split else s2_group),
                mem.s_wr.data.eq(Cat(*next_state)),
                mem.s_wr.en.eq(write),
            ]
        return spikes

    @property
    def _lane_split(self):
        """The keyword that makes a lane split its end-of-step update, where the plan says
        so (only :class:`~rtl_lib.lif.LIFLane` knows it)."""
        return {"split": True} if self.plan.split_end_of_step else {}

    def _serialize(self, m, mem, pipe, spikes):
        """The step's spikes as words into the queue, then as events, one or two per beat."""
        words = mem.words
        # every group's word, spikes or not: an OR over all lanes here would be a long path
        # across the die (the serializer skips empty words in a cycle). The spikes are
        # registered where the lanes are, then their chunk flags (an OR of 8 lanes each) go
        # into the queue with them
        spikes_q = Signal(len(spikes))
        tail = Cat(pipe.s2_group, pipe.s2_final, pipe.s2_last)
        tail_q = Signal(len(tail))
        m.d.sync += [
            spikes_q.eq(spikes),
            tail_q.eq(tail),
            pipe.w_pending.eq(pipe.s2_valid & pipe.s2_step),
        ]
        m.d.comb += [words.w_data.eq(Cat(spikes_q, chunk_flags(spikes_q), tail_q)),
                     words.w_en.eq(pipe.w_pending)]
        m.submodules.serializer = serializer = SpikeSerializer(self.outputs, self.lanes,
                                                               self.groups, self.out_events)
        m.d.comb += [
            serializer.i_words.payload.eq(words.r_data),
            serializer.i_words.valid.eq(words.r_rdy),
            words.r_en.eq(serializer.i_words.ready),
        ]
        wiring.connect(m, serializer.o_events, wiring.flipped(self.o_events))
        if self.membrane_class:
            classes = pipe.classes
            m.d.comb += [
                self.o_class.payload.eq(classes.r_data),
                self.o_class.valid.eq(classes.r_rdy),
                classes.r_en.eq(self.o_class.ready),
            ]
