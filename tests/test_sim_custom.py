"""spikegen.sim.run_cocotb_test: a user's cocotb tests on a user's component, the worked
example of docs/custom-rtl.md on Verilator and GHDL."""
import importlib
import shutil
import sys
from pathlib import Path

import pytest

from spikegen.sim import CocotbResult, run_cocotb_test
from spikegen.sim.simulators import SimulationError


EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


@pytest.fixture
def spike_tally(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    module = importlib.import_module("spike_tally")
    yield module.SpikeTally
    sys.modules.pop("spike_tally", None)


@pytest.mark.verilator
def test_docs_example_on_verilator(tmp_path, spike_tally):
    result = run_cocotb_test(spike_tally(), EXAMPLES / "test_spike_tally.py",
                             work_dir=tmp_path, quiet=True)
    assert isinstance(result, CocotbResult)
    assert (result.tests, result.failed, result.passed) == (1, 0, True)
    assert "`timescale" not in (tmp_path / "top.v").read_text()


@pytest.mark.ghdl
def test_docs_example_on_ghdl(tmp_path, spike_tally):
    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed (scripts/setup.sh installs it)")
    result = run_cocotb_test(spike_tally(), EXAMPLES / "test_spike_tally.py",
                             simulator="ghdl", work_dir=tmp_path, quiet=True)
    assert (result.tests, result.failed) == (1, 0)
    assert "i_valid : in std_logic" in (tmp_path / "top.vhd").read_text()


@pytest.mark.ghdl
def test_a_failing_test_is_reported(tmp_path, spike_tally):
    if shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed (scripts/setup.sh installs it)")
    tests = tmp_path / "test_wrong.py"
    tests.write_text("import cocotb\n"
                     "@cocotb.test()\n"
                     "async def wrong(dut):\n"
                     "    assert dut.spikes.value.to_unsigned() == 1\n")
    design = spike_tally()
    result = run_cocotb_test(design, tests, simulator="ghdl", work_dir=tmp_path / "a",
                             quiet=True, strict=False)
    assert (result.tests, result.failed, result.passed) == (1, 1, False)
    with pytest.raises(SimulationError, match=r"a cocotb test failed; see .*test\.log"):
        run_cocotb_test(design, tests, simulator="ghdl", work_dir=tmp_path / "b", quiet=True)


def test_hdl_files_must_suit_the_simulator(tmp_path):
    source = tmp_path / "top.vhd"
    source.write_text("")
    with pytest.raises(SimulationError, match=r"Verilator simulates verilog \(\.v, \.sv "
                                              r"files\), not .*top\.vhd"):
        run_cocotb_test(source, "test_top", work_dir=tmp_path)
    with pytest.raises(SimulationError, match=r"HDL file '.*missing\.v' does not exist"):
        run_cocotb_test([tmp_path / "missing.v"], "test_top", work_dir=tmp_path)
    with pytest.raises(SimulationError, match=r"cocotb test module '.*nothere\.py' does not"):
        run_cocotb_test(source, tmp_path / "nothere.py", work_dir=tmp_path)
    with pytest.raises(TypeError, match=r"Design must be a wiring.Component or HDL file "
                                        r"paths, not 3"):
        run_cocotb_test([3], "test_top", work_dir=tmp_path)
