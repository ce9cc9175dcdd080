"""NIR files written by Sinabs (``sinabs.to_nir``): the fixtures under ``tests/fixtures/sinabs``
were exported by ``scripts/sinabs_fixtures.py`` (Sinabs 3.1.3, in a venv of its own: it pins
nir 1.0.4), with Sinabs' own output spikes for the IAF network.

Sinabs' conventions, which NIR does not record: time constants in steps (dt = 1), reset by
subtraction in the same step (spikegen's ``reset_delay`` off), a spike when ``v >= threshold``
(spikegen: ``v > threshold``; equal for thresholds no sum of weights reaches exactly) and, by
default, several spikes per step (``MultiSpike``; spikegen emits one, as ``SingleSpike``)."""
import json
import os
import shutil

import numpy as np
import pytest

from spikegen.cli import main
from spikegen.compiler import BuildOptions, build
from spikegen.errors import SpikegenError
from spikegen.ir import from_json
from spikegen.nir_frontend import load_nir
from spikegen.reference import simulate

pytest.importorskip("nir")

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "sinabs")
SINABS = dict(reset="subtract", reset_delay=False)
#: the fixture thresholds sit 1/1024 off the weights' grid: 11 membrane fraction bits
FRACTION = dict(mem_frac_bits=4)


def fixture(name):
    return os.path.join(FIXTURES, name)


def test_sinabs_lif_at_the_default_dt_is_refused():
    with pytest.raises(SpikegenError, match=r"node '1': tau 20 looks like time steps .*"
                                            r"beta 0\.999995.*give dt 1"):
        load_nir(fixture("lif.nir"))


def test_sinabs_lif_at_the_default_dt_names_the_flag(capsys):
    assert main(["build", fixture("lif.nir"), "--board", "none", "--out", "/nonexistent"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("spikegen: error:")]
    assert len(errors) == 1
    err = errors[0]
    assert "give --dt 1 (for Sinabs also --reset subtract, --no-reset-delay)" in err


def test_sinabs_lif_reads_with_dt_1():
    net = load_nir(fixture("lif.nir"), dt=1.0, **SINABS)
    assert net.layers[0].neuron.beta == pytest.approx(0.95)       # 1 - dt/tau, forward Euler
    assert "dt 1 (given)" in net.notes[0]
    assert "one binary spike per step" in net.notes[0]


def _iaf_build(tmp_path, **options):
    data = np.load(fixture("iaf_io.npz"))
    spikes = data["spikes"]
    np.savez(tmp_path / "eval.npz", spikes=spikes, labels=np.zeros(len(spikes), np.int64))
    built = build(BuildOptions(source=fixture("iaf.nir"), out=str(tmp_path / "build"),
                               board=None, eval=str(tmp_path / "eval.npz"), hdl="verilog",
                               **SINABS, **FRACTION, **options))
    return built, data


def test_sinabs_iaf_equals_sinabs_spike_for_spike(tmp_path):
    built, data = _iaf_build(tmp_path)
    assert json.load(open(fixture("fixtures.json")))["iaf_io_max_spikes_per_step"] == 1
    result = simulate(built.qnet, data["spikes"], record=True)
    for k, trace in enumerate(result.layers):
        assert trace.spikes.sum() == data[f"layer{k}"].sum() > 0
        np.testing.assert_array_equal(trace.spikes, data[f"layer{k}"])
    report = built.report
    assert report["evaluation"]["saturated_additions"] == 0
    assert all(layer["fidelity"]["saturated_additions"] == 0
               for layer in report["network"]["layers"])
    # the conventions assumed are in the report
    conventions = report["network"]["conventions"][0]
    assert "reset subtract (given)" in conventions and "reset delay off" in conventions
    assert "one binary spike per step" in conventions


@pytest.mark.verilator
def test_sinabs_iaf_verifies_on_verilator(tmp_path):
    _iaf_build(tmp_path)
    out = tmp_path / "build"
    assert main(["verify", str(out), "--samples", "8", "--no-summary"]) == 0
    qnet = from_json(json.load(open(out / "network.json")))
    assert qnet.layers[0].neuron.reset == "subtract"


def test_a_graph_whose_metadata_names_sinabs_takes_its_conventions(tmp_path):
    # Sinabs' nir 1.0.4 writes no metadata; newer NIR keeps it in the graph's node/metadata
    h5py = pytest.importorskip("h5py")
    shutil.copy(fixture("lif.nir"), tmp_path / "named.nir")
    with h5py.File(tmp_path / "named.nir", "a") as f:
        f["node"].create_group("metadata").create_dataset("source", data="sinabs 3.1.3")
    net = load_nir(tmp_path / "named.nir")
    neuron = net.layers[0].neuron
    assert neuron.beta == pytest.approx(0.95)
    assert (neuron.reset, neuron.reset_delay) == ("subtract", False)
    assert net.notes[0].startswith(
        "NIR graph written by Sinabs (named in its metadata), read with dt 1 (Sinabs's: its "
        "time constants are in steps), reset subtract (Sinabs's), reset delay off")
