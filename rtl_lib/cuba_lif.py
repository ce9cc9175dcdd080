"""The current-based leaky integrate-and-fire neuron datapath: one lane, combinational."""
from dataclasses import dataclass

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fixed_point import decay_amount, node, saturate
from .lif import _no_delay_reset, check_params


__all__ = ["CubaLIFParams", "CubaLIFLane"]


@dataclass(frozen=True)
class CubaLIFParams:
    """Integer parameters of a current-based LIF population.

    ``mem_bits``, ``syn_bits``: signed widths of the membrane and of the synaptic current
    (the same fractional bits); ``threshold``: in membrane LSBs; the membrane leaks by ``beta
    = 1 - decay / 2**decay_bits``, the current by ``alpha = 1 - syn_decay / 2**decay_bits``;
    ``weight_shift``: left shift of a weight before it is added to the current.
    """
    mem_bits: int
    syn_bits: int
    threshold: int
    decay: int
    syn_decay: int
    decay_bits: int
    reset: str = "subtract"
    reset_delay: bool = True
    weight_shift: int = 0

    def __post_init__(self):
        check_params(self, widths=(("Membrane", self.mem_bits),
                                   ("Synaptic current", self.syn_bits)),
                     decays=(("Decay", self.decay), ("Synaptic decay", self.syn_decay)))

    @property
    def mem_min(self):
        return -(1 << (self.mem_bits - 1))

    @property
    def mem_max(self):
        return (1 << (self.mem_bits - 1)) - 1

    @property
    def acc_bits(self):
        """Width of the value the input events accumulate into: the synaptic current."""
        return self.syn_bits


class CubaLIFLane(wiring.Component):
    """One neuron lane of a current-based LIF layer: the integrate and end-of-step updates.

    The lane holds no state; the layer keeps each neuron's membrane ``mem`` (of the previous
    step) and synaptic current ``syn`` (of the current step, after leak and bias) in memory.
    ``sat_m`` and ``sat_s`` clamp to the membrane's and the current's range. With ``op`` = 0
    (integrate)::

        syn_next = sat_s(syn + (weight << weight_shift));  mem_next = mem;  spike = 0

    With ``op`` = 1 (end of step ``t``; ``syn`` the current after the step's inputs)::

        r        = mem > threshold
        m        = sat_m(leak(0 if reset == "zero" and r else mem, decay) + syn
                         - (r * threshold if reset == "subtract"))
        m        = 0 if reset == "zero_all" and r
        spike    = m > threshold
        m'       = m, or without reset delay the corrections of :class:`~rtl_lib.lif.LIFLane`
        mem_next = 0 if last else m'
        syn_next = bias if last else sat_s(leak(syn, syn_decay) + bias)
        leak(x, d) = x - ((x * d + 2**(decay_bits - 1)) >> decay_bits)

    ``syn_next`` is then the current at the start of step ``t + 1``, ready for that step's
    inputs; a new inference starts from rest after the ``last`` step. This is snnTorch's
    ``Synaptic`` update, bit-exactly as :mod:`spikegen.reference` defines it.

    Members
    -------
    op, last : In(1)
        As for :class:`~rtl_lib.lif.LIFLane`.
    mem : In(signed(mem_bits))
    syn : In(signed(syn_bits))
    weight : In(signed(weight_bits))
    bias : In(signed(syn_bits))
        Absent when the lane is built with a constant ``bias``.
    mem_next : Out(signed(mem_bits))
    syn_next : Out(signed(syn_bits))
    spike : Out(1)
    mem_out : Out(signed(mem_bits))
        The step's membrane ``m'`` (snnTorch's ``mem``), for a membrane readout.
    """
    def __init__(self, params, weight_bits, *, bias=None):
        if not isinstance(params, CubaLIFParams):
            raise TypeError(f"Neuron parameters must be CubaLIFParams, not {params!r}")
        if not isinstance(weight_bits, int) or weight_bits < 1:
            raise TypeError(f"Weight width must be a positive integer, not {weight_bits!r}")
        top = 1 << (params.syn_bits - 1)
        if bias is not None and (not isinstance(bias, int) or not -top <= bias < top):
            raise ValueError(f"Constant bias must be an integer that fits the "
                             f"{params.syn_bits}-bit synaptic current, not {bias!r}")
        self.params, self.weight_bits, self.const_bias = params, weight_bits, bias
        ports = {
            "op": In(1), "last": In(1),
            "mem": In(signed(params.mem_bits)), "syn": In(signed(params.syn_bits)),
            "weight": In(signed(weight_bits)),
            "mem_next": Out(signed(params.mem_bits)), "syn_next": Out(signed(params.syn_bits)),
            "spike": Out(1), "mem_out": Out(signed(params.mem_bits)),
        }
        if bias is None:
            ports["bias"] = In(signed(params.syn_bits))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        p = self.params

        def sat_m(value, name):
            return saturate(m, value, p.mem_bits, name)

        def leak(value, decay, name):
            value = node(m, value, name)
            amount = decay_amount(value, decay, p.decay_bits)
            return value if amount is None else value - amount

        bias = self.bias if self.const_bias is None else self.const_bias
        integrated = saturate(m, self.syn + (self.weight << p.weight_shift), p.syn_bits,
                              "integrated")
        r = node(m, self.mem > p.threshold, "reset")
        base = Mux(r, 0, self.mem) if p.reset == "zero" else self.mem
        membrane = leak(base, p.decay, "base") + self.syn
        if p.reset == "subtract":
            membrane = membrane - Mux(r, p.threshold, 0)
        membrane = sat_m(membrane, "membrane")
        if p.reset == "zero_all":
            membrane = node(m, Mux(r, 0, membrane), "masked")
        spike = node(m, membrane > p.threshold, "fire")
        after = _no_delay_reset(membrane, spike, r, p, sat_m)
        m.d.comb += self.mem_out.eq(after)
        current = saturate(m, leak(self.syn, p.syn_decay, "current_in") + bias, p.syn_bits,
                           "current")

        with m.If(self.op):
            m.d.comb += [
                self.mem_next.eq(Mux(self.last, 0, after)),
                self.syn_next.eq(Mux(self.last, bias, current)),
                self.spike.eq(spike),
            ]
        with m.Else():
            m.d.comb += [self.mem_next.eq(self.mem), self.syn_next.eq(integrated)]
        return m
