"""The membrane readout: ``membrane_argmax`` through an FCLayer built with
``membrane_class=True`` (its ``o_class`` stream), and MembraneAccelerator, against the
reference's final membranes; the class is their argmax, the lowest index on a tie."""
import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl_lib.membrane_readout import MembraneAccelerator
from spikegen.assemble import layer_component
from spikegen.ir import FixedFormat, HardwareConfig, QDenseLayer, QLIF, QNetwork
from spikegen.reference import layer_initial_state, simulate, step_layer

from helpers.networks import random_qlayer


def reference_classes(qlayer, samples):
    """Per sample, the argmax of the membrane after its last step (``np.argmax``: the lowest
    index on a tie)."""
    classes = []
    for sample in samples:
        state = layer_initial_state(qlayer)
        for spikes_t in sample:
            _, mem, state, _ = step_layer(qlayer, state, spikes_t[None])
        classes.append(int(np.argmax(mem[0])))
    return classes


def layer_classes(qlayer, lanes, samples):
    """Drive ``samples`` (batch, steps, inputs) through the layer token by token; the classes
    its ``o_class`` stream offers, one per sample."""
    dut = layer_component(qlayer, lanes, membrane_class=True)
    assert dut.membrane_class
    classes = []

    async def bench(ctx):
        ctx.set(dut.o_events.ready, 1)
        ctx.set(dut.o_class.ready, 1)
        for sample in samples:
            for t, spikes_t in enumerate(sample):
                step = [{"index": int(i), "eos": 0, "last": 0} for i in np.flatnonzero(spikes_t)]
                step.append({"index": 0, "eos": 1, "last": int(t == len(sample) - 1)})
                for token in step:
                    ctx.set(dut.i_events.valid, 1)
                    ctx.set(dut.i_events.payload, token)
                    while True:
                        _, _, took, valid, cls = await ctx.tick().sample(
                            dut.i_events.ready, dut.o_class.valid, dut.o_class.payload)
                        if valid:
                            classes.append(int(cls))
                        if took:
                            break
                ctx.set(dut.i_events.valid, 0)
        for _ in range(20 * dut.groups + 20):
            if len(classes) == len(samples):
                break
            _, _, valid, cls = await ctx.tick().sample(dut.o_class.valid, dut.o_class.payload)
            if valid:
                classes.append(int(cls))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return classes


@pytest.mark.parametrize("cuba", [False, True])
@pytest.mark.parametrize("lanes", [None, 3, 2])
def test_random_layers(cuba, lanes):
    """Leaky-integrator layers of narrow membranes (they saturate, so ties happen), one
    group or several with lanes left over in the last."""
    rng = np.random.default_rng(3 * cuba + (lanes or 0))
    qlayer = random_qlayer(rng, 6, 7, cuba=cuba, reset="none", mem_bits=5, syn_bits=6)
    samples = (rng.random((6, 4, 6)) < 0.5).astype(np.uint8)
    want = reference_classes(qlayer, samples)
    assert layer_classes(qlayer, lanes, samples) == want


def crafted(slopes):
    """Seven neurons that never fire, with three inputs: neuron ``k`` adds ``slopes[k]`` per
    spike of each input (its membranes stay in range), so equal slopes make equal
    membranes."""
    weight = np.array([[s] * 3 for s in slopes], dtype=np.int64)
    return QDenseLayer(weight, np.full(7, -1, dtype=np.int64), FixedFormat(5, 2),
                       FixedFormat(8, 2), QLIF(threshold=120, decay=2, decay_bits=4,
                                               reset="none"))


# with 3 lanes: groups {0, 1, 2}, {3, 4, 5}, {6, pad, pad}
@pytest.mark.parametrize("slopes,cls", [
    ([-2] * 7, 0),                                    # all equal (negative): the first
    ([-3, -3, -3, -3, -3, -3, -1], 6),                # the last neuron, beside padded lanes
    ([-3, -1, -3, -3, -3, -1, -3], 1),                # a tie across groups
    ([-3, -3, -3, -1, -1, -3, -3], 3),                # a tie within a group
    ([1, 3, 3, 1, 3, 3, 3], 1),                       # a tie of five
    ([1, 1, 1, 1, 1, 2, 2], 5),
])
@pytest.mark.parametrize("lanes", [None, 3, 2])
def test_ties_go_to_the_lowest_index(slopes, cls, lanes):
    qlayer = crafted(slopes)
    samples = np.ones((2, 3, 3), dtype=np.uint8)
    samples[1, 1] = 0                                 # a step without events
    assert reference_classes(qlayer, samples) == [cls, cls]
    assert layer_classes(qlayer, lanes, samples) == [cls, cls]


def test_accelerator_reports_the_membrane_class():
    """MembraneAccelerator: the class of the largest final membrane replaces the spike-count
    winner, the counts stay the output spike counts."""
    from spikegen.sim.amaranth_tb import run

    rng = np.random.default_rng(24)
    first = random_qlayer(rng, 6, 5, mem_bits=6)
    last = random_qlayer(rng, 5, 4, reset="none", mem_bits=7, mean=0.5)
    qnet = QNetwork((first, last), hardware=HardwareConfig(parallelism=2, fifo_depth=4),
                    readout="membrane")
    spikes = (rng.random((5, 4, 6)) < 0.6).astype(np.uint8)
    dut = MembraneAccelerator([layer_component(first, 2),
                               layer_component(last, 3, membrane_class=True)],
                              count_bits=8, fifo_depth=4)
    ref = simulate(qnet, spikes)
    by_count = simulate(dataclasses.replace(qnet, readout="spikes"), spikes)
    got, results, _ = run(dut, spikes, outputs=4)
    np.testing.assert_array_equal(got, ref.spikes)
    assert [r[0] for r in results] == ref.predicted.tolist()
    assert [r[1] for r in results] == ref.counts.tolist()
    # the test means something: the classes vary, and the two readouts disagree
    assert len(set(ref.predicted.tolist())) > 1
    assert ref.predicted.tolist() != by_count.predicted.tolist()


def test_the_last_layer_must_report_its_membrane_class():
    rng = np.random.default_rng(0)
    layer = layer_component(random_qlayer(rng, 4, 3, reset="none"), None)
    with pytest.raises(ValueError, match=r"The output layer of a membrane readout must be "
                                         r"built with membrane_class=True"):
        MembraneAccelerator([layer])
    with pytest.raises(ValueError, match=r"must be built with membrane_class=True"):
        MembraneAccelerator([])
    with pytest.raises(ValueError, match=r"must be built with membrane_class=True"):
        MembraneAccelerator([layer_component(random_qlayer(rng, 4, 4, reset="none"), None,
                                             membrane_class=True), layer])
