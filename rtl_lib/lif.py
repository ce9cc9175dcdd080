"""The leaky integrate-and-fire neuron datapath: one lane, combinational."""
from dataclasses import dataclass

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fixed_point import decay_amount, node, saturate


__all__ = ["LIFParams", "LIFLane", "DirectLIFLane", "end_of_step", "tabulates",
           "uses_reset_flag", "TABLE_MAX_BITS"]


RESETS = ("subtract", "zero", "zero_all", "none")


@dataclass(frozen=True)
class LIFParams:
    """Integer parameters of a LIF neuron population.

    ``mem_bits``: signed membrane width; ``threshold``: in membrane LSBs; the leak multiplies
    by ``beta = 1 - decay / 2**decay_bits``; ``weight_shift``: left shift of a weight before it
    is added to the membrane (membrane fractional bits minus weight fractional bits).
    """
    mem_bits: int
    threshold: int
    decay: int
    decay_bits: int
    reset: str = "subtract"
    reset_delay: bool = True
    weight_shift: int = 0

    def __post_init__(self):
        check_params(self, widths=(("Membrane", self.mem_bits),),
                     decays=(("Decay", self.decay),))

    @property
    def mem_min(self):
        return -(1 << (self.mem_bits - 1))

    @property
    def acc_bits(self):
        """Width of the value the input events accumulate into: the membrane."""
        return self.mem_bits

    @property
    def mem_max(self):
        return (1 << (self.mem_bits - 1)) - 1


def check_params(p, *, widths, decays):
    """The checks every neuron parameter set shares, in Amaranth's voice: ``widths`` and
    ``decays`` are ``(label, value)`` pairs; then the threshold, reset and weight shift."""
    for label, bits in widths:
        if not isinstance(bits, int) or bits < 2:
            raise TypeError(f"{label} width must be an integer of at least 2, not {bits!r}")
    if not isinstance(p.decay_bits, int) or p.decay_bits < 1:
        raise TypeError(f"Decay width must be a positive integer, not {p.decay_bits!r}")
    for label, decay in decays:
        if not 0 <= decay <= (1 << p.decay_bits):
            raise ValueError(f"{label} must be in [0, {1 << p.decay_bits}], not {decay!r}")
    if not -(1 << (p.mem_bits - 1)) <= p.threshold < (1 << (p.mem_bits - 1)):
        raise ValueError(f"Threshold {p.threshold} does not fit a {p.mem_bits}-bit membrane")
    if p.reset not in RESETS:
        raise ValueError(f"Reset must be one of {', '.join(RESETS)}, not {p.reset!r}")
    if not isinstance(p.weight_shift, int) or p.weight_shift < 0:
        raise TypeError(f"Weight shift must be a non-negative integer, not {p.weight_shift!r}")


def _saturate(m, value, params, name):
    """Clamp ``value`` to the membrane range, as a ``signed(mem_bits)`` signal."""
    return saturate(m, value, params.mem_bits, name)


def _decay(mem, params):
    """The amount the leak takes off the membrane (see :func:`decay_amount`)."""
    return decay_amount(mem, params.decay, params.decay_bits)


def _leak(mem, params):
    """``mem - ((mem * decay + 2**(bits-1)) >> bits)``: ``beta * mem``, rounded."""
    amount = _decay(mem, params)
    return mem if amount is None else mem - amount


