"""cocotb on Verilator: randomised configurations against the reference model."""
import numpy as np
import pytest

from spikegen.assemble import accelerator
from spikegen.compiler import TOP_NAME
from spikegen.emit import verilog
from spikegen.flat_top import FlatTop
from spikegen.verify import stimulus_for, top_ports
from spikegen.sim.runner import run_accelerator

from conftest import random_case


pytestmark = pytest.mark.verilator


@pytest.mark.parametrize("seed", [101, 102, 103, 104])
def test_random_configuration_on_verilator(tmp_path, seed):
    qnet, spikes = random_case(seed)
    source = tmp_path / f"{TOP_NAME}.v"
    source.write_text(verilog(FlatTop(accelerator(qnet)), name=TOP_NAME))
    stimulus, ref = stimulus_for(qnet, spikes)
    result = run_accelerator([source], TOP_NAME, tmp_path / "sim", stimulus,
                             ports=top_ports(qnet))
    np.testing.assert_array_equal(result["spikes"], ref.spikes)
    np.testing.assert_array_equal(result["cls"], ref.predicted)
    np.testing.assert_array_equal(result["counts"], ref.counts)
    assert (result["cycles"] > spikes.shape[1]).all()
