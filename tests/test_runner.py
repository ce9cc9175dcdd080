"""The cocotb runner shared by Verilator and GHDL: choosing a simulator, and its errors."""
import pytest

from spikegen.sim import ghdl, runner, simulators
from spikegen.sim.runner import SimulationError


def test_simulators_by_name():
    assert runner.get_simulator("verilator") is runner.VERILATOR
    assert runner.get_simulator("ghdl") is ghdl.GHDL
    assert runner.get_simulator(ghdl.GHDL) is ghdl.GHDL
    # GHDL reruns its analysis and runs where its library is; Verilator reuses its model
    assert ghdl.GHDL.always and ghdl.GHDL.run_in_build_dir and ghdl.GHDL.hdl == "vhdl"
    assert not runner.VERILATOR.always and runner.VERILATOR.timescale == ("1ns", "1ps")
    with pytest.raises(ValueError, match=r"Simulator must be 'verilator' or 'ghdl', "
                                         r"not 'iverilog'"):
        runner.get_simulator("iverilog")


def test_harness_language(tmp_path):
    ports = ("i_events", 8, 8, 8)
    assert runner.harness_source(tmp_path, "top", ports).suffix == ".v"
    assert ghdl.harness_vhdl(tmp_path, "top", ports).suffix == ".vhd"
    with pytest.raises(ValueError, match=r"Harness language must be 'verilog' or 'vhdl', "
                                         r"not 'systemc'"):
        runner.harness_source(tmp_path, "top", ports, hdl="systemc")


def test_missing_ghdl_is_a_simulation_error(tmp_path, monkeypatch):
    monkeypatch.setattr(simulators.shutil, "which", lambda name: None)
    with pytest.raises(SimulationError, match=r"GHDL not found: install it"):
        runner.build("ghdl", [], "top", tmp_path)
