"""FCLayer in Amaranth's simulator against the reference: spikes and membranes per step."""
import numpy as np
import pytest
from amaranth.sim import Simulator

from spikegen.assemble import layer_component
from spikegen.quantize import quantize
from spikegen.reference import layer_initial_state, step_layer

from spikegen.sim.amaranth_tb import tokens
from helpers.networks import random_network
from helpers.networks import random_qlayer


async def run_step(ctx, dut, step):
    """Feed one step's tokens to the layer until its end-of-step token comes out: the
    output spike indices and that token's ``last`` flag."""
    got, pending = [], list(step)
    while True:
        if pending:
            ctx.set(dut.i_events.payload, pending[0])
        ctx.set(dut.i_events.valid, int(bool(pending)))
        _, _, took, valid, payload = await ctx.tick().sample(
            dut.i_events.ready, dut.o_events.valid, dut.o_events.payload)
        if pending and took:
            pending = pending[1:]
        if valid:
            if payload.eos:
                ctx.set(dut.i_events.valid, 0)
                return got, bool(payload.last)
            got.append(int(payload.index))


def unpack_state(layer, words):
    """(mem, r) per neuron from the state memory words."""
    mb = layer.params.mem_bits
    mem, r = [], []
    for word in words:
        for j in range(layer.lanes):
            lane = (word >> (j * (mb + 1))) & ((1 << (mb + 1)) - 1)
            value = lane & ((1 << mb) - 1)
            mem.append(value - (1 << mb) if value >> (mb - 1) else value)
            r.append(lane >> mb)
    return np.array(mem[:layer.outputs]), np.array(r[:layer.outputs])


CASES = [
    # (inputs, outputs, lanes, reset, reset_delay, beta, bias)
    (10, 7, None, "subtract", True, 0.9, True),
    (10, 7, 3, "subtract", False, 0.75, True),
    (9, 8, 4, "zero", True, 0.5, False),
    (9, 8, 1, "zero", False, 0.8, True),
    (6, 5, 2, "none", True, 1.0, True),
    (12, 16, 16, "subtract", True, 0.0, False),
]


@pytest.mark.parametrize("case", CASES)
def test_layer_steps_match_reference(rng, case):
    n_in, n_out, lanes, reset, delay, beta, bias = case
    net = random_network(rng, (n_in, n_out), beta=beta, reset=reset, reset_delay=delay,
                         bias=bias, scale=0.6, mean=0.15)
    qlayer = quantize(net, weight_bits=6, mem_frac_bits=1).layers[0]
    dut = layer_component(qlayer, lanes)
    samples = (rng.random((3, 7, n_in)) < 0.45).astype(np.uint8)

    async def bench(ctx):
        ctx.set(dut.o_events.ready, 1)
        for sample in samples:
            state = layer_initial_state(qlayer)
            for t in range(sample.shape[0]):
                step = list(tokens(sample[t:t + 1]))
                step[-1]["last"] = int(t == sample.shape[0] - 1)
                spikes, mem, state, _ = step_layer(qlayer, state, sample[None, t])
                got, last = await run_step(ctx, dut, step)
                assert last == (t == sample.shape[0] - 1)
                assert got == sorted(got)
                assert got == list(np.flatnonzero(spikes[0])), f"step {t}"
                words = ([ctx.get(dut.state_reg)] if dut.state is None else
                         [ctx.get(dut.state.data[g]) for g in range(dut.groups)])
                hw_mem, hw_r = unpack_state(dut, words)
                if t == sample.shape[0] - 1:
                    state = layer_initial_state(qlayer)     # the last step restarts from rest
                np.testing.assert_array_equal(hw_mem, state[0][0], err_msg=f"step {t}")
                np.testing.assert_array_equal(hw_r, state[1][0].astype(int))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_constructor_errors():
    from rtl_lib.fc_layer import FCLayer
    from rtl_lib.lif import LIFParams

    params = LIFParams(mem_bits=8, threshold=10, decay=1, decay_bits=4)
    with pytest.raises(ValueError, match="Weights must fit 4 signed bits"):
        FCLayer([[9, 0]], None, params, 4)
    with pytest.raises(TypeError, match="non-empty 2-D matrix"):
        FCLayer([], None, params, 4)
    with pytest.raises(ValueError, match="Bias must have 1 entries"):
        FCLayer([[1, 0]], [1, 2], params, 4)
    with pytest.raises(TypeError, match="Lane count must be a positive integer"):
        FCLayer([[1, 0]], None, params, 4, lanes=0)


@pytest.mark.parametrize("reset,delay,lanes", [("subtract", True, None), ("zero", False, 3),
                                               ("subtract", False, 2), ("none", True, 5)])
