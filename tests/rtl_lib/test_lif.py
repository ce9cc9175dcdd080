"""LIFLane against the reference arithmetic, on random operands."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.lif import LIFLane, LIFParams
from spikegen.reference import leak


def expected(p, op, last, mem, r, weight, bias):
    lo, hi = p.mem_min, p.mem_max
    sat = lambda v: min(max(v, lo), hi)  # noqa: E731
    if not op:
        return sat(mem + (weight << p.weight_shift)), r, 0
    if p.reset == "zero_all" and r:
        mem = 0
    spike = int(mem > p.threshold)
    m = mem
    if not p.reset_delay and p.reset == "subtract":
        m = sat(m - (spike - r) * p.threshold)
    elif not p.reset_delay and p.reset in ("zero", "zero_all"):
        m = 0 if (spike and not r) else (sat(2 * m) if (r and not spike) else m)
    if last:
        m = 0
    r_next = int(m > p.threshold)
    base = 0 if (p.reset == "zero" and r_next) else m
    start = int(leak(base, p.decay, p.decay_bits)) + bias
    if p.reset == "subtract":
        start -= r_next * p.threshold
    return sat(start), r_next, spike


PARAMS = [
    LIFParams(mem_bits=10, threshold=100, decay=26, decay_bits=8),                   # multiply
    LIFParams(mem_bits=10, threshold=100, decay=16, decay_bits=8, reset="zero"),     # shift
    LIFParams(mem_bits=8, threshold=40, decay=0, decay_bits=4, reset="none"),        # beta = 1
    LIFParams(mem_bits=9, threshold=60, decay=16, decay_bits=4, reset_delay=False),  # beta = 0
    LIFParams(mem_bits=12, threshold=700, decay=3, decay_bits=3, reset="zero", reset_delay=False,
              weight_shift=3),
    LIFParams(mem_bits=6, threshold=-3, decay=5, decay_bits=5, reset="subtract", weight_shift=1),
    LIFParams(mem_bits=7, threshold=20, decay=3, decay_bits=4, reset="zero", reset_delay=False),
    LIFParams(mem_bits=7, threshold=20, decay=3, decay_bits=4, reset_delay=False),
    LIFParams(mem_bits=7, threshold=20, decay=3, decay_bits=4, reset="zero_all"),
    LIFParams(mem_bits=10, threshold=90, decay=40, decay_bits=8, reset="zero_all",
              reset_delay=False),
    LIFParams(mem_bits=6, threshold=-2, decay=1, decay_bits=2, reset="zero_all",
              reset_delay=False),
]


def _tabulated(params, const_bias):
    return const_bias == "constant" and LIFLane(params, 6, bias=0).tabulated


# every bias kind one cycle, and split where the update is arithmetic (a table is not split)
LANE_CASES = [pytest.param(params, const_bias, split, id=f"params{k}-{const_bias}-{name}")
              for k, params in enumerate(PARAMS)
              for const_bias in (None, "constant", "variable")
              for split, name in ((False, "one-cycle"), (True, "split"))
              if not (split and _tabulated(params, const_bias))]


@pytest.mark.parametrize("params,const_bias,split", LANE_CASES)
def test_lane_matches_reference(params, const_bias, split):
    """Constant or port bias; "variable": threshold and decay from ports too (per-neuron
    parameters on shared lanes), set to the parameters' values. A split lane gives the
    end-of-step result a cycle later, with ``finish``."""
    wb = 6
    variable = const_bias == "variable"
    if const_bias == "constant":
        const_bias = params.mem_max // 5
    else:
        const_bias = None
    dut = LIFLane(params, wb, bias=const_bias, variable=variable, split=split)
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(300):
        cases.append((int(rng.integers(2)), int(rng.integers(2)),
                      int(rng.integers(params.mem_min, params.mem_max + 1)), int(rng.integers(2)),
                      int(rng.integers(-(1 << (wb - 1)), 1 << (wb - 1))),
                      int(rng.integers(params.mem_min // 4, params.mem_max // 4 + 1))))
    cases += [(1, 0, params.mem_max, 1, 0, params.mem_max), (1, 0, params.mem_min, 0, 0,
              params.mem_min), (0, 0, params.mem_max, 0, (1 << (wb - 1)) - 1, 0),
              (0, 0, params.mem_min, 0, -(1 << (wb - 1)), 0)]

    async def bench(ctx):
        if variable:
            ctx.set(dut.threshold, params.threshold)
            ctx.set(dut.decay, params.decay)
        for op, last, mem, r, weight, bias in cases:
            if const_bias is None:
                ctx.set(dut.bias, bias)
            else:
                bias = const_bias
            for port, value in zip((dut.op, dut.last, dut.mem, dut.r, dut.weight),
                                   (op, last, mem, r, weight)):
                ctx.set(port, value)
            await ctx.delay(1e-9)
            got = (ctx.get(dut.mem_next), ctx.get(dut.r_next), ctx.get(dut.spike))
            if split and op:
                # fired now; the new state once the registers hold the first half
                await ctx.tick()
                ctx.set(dut.op, 0)
                ctx.set(dut.finish, 1)
                # the second half reads only the registers: scramble the inputs
                ctx.set(dut.mem, params.mem_min)
                await ctx.delay(1e-9)
                got = (ctx.get(dut.mem_next), ctx.get(dut.r_next), got[2])
                ctx.set(dut.finish, 0)
            assert got == expected(params, op, last, mem, r, weight, bias), \
                (op, last, mem, r, weight, bias)

    sim = Simulator(dut)
    if split:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_bad_parameters():
    with pytest.raises(ValueError, match="Threshold 200 does not fit a 8-bit membrane"):
        LIFParams(mem_bits=8, threshold=200, decay=1, decay_bits=4)
    with pytest.raises(ValueError, match="Decay must be in"):
        LIFParams(mem_bits=8, threshold=20, decay=17, decay_bits=4)
    with pytest.raises(ValueError, match="Reset must be one of"):
        LIFParams(mem_bits=8, threshold=20, decay=1, decay_bits=4, reset="soft")
    with pytest.raises(TypeError, match="Weight width must be a positive integer"):
        LIFLane(PARAMS[0], 0)


def test_narrow_lane_is_tabulated():
    assert LIFLane(PARAMS[5], 4, bias=0).tabulated
    assert not LIFLane(PARAMS[5], 4).tabulated                 # bias from memory
    assert not LIFLane(PARAMS[0], 4, bias=0).tabulated         # 10-bit membrane
    assert LIFLane(PARAMS[6], 4, bias=0).tabulated             # 7 bits and r


def test_tabulated_lane_is_not_split():
    with pytest.raises(ValueError, match="A lane whose end-of-step update is a table cannot"):
        LIFLane(PARAMS[5], 4, bias=0, split=True)


def test_constant_bias_must_fit():
    with pytest.raises(ValueError, match="Constant bias must be an integer that fits"):
        LIFLane(PARAMS[5], 4, bias=40)


def test_variable_lane_takes_its_bias_from_a_port():
    with pytest.raises(ValueError, match="A lane with variable parameters takes its bias"):
        LIFLane(PARAMS[0], 4, bias=0, variable=True)
