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

from conftest import random_case


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
