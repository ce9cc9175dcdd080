"""The leaky integrate-and-fire neuron datapath: one lane, combinational."""
from dataclasses import dataclass

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["LIFParams", "LIFLane"]


RESETS = ("subtract", "zero", "none")


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
        if not isinstance(self.mem_bits, int) or self.mem_bits < 2:
            raise TypeError(f"Membrane width must be an integer of at least 2, "
                            f"not {self.mem_bits!r}")
        if not isinstance(self.decay_bits, int) or self.decay_bits < 1:
            raise TypeError(f"Decay width must be a positive integer, not {self.decay_bits!r}")
        if not 0 <= self.decay <= (1 << self.decay_bits):
            raise ValueError(f"Decay must be in [0, {1 << self.decay_bits}], not {self.decay!r}")
        if not -(1 << (self.mem_bits - 1)) <= self.threshold < (1 << (self.mem_bits - 1)):
            raise ValueError(f"Threshold {self.threshold} does not fit a {self.mem_bits}-bit "
                             "membrane")
        if self.reset not in RESETS:
            raise ValueError(f"Reset must be one of {', '.join(RESETS)}, not {self.reset!r}")
        if not isinstance(self.weight_shift, int) or self.weight_shift < 0:
            raise TypeError(f"Weight shift must be a non-negative integer, "
                            f"not {self.weight_shift!r}")

    @property
    def mem_min(self):
        return -(1 << (self.mem_bits - 1))

    @property
    def mem_max(self):
        return (1 << (self.mem_bits - 1)) - 1


def _saturate(value, params):
    """Clamp ``value`` to the membrane range; returns a ``signed(mem_bits)`` expression."""
    lo, hi = params.mem_min, params.mem_max
    return Mux(value > hi, hi, Mux(value < lo, lo, value))[:params.mem_bits].as_signed()


def _leak(mem, params):
    """``mem - ((mem * decay + 2**(bits-1)) >> bits)``; a shift when ``decay`` is 2**k."""
    decay, bits = params.decay, params.decay_bits
    if decay == 0:
        return mem
    half = 1 << (bits - 1)
    if decay & (decay - 1) == 0:
        k = decay.bit_length() - 1
        if k == bits:
            return mem - mem                 # beta = 0
        return mem - ((mem + (1 << (bits - k - 1))) >> (bits - k))
    return mem - ((mem * decay + half) >> bits)


class LIFLane(wiring.Component):
    """One neuron lane of a LIF layer: the integrate and the end-of-step updates.

    The lane holds no state; the layer keeps each neuron's membrane ``mem`` and reset flag
    ``r`` in memory and runs them through a lane. With ``op`` = 0 (integrate)::

        mem_next = sat(mem + (weight << weight_shift));  r_next = r;  spike = 0

    With ``op`` = 1 (end of step ``t``; ``m`` the membrane after the step's inputs)::

        spike  = m > threshold
        m'     = m                                  (reset_delay or reset == "none")
                 sat(m - (spike - r) * threshold)   (no delay, "subtract")
                 0 if spike & ~r, sat(2 m) if r & ~spike, else m      (no delay, "zero")
        m''    = 0 if last else m'                  (a new inference starts from rest)
        r_next = m'' > threshold
        mem_next = sat(leak(m'' or 0 if reset == "zero" and r_next) + bias
                       - (r_next * threshold if reset == "subtract"))
        leak(x) = x - ((x * decay + 2**(decay_bits - 1)) >> decay_bits)

    ``mem_next`` is then the membrane at the start of step ``t + 1`` (after leak, bias and
    the delayed reset), ready for that step's inputs. This is snnTorch's ``Leaky`` update
    order, bit-exactly as :mod:`spikegen.reference` defines it.

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
        Added once per step (end-of-step update).
    mem_next : Out(signed(mem_bits))
    r_next : Out(1)
    spike : Out(1)
        The neuron fired in this step (end-of-step update only).
    """
    def __init__(self, params, weight_bits):
        if not isinstance(params, LIFParams):
            raise TypeError(f"Neuron parameters must be LIFParams, not {params!r}")
        if not isinstance(weight_bits, int) or weight_bits < 1:
            raise TypeError(f"Weight width must be a positive integer, not {weight_bits!r}")
        self.params = params
        self.weight_bits = weight_bits
        mem = signed(params.mem_bits)
        super().__init__({
            "op": In(1), "last": In(1),
            "mem": In(mem), "r": In(1),
            "weight": In(signed(weight_bits)), "bias": In(mem),
            "mem_next": Out(mem), "r_next": Out(1), "spike": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        def sat(value):
            return _saturate(value, p)

        integrated = sat(self.mem + (self.weight << p.weight_shift))

        spike = self.mem > p.threshold
        if p.reset_delay or p.reset == "none":
            after = self.mem
        elif p.reset == "subtract":
            after = sat(self.mem - Mux(spike & ~self.r, p.threshold,
                                       Mux(self.r & ~spike, -p.threshold, 0)))
        else:
            after = Mux(spike & ~self.r, 0, Mux(self.r & ~spike, sat(self.mem << 1), self.mem))
        rest = Mux(self.last, 0, after)
        r_next = rest > p.threshold
        base = Mux(r_next, 0, rest) if p.reset == "zero" else rest
        start = _leak(base, p) + self.bias
        if p.reset == "subtract":
            start = start - Mux(r_next, p.threshold, 0)
        start = sat(start)

        with m.If(self.op):
            m.d.comb += [self.mem_next.eq(start), self.r_next.eq(r_next), self.spike.eq(spike)]
        with m.Else():
            m.d.comb += [self.mem_next.eq(integrated), self.r_next.eq(self.r)]
        return m