def test_direct_input_layer_matches_reference(rng, reset, delay, lanes):
    """Direct (current) input: membranes after every step, and the accumulator."""
    from spikegen.ir import InputCoding
    from spikegen.reference import simulate

    n_in, n_out, steps = 12, 7, 6
    net = random_network(rng, (n_in, n_out), beta=0.8125, reset=reset, reset_delay=delay,
                         scale=0.7, mean=0.2)
    qnet = quantize(net, weight_bits=6, mem_frac_bits=2,
                    coding=InputCoding(kind="direct", steps=steps))
    qlayer = qnet.layers[0]
    dut = layer_component(qlayer, lanes, value_bits=8)
    values = rng.integers(0, 256, (3, n_in))
    values[values < 100] = 0
    trace = simulate(qnet, values, record=True).layers[0]
    mb = qlayer.mem_format.bits

    async def bench(ctx):
        ctx.set(dut.o_events.ready, 1)
        for b in range(values.shape[0]):
            stream = [{"index": int(i), "value": int(values[b, i]), "eos": 0, "last": 0}
                      for i in np.flatnonzero(values[b])]
            for t in range(steps):
                stream.append({"index": 0, "value": 0, "eos": 1, "last": int(t == steps - 1)})
                got, _ = await run_step(ctx, dut, stream)
                stream = []
                assert got == list(np.flatnonzero(trace.spikes[b, t])), f"sample {b} step {t}"
                words = ([ctx.get(dut.state_reg)] if dut.state is None else
                         [ctx.get(dut.state.data[g]) for g in range(dut.groups)])
                mem = []
                for word in words:
                    for j in range(dut.lanes):
                        lane = (word >> (j * dut.lane_state_bits)) & ((1 << mb) - 1)
                        mem.append(lane - (1 << mb) if lane >> (mb - 1) else lane)
                expected = trace.mem[b, t] if t < steps - 1 else np.zeros(n_out)
                np.testing.assert_array_equal(mem[:n_out], expected, err_msg=f"step {t}")
            ctx.set(dut.i_events.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


# ----------------------------------------------- neuron models beyond the uniform LIF layer


def hardware_state(dut, ctx):
    """The layer's state per neuron: ``{"mem": ..., "r": ...}`` (LIF) or ``{"mem": ...,
    "syn": ...}`` (current-based), signed integers."""
    words = ([ctx.get(dut.state_reg)] if dut.state is None else
             [ctx.get(dut.state.data[g]) for g in range(dut.groups)])
    fields = dut.state_fields()
    out = {name: [] for name, _ in fields}
    sw = dut.lane_state_bits
    for word in words:
        for j in range(dut.lanes):
            lane = (word >> (j * sw)) & ((1 << sw) - 1)
            for name, bits in fields:
                value = lane & ((1 << bits) - 1)
                lane >>= bits
                signed = bits > 1
                out[name].append(value - (1 << bits) if signed and value >> (bits - 1)
                                 else value)
    return {name: np.array(values[:dut.outputs]) for name, values in out.items()}


def run_layer(qlayer, lanes, samples, events=1, mixed_beats=False):
    """Drive ``samples`` (batch, steps, inputs) through the layer; after every step compare
    the spikes and the whole neuron state with :func:`spikegen.reference.step_layer`."""
    from spikegen.ir import QCubaLIF

    dut = layer_component(qlayer, lanes, events=events)
    cuba = isinstance(qlayer.neuron, QCubaLIF)
    mix = np.random.default_rng(5) if mixed_beats else None

    async def bench(ctx):
        ctx.set(dut.o_events.ready, 1)
        for sample in samples:
            state = layer_initial_state(qlayer)
            steps = sample.shape[0]
            for t in range(steps):
                step = list(tokens(sample[t:t + 1], events, mix))
                step[-1]["last"] = int(t == steps - 1)
                spikes, mem, state, _ = step_layer(qlayer, state, sample[None, t],
                                                   events_per_cycle=events)
                got, last = await run_step(ctx, dut, step)
                assert last == (t == steps - 1)
                assert got == list(np.flatnonzero(spikes[0])), f"step {t}"
                if t == steps - 1:
                    state = layer_initial_state(qlayer)     # the last step restarts from rest
                hw = hardware_state(dut, ctx)
                if cuba:
                    np.testing.assert_array_equal(hw["mem"], state.mem[0], f"mem, step {t}")
                    np.testing.assert_array_equal(hw["syn"], state.acc[0], f"syn, step {t}")
                else:
                    np.testing.assert_array_equal(hw["mem"], state.acc[0], f"mem, step {t}")
                    np.testing.assert_array_equal(hw["r"], state.r[0], f"r, step {t}")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("reset", ["subtract", "zero", "zero_all", "none"])
@pytest.mark.parametrize("delay", [True, False])
def test_per_neuron_parameters_and_resets(reset, delay):
    """Per-neuron thresholds and decays, every reset mode: one lane per neuron (narrow,
    tabulated, and wide membranes), and shared lanes reading each group's parameters from a
    memory (E = 1 and 2)."""
    rng = np.random.default_rng(["subtract", "zero", "zero_all", "none"].index(reset) * 2 + delay)
    for mem_bits, per_neuron in ((7, True), (11, True), (6, False)):
        qlayer = random_qlayer(rng, 9, 6, reset=reset, delay=delay, per_neuron=per_neuron,
                               mem_bits=mem_bits)
        samples = (rng.random((2, 6, 9)) < 0.5).astype(np.uint8)
        run_layer(qlayer, None, samples)
        run_layer(qlayer, 4, samples, events=2)
        if per_neuron:
            assert layer_component(qlayer, 4).variable_params
            run_layer(qlayer, 2, samples)


def test_per_neuron_parameters_need_one_lane_per_neuron_where_lanes_are_constant():
    from rtl_lib.fc_layer import FCLayer
    from rtl_lib.lif import LIFParams
    from spikegen.errors import SpikegenError

    qlayer = random_qlayer(np.random.default_rng(0), 4, 5, per_neuron=True, cuba=True)
    with pytest.raises(SpikegenError, match=r"per-neuron thresholds or betas that differ need "
                       r"one lane per neuron for current-based neurons \(5, not 2\): use parallelism 0"):
        layer_component(qlayer, 2)
    params = [LIFParams(mem_bits=8, threshold=t, decay=1, decay_bits=4) for t in (5, 6)]
    with pytest.raises(ValueError, match="need one lane per neuron"):
        FCLayer([[1], [2]], None, params, 4, lanes=1, value_bits=8)
    with pytest.raises(ValueError, match="Neuron parameters must have 2 entries, not 1"):
        FCLayer([[1], [2]], None, params[:1], 4)
    with pytest.raises(ValueError, match="may differ only in threshold and decay"):
        FCLayer([[1], [2]], None, [params[0], LIFParams(mem_bits=9, threshold=5, decay=1,
                                                        decay_bits=4)], 4)


@pytest.mark.parametrize("reset", ["subtract", "zero", "zero_all", "none"])
@pytest.mark.parametrize("delay", [True, False])
def test_current_based_layer(reset, delay):
    """QCubaLIF: the events accumulate into a saturating synaptic current; per-neuron
    parameters with one lane per neuron, shared ones with several groups, E = 1 and 2."""
    rng = np.random.default_rng(10 + ["subtract", "zero", "zero_all", "none"].index(reset) * 2
                                + delay)
    for per_neuron, lanes, events in ((True, None, 1), (False, 3, 1), (False, 2, 2),
                                      (True, None, 2)):
        qlayer = random_qlayer(rng, 9, 6, cuba=True, reset=reset, delay=delay,
                               per_neuron=per_neuron, mem_bits=7, syn_bits=6)
        samples = (rng.random((2, 6, 9)) < 0.5).astype(np.uint8)
        run_layer(qlayer, lanes, samples, events=events, mixed_beats=events == 2)


@pytest.mark.parametrize("kind", ["all", "one"])
@pytest.mark.parametrize("events", [1, 2])
def test_recurrent_layer(kind, events):
    """The layer's own spikes of the previous step, as events ``inputs + j`` after the
    step's input events, grouped with them by E; narrow membranes so grouping matters."""
    rng = np.random.default_rng(20 + events * 2 + (kind == "one"))
    for cuba, lanes, reset in ((False, None, "subtract"), (False, 2, "zero"),
                               (True, 4, "zero_all"), (True, None, "none")):
        qlayer = random_qlayer(rng, 7, 6, cuba=cuba, recurrent=kind, reset=reset,
                               delay=lanes is None, mem_bits=6, syn_bits=6)
        samples = (rng.random((2, 6, 7)) < 0.4).astype(np.uint8)
        run_layer(qlayer, lanes, samples, events=events, mixed_beats=events == 2)


def test_recurrent_constructor_errors():
    from rtl_lib.fc_layer import FCLayer
    from rtl_lib.lif import LIFParams

    params = LIFParams(mem_bits=8, threshold=10, decay=1, decay_bits=4)
    with pytest.raises(ValueError, match="Recurrent weights must be a 2x2 matrix"):
        FCLayer([[1], [2]], None, params, 4, recurrent=[[1, 2]])
    with pytest.raises(ValueError, match="Weights must fit 4 signed bits"):
        FCLayer([[1], [2]], None, params, 4, recurrent=[[1, 2], [3, 8]])
    with pytest.raises(ValueError, match="cannot be recurrent"):
        FCLayer([[1], [2]], None, params, 4, value_bits=8, recurrent=[[1, 2], [3, 4]])
    from spikegen.errors import SpikegenError
    qlayer = random_qlayer(np.random.default_rng(0), 4, 5, recurrent="one")
    with pytest.raises(SpikegenError, match="cannot build a recurrent first layer with direct"):
        layer_component(qlayer, None, value_bits=8)
