"""cocotb on Verilator (Verilog) and GHDL (VHDL): randomised configurations against the
reference model, spike for spike, and the two simulators against each other."""
import shutil

import numpy as np
import pytest

from spikegen.assemble import accelerator
from spikegen.compiler import TOP_NAME
from spikegen.emit import verilog, vhdl
from spikegen.flat_top import FlatTop
from spikegen.sim.runner import run_accelerator
from spikegen.verify import stimulus_for, top_ports

from helpers.networks import random_case


def _run(simulator, qnet, stimulus, work):
    if simulator == "verilator":
        source = work / f"{TOP_NAME}.v"
        source.write_text(verilog(FlatTop(accelerator(qnet)), name=TOP_NAME))
        return run_accelerator([source], TOP_NAME, work / "sim", dict(stimulus),
                               ports=top_ports(qnet))
    from spikegen.sim.ghdl import run_accelerator_ghdl

    source = work / f"{TOP_NAME}.vhd"
    source.write_text(vhdl(FlatTop(accelerator(qnet)), name=TOP_NAME))
    return run_accelerator_ghdl([source], TOP_NAME, work / "ghdl", dict(stimulus),
                                ports=top_ports(qnet))


@pytest.mark.verilator
@pytest.mark.ghdl
@pytest.mark.parametrize("seed", [101, 102, 103, 104])
def test_random_configuration_on_both_simulators(tmp_path, seed):
    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed (scripts/setup.sh installs it)")
    qnet, spikes = random_case(seed)
    stimulus, ref = stimulus_for(qnet, spikes)
    results = {sim: _run(sim, qnet, stimulus, tmp_path) for sim in ("verilator", "ghdl")}
    for result in results.values():
        np.testing.assert_array_equal(result["spikes"], ref.spikes)
        np.testing.assert_array_equal(result["cls"], ref.predicted)
        np.testing.assert_array_equal(result["counts"], ref.counts)
        assert (result["cycles"] > spikes.shape[1]).all()
    # the same RTL: the same cycle counts too
    np.testing.assert_array_equal(results["verilator"]["cycles"], results["ghdl"]["cycles"])


def _model_network(seed, parallelism, events):
    """Issue 7's neuron models in one network: per-neuron LIF with the zero_all reset (when
    fully parallel), a recurrent CubaLIF layer, a one-to-one recurrent LIF layer, and a
    leaky-integrator CubaLIF output layer read by its membranes."""
    from helpers.networks import random_qlayer
    from spikegen.ir import HardwareConfig, QNetwork

    rng = np.random.default_rng(seed)
    layers = (
        random_qlayer(rng, 12, 9, reset="zero_all", per_neuron=parallelism == 0),
        random_qlayer(rng, 9, 8, cuba=True, recurrent="all", syn_bits=6,
                      delay=False, reset="zero"),
        random_qlayer(rng, 8, 7, recurrent="one", mem_bits=6),
        random_qlayer(rng, 7, 5, cuba=True, reset="none", mem_bits=6, syn_bits=6),
    )
    qnet = QNetwork(layers, readout="membrane",
                    hardware=HardwareConfig(parallelism=parallelism, max_steps=15,
                                            fifo_depth=4, events_per_cycle=events))
    spikes = (rng.random((6, 6, 12)) < 0.4).astype(np.uint8)
    return qnet, spikes


@pytest.mark.verilator
@pytest.mark.slow
@pytest.mark.parametrize("parallelism,events", [(0, 2), (3, 1)])
def test_neuron_models_on_verilator(tmp_path, parallelism, events):
    qnet, spikes = _model_network(7 + parallelism, parallelism, events)
    stimulus, ref = stimulus_for(qnet, spikes)
    result = _run("verilator", qnet, stimulus, tmp_path)
    np.testing.assert_array_equal(result["spikes"], ref.spikes)
    np.testing.assert_array_equal(result["cls"], ref.predicted)
    np.testing.assert_array_equal(result["counts"], ref.counts)
