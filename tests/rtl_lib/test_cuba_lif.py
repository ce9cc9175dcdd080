"""CubaLIFLane against the integer model of its docstring and :mod:`spikegen.reference`: one
update at a time on random operands, and steps of a lane whose state loops back, compared
with :func:`spikegen.reference.step_layer`."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.cuba_lif import CubaLIFLane, CubaLIFParams
from spikegen.reference import layer_initial_state, leak, step_layer

from helpers.networks import random_qlayer


def expected(p, op, last, mem, syn, weight, bias):
    """``(mem_next, syn_next, spike, mem_out)`` of one lane update, in Python integers."""
    def sat(v, bits):
        return min(max(v, -(1 << (bits - 1))), (1 << (bits - 1)) - 1)

    def sat_m(v):
        return sat(v, p.mem_bits)

    # the end-of-step membrane is computed whatever op, and shown on mem_out
    r = int(mem > p.threshold)
    base = 0 if (p.reset == "zero" and r) else mem
    m = int(leak(base, p.decay, p.decay_bits)) + syn
    if p.reset == "subtract":
        m -= r * p.threshold
    m = sat_m(m)
    if p.reset == "zero_all" and r:
        m = 0
    spike = int(m > p.threshold)
    if not p.reset_delay and p.reset == "subtract":
        m = sat_m(m - (spike - r) * p.threshold)
    elif not p.reset_delay and p.reset in ("zero", "zero_all"):
        m = 0 if (spike and not r) else (sat_m(2 * m) if (r and not spike) else m)
    if not op:
        return mem, sat(syn + (weight << p.weight_shift), p.syn_bits), 0, m
    if last:
        return 0, bias, spike, m
    current = sat(int(leak(syn, p.syn_decay, p.decay_bits)) + bias, p.syn_bits)
    return m, current, spike, m


PARAMS = [
    CubaLIFParams(mem_bits=8, syn_bits=8, threshold=40, decay=26, syn_decay=51,
                  decay_bits=8),                                      # multiply-by-constant
    CubaLIFParams(mem_bits=8, syn_bits=6, threshold=30, decay=8, syn_decay=4, decay_bits=4,
                  reset="zero"),                                      # shifts
    CubaLIFParams(mem_bits=7, syn_bits=9, threshold=20, decay=0, syn_decay=16, decay_bits=4,
                  reset="none", weight_shift=2),                      # beta = 1, alpha = 0
    CubaLIFParams(mem_bits=6, syn_bits=6, threshold=-3, decay=16, syn_decay=0, decay_bits=4,
                  reset_delay=False),                                 # beta = 0, alpha = 1
    CubaLIFParams(mem_bits=7, syn_bits=7, threshold=20, decay=3, syn_decay=5, decay_bits=4,
                  reset="zero", reset_delay=False, weight_shift=1),
    CubaLIFParams(mem_bits=7, syn_bits=8, threshold=12, decay=5, syn_decay=3, decay_bits=3,
                  reset="zero_all"),
    CubaLIFParams(mem_bits=9, syn_bits=7, threshold=90, decay=40, syn_decay=17, decay_bits=8,
                  reset="zero_all", reset_delay=False),
]


def run_cases(dut, params, cases, const_bias):
    async def bench(ctx):
        for op, last, mem, syn, weight, bias in cases:
            if const_bias is None:
                ctx.set(dut.bias, bias)
            else:
                bias = const_bias
            for port, value in zip((dut.op, dut.last, dut.mem, dut.syn, dut.weight),
                                   (op, last, mem, syn, weight)):
                ctx.set(port, value)
            got = (ctx.get(dut.mem_next), ctx.get(dut.syn_next), ctx.get(dut.spike),
                   ctx.get(dut.mem_out))
            assert got == expected(params, op, last, mem, syn, weight, bias), \
                (op, last, mem, syn, weight, bias)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("const_bias", [False, True])
@pytest.mark.parametrize("params", PARAMS)
def test_lane_matches_model(params, const_bias):
    """Random operands over the whole ranges, plus the corners that saturate."""
    wb = 5
    rng = np.random.default_rng(PARAMS.index(params) * 2 + const_bias)
    s_min, s_max = -(1 << (params.syn_bits - 1)), (1 << (params.syn_bits - 1)) - 1
    bias = int(rng.integers(s_min // 2, s_max // 2 + 1)) if const_bias else None
    dut = CubaLIFLane(params, wb, bias=bias)
    cases = [(int(rng.integers(2)), int(rng.integers(2)),
              int(rng.integers(params.mem_min, params.mem_max + 1)),
              int(rng.integers(s_min, s_max + 1)),
              int(rng.integers(-(1 << (wb - 1)), 1 << (wb - 1))),
              int(rng.integers(s_min // 2, s_max // 2 + 1)))
             for _ in range(250)]
    for op in (0, 1):
        for mem in (params.mem_min, params.mem_max, params.threshold, params.threshold + 1):
            for syn in (s_min, s_max):
                cases.append((op, 0, mem, syn, (1 << (wb - 1)) - 1, s_max))
                cases.append((op, 0, mem, syn, -(1 << (wb - 1)), s_min))
    run_cases(dut, params, cases, bias)


def test_constant_bias_is_not_a_port():
    assert hasattr(CubaLIFLane(PARAMS[0], 4), "bias")
    assert not hasattr(CubaLIFLane(PARAMS[0], 4, bias=3), "bias")
    dut = CubaLIFLane(PARAMS[1], 4, bias=-32)                 # the most negative 6-bit bias
    assert dut.const_bias == -32


@pytest.mark.parametrize("reset", ["subtract", "zero", "zero_all", "none"])
@pytest.mark.parametrize("delay", [True, False])
def test_lane_steps_match_step_layer(reset, delay):
    """One neuron's state looped through the lane, event by event then the end of step,
    over inferences of several steps, against :func:`spikegen.reference.step_layer`."""
    from spikegen.plan import neuron_params

    rng = np.random.default_rng(40 + ["subtract", "zero", "zero_all", "none"].index(reset) * 2
                                + delay)
    qlayer = random_qlayer(rng, 6, 1, cuba=True, reset=reset, delay=delay, mem_bits=6,
                           syn_bits=6)
    params = neuron_params(qlayer)
    assert isinstance(params, CubaLIFParams)
    bias = int(qlayer.bias[0])
    dut = CubaLIFLane(params, qlayer.weight_format.bits)
    weights = [int(w) for w in qlayer.weight[0]]
    samples = (rng.random((3, 6, 6)) < 0.6).astype(np.uint8)

    async def bench(ctx):
        ctx.set(dut.bias, bias)
        state = layer_initial_state(qlayer)
        mem, syn = 0, int(state.acc[0, 0])
        for sample in samples:
            state = layer_initial_state(qlayer)
            for t, spikes_t in enumerate(sample):
                last = t == len(sample) - 1
                ref_spikes, ref_mem, state, _ = step_layer(qlayer, state, spikes_t[None])
                ctx.set(dut.op, 0)
                for i in np.flatnonzero(spikes_t):
                    ctx.set(dut.mem, mem)
                    ctx.set(dut.syn, syn)
                    ctx.set(dut.weight, weights[i])
                    syn = ctx.get(dut.syn_next)
                    assert ctx.get(dut.mem_next) == mem
                ctx.set(dut.mem, mem)
                ctx.set(dut.syn, syn)
                ctx.set(dut.op, 1)
                ctx.set(dut.last, last)
                assert ctx.get(dut.spike) == ref_spikes[0, 0], f"step {t}"
                assert ctx.get(dut.mem_out) == ref_mem[0, 0], f"step {t}"
                mem, syn = ctx.get(dut.mem_next), ctx.get(dut.syn_next)
                if last:
                    state = layer_initial_state(qlayer)
                assert (mem, syn) == (state.mem[0, 0], state.acc[0, 0]), f"step {t}"

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_acc_bits_is_the_synaptic_current():
    p = PARAMS[1]
    assert (p.acc_bits, p.mem_min, p.mem_max) == (6, -128, 127)


def test_bad_parameters():
    common = dict(mem_bits=8, syn_bits=8, threshold=20, decay=1, syn_decay=1, decay_bits=4)
    with pytest.raises(TypeError, match=r"Membrane width must be an integer of at least 2, "
                                        r"not 1"):
        CubaLIFParams(**{**common, "mem_bits": 1})
    with pytest.raises(TypeError, match=r"Synaptic current width must be an integer of at "
                                        r"least 2, not 'x'"):
        CubaLIFParams(**{**common, "syn_bits": "x"})
    with pytest.raises(TypeError, match=r"Decay width must be a positive integer, not 0"):
        CubaLIFParams(**{**common, "decay_bits": 0})
    with pytest.raises(ValueError, match=r"Decay must be in \[0, 16\], not 17"):
        CubaLIFParams(**{**common, "decay": 17})
    with pytest.raises(ValueError, match=r"Synaptic decay must be in \[0, 16\], not -1"):
        CubaLIFParams(**{**common, "syn_decay": -1})
    with pytest.raises(ValueError, match=r"Threshold 128 does not fit a 8-bit membrane"):
        CubaLIFParams(**{**common, "threshold": 128})
    with pytest.raises(ValueError, match=r"Reset must be one of subtract, zero, zero_all, "
                                         r"none, not 'soft'"):
        CubaLIFParams(**{**common, "reset": "soft"})
    with pytest.raises(TypeError, match=r"Weight shift must be a non-negative integer, not -1"):
        CubaLIFParams(**{**common, "weight_shift": -1})


def test_bad_lane_arguments():
    from rtl_lib.lif import LIFParams

    with pytest.raises(TypeError, match=r"Neuron parameters must be CubaLIFParams, not "
                                        r"LIFParams\("):
        CubaLIFLane(LIFParams(mem_bits=8, threshold=20, decay=1, decay_bits=4), 4)
    with pytest.raises(TypeError, match=r"Weight width must be a positive integer, not 0"):
        CubaLIFLane(PARAMS[0], 0)
    with pytest.raises(ValueError, match=r"Constant bias must be an integer that fits the "
                                         r"6-bit synaptic current, not 32"):
        CubaLIFLane(PARAMS[1], 4, bias=32)
    with pytest.raises(ValueError, match=r"Constant bias must be an integer that fits the "
                                         r"6-bit synaptic current, not 1.5"):
        CubaLIFLane(PARAMS[1], 4, bias=1.5)
