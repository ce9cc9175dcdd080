"""Run ``test_spike_tally.py`` on :class:`spike_tally.SpikeTally` in Verilator, then in GHDL
(when it is installed): ``python run_spike_tally.py`` in this folder."""
import shutil

from spikegen.sim import run_cocotb_test

from spike_tally import SpikeTally


if __name__ == "__main__":
    for simulator in ("verilator", "ghdl"):
        if simulator == "ghdl" and shutil.which("ghdl") is None:
            print("ghdl is not installed: skipping the VHDL run")
            continue
        result = run_cocotb_test(SpikeTally(), "test_spike_tally.py", simulator=simulator)
        print(f"{simulator}: {result.tests - result.failed} of {result.tests} tests passed")
