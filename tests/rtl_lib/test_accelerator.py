"""The whole accelerator in Amaranth's simulator against the reference model."""
import numpy as np
import pytest

from rtl_lib.accelerator import Accelerator
from spikegen.assemble import accelerator
from spikegen.ir import HardwareConfig
from spikegen.quantize import quantize
from spikegen.reference import simulate

from spikegen.sim.amaranth_tb import run
from helpers.accelerator import check
from helpers.networks import random_case, random_network


@pytest.mark.parametrize("seed", range(12))
def test_random_configurations(seed):
    qnet, spikes = random_case(seed)
    check(qnet, spikes, overlap=bool(seed % 2), stall_every=3 if seed % 3 == 0 else 0)


def test_cycles_follow_the_formula(rng):
    """One layer, P = N: a step costs its plan's step cycles (events + 1, plus 1 for the
    split end-of-step update of this wide membrane); the last step's output spikes then
    drain one per cycle, after a small constant latency."""
    from spikegen.assemble import layer_component

    net = random_network(rng, (20, 8), beta=0.9)
    qnet = quantize(net, hardware=HardwareConfig(parallelism=0))
    plan = layer_component(qnet.layers[0], None).plan
    assert plan.split_end_of_step
    spikes = (rng.random((3, 10, 20)) < 0.3).astype(np.uint8)
    cycles = check(qnet, spikes)
    last = simulate(qnet, spikes).spikes[:, -1].sum(axis=1)
    for sample, n, drain in zip(spikes, cycles, last):
        bound = int(sample.sum()) + 2 * sample.shape[0]
        assert bound == int(plan.step_cycles(sample.sum(axis=1)).sum())
        # latency: pipeline, serializer stages, the readout's input register
        assert bound <= n <= bound + drain + 10, (bound, drain, cycles)


def test_layers_must_chain():
    from spikegen.assemble import layer_component

    rng = np.random.default_rng(0)
    q = quantize(random_network(rng, (4, 3, 2)))
    a = layer_component(q.layers[0], None)
    with pytest.raises(ValueError, match="A layer with 4 inputs cannot follow a layer with 3"):
        Accelerator([a, layer_component(q.layers[0], None)])
    with pytest.raises(TypeError, match="non-empty list of layer components"):
        Accelerator([])
    with pytest.raises(TypeError, match="must be components with i_events and o_events"):
        Accelerator([a, object()])


# cases where grouping changes the membranes (the reference with E = 1 differs)
@pytest.mark.parametrize("seed", [100, 102, 104, 106, 107, 110])
def test_two_events_per_cycle(seed):
    """E = 2: pairs of events added with one saturating add, as the reference groups them,
    whatever beats the input carries; narrow membranes make the grouping matter."""
    import dataclasses
    qnet, spikes = random_case(seed)
    qnet = dataclasses.replace(qnet, hardware=dataclasses.replace(qnet.hardware,
                                                                  events_per_cycle=2))
    check(qnet, spikes, overlap=bool(seed % 2), stall_every=3 if seed % 3 == 0 else 0,
          mixed_beats=seed >= 106)


def random_model_network(seed, e=1, parallelism=0, **kwargs):
    """Two or three random layers of one neuron model (``kwargs`` of ``random_qlayer``),
    consecutive layers sharing their sizes, and random input spikes."""
    from helpers.networks import random_qlayer
    from spikegen.ir import QNetwork

    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(4, 12)) for _ in range(int(rng.integers(3, 5)))]
    layers = tuple(random_qlayer(rng, a, b, **kwargs) for a, b in zip(sizes, sizes[1:]))
    qnet = QNetwork(layers, hardware=HardwareConfig(parallelism=parallelism, max_steps=15,
                                                    fifo_depth=4, events_per_cycle=e))
    spikes = (rng.random((3, int(rng.integers(3, 8)), sizes[0])) < 0.5).astype(np.uint8)
    return qnet, spikes


