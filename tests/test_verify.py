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


@pytest.mark.verilator
def test_rtl_streams_give_the_neurobench_counts_and_saif(tmp_path):
    """Two events per beat between layers, rate coding on chip: the monitors of the
    accelerator's own streams see every layer's spikes, and the counts from them equal the
    reference's; --saif leaves Verilator's switching activity where it was asked."""
    net = tmp_path / "net.pt"
    spikegen.save(random_network(np.random.default_rng(3), (10, 7, 3), scale=0.8, mean=0.3),
                  net)
    out = tmp_path / "build"
    build(BuildOptions(source=str(net), out=str(out), board=None, parallelism=3,
                       events_per_cycle=2, coding="rate", steps=6, hdl="verilog"))
    saif = tmp_path / "activity.saif"
    summary = verify(str(out), samples=6, saif=str(saif))
    assert summary["mismatched_samples"] == 0
    counts = summary["neurobench"]
    assert counts["agree"] and counts["rtl"] == counts["reference"]
    assert counts["rtl"]["synaptic_operations"]["effective_acs"] > 0
    assert all(layer["spikes"] > 0 for layer in counts["rtl"]["layers"])
    assert "(SAIFILE" in saif.read_text()[:200]
    assert summary["saif"] == str(saif)


def test_counts_from_the_rtl_that_differ_are_told(built):
    """A hidden spike the RTL's streams did not show makes the counts disagree."""
    from spikegen.build_dir import load_network
    from spikegen.reference import simulate
    from spikegen.verify import rtl_activity

    qnet = load_network(str(built))
    spikes = (np.random.default_rng(0).random((4, 5, 10)) < 0.4).astype(np.uint8)
    expected = simulate(qnet, spikes, record=True)
    seen = {f"layer_spikes_{k}": t.spikes.copy() for k, t in enumerate(expected.layers)}
    seen["first_input"] = spikes
    assert rtl_activity(qnet, spikes, seen, expected)["agree"]
    hidden = seen["layer_spikes_0"]
    hidden[np.unravel_index(np.argmax(hidden), hidden.shape)] = 0
    assert expected.layers[0].spikes.sum() > hidden.sum()
    assert not rtl_activity(qnet, spikes, seen, expected)["agree"]
    assert rtl_activity(qnet, spikes, {}, expected) is None


@pytest.mark.parametrize("options,message", [
    (dict(simulator="ghdl"), "saif is written by Verilator's switching-activity trace"),
    (dict(waves=True), "use it with simulator verilator and without waves"),
])
def test_saif_needs_verilator_without_waves(built, options, message):
    with pytest.raises(SpikegenError, match=message):
        verify(str(built), samples=1, saif="x.saif", **options)
