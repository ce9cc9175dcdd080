"""spikegen verify: progress from the run in hand, and waveforms where it says."""
import os

import numpy as np
import pytest

import spikegen
from spikegen.compiler import BuildOptions, build
from spikegen.errors import SpikegenError
from spikegen.verify import verify

from helpers.networks import random_network


@pytest.fixture
def built(tmp_path):
    net = tmp_path / "net.pt"
    spikegen.save(random_network(np.random.default_rng(2), (10, 6, 3)), net)
    out = tmp_path / "build"
    build(BuildOptions(source=str(net), out=str(out), board=None, parallelism=3,
                       hdl="verilog"))
    return out


def test_progress_never_comes_from_a_previous_run(built, monkeypatch):
    work = built / "sim" / "verilator"
    work.mkdir(parents=True)
    (work / "test.log").write_text("sample 5/5: 100 cycles\n")
    from spikegen.sim import runner

    seen = []

    def fake_run(*args, **kwargs):
        seen.append(os.path.exists(work / "test.log"))
        raise runner.SimulationError("stopped by the test")

    monkeypatch.setattr(runner, "run_accelerator", fake_run)
    lines = []
    with pytest.raises(SpikegenError, match="simulation failed: stopped by the test"):
        verify(str(built), samples=3, log=lines.append)
    assert seen == [False]
    assert not any("5/5" in line for line in lines)


@pytest.mark.verilator
def test_waves_are_fst_and_their_path_is_told(built):
    lines = []
    summary = verify(str(built), samples=1, steps=4, waves=True, log=lines.append)
    assert summary["mismatched_samples"] == 0
    assert summary["waves"] == os.path.join("sim", "verilator", "dump.fst")
    path = built / summary["waves"]
    assert path.stat().st_size > 0 and not (built / "sim" / "verilator" / "dump.vcd").exists()
    assert f"verify: waveforms in {path}" in lines
    # the compiler's precompiled headers (about 150 MB) do not stay in the build folder
    assert not list((built / "sim" / "verilator").rglob("*.gch"))
    assert (built / "sim" / "verilator" / "results.npz").exists()