@pytest.mark.parametrize("seed", range(4))
def test_per_neuron_parameters_and_zero_all(seed):
    qnet, spikes = random_model_network(seed, e=1 + seed % 2, per_neuron=True,
                                        reset="zero_all", delay=bool(seed // 2))
    check(qnet, spikes, overlap=bool(seed % 2), stall_every=3 if seed == 2 else 0)


@pytest.mark.parametrize("seed", range(3))
def test_per_neuron_parameters_on_shared_lanes(seed):
    """Per-neuron LIF thresholds and decays with fewer lanes than neurons: each group's
    parameters come from a memory and the leak is a multiplier."""
    resets = ["subtract", "zero", "none"]
    qnet, spikes = random_model_network(seed, e=1 + seed % 2, parallelism=[2, 3, 2][seed],
                                        per_neuron=True, reset=resets[seed],
                                        delay=seed != 1)
    check(qnet, spikes, overlap=bool(seed % 2), stall_every=3 if seed == 2 else 0)


@pytest.mark.parametrize("seed", range(4))
def test_current_based_networks(seed):
    resets = ["subtract", "zero", "zero_all", "none"]
    qnet, spikes = random_model_network(seed, e=1 + seed % 2, parallelism=[0, 2, 3, 0][seed],
                                        cuba=True, reset=resets[seed], delay=seed < 2,
                                        per_neuron=seed == 3, syn_bits=6)
    check(qnet, spikes, overlap=bool(seed % 2), stall_every=3 if seed == 2 else 0)


def test_current_based_first_layer_refuses_direct_coding():
    import dataclasses
    from spikegen.errors import SpikegenError
    from spikegen.ir import InputCoding

    qnet, _ = random_model_network(0, cuba=True)
    qnet = dataclasses.replace(qnet, coding=InputCoding(kind="direct", steps=4))
    with pytest.raises(SpikegenError, match="cannot build a current-based .CubaLIF. first "
                       "layer with direct coding yet"):
        accelerator(qnet)


@pytest.mark.parametrize("seed", range(6))
def test_recurrent_networks(seed):
    """RLeaky/RSynaptic-style layers (all-to-all and one-to-one) in every position, back to
    back samples and a stalled output: the previous step's spikes must be the right ones."""
    qnet, spikes = random_model_network(seed, e=1 + seed % 2, parallelism=[0, 2, 3][seed % 3],
                                        cuba=seed >= 3, recurrent=["all", "one"][seed % 2],
                                        reset=["subtract", "zero_all", "zero"][seed % 3],
                                        mem_bits=6, syn_bits=6)
    check(qnet, spikes, overlap=seed % 3 != 1, stall_every=3 if seed % 2 else 0,
          mixed_beats=seed == 5)


@pytest.mark.parametrize("seed", range(6))
def test_membrane_readout(seed):
    """A leaky-integrator output layer (reset none): the class is the largest final
    membrane, the lowest index on a tie (narrow membranes saturate, so ties happen)."""
    import dataclasses
    from spikegen.ir import InputCoding

    cuba = seed in (2, 3)
    qnet, spikes = random_model_network(seed, e=1 + seed % 2, parallelism=[0, 2, 3][seed % 3],
                                        cuba=cuba, mem_bits=5 + seed % 2, syn_bits=6,
                                        per_neuron=seed == 0, recurrent="one" if seed == 4
                                        else None)
    last = qnet.layers[-1]
    qnet = dataclasses.replace(qnet, readout="membrane", layers=qnet.layers[:-1] + (
        dataclasses.replace(last, neuron=dataclasses.replace(last.neuron, reset="none")),))
    if seed == 5:                            # one direct-coded layer
        qnet = dataclasses.replace(qnet, layers=qnet.layers[:1],
                                   coding=InputCoding(kind="direct", steps=4))
        spikes = np.random.default_rng(seed).integers(0, 256, (4, qnet.inputs))
        dut = accelerator(qnet)
        ref = simulate(qnet, spikes)
        got, results, _ = run(dut, spikes, outputs=qnet.outputs, steps=4)
        np.testing.assert_array_equal(got, ref.spikes)
        assert [r[0] for r in results] == ref.predicted.tolist()
        return
    check(qnet, spikes, overlap=bool(seed % 2), stall_every=3 if seed == 3 else 0)


def test_membrane_readout_needs_a_membrane_class_layer():
    from rtl_lib.membrane_readout import MembraneAccelerator
    from spikegen.assemble import layer_component

    q = quantize(random_network(np.random.default_rng(0), (4, 3)))
    with pytest.raises(ValueError, match="must be built with membrane_class=True"):
        MembraneAccelerator([layer_component(q.layers[0], None)])
