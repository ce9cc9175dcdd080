"""Fixed-point building blocks of the neuron datapaths: saturation, constant multiplies and
the leak's rounding, as Amaranth expressions (combinational)."""
from amaranth.hdl import Cat, Mux, Signal, Value


__all__ = ["node", "saturate", "decay_amount", "times_constant", "csd_digits"]


def node(m, value, name):
    """``value`` through a signal of its own shape: an expression used several times is then
    one net, not a copy per use (nested copies would grow the netlist exponentially)."""
    signal = Signal(value.shape(), name=name)
    m.d.comb += signal.eq(value)
    return signal


def saturate(m, value, bits, name):
    """Clamp ``value`` to the range of ``signed(bits)``, as a signed signal: of that shape, or
    of the value's own signed width when that is narrower (every value then fits, and an
    assignment sign-extends it).

    The value fits when its bits from ``bits - 1`` up are all copies of its sign; that
    test is a few LUTs, where two magnitude comparisons would cost two carry chains.
    """
    wide = node(m, value, f"{name}_wide")
    if not wide.shape().signed:
        wide = node(m, Cat(wide, 0).as_signed(), f"{name}_signed")
    if len(wide) <= bits:
        return node(m, wide.as_signed(), name)
    top = wide[bits - 1:]
    sign = wide[-1]
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    clamped = Mux(sign, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return node(m, Mux(fits, wide[:bits], clamped[:bits]).as_signed(), name)


def decay_amount(value, decay, bits):
    """The amount the leak takes off: ``(value * decay + 2**(bits-1)) >> bits`` (rounding
    half up); a shift when ``decay`` is 2**k, shifts and adds otherwise; ``None`` when
    beta = 1."""
    if isinstance(decay, Value):
        # a decay read from memory (per-neuron parameters on shared lanes): a multiplier
        return (value * decay + (1 << (bits - 1))) >> bits
    if decay == 0:
        return None
    if decay & (decay - 1) == 0:
        k = decay.bit_length() - 1
        if k == bits:
            return value                     # beta = 0: all of it
        return (value + (1 << (bits - k - 1))) >> (bits - k)
    return (times_constant(value, decay) + (1 << (bits - 1))) >> bits


def csd_digits(value):
    """Canonical signed digits of a positive integer: ``[(shift, sign), ...]``, fewest terms."""
    digits, shift = [], 0
    while value:
        if value & 1:
            digit = 2 - (value & 3)          # +1 or -1
            digits.append((shift, digit))
            value -= digit
        value >>= 1
        shift += 1
    return digits


def times_constant(value, constant):
    """``value * constant`` as shifts and adds (canonical signed digits): a few carry chains
    instead of a hardware multiplier, and a shorter path."""
    total = None
    for shift, sign in csd_digits(constant):
        term = value << shift
        total = (term if sign > 0 else -term) if total is None else \
            (total + term if sign > 0 else total - term)
    return total
