"""An event-driven fully connected layer of LIF or current-based LIF neurons."""
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .event import EventGroupLayout, EventLayout, ValueEventLayout
from .event_packer import EventPacker
from dataclasses import fields

from .cuba_lif import CubaLIFLane, CubaLIFParams
from .lif import DirectLIFLane, LIFLane, LIFParams
from .recurrent import RecurrentEvents
from .spike_serializer import SpikeSerializer, SpikeWordLayout, chunk_flags


__all__ = ["FCLayer", "DISTRIBUTED_BITS"]


#: Weight memories smaller than this (half a 7-series RAMB18) are built from logic (LUTs).
DISTRIBUTED_BITS = 8192


def _pack(values, width):
    word = 0
    for lane, value in enumerate(values):
        word |= (int(value) & ((1 << width) - 1)) << (lane * width)
    return word


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
            if value_bits is not None:
                raise ValueError("A layer fed with input values cannot be recurrent")
        self.recurrent = recurrent
        self.membrane_class = bool(membrane_class)
        self.outputs, self.inputs = len(rows), len(rows[0])
        self.neuron_params = _neuron_params(params, self.outputs)
        params = self.neuron_params[0]
        if not isinstance(weight_bits, int) or weight_bits < 1:
            raise TypeError(f"Weight width must be a positive integer, not {weight_bits!r}")
        lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
        if any(not lo <= w <= hi for row in rows + (recurrent or []) for w in row):
            raise ValueError(f"Weights must fit {weight_bits} signed bits")
        if bias is not None:
            bias = [int(b) for b in bias]
            if len(bias) != self.outputs:
                raise ValueError(f"Bias must have {self.outputs} entries, not {len(bias)}")
            top = 1 << (params.acc_bits - 1)
            if any(not -top <= b < top for b in bias):
                raise ValueError(f"Biases must fit {params.acc_bits} signed bits (the state "
                                 f"the events accumulate into)")
        if lanes is None:
            lanes = self.outputs
        if not isinstance(lanes, int) or lanes < 1:
            raise TypeError(f"Lane count must be a positive integer, not {lanes!r}")
        self.lanes = min(lanes, self.outputs)
        self.groups = -(-self.outputs // self.lanes)
        self.weight, self.bias = rows, bias
        self.params, self.weight_bits = params, weight_bits
        if value_bits is not None and (not isinstance(value_bits, int) or value_bits < 1):
            raise TypeError(f"Value width must be a positive integer or None, "
                            f"not {value_bits!r}")
        self.value_bits = value_bits
        if events not in (1, 2):
            raise ValueError(f"Events per cycle must be 1 or 2 (the ports of a block RAM), "
                             f"not {events!r}")
        self.cuba = isinstance(params, CubaLIFParams)
        if self.groups > 1 and not self.uniform and (self.cuba or value_bits):
            raise ValueError("Per-neuron thresholds or decays that differ need one lane per "
                             "neuron (a fully parallel layer) for current-based neurons and "
                             "for a layer fed input values")
        if self.cuba and value_bits:
            raise ValueError("A current-based layer cannot take input values (direct coding)")
        if events > 1 and value_bits:
            raise ValueError("A layer fed with input values takes one value per cycle")
        self.events = events
        if out_events not in (1, 2):
            raise ValueError(f"Output events per beat must be 1 or 2, not {out_events!r}")
        self.out_events = out_events
        # direct input: an exact accumulator of value * weight over all inputs
        self.acc_bits = (weight_bits + value_bits + 1 + max(1, ceil_log2(self.inputs))
                         if value_bits else 0)
        #: Weight ROM: see :meth:`weight_image`. Block RAM, except for a small memory (under
        #: ``DISTRIBUTED_BITS``), which would waste most of a block and goes to LUTs.
        depth = self.rows * self.groups
        style = "logic" if depth * self.lanes * weight_bits < DISTRIBUTED_BITS else "block"
        self.weights = memory.Memory(shape=self.lanes * weight_bits, depth=depth,
                                     init=self.weight_image(), attrs={"ram_style": style})
        #: Neuron state, word ``g`` = group ``g``; lane ``j`` holds ``mem | r << mem_bits`` in
        #: bits ``[j * (mem_bits + 1), (j + 1) * (mem_bits + 1))``: between time steps, the
        #: membrane at the start of the next step and its reset flag. A memory of ``groups``
        #: words, or with one group (fully parallel) the register ``state_reg``.
        if self.groups == 1:
            self.state, self.state_reg = None, Signal(self.lanes * self.lane_state_bits,
                                                      init=self.state_image()[0])
        else:
            self.state = memory.Memory(shape=self.lanes * self.lane_state_bits,
                                       depth=self.groups, init=self.state_image())
            self.state_reg = None
        if value_bits is not None:
            in_layout = ValueEventLayout(self.inputs, value_bits)
        elif events > 1:
            in_layout = EventGroupLayout(self.inputs, events)
        else:
            in_layout = EventLayout(self.inputs)
        ports = {
            "i_events": In(stream.Signature(in_layout)),
            "o_events": Out(stream.Signature(
                EventLayout(self.outputs) if out_events == 1
                else EventGroupLayout(self.outputs, out_events))),
        }
        if self.membrane_class:
            ports["o_class"] = Out(stream.Signature(range(self.outputs)))
        super().__init__(ports)

    # -- memory images ------------------------------------------------------------------------

    @property
    def uniform(self):
        """Whether every neuron has the same parameters."""
        return all(q == self.neuron_params[0] for q in self.neuron_params)

    def _neuron(self, group, lane):
        index = group * self.lanes + lane
        return index if index < self.outputs else None

    @property
    def rows(self):
        """Weight rows per group: one per input, and one per neuron in a recurrent layer."""
        return self.inputs + (self.outputs if self.recurrent is not None else 0)

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
                image.append(_pack(lanes, self.weight_bits))
        return image

    def initial_state(self, index):
        """Membrane and reset flag of neuron ``index`` at the start of an inference."""
        p = self.params if index is None else self.neuron_params[index]
        r = 0 > p.threshold
        bias = 0 if self.bias is None or index is None else self.bias[index]
        start = bias - (p.threshold if r and p.reset == "subtract" else 0)
        return min(max(start, p.mem_min), p.mem_max), int(r)

    @property
    def lane_state_bits(self):
        """Bits of one lane's state word: ``mem | r << mem_bits`` for spike input,
        ``mem | acc << mem_bits`` for direct input, ``mem | syn << mem_bits`` for a
        current-based layer (``r`` is then ``mem > threshold``)."""
        return sum(bits for _, bits in self.state_fields())

    def state_fields(self):
        """``(name, bits)`` of the fields of one lane's state word, LSB first."""
        if self.value_bits:
            return [("mem", self.params.mem_bits), ("acc", self.acc_bits)]
        if self.cuba:
            return [("mem", self.params.mem_bits), ("syn", self.params.syn_bits)]
        return [("mem", self.params.mem_bits), ("r", 1)]

    def state_image(self):
        if self.value_bits:
            return [0] * self.groups         # membrane and accumulator start at zero
        mb = self.params.mem_bits
        image = []
        for g in range(self.groups):
            lanes = []
            for j in range(self.lanes):
                index = self._neuron(g, j)
                if self.cuba:
                    # at rest: no membrane, the current is the bias
                    bias = 0 if self.bias is None or index is None else self.bias[index]
                    mem, high = 0, bias & ((1 << self.params.syn_bits) - 1)
                else:
                    mem, high = self.initial_state(index)
                lanes.append((mem & ((1 << mb) - 1)) | (high << mb))
            image.append(_pack(lanes, self.lane_state_bits))
        return image

    @property
    def variable_params(self):
        """Per-neuron parameters on shared lanes: each group's thresholds and decays are read
        from a memory, like its biases, and the lanes leak with a multiplier."""
        return self.groups > 1 and not self.uniform

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
        return [_pack([self.bias[n] if (n := self._neuron(g, j)) is not None else 0
                       for j in range(self.lanes)], self.params.acc_bits)
                for g in range(self.groups)]

    # -- hardware -----------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        p, P, G, E = self.params, self.lanes, self.groups, self.events
        mb, wb = p.mem_bits, self.weight_bits

        m.submodules.weights = weights = self.weights
        w_rds = [weights.read_port() for _ in range(E)]
        sw = self.lane_state_bits
        if G == 1:
            # fully parallel: the state is a register, read and written by the execute stage
            state_reg = self.state_reg
            s_rd = s_wr = None
        else:
            m.submodules.state = state = self.state
            s_wr = state.write_port()
            s_rd = state.read_port(transparent_for=(s_wr,))
        if self.bias is not None and G > 1:
            m.submodules.biases = biases = memory.Memory(
                shape=P * p.acc_bits, depth=G, init=self.bias_image())
            b_rd = biases.read_port()
            bias_data = b_rd.data
        else:
            b_rd = None
            bias_data = Const(0 if self.bias is None else self.bias_image()[0], P * p.acc_bits)
        pw = mb + p.decay_bits + 1
        if self.variable_params:
            m.submodules.params = params_rom = memory.Memory(
                shape=P * pw, depth=G, init=self.param_image())
            v_rd = params_rom.read_port()

        # Output spike words: lanes' spikes of one group, plus the end-of-step marker.
        gw = max(1, ceil_log2(G))
        # (the serializer holds the word at the head until its last spikes are read out)
        depth = G + 2
        word_layout = SpikeWordLayout(P, G)
        m.submodules.words = words = fifo.SyncFIFO(width=word_layout.size, depth=depth)

        # -- stage 1: issue one group of the token at the head of the input ----------------
        source = wiring.flipped(self.i_events)
        if self.recurrent is not None:
            # the layer's own spikes of the previous step follow each step's input events
            m.submodules.merge = merge = RecurrentEvents(self.inputs, self.outputs, E)
            wiring.connect(m, source, merge.i)
            prev_spikes = Signal(G * P)
            busy = Signal()
            m.d.comb += [merge.spikes.eq(prev_spikes[:self.outputs]), merge.busy.eq(busy)]
            with m.If(merge.o.valid & merge.o.ready & merge.o.payload.eos):
                m.d.sync += busy.eq(1)
            source = merge.o
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
        # fabric (block RAM outputs are slow and spread over the die); the state and bias of
        # the group are read. Stage 3 ("execute", the s2_ signals): the lanes compute and
        # write back. The state read of one op and the write of the op before it share a
        # cycle; the transparent read port hands over the new value, so back-to-back ops
        # need no stall.
        f_valid, f_step, f_last, f_final = Signal(), Signal(), Signal(), Signal()
        f_group = Signal(gw)
        f_pair = Signal()
        s2_valid = Signal()
        s2_step = Signal()
        s2_last = Signal()
        s2_final = Signal()
        s2_group = Signal(gw)
        room = Signal()
        m.d.comb += room.eq(words.level + (f_valid & f_step) + (s2_valid & s2_step) < depth)
        if self.membrane_class:
            classes = fifo.SyncFIFO(width=len(self.o_class.payload), depth=2)
            m.submodules.classes = classes
            closing = lambda v, s, l, f: v & s & l & f    # noqa: E731
            m.d.comb += room.eq(
                (words.level + (f_valid & f_step) + (s2_valid & s2_step) < depth)
                & (classes.level + closing(f_valid, f_step, f_last, f_final)
                   + closing(s2_valid, s2_step, s2_last, s2_final) < 2))
        issue = Signal()
        m.d.comb += issue.eq(source.valid & (~token.eos | room))
        final = group == G - 1

        for port, index in zip(w_rds, indices):
            m.d.comb += port.addr.eq(index * G + group)
        if s_rd is not None:
            m.d.comb += s_rd.addr.eq(f_group)
        if b_rd is not None:
            m.d.comb += b_rd.addr.eq(f_group)
        if self.variable_params:
            m.d.comb += v_rd.addr.eq(f_group)
        m.d.sync += [
            f_valid.eq(issue),
            f_step.eq(token.eos),
            f_last.eq(token.last),
            f_final.eq(final),
            f_group.eq(group),
            s2_valid.eq(f_valid),
            s2_step.eq(f_step),
            s2_last.eq(f_last),
            s2_final.eq(f_final),
            s2_group.eq(f_group),
        ]
        if E > 1:
            m.d.sync += f_pair.eq(~token.eos & (token.count == 2))
        rows = [Signal(P * wb, name=f"weights_row{k}") for k in range(E)]
        m.d.sync += rows[0].eq(w_rds[0].data)
        if E > 1:
            # a lone event's partner row is zero: a synchronous reset of the row register
            m.d.sync += rows[1].eq(Mux(f_pair, w_rds[1].data, 0))
        with m.If(issue):
            with m.If(final):
                m.d.comb += source.ready.eq(1)
                if G > 1:
                    m.d.sync += group.eq(0)
            if G > 1:
                with m.Else():
                    m.d.sync += group.eq(group + 1)

        # -- stage 3: lanes compute, write back, queue spikes --------------------------------
        spikes = Signal(P)
        next_state = []
        membranes = []
        state_word = state_reg if G == 1 else s_rd.data
        if self.value_bits:
            f_value, s2_value = Signal(self.value_bits), Signal(self.value_bits)
            m.d.sync += [f_value.eq(token.value), s2_value.eq(f_value)]
        for j in range(P):
            # with one group each lane is one neuron, with its own parameters
            lane_p = self.neuron_params[j] if G == 1 else p
            word = state_word[j * sw:(j + 1) * sw]
            weight = rows[0][j * wb:(j + 1) * wb].as_signed()
            for row in rows[1:]:
                weight = weight + row[j * wb:(j + 1) * wb].as_signed()
            if self.value_bits:
                lane = DirectLIFLane(lane_p, wb, self.value_bits, self.acc_bits)
                m.d.comb += [lane.acc.eq(word[mb:]), lane.value.eq(s2_value),
                             lane.bias.eq(bias_data[j * mb:(j + 1) * mb])]
                next_state.append(Cat(lane.mem_next, lane.acc_next))
            else:
                kind = CubaLIFLane if self.cuba else LIFLane
                ab = p.acc_bits
                if G == 1:
                    # one neuron per lane: its bias is a constant of the lane
                    bias = 0 if self.bias is None or j >= self.outputs else self.bias[j]
                    lane = kind(lane_p, wb + E - 1, bias=bias)
                elif self.variable_params:
                    # per-neuron parameters on shared lanes: read with the group's state
                    lane = kind(p, wb + E - 1, variable=True)
                    word_p = v_rd.data[j * pw:(j + 1) * pw]
                    m.d.comb += [lane.bias.eq(bias_data[j * ab:(j + 1) * ab]),
                                 lane.threshold.eq(word_p[:mb]), lane.decay.eq(word_p[mb:])]
                else:
                    lane = kind(p, wb + E - 1)
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
            if self.membrane_class:
                membranes.append(lane.mem_out)
        pad = G * P - self.outputs
        if pad:
            # lanes beyond the last neuron exist only in the last group; they never spike
            valid_lanes = (1 << (P - pad)) - 1
            masked = Signal(P)
            m.d.comb += masked.eq(spikes)
            with m.If(s2_group == G - 1):
                m.d.comb += masked.eq(spikes & valid_lanes)
            spikes = masked
        if self.membrane_class:
            self._membrane_argmax(m, membranes, classes, s2_valid & s2_step & s2_last,
                                  s2_group, s2_final)
        if self.recurrent is not None:
            # keep the step's spikes for the next step (none after an inference's last step)
            with m.If(s2_valid & s2_step):
                with m.Switch(s2_group):
                    for g in range(G):
                        with m.Case(g):
                            m.d.sync += prev_spikes[g * P:(g + 1) * P].eq(
                                Mux(s2_last, 0, spikes))
                with m.If(s2_final):
                    m.d.sync += busy.eq(0)
        if G == 1:
            with m.If(s2_valid):
                m.d.sync += state_reg.eq(Cat(*next_state))
        else:
            m.d.comb += [
                s_wr.addr.eq(s2_group),
                s_wr.data.eq(Cat(*next_state)),
                s_wr.en.eq(s2_valid),
            ]
        m.d.comb += [
            words.w_data.eq(Cat(spikes, chunk_flags(spikes), s2_group, s2_final, s2_last)),
            # every group's word, spikes or not: an OR over all lanes here would be a long
            # path across the die (the serializer skips empty words in a cycle)
            words.w_en.eq(s2_valid & s2_step),
        ]

        # -- serializer: the step's spikes as events, one or two per beat --------------------
        m.submodules.serializer = serializer = SpikeSerializer(self.outputs, P, G,
                                                               self.out_events)
        m.d.comb += [
            serializer.i_words.payload.eq(words.r_data),
            serializer.i_words.valid.eq(words.r_rdy),
            words.r_en.eq(serializer.i_words.ready),
        ]
        wiring.connect(m, serializer.o_events, wiring.flipped(self.o_events))
        if self.membrane_class:
            m.d.comb += [
                self.o_class.payload.eq(classes.r_data),
                self.o_class.valid.eq(classes.r_rdy),
                classes.r_en.eq(self.o_class.ready),
            ]
        return m

    def _membrane_argmax(self, m, membranes, classes, closing, group, final):
        """The last step's largest membrane, group after group: a comparison chain over the
        lanes, then against the best of the earlier groups; strict comparisons keep the
        lowest index on a tie."""
        P, G = self.lanes, self.groups
        mb = self.params.mem_bits
        pad = G * P - self.outputs
        best_v, best_i = membranes[0], Const(0, range(self.outputs))
        for j in range(1, P):
            better = membranes[j] > best_v
            if j >= P - pad:
                better = better & (group != G - 1)      # no neuron behind this lane
            v, i = Signal(signed(mb), name=f"best_mem{j}"), Signal(range(P), name=f"best{j}")
            m.d.comb += [v.eq(Mux(better, membranes[j], best_v)), i.eq(Mux(better, j, best_i))]
            best_v, best_i = v, i
        index = Signal(range(self.outputs))
        m.d.comb += index.eq(group * P + best_i)
        run_v, run_i = Signal(signed(mb)), Signal(range(self.outputs))
        take = (group == 0) | (best_v > run_v)
        winner = Signal(range(self.outputs))
        m.d.comb += winner.eq(Mux(take, index, run_i))
        with m.If(closing):
            with m.If(take):
                m.d.sync += [run_v.eq(best_v), run_i.eq(index)]
        m.d.comb += [classes.w_data.eq(winner), classes.w_en.eq(closing & final)]