class LIFLane(wiring.Component):
    """One neuron lane of a LIF layer: the integrate and the end-of-step updates.

    The lane holds no state; the layer keeps each neuron's membrane ``mem`` and reset flag
    ``r`` in memory and runs them through a lane. With ``op`` = 0 (integrate)::

        mem_next = sat(mem + (weight << weight_shift));  r_next = r;  spike = 0

    With ``op`` = 1 (end of step ``t``; ``m`` the membrane after the step's inputs)::

        m      = 0 if reset == "zero_all" and r      (the whole step after a spike)
        spike  = m > threshold
        m'     = m                                  (reset_delay or reset == "none")
                 sat(m - (spike - r) * threshold)   (no delay, "subtract")
                 0 if spike & ~r, sat(2 m) if r & ~spike, else m
                                                    (no delay, "zero" or "zero_all")
        m''    = 0 if last else m'                  (a new inference starts from rest)
        r_next = m'' > threshold
        mem_next = sat(leak(m'' or 0 if reset == "zero" and r_next) + bias
                       - (r_next * threshold if reset == "subtract"))
        leak(x) = x - ((x * decay + 2**(decay_bits - 1)) >> decay_bits)

    ``mem_next`` is then the membrane at the start of step ``t + 1`` (after leak, bias and
    the delayed reset), ready for that step's inputs. This is snnTorch's ``Leaky`` update
    order, bit-exactly as :mod:`spikegen.reference` defines it.

    With ``split`` the end-of-step update takes two cycles, for a wide membrane's clock: in
    the cycle of ``op`` = 1 the lane fires (``spike``, ``mem_out``) and registers the reset,
    the leak's amount and the rest of the sum; in the next cycle, with ``finish`` = 1 (and
    nothing else driven), ``mem_next`` and ``r_next`` give the end-of-step result. The
    layer writes the state back then, and issues nothing in between. Integrating stays one
    cycle.

    Members
    -------
    op : In(1)
        0: integrate ``weight``; 1: end-of-step update.
    last : In(1)
        With ``op`` = 1: this is the inference's last step, so restart from rest.
    mem : In(signed(mem_bits))
        Current membrane.
    r : In(1)
        Reset flag of the current step (membrane of the previous step above threshold).
    weight : In(signed(weight_bits))
        Synaptic weight of the input event (integrate).
    bias : In(signed(mem_bits))
        Added once per step (end-of-step update). Absent when the lane is built with a
        constant ``bias``; with a membrane of at most ``TABLE_MAX_BITS`` bits the whole
        end-of-step update is then a lookup table filled by :func:`end_of_step`.
    mem_next : Out(signed(mem_bits))
    r_next : Out(1)
    spike : Out(1)
        The neuron fired in this step (end-of-step update only).
    mem_out : Out(signed(mem_bits))
        The step's membrane ``m'`` (snnTorch's ``mem``), for a membrane readout.
    finish : In(1)
        With ``split``: the end-of-step update of the previous cycle completes now.
    """
    def __init__(self, params, weight_bits, *, bias=None, variable=False, split=False):
        if not isinstance(params, LIFParams):
            raise TypeError(f"Neuron parameters must be LIFParams, not {params!r}")
        if variable and bias is not None:
            raise ValueError("A lane with variable parameters takes its bias from a port")
        if not isinstance(weight_bits, int) or weight_bits < 1:
            raise TypeError(f"Weight width must be a positive integer, not {weight_bits!r}")
        if bias is not None and (not isinstance(bias, int)
                                 or not params.mem_min <= bias <= params.mem_max):
            raise ValueError(f"Constant bias must be an integer that fits the "
                             f"{params.mem_bits}-bit membrane, not {bias!r}")
        self.params = params
        self.weight_bits = weight_bits
        self.const_bias = bias
        mem = signed(params.mem_bits)
        ports = {
            "op": In(1), "last": In(1),
            "mem": In(mem), "r": In(1),
            "weight": In(signed(weight_bits)),
            "mem_next": Out(mem), "r_next": Out(1), "spike": Out(1), "mem_out": Out(mem),
        }
        if bias is None:
            ports["bias"] = In(mem)
        self.variable = variable
        if split and tabulates(params, constant_bias=bias is not None):
            raise ValueError("A lane whose end-of-step update is a table cannot split it: "
                             "the table is already one level of logic")
        self.split = split
        if split:
            ports["finish"] = In(1)
        if variable:
            ports["threshold"] = In(mem)
            ports["decay"] = In(unsigned(params.decay_bits + 1))
        super().__init__(ports)

    @property
    def uses_r(self):
        """Whether the end-of-step update reads ``r`` (only without reset delay)."""
        return uses_reset_flag(self.params)

    @property
    def tabulated(self):
        """Whether the end-of-step update is a lookup table (see :func:`tabulates`)."""
        return tabulates(self.params, constant_bias=self.const_bias is not None)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        if self.variable:
            # threshold and decay from the ports: the same arithmetic, with them as signals
            p = _VariableParams(p, self.threshold, self.decay)

        def sat(value, name):
            return _saturate(m, value, p, name)

        integrated = sat(self.mem + (self.weight << p.weight_shift), "integrated")
        # zero_all: the membrane is 0 for the whole step after a spike, its input ignored
        mem = node(m, Mux(self.r, 0, self.mem), "masked") if p.reset == "zero_all" \
            else self.mem
        spike = node(m, mem > p.threshold, "fire")
        after = _no_delay_reset(mem, spike, self.r, p, sat)
        m.d.comb += self.mem_out.eq(after)
        if self.tabulated:
            # the end-of-step update as a table of what it adds to the membrane, through the
            # integrate path's own adder and saturation: the adder is shared, and the table
            # of a difference is often simpler than that of the new value
            delta, r_next = self._table(m)
            addend = node(m, Mux(self.op, delta, self.weight << p.weight_shift), "addend")
            total = sat(self.mem + addend, "total")
            restart, r_restart, _ = end_of_step(p, 0, 0, True, self.const_bias)
            m.d.comb += [
                self.mem_next.eq(Mux(self.op & self.last, restart, total)),
                self.r_next.eq(Mux(self.op, Mux(self.last, r_restart, r_next), self.r)),
                self.spike.eq(self.op & spike),
            ]
            return m
        bias = self.bias if self.const_bias is None else self.const_bias
        rest = node(m, Mux(self.last, 0, after), "rest")
        if after is mem:
            # no correction after firing: the rest is above threshold exactly when the
            # membrane fired, so one comparison serves both
            r_next = node(m, Mux(self.last, _rest_fires(p), spike), "reset")
        else:
            r_next = node(m, rest > p.threshold, "reset")
        # new = leak(base) + bias - (r_next * threshold if subtract), base = 0 if (zero and
        # r_next) else rest. The sum without the leak is computed from ``rest`` for both
        # values of ``r_next``, side by side with the comparison and the leak's amount
        # (leak(0) = 0), then chosen; one subtraction of the amount and the saturation
        # follow. With ``split`` a register after the choice halves the path (a choice after
        # the register would cost a multiplexer per bit in front of the subtraction).
        amount = _decay(rest, p)
        if amount is not None:
            amount = node(m, amount, "amount")
            if p.reset == "zero":
                amount = Mux(r_next, 0, amount)
        kept = node(m, rest + bias, "kept")
        reset_base = bias - p.threshold if p.reset == "subtract" else bias
        if p.reset != "zero":
            reset_base = rest + reset_base
        was_reset = node(m, Value.cast(reset_base), "was_reset")
        partial = node(m, Mux(r_next, was_reset, kept), "partial")
        if self.split:
            r_next_q = Signal(name="reset_q")
            partial_q = Signal(partial.shape(), name="partial_q")
            m.d.sync += [r_next_q.eq(r_next), partial_q.eq(partial)]
            if amount is not None:
                amount_q = Signal(amount.shape(), name="amount_q")
                m.d.sync += amount_q.eq(amount)
                amount = amount_q
            r_next, partial = r_next_q, partial_q
        start = sat(partial if amount is None else partial - amount, "start")

        if self.split:
            with m.If(self.finish):
                m.d.comb += [self.mem_next.eq(start), self.r_next.eq(r_next)]
            with m.Else():
                m.d.comb += [self.mem_next.eq(integrated), self.r_next.eq(self.r),
                             self.spike.eq(self.op & spike)]
            return m
        with m.If(self.op):
            m.d.comb += [self.mem_next.eq(start), self.r_next.eq(r_next), self.spike.eq(spike)]
        with m.Else():
            m.d.comb += [self.mem_next.eq(integrated), self.r_next.eq(self.r)]
        return m

    def _table(self, m):
        """``(delta, r_next)`` of the end-of-step update from a table indexed by the
        membrane (and ``r`` without reset delay): the new membrane is ``mem + delta``, always
        within range; the last step's restart is a constant, outside the table."""
        p, mb = self.params, self.params.mem_bits
        entries = []
        for r in range(2 if self.uses_r else 1):
            for raw in range(1 << mb):
                mem = raw - (1 << mb) if raw >> (mb - 1) else raw
                start, r_next, _ = end_of_step(p, mem, r, False, self.const_bias)
                entries.append(((start - mem) & ((1 << (mb + 1)) - 1)) | (r_next << (mb + 1)))
        index = Cat(self.mem.as_unsigned(), self.r) if self.uses_r else self.mem.as_unsigned()
        looked = node(m, Array(Const(e, mb + 2) for e in entries)[index], "table")
        return looked[:mb + 1].as_signed(), looked[mb + 1]


