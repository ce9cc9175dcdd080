"""The fixed-point helpers as small combinational modules, against Python integers: saturate
against clamping, decay_amount against the leak's rounding, times_constant against ``*``."""
import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from rtl_lib.fixed_point import decay_amount, node, saturate, times_constant


def simulate(m, inputs, outputs, values, check):
    """Drive ``inputs`` (a signal, or a tuple of signals) with each of ``values`` and call
    ``check(value, got)`` with the settled ``outputs`` (a dict of name -> signal)."""
    async def bench(ctx):
        for value in values:
            if isinstance(inputs, tuple):
                for signal, v in zip(inputs, value):
                    ctx.set(signal, v)
            else:
                ctx.set(inputs, value)
            check(value, {name: ctx.get(signal) for name, signal in outputs.items()})

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def full_range(shape):
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    return range(lo, lo + (1 << shape.width))


def clamp(v, bits):
    return min(max(v, -(1 << (bits - 1))), (1 << (bits - 1)) - 1)


@pytest.mark.parametrize("shape", [signed(2), signed(5), signed(8), unsigned(1), unsigned(4),
                                   unsigned(7)])
def test_saturate_clamps(shape):
    """Every input value, to every output width from 2 up to wider than the input."""
    m = Module()
    a = Signal(shape)
    outputs = {bits: saturate(m, a, bits, f"sat{bits}")
               for bits in range(2, shape.width + 3)}

    def check(value, got):
        for bits, v in got.items():
            assert v == clamp(value, bits), (value, bits)

    simulate(m, a, outputs, full_range(shape), check)


@pytest.mark.parametrize("shape", [signed(4), unsigned(3)])
def test_saturate_returns_a_signed_signal_of_at_most_bits(shape):
    """A value that always fits keeps its own (signed) width: no wider than ``bits``, and
    assigning it anywhere sign-extends it."""
    m = Module()
    own = len(Signal(shape)) + (0 if shape.signed else 1)
    for bits in (2, 4, 6):
        got = saturate(m, Signal(shape), bits, f"sat{bits}").shape()
        assert got == (signed(bits) if own > bits else signed(own)), bits


def test_saturate_expressions():
    """A sum wider than either operand (the integrate path's shape), clamped to 6 bits."""
    m = Module()
    a, b = Signal(signed(6)), Signal(signed(4))
    out = saturate(m, a + (b << 2), 6, "integrated")
    rng = np.random.default_rng(0)
    values = [(int(x), int(y)) for x, y in zip(rng.integers(-32, 32, 300),
                                                rng.integers(-8, 8, 300))]
    values += [(31, 7), (-32, -8), (31, -8), (-32, 7)]

    def check(value, got):
        x, y = value
        assert got["out"] == clamp(x + 4 * y, 6), value

    simulate(m, (a, b), {"out": out}, values, check)


def rounded(v, d, bits):
    return (v * d + (1 << (bits - 1))) >> bits


@pytest.mark.parametrize("bits", [1, 3, 4, 8])
def test_decay_amount_constant(bits):
    """Every decay of ``bits`` (shifts, shifts and adds, beta = 0), every 8-bit value."""
    m = Module()
    a = Signal(signed(8))
    outputs = {}
    for d in range(1, (1 << bits) + 1) if bits < 8 else (1, 2, 3, 26, 64, 127, 200, 255, 256):
        amount = decay_amount(a, d, bits)
        outputs[d] = node(m, amount, f"amount{d}")

    def check(value, got):
        for d, v in got.items():
            assert v == rounded(value, d, bits), (value, d)

    simulate(m, a, outputs, full_range(signed(8)), check)


def test_decay_amount_zero_is_none():
    """beta = 1: nothing to take off, and so no logic."""
    assert decay_amount(Signal(signed(8)), 0, 4) is None


@pytest.mark.parametrize("bits", [2, 4, 6])
def test_decay_amount_signal(bits):
    """A decay read from a port (per-neuron parameters on shared lanes): a multiplier."""
    m = Module()
    a, d = Signal(signed(7)), Signal(unsigned(bits + 1))
    out = node(m, decay_amount(a, d, bits), "amount")
    rng = np.random.default_rng(bits)
    values = [(int(v), int(k)) for v, k in zip(rng.integers(-64, 64, 400),
                                                rng.integers(0, (1 << bits) + 1, 400))]
    values += [(-64, 1 << bits), (63, 1 << bits), (-64, 0), (-1, 1), (1, 1)]

    def check(value, got):
        v, k = value
        assert got["out"] == rounded(v, k, bits), value

    simulate(m, (a, d), {"out": out}, values, check)


@pytest.mark.parametrize("shape", [signed(6), unsigned(5)])
def test_times_constant(shape):
    """Constants 1 to 100 and a few wide ones, every input value."""
    m = Module()
    a = Signal(shape)
    constants = list(range(1, 101)) + [255, 256, 1023, 0b1010101010101, 46341]
    outputs = {c: node(m, times_constant(a, c), f"times{c}") for c in constants}

    def check(value, got):
        for c, v in got.items():
            assert v == value * c, (value, c)

    simulate(m, a, outputs, full_range(shape), check)


def test_node_keeps_shape():
    m = Module()
    a = Signal(signed(5))
    n = node(m, a + 1, "plus")
    assert n.shape() == (a + 1).shape()
    assert n.name == "plus"
