"""cocotb on Verilator: randomised configurations against the reference model."""
import numpy as np
import pytest

from spikegen.assemble import accelerator, count_bits
from spikegen.compiler import TOP_NAME
from spikegen.emit import verilog
from spikegen.flat_top import FlatTop
from spikegen.reference import simulate
from spikegen.sim.runner import run_accelerator

from conftest import random_case


pytestmark = pytest.mark.verilator


@pytest.mark.parametrize("seed", [101, 102, 103, 104])
def test_random_configuration_on_verilator(tmp_path, seed):
    qnet, spikes = random_case(seed)
    source = tmp_path / f"{TOP_NAME}.v"
    source.write_text(verilog(FlatTop(accelerator(qnet)), name=TOP_NAME))
    ref = simulate(qnet, spikes)
    result = run_accelerator([source], TOP_NAME, tmp_path / "sim", {
        "spikes": spikes, "expected_spikes": ref.spikes, "expected_class": ref.predicted,
        "expected_counts": ref.counts, "count_bits": np.int64(count_bits(qnet))})
    np.testing.assert_array_equal(result["spikes"], ref.spikes)
    np.testing.assert_array_equal(result["cls"], ref.predicted)
    np.testing.assert_array_equal(result["counts"], ref.counts)
    assert (result["cycles"] > spikes.shape[1]).all()