def _rest_fires(p):
    """Whether a membrane at rest (0) is above the threshold: a negative threshold."""
    return p.threshold < 0 if isinstance(p.threshold, Value) else int(p.threshold < 0)


class _VariableParams:
    """:class:`LIFParams` with ``threshold`` and ``decay`` replaced by signals."""
    def __init__(self, params, threshold, decay):
        self._params, self.threshold, self.decay = params, threshold, decay

    def __getattr__(self, name):
        return getattr(self._params, name)


#: Widest end-of-step table index (membrane bits, plus ``r`` when it is used).
TABLE_MAX_BITS = 8


def uses_reset_flag(p):
    """Whether a lane's end-of-step update reads ``r`` (only without reset delay)."""
    return p.reset == "zero_all" or not (p.reset_delay or p.reset == "none")


def tabulates(p, *, constant_bias):
    """Whether a :class:`LIFLane` of parameters ``p`` makes its end-of-step update a lookup
    table: with a constant bias and a narrow membrane, a table of ``2**(mem_bits [+ 1])``
    entries maps to a handful of LUTs per bit, where the arithmetic would cost several carry
    chains. The lane and the layer plan (:mod:`rtl_lib.fc_plan`) both ask this."""
    return constant_bias and p.mem_bits + uses_reset_flag(p) <= TABLE_MAX_BITS


