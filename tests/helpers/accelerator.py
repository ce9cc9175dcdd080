"""The whole accelerator in Amaranth's simulator against the reference model."""
import numpy as np

from spikegen.assemble import accelerator
from spikegen.reference import simulate
from spikegen.sim.amaranth_tb import run


def check(qnet, spikes, **kwargs):
    dut = accelerator(qnet)
    ref = simulate(qnet, spikes)
    got, results, cycles = run(dut, spikes, outputs=qnet.outputs, **kwargs)
    np.testing.assert_array_equal(got, ref.spikes)
    assert [r[0] for r in results] == ref.predicted.tolist()
    assert [r[1] for r in results] == ref.counts.tolist()
    return cycles
