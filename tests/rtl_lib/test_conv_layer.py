"""ConvLayer in Amaranth's simulator against the reference: spikes and every neuron's state
after each step, and the cycles of a step against the plan's cycle model."""
import numpy as np
import pytest
from amaranth.hdl import Fragment, Shape
from amaranth.sim import Simulator

from rtl_lib.conv_geometry import ConvGeometry, conv_output_size
from rtl_lib.conv_layer import ConvLayer
from rtl_lib.lif import LIFParams
from spikegen.ir import FixedFormat, QConvLayer, QCubaLIF, QLIF
from spikegen.plan import neuron_params
from spikegen.reference import layer_initial_state, step_layer


def random_geometry(rng, *, c_in, c_out, kernel, stride=1, padding=0, dilation=1, pool=1,
                    out_pool=1, current_pool=1, in_hw=None):
    """A geometry whose convolution output divides into ``current_pool`` windows and whose
    neuron map divides into ``out_pool`` windows, from a random input."""
    for _ in range(1000):
        hw = in_hw or tuple(int(v) for v in rng.integers(3, 9, 2))
        pooled = [s // pool for s in hw]
        pair = lambda v, a: v[a] if isinstance(v, tuple) else v      # noqa: E731
        out = [conv_output_size(s, pair(kernel, a), pair(stride, a), pair(padding, a),
                                pair(dilation, a)) for a, s in enumerate(pooled)]
        k = out_pool * current_pool
        if min(out) >= k and all(o % current_pool == 0 and (o // current_pool) % out_pool == 0
                                 for o in out):
            return ConvGeometry(in_hw=hw, in_channels=c_in, out_channels=c_out,
                                kernel=kernel, out_hw=tuple(out), stride=stride,
                                padding=padding, dilation=dilation, pool=pool,
                                out_pool=out_pool, current_pool=current_pool)
    raise AssertionError("no geometry")


def random_qconv(rng, geometry, *, cuba=False, reset="subtract", delay=True, bias=True,
                 mem_bits=6, syn_bits=7, weight_bits=4, shift=1):
    """A quantized convolution with random integers; a narrow state, so that adds saturate
    and their order matters."""
    g = geometry
    wf, mf = FixedFormat(weight_bits, 2), FixedFormat(mem_bits, 2 + shift)
    sf = FixedFormat(syn_bits, 2 + shift) if cuba else None
    top = 1 << (weight_bits - 1)
    weight = rng.integers(-top, top, (g.out_channels, g.in_channels, *g.kernel))
    weight[weight < -top // 2] //= 2                 # mostly positive: neurons fire
    acc = sf or mf
    b = rng.integers(acc.min // 4, acc.max // 3, g.out_channels) if bias else None
    threshold = int(rng.integers(3, mf.max // 2))
    if cuba:
        neuron = QCubaLIF(threshold=threshold, decay=int(rng.integers(0, 17)),
                          syn_decay=int(rng.integers(0, 17)), decay_bits=4, reset=reset,
                          reset_delay=delay)
    else:
        neuron = QLIF(threshold=threshold, decay=int(rng.integers(0, 17)), decay_bits=4,
                      reset=reset, reset_delay=delay)
    return QConvLayer(weight.astype(np.int64), b, wf, mf, neuron, g, sf)


def conv_component(qlayer, lanes, out_events=1):
    return ConvLayer(qlayer.weight, qlayer.bias, neuron_params(qlayer),
                     qlayer.weight_format.bits, qlayer.geometry, lanes, out_events=out_events)


def hardware_state(ctx, dut):
    """Per neuron of the reference's (oy, ox, channel) order: the state fields, as signed
    integers where the reference keeps them signed (``mem``, ``syn``)."""
    plan, g = dut.plan, dut.geometry
    words = [ctx.get(dut.state.data[w]) for w in range(plan.state_depth)]
    fields = {name: [] for name, _ in plan.state_fields()}
    sw = plan.lane_state_bits
    for ny in range(g.neuron_hw[0]):
        for nx in range(g.neuron_hw[1]):
            for ch in range(g.out_channels):
                word = words[plan.state_address(ny, nx, ch // plan.lanes)]
                lane = word >> ((ch % plan.lanes) * sw)
                for name, bits in plan.state_fields():
                    value = lane & ((1 << bits) - 1)
                    lane >>= bits
                    if name != "r" and value >> (bits - 1):
                        value -= 1 << bits
                    fields[name].append(value)
    return {name: np.array(v) for name, v in fields.items()}


async def run_steps(ctx, dut, steps):
    """Feed the tokens of several steps back to back, taking the output; per step, the
    output spike indices, the cycle its end-of-step token left, and its ``last`` flag."""
    out, got, pending, cycle = [], [], [t for step in steps for t in step], 0
    while len(out) < len(steps):
        if pending:
            ctx.set(dut.i_events.payload, pending[0])
        ctx.set(dut.i_events.valid, int(bool(pending)))
        _, _, took, valid, payload = await ctx.tick().sample(
            dut.i_events.ready, dut.o_events.valid, dut.o_events.payload)
        cycle += 1
        if pending and took:
            pending = pending[1:]
        if valid:
            if payload.eos:
                out.append((got, cycle, bool(payload.last)))
                got = []
            elif dut.out_events == 1:
                got.append(int(payload.index))
            else:
                got.extend(int(payload.index[k]) for k in range(int(payload.count)))
    ctx.set(dut.i_events.valid, 0)
    return out


def step_tokens(spikes, last):
    tokens = [{"index": int(i), "eos": 0, "last": 0} for i in np.flatnonzero(spikes)]
    return tokens + [{"index": 0, "eos": 1, "last": int(last)}]


def check_against_reference(qlayer, lanes, samples, out_events=1, saturating=True):
    dut = conv_component(qlayer, lanes, out_events)
    cost = dut.plan.event_cost

    saturations = []

    async def bench(ctx):
        ctx.set(dut.o_events.ready, 1)
        for sample in samples:
            state = layer_initial_state(qlayer)
            steps = sample.shape[0]
            for t in range(steps):
                spikes, mem, state, saturated = step_layer(qlayer, state, sample[None, t])
                saturations.append(saturated)
                [(got, cycles, last)] = await run_steps(ctx, dut, [step_tokens(
                    sample[t], t == steps - 1)])
                assert last == (t == steps - 1)
                assert got == list(np.flatnonzero(spikes[0])), f"step {t}"
                # the cycle model: exact but for the serializer's time for the last spikes
                model = dut.plan.step_cycles(int(sample[t] @ cost)) + dut.plan.latency
                assert model <= cycles <= model + 2 * len(got), f"step {t}"
                if t == steps - 1:
                    state = layer_initial_state(qlayer)     # the last step restarts from rest
                hw = hardware_state(ctx, dut)
                if qlayer.neuron.current_based:
                    np.testing.assert_array_equal(hw["syn"], state.acc[0], f"step {t}")
                    np.testing.assert_array_equal(hw["mem"], state.mem[0], f"step {t}")
                else:
                    np.testing.assert_array_equal(hw["mem"], state.acc[0], f"step {t}")
                    np.testing.assert_array_equal(hw["r"], state.r[0].astype(int))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # adds saturated: their order mattered
    assert sum(saturations) > 0 or not saturating


CASES = [
    # geometry options, lanes, neuron options
    (dict(c_in=2, c_out=4, kernel=3, padding=1), 2, dict()),
    (dict(c_in=1, c_out=3, kernel=3, stride=2, padding=1), 3, dict(reset="zero", delay=False)),
    (dict(c_in=3, c_out=4, kernel=2, dilation=2, out_pool=2), 1, dict(bias=False)),
    (dict(c_in=2, c_out=2, kernel=3, pool=2, padding=1, in_hw=(8, 7)), 2,
     dict(reset="zero_all")),
    (dict(c_in=2, c_out=6, kernel=(2, 3), stride=(1, 2), out_pool=2, padding=(1, 0)), 3,
     dict(cuba=True)),
    (dict(c_in=1, c_out=4, kernel=3, pool=2, out_pool=2, padding=2), 2,
     dict(cuba=True, reset="zero", delay=False, bias=False)),
    (dict(c_in=2, c_out=2, kernel=3, stride=2, dilation=2, padding=2), 1,
     dict(reset="subtract", delay=False)),
    (dict(c_in=1, c_out=2, kernel=1), 2, dict(reset="none", mem_bits=5)),
    (dict(c_in=2, c_out=8, kernel=3, padding=1, out_pool=2), 4, dict(out_events=2)),
]


@pytest.mark.parametrize("case", CASES)
def test_layer_steps_match_reference(case):
    geometry_args, lanes, neuron_args = case
    neuron_args = dict(neuron_args)
    out_events = neuron_args.pop("out_events", 1)
    rng = np.random.default_rng(len(CASES) + CASES.index(case))
    geometry = random_geometry(rng, **geometry_args)
    qlayer = random_qconv(rng, geometry, **neuron_args)
    samples = (rng.random((2, 4, qlayer.inputs)) < 0.3).astype(np.uint8)
    check_against_reference(qlayer, lanes, samples, out_events)


CURRENT_POOL_CASES = [
    # a max pooling of currents: geometry options, lanes, neuron options
    (dict(c_in=2, c_out=4, kernel=3, padding=1, current_pool=2), 2, dict()),
    (dict(c_in=1, c_out=4, kernel=3, padding=1, current_pool=2, out_pool=2, in_hw=(8, 8)),
     2, dict(cuba=True)),
    (dict(c_in=2, c_out=6, kernel=2, current_pool=2, out_pool=2, in_hw=(5, 9)), 3,
     dict(reset="zero", delay=False, bias=False)),
    (dict(c_in=2, c_out=2, kernel=3, padding=2, stride=2, current_pool=2), 1,
     dict(cuba=True, reset="zero_all", mem_bits=5, syn_bits=5)),
    (dict(c_in=1, c_out=3, kernel=2, current_pool=3, in_hw=(7, 7)), 3,
     dict(mem_bits=5, out_events=2)),
]


@pytest.mark.parametrize("case", CURRENT_POOL_CASES)
def test_max_pooled_currents_match_reference(case):
    """A max pooling of currents before the neurons: the current buffer, the largest of each
    window joined to the state, with and without a pooling of spikes, LIF and CubaLIF, lanes
    fewer than the channels, narrow (saturating) states."""
    geometry_args, lanes, neuron_args = case
    neuron_args = dict(neuron_args)
    out_events = neuron_args.pop("out_events", 1)
    rng = np.random.default_rng(500 + CURRENT_POOL_CASES.index(case))
    geometry = random_geometry(rng, **geometry_args)
    qlayer = random_qconv(rng, geometry, **neuron_args)
    samples = (rng.random((2, 4, qlayer.inputs)) < 0.3).astype(np.uint8)
    check_against_reference(qlayer, lanes, samples, out_events)


@pytest.mark.parametrize("current_pool", [1, 2])
def test_back_to_back_steps_follow_the_cycle_model(current_pool):
    """Steps fed back to back end ``step_cycles`` apart, the first ``latency`` after its
    cost; no neuron fires, so the serializer never holds an end-of-step token back."""
    rng = np.random.default_rng(7)
    geometry = random_geometry(rng, c_in=2, c_out=4, kernel=3, padding=1, stride=2,
                               out_pool=2, current_pool=current_pool, in_hw=(7, 8))
    qlayer = random_qconv(rng, geometry, bias=False)
    qlayer = QConvLayer(np.abs(qlayer.weight) // 4, None, qlayer.weight_format,
                        qlayer.mem_format, QLIF(threshold=qlayer.mem_format.max, decay=0,
                                                decay_bits=4), geometry)
    dut = conv_component(qlayer, 2)
    sample = (rng.random((5, qlayer.inputs)) < 0.4).astype(np.uint8)
    sample[2] = 0                                  # a step without events
    cost = sample @ dut.plan.event_cost

    async def bench(ctx):
        ctx.set(dut.o_events.ready, 1)
        out = await run_steps(ctx, dut, [step_tokens(s, t == 4) for t, s in enumerate(sample)])
        assert all(got == [] for got, _, _ in out)
        ends = [cycles for _, cycles, _ in out]
        assert ends[0] == dut.plan.step_cycles(cost[0]) + dut.plan.latency
        assert list(np.diff(ends)) == [dut.plan.step_cycles(c) for c in cost[1:]]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def _memories(fragment, path=()):
    for sub, name, _ in fragment.subfragments:
        if type(sub).__name__ == "MemoryInstance":
            yield path + (str(name),), sub
        yield from _memories(sub, path + (str(name),))


@pytest.mark.parametrize("bias,lanes,out_pool,current_pool,cuba", [
    (True, 2, 2, 1, False), (False, 2, 1, 1, False), (True, 4, 2, 1, False),
    (True, 1, 1, 1, False), (True, 2, 1, 2, False), (True, 2, 2, 2, True)])
def test_memories_match_the_plan(bias, lanes, out_pool, current_pool, cuba):
    """Every memory the plan names is built with its depth, width, read ports and kind, and
    nothing else is (but the serializer's two-entry queue)."""
    rng = np.random.default_rng(3)
    geometry = random_geometry(rng, c_in=2, c_out=4, kernel=3, padding=1, out_pool=out_pool,
                               current_pool=current_pool, in_hw=(8, 8) if current_pool > 1
                               else None)
    dut = conv_component(random_qconv(rng, geometry, bias=bias, cuba=cuba), lanes)
    built = {}
    for path, memory in _memories(Fragment.get(dut, None)):
        if path[0] == "serializer":
            continue
        style = (memory._attrs or {}).get("ram_style")
        name, kind = {"weights": ("weights", "block" if style == "block" else "lut"),
                      "state": ("state", "ram"), "biases": ("bias", "rom"),
                      "currents": ("currents", "ram"),
                      "rows": ("rows", "lut"), "columns": ("columns", "lut"),
                      "words": ("words", "async")}[path[0]]
        built[f"layer.{name}"] = (memory._data.depth, Shape.cast(memory._data.shape).width,
                                  len(memory._read_ports), kind)
    planned = {m.name: (m.depth, m.width, m.read_ports, m.kind) for m in dut.plan.memories()}
    assert built == planned


def test_constructor_errors():
    geometry = ConvGeometry(in_hw=(4, 4), in_channels=1, out_channels=3, kernel=3,
                            out_hw=(2, 2))
    params = LIFParams(mem_bits=8, threshold=10, decay=1, decay_bits=4)
    weight = np.zeros((3, 1, 3, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="Lane count 2 does not divide the 3 output"):
        ConvLayer(weight, None, params, 4, geometry, lanes=2)
    with pytest.raises(ValueError, match="Weight must have shape"):
        ConvLayer(weight[:, :, :2], None, params, 4, geometry)
    with pytest.raises(TypeError, match="4-D integer array"):
        ConvLayer(weight[0], None, params, 4, geometry)
    with pytest.raises(TypeError, match="4-D integer array"):
        ConvLayer(weight + 0.5, None, params, 4, geometry)
    with pytest.raises(ValueError, match="Weights must fit 4 signed bits"):
        ConvLayer(weight + 8, None, params, 4, geometry)
    with pytest.raises(ValueError, match="Bias must have 3 entries"):
        ConvLayer(weight, [1], params, 4, geometry)
    with pytest.raises(ValueError, match="Biases must fit 8 signed bits"):
        ConvLayer(weight, [1, 2, 300], params, 4, geometry)


@pytest.mark.parametrize("case", [
    (dict(c_in=1, c_out=2, kernel=3, padding=1, in_hw=(5, 6)), 2, dict()),
    (dict(c_in=2, c_out=4, kernel=3, padding=1, out_pool=2, in_hw=(6, 6)), 4,
     dict(cuba=True)),
    (dict(c_in=2, c_out=6, kernel=3, padding=1, in_hw=(4, 5)), 2, dict(out_events=2)),
    (dict(c_in=2, c_out=4, kernel=3, padding=1, current_pool=2, in_hw=(6, 6)), 2, dict()),
    (dict(c_in=1, c_out=4, kernel=3, padding=1, current_pool=2, out_pool=2, in_hw=(8, 8)), 4,
     dict(cuba=True)),
])
def test_back_to_back_steps_match_reference(case):
    """Steps fed without a pause: every other step's only event is the last input, whose
    first tap is the last state word (current buffer word), updated (cleared) by the
    end-of-step pass just before."""
    geometry_args, lanes, neuron_args = case
    neuron_args = dict(neuron_args)
    out_events = neuron_args.pop("out_events", 1)
    rng = np.random.default_rng(99)
    qlayer = random_qconv(rng, random_geometry(rng, **geometry_args), **neuron_args)
    dut = conv_component(qlayer, lanes, out_events)
    sample = (rng.random((8, qlayer.inputs)) < 0.3).astype(np.uint8)
    sample[1::2] = 0
    sample[1::2, -1] = 1
    check_back_to_back(qlayer, dut, sample)


@pytest.mark.parametrize("seed", [0, 2])
def test_a_single_state_word_between_max_pooled_passes(seed):
    """A max pooling of currents onto one state word, steps without events fed back to back:
    each pass reads the word the previous pass has just written (the pass waits for it,
    ``ConvPlan.pass_idle``)."""
    rng = np.random.default_rng(seed)
    qlayer = random_qconv(rng, random_geometry(rng, c_in=1, c_out=2, kernel=3, current_pool=2,
                                               in_hw=(4, 4)))
    dut = conv_component(qlayer, 2)
    assert dut.plan.state_depth == 1 and dut.plan.pass_idle == 2
    sample = (rng.random((10, qlayer.inputs)) < 0.3).astype(np.uint8)
    sample[1::2] = 0
    check_back_to_back(qlayer, dut, sample)


def check_back_to_back(qlayer, dut, sample):
    """Feed the steps of ``sample`` without a pause: the reference's spikes, and its state
    after the last step."""
    state = layer_initial_state(qlayer)
    expected = []
    for t in range(sample.shape[0]):
        spikes, _, state, _ = step_layer(qlayer, state, sample[None, t])
        expected.append(list(np.flatnonzero(spikes[0])))

    async def bench(ctx):
        ctx.set(dut.o_events.ready, 1)
        out = await run_steps(ctx, dut, [step_tokens(s, False) for s in sample])
        assert [got for got, _, _ in out] == expected
        hw = hardware_state(ctx, dut)
        np.testing.assert_array_equal(hw["syn" if qlayer.neuron.current_based else "mem"],
                                      state.acc[0])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_conv_layers_chain_in_an_accelerator():
    """Two convolutions (max pooling between them) and a dense layer in the accelerator,
    samples back to back and the output stalled at times: the reference's spikes."""
    from helpers.networks import random_qlayer
    from rtl_lib.accelerator import Accelerator
    from spikegen.assemble import layer_component
    from spikegen.ir import QNetwork
    from spikegen.reference import simulate
    from spikegen.sim.amaranth_tb import run

    rng = np.random.default_rng(21)
    first = random_qconv(rng, ConvGeometry(in_hw=(8, 8), in_channels=2, out_channels=4,
                                           kernel=3, out_hw=(8, 8), padding=1, out_pool=2))
    second = random_qconv(rng, ConvGeometry(in_hw=(4, 4), in_channels=4, out_channels=6,
                                            kernel=2, out_hw=(3, 3)), cuba=True)
    dense = random_qlayer(rng, second.outputs, 5)
    qnet = QNetwork((first, second, dense))
    spikes = (rng.random((3, 4, first.inputs)) < 0.25).astype(np.uint8)
    dut = Accelerator([conv_component(first, 2), conv_component(second, 3),
                       layer_component(dense, 5)], fifo_depth=8)
    ref = simulate(qnet, spikes)
    assert ref.spikes.sum() > 0
    got, results, _ = run(dut, spikes, outputs=qnet.outputs, overlap=True, stall_every=3)
    np.testing.assert_array_equal(got, ref.spikes)
    assert [r[0] for r in results] == ref.predicted.tolist()


@pytest.mark.parametrize("seed", range(4))
def test_random_layers_match_reference(seed):
    """Random options together: stride, padding, dilation, both poolings, lanes, neuron
    model, reset, bias."""
    rng = np.random.default_rng(1000 + seed)
    c_out = int(rng.choice([2, 4, 6]))
    geometry = random_geometry(
        rng, c_in=int(rng.integers(1, 4)), c_out=c_out, kernel=int(rng.integers(1, 4)),
        stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, 3)),
        dilation=int(rng.integers(1, 3)), pool=int(rng.integers(1, 3)),
        out_pool=int(rng.integers(1, 3)))
    lanes = int(rng.choice([p for p in (1, 2, 3, 6) if c_out % p == 0]))
    qlayer = random_qconv(rng, geometry, cuba=bool(rng.integers(2)),
                          reset=str(rng.choice(["subtract", "zero", "zero_all", "none"])),
                          delay=bool(rng.integers(2)), bias=bool(rng.integers(2)))
    samples = (rng.random((2, 3, qlayer.inputs)) < 0.35).astype(np.uint8)
    check_against_reference(qlayer, lanes, samples, saturating=False)