def end_of_step(p, mem, r, last, bias):
    """The end-of-step update of one neuron in Python integers, as :class:`LIFLane` computes
    it: ``(mem_next, r_next, spike)``. Used to fill the lane's lookup tables."""
    sat = lambda v: min(max(v, p.mem_min), p.mem_max)  # noqa: E731
    if p.reset == "zero_all" and r:
        mem = 0
    spike = int(mem > p.threshold)
    after = mem
    if not p.reset_delay and p.reset == "subtract":
        after = sat(mem - (spike - r) * p.threshold)
    elif not p.reset_delay and p.reset in ("zero", "zero_all"):
        after = 0 if (spike and not r) else (sat(2 * mem) if (r and not spike) else mem)
    rest = 0 if last else after
    r_next = int(rest > p.threshold)
    base = 0 if (p.reset == "zero" and r_next) else rest
    amount = 0
    if p.decay:
        amount = (base * p.decay + (1 << (p.decay_bits - 1))) >> p.decay_bits
    start = base - amount + bias
    if p.reset == "subtract":
        start -= r_next * p.threshold
    return sat(start), r_next, spike


class DirectLIFLane(wiring.Component):
    """One neuron lane of a first layer fed directly with multi-bit inputs (current input).

    Per sample, the input pixels arrive first (``op`` = 0) and build an exact accumulator::

        acc_next = acc + value * weight

    then each time step (``op`` = 1) runs a whole LIF step on a constant input current::

        current  = sat(((acc << weight_shift) + 2**(value_bits-1)) >> value_bits + bias)
        r        = mem > threshold                      (mem: the previous step's membrane)
        m        = sat(leak(0 if reset == "zero" and r else mem) + current
                       - (r * threshold if reset == "subtract"))
        m        = 0 if reset == "zero_all" and r
        spike    = m > threshold
        mem_next = m, or without reset delay the same corrections as :class:`LIFLane`
        (0 and acc_next = 0 when ``last``: the next sample starts from rest)

    so ``x = value / 2**value_bits`` enters the neuron as snnTorch's ``W x + b`` would, and
    :func:`spikegen.reference.direct_current` is the exact model of ``current``.

    Members
    -------
    op, last : In(1)
    mem : In(signed(mem_bits))
        Membrane after the previous step.
    acc : In(signed(acc_bits))
    value : In(unsigned(value_bits))
    weight : In(signed(weight_bits))
    bias : In(signed(mem_bits))
    mem_next : Out(signed(mem_bits))
    acc_next : Out(signed(acc_bits))
    spike : Out(1)
    mem_out : Out(signed(mem_bits))
        The step's membrane, for a membrane readout.
    """
    def __init__(self, params, weight_bits, value_bits, acc_bits):
        if not isinstance(params, LIFParams):
            raise TypeError(f"Neuron parameters must be LIFParams, not {params!r}")
        for label, value in (("Weight", weight_bits), ("Value", value_bits),
                             ("Accumulator", acc_bits)):
            if not isinstance(value, int) or value < 1:
                raise TypeError(f"{label} width must be a positive integer, not {value!r}")
        self.params = params
        self.weight_bits, self.value_bits, self.acc_bits = weight_bits, value_bits, acc_bits
        mem = signed(params.mem_bits)
        super().__init__({
            "op": In(1), "last": In(1),
            "mem": In(mem), "acc": In(signed(acc_bits)),
            "value": In(unsigned(value_bits)), "weight": In(signed(weight_bits)),
            "bias": In(mem),
            "mem_next": Out(mem), "acc_next": Out(signed(acc_bits)), "spike": Out(1),
            "mem_out": Out(mem),
        })

    def elaborate(self, platform):
        m = Module()
        p, vb = self.params, self.value_bits

        def sat(value, name):
            return _saturate(m, value, p, name)

        product = self.value * self.weight
        integrated = (self.acc + product)[:self.acc_bits].as_signed()

        current = sat((((self.acc << p.weight_shift) + (1 << (vb - 1))) >> vb) + self.bias,
                      "current")
        r = node(m, self.mem > p.threshold, "reset")
        base = node(m, Mux(r, 0, self.mem) if p.reset == "zero" else self.mem, "base")
        start = _leak(base, p) + current
        if p.reset == "subtract":
            start = start - Mux(r, p.threshold, 0)
        start = sat(start, "start")
        if p.reset == "zero_all":
            start = node(m, Mux(r, 0, start), "masked")
        spike = node(m, start > p.threshold, "fire")
        after = _no_delay_reset(start, spike, r, p, sat)
        m.d.comb += self.mem_out.eq(after)

        with m.If(self.op):
            m.d.comb += [
                self.spike.eq(spike),
                self.mem_next.eq(Mux(self.last, 0, after)),
                self.acc_next.eq(Mux(self.last, 0, self.acc)),
            ]
        with m.Else():
            m.d.comb += [self.mem_next.eq(self.mem), self.acc_next.eq(integrated)]
        return m


def _no_delay_reset(m, spike, r, p, sat):
    """snnTorch's ``reset_delay=False`` corrections: ``m - (spike - r) * threshold``
    (subtract) or ``0`` / ``2 m`` (zero); nothing with a reset delay or no reset."""
    if p.reset_delay or p.reset == "none":
        return m
    if p.reset == "subtract":
        return sat(m - Mux(spike & ~r, p.threshold, Mux(r & ~spike, -p.threshold, 0)),
                   "after")
    return Mux(spike & ~r, 0, Mux(r & ~spike, sat(m << 1, "doubled"), m))
