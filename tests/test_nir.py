"""NIR input: snnTorch's export maps back to the same network, and the same HDL."""
import dataclasses
import json

import numpy as np
import pytest
import snntorch
import torch
from torch import nn

import spikegen
from spikegen.cli import main
from spikegen.errors import SpikegenError
from spikegen.ir import CubaLIF, to_json
from spikegen.quantize import quantize
from spikegen.report import summary

nir = pytest.importorskip("nir")
export_nir = pytest.importorskip("snntorch.export_nir")

# nir 1.0.4 (which sinabs and rockpool pin) has no LIF v_reset and no CubaLI: snnTorch 1.0's
# exporter fails with it, and so do graphs built with those fields; spikegen's reader does not
new_nir = pytest.mark.skipif(
    "v_reset" not in {f.name for f in dataclasses.fields(nir.LIF)},
    reason=f"nir {nir.version} predates LIF v_reset and CubaLI (snnTorch's exporter needs them)")


def model(bias=True):
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Linear(12, 8, bias=bias),
        snntorch.Leaky(beta=torch.full((8,), 0.875), threshold=torch.ones(8), init_hidden=True),
        nn.Linear(8, 4, bias=bias),
        snntorch.Leaky(beta=torch.full((4,), 0.875), threshold=torch.ones(4), init_hidden=True,
                       output=True))


def write_nir(path, net):
    graph = export_nir.export_to_nir(net, torch.zeros(12))
    nir.write(str(path), graph)


@new_nir
@pytest.mark.parametrize("bias", [True, False])
def test_snntorch_export_maps_back(tmp_path, bias):
    net = model(bias)
    write_nir(tmp_path / "net.nir", net)
    got = spikegen.load(tmp_path / "net.nir", reset="subtract")
    assert got.shape == (12, 8, 4)
    for layer, linear in zip(got.layers, (net[0], net[2])):
        assert layer.neuron.beta == 0.875
        assert layer.neuron.threshold == 1.0 and layer.neuron.reset == "subtract"
        np.testing.assert_allclose(layer.weight, linear.weight.detach().double(), rtol=1e-6)
        assert (layer.bias is None) == (not bias)


@new_nir
def test_same_network_as_state_dict_and_nir_gives_identical_hdl(tmp_path):
    net = model()
    torch.save(net.state_dict(), tmp_path / "net.pt")
    write_nir(tmp_path / "net.nir", net)
    for name, extra in (("pt", []), ("nir", ["--reset", "subtract"])):
        assert main(["build", str(tmp_path / f"net.{name}"), "--out", str(tmp_path / name),
                     "--board", "none", *extra]) == 0
    for hdl in ("verilog/spikegen_top.v", "vhdl/spikegen_top.vhd"):
        assert (tmp_path / "pt" / "hdl" / hdl).read_bytes() == \
            (tmp_path / "nir" / "hdl" / hdl).read_bytes()
    network = json.loads((tmp_path / "nir" / "report.json").read_text())["network"]
    assert network["source"] == "NIR graph (snnTorch export)"
    assert "reset subtract (given)" in network["conventions"][0]
    assert json.loads((tmp_path / "pt" / "report.json").read_text())["network"]["source"] \
        == "snnTorch"


@new_nir
def test_dt_changes_beta(tmp_path):
    write_nir(tmp_path / "net.nir", model())
    # tau = 1e-4 / (1 - 0.875) = 8e-4; at dt = 2e-4, beta = 1 - 0.25 and the input gain is 2
    got = spikegen.load(tmp_path / "net.nir", dt=2e-4)
    assert got.layers[0].neuron.beta == pytest.approx(0.75)
    # an snnTorch export is read with snnTorch's own default reset
    assert got.layers[0].neuron.reset == "subtract"


def test_unsupported_node_is_named(tmp_path):
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3)),
        nir.Delay(delay=np.ones(3)))
    nir.write(str(tmp_path / "delay.nir"), graph)
    with pytest.raises(SpikegenError, match="node 'delay' is a Delay, which spikegen does not "
                                            "support"):
        spikegen.load(tmp_path / "delay.nir")


@new_nir
def test_damaged_file(tmp_path):
    good = tmp_path / "net.nir"
    write_nir(good, model())
    bad = tmp_path / "bad.nir"
    bad.write_bytes(good.read_bytes()[:600])
    with pytest.raises(SpikegenError, match="not a readable NIR file"):
        spikegen.load(bad)


def test_options_only_for_nir(tmp_path):
    torch.save(model().state_dict(), tmp_path / "net.pt")
    with pytest.raises(SpikegenError, match="dt and reset apply to NIR files only"):
        spikegen.load(tmp_path / "net.pt", dt=1e-3)


# ------------------------------------------------------ every snnTorch layer, both routes

def snn_model(kind, reset="subtract", delay=True):
    """A 12-8-4 network of ``kind`` layers built as snnTorch's exporter needs them
    (per-neuron beta, alpha and threshold tensors, a vector V)."""
    torch.manual_seed(5)
    modules = []
    for a, b in ((12, 8), (8, 4)):
        common = dict(beta=torch.linspace(0.5, 0.875, b), threshold=torch.full((b,), 0.75),
                      reset_mechanism=reset, reset_delay=delay, init_hidden=True)
        alpha = torch.full((b,), 0.75)
        if kind == "leaky":
            neuron = snntorch.Leaky(**common)
        elif kind == "synaptic":
            neuron = snntorch.Synaptic(alpha=alpha, **common)
        elif kind == "rleaky_all":
            neuron = snntorch.RLeaky(linear_features=b, **common)
        elif kind == "rleaky_one":
            neuron = snntorch.RLeaky(all_to_all=False, V=torch.linspace(-0.5, 0.5, b),
                                     **common)
        else:
            neuron = snntorch.RSynaptic(alpha=alpha, linear_features=b, **common)
        modules += [nn.Linear(a, b), neuron]
    return nn.Sequential(*modules)


@new_nir
@pytest.mark.parametrize("kind", ["leaky", "synaptic", "rleaky_all", "rleaky_one",
                                  "rsynaptic"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_state_dict_and_nir_give_identical_quantized_networks(tmp_path, kind, reset):
    net = snn_model(kind, reset)
    torch.save(net.state_dict(), tmp_path / "net.pt")
    write_nir(tmp_path / "net.nir", net)
    from_pt = spikegen.load(tmp_path / "net.pt", name="net")
    from_nir = spikegen.load(tmp_path / "net.nir", name="net", reset=reset)
    assert to_json(quantize(from_nir)) == to_json(quantize(from_pt))
    assert (from_nir.layers[0].recurrent is None) == (kind in ("leaky", "synaptic"))


def affine(n_out, n_in, seed=0):
    rng = np.random.default_rng(seed)
    return nir.Affine(weight=rng.integers(-8, 8, (n_out, n_in)) / 8.0,
                      bias=rng.integers(-2, 3, n_out) / 8.0)


def read(tmp_path, *nodes, **options):
    nir.write(str(tmp_path / "g.nir"), nir.NIRGraph.from_list(*nodes))
    return spikegen.load(tmp_path / "g.nir", **options)


def test_li_output_is_a_membrane_readout(tmp_path):
    got = read(tmp_path, affine(3, 4), nir.LIF(tau=np.full(3, 2e-4), r=np.full(3, 2.0),
                                               v_leak=np.zeros(3), v_threshold=np.ones(3)),
               affine(2, 3), nir.LI(tau=np.array([4e-4, 2e-4]), r=np.full(2, 4.0),
                                    v_leak=np.array([0.0, 1.0])))
    assert got.readout == "membrane"
    last = got.layers[-1]
    assert last.neuron.reset == "none" and last.neuron.threshold == 0.0
    np.testing.assert_allclose(last.neuron.beta, [0.75, 0.5])
    # gain dt r / tau = [1, 2]; the leak voltage adds dt/tau v_leak = [0, 0.5] every step
    w = affine(2, 3)
    np.testing.assert_allclose(last.weight, w.weight * np.array([[1.0], [2.0]]))
    np.testing.assert_allclose(last.bias, w.bias * [1.0, 2.0] + [0.0, 0.5])
    with pytest.raises(SpikegenError, match="a leaky integrator without spikes; read it as a "
                                            "membrane"):
        spikegen.load(tmp_path / "g.nir", readout="spikes")


@new_nir
def test_cubali_and_threshold(tmp_path):
    cubali = nir.CubaLI(tau_syn=np.full(3, 2e-4), tau_mem=np.full(3, 4e-4), r=np.full(3, 4.0),
                        v_leak=np.zeros(3), w_in=np.full(3, 2.0))
    got = read(tmp_path, affine(3, 4), cubali, nir.Threshold(threshold=np.full(3, 0.5)))
    layer = got.layers[0]
    assert got.readout == "spikes" and isinstance(layer.neuron, CubaLIF)
    assert layer.neuron.alpha == 0.5 and layer.neuron.beta == 0.75
    assert layer.neuron.threshold == 0.5 and layer.neuron.reset == "none"
    # input gain dt w_in / tau_syn = 1, membrane gain dt r / tau_mem = 1
    np.testing.assert_allclose(layer.weight, affine(3, 4).weight)
    got = read(tmp_path, affine(3, 4), nir.Threshold(threshold=np.full(3, 0.25)))
    assert got.layers[0].neuron.beta == 0.0 and got.layers[0].neuron.reset == "none"


def test_if_node(tmp_path):
    got = read(tmp_path, affine(3, 4), nir.IF(r=np.full(3, 2.0), v_threshold=np.ones(3)),
               reset="subtract")
    assert got.layers[0].neuron.beta == 1.0 and got.layers[0].neuron.reset == "subtract"
    np.testing.assert_allclose(got.layers[0].weight, 2.0 * affine(3, 4).weight)


@pytest.mark.parametrize("nodes,message", [
    (lambda: (affine(3, 4), nir.LI(tau=np.full(3, 1e-3), r=np.ones(3), v_leak=np.zeros(3)),
              affine(2, 3), nir.LIF(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2),
                                    v_threshold=np.ones(2))),
     r"node 'li' \(LI\) feeds node 'affine_1'; a leaky integrator has no spikes"),
    (lambda: (affine(3, 4), nir.CubaLIF(tau_syn=np.full(3, 1e-3), tau_mem=np.full(3, 1e-3),
                                        r=np.ones(3), v_leak=np.ones(3),
                                        v_threshold=np.ones(3))),
     r"node 'cubalif' \(CubaLIF\) has a nonzero v_leak"),
    (lambda: (nir.Threshold(threshold=np.ones(4)),),
     r"node 'threshold' \(Threshold\) follows neither a weight node nor an LI/CubaLI node"),
    (lambda: (affine(3, 4), nir.LIF(tau=np.full(3, -1e-3), r=np.ones(3), v_leak=np.zeros(3),
                                    v_threshold=np.ones(3))),
     "node 'lif': tau must be positive"),
    pytest.param(
        lambda: (affine(3, 4), nir.LIF(tau=np.full(3, 1e-3), r=np.ones(3), v_leak=np.zeros(3),
                                       v_threshold=np.ones(3), v_reset=np.full(3, -0.5))),
        r"node 'lif' resets to v_reset=-0.5; spikegen resets to 0", marks=new_nir),
    (lambda: (affine(3, 4), nir.LIF(tau=np.full(3, 5e-5), r=np.ones(3), v_leak=np.zeros(3),
                                    v_threshold=np.ones(3))),
     r"dt=0.0001 gives beta -1, outside \[0, 1\]; check dt"),
])
def test_nir_errors_name_the_node(tmp_path, nodes, message):
    with pytest.raises(SpikegenError, match=message):
        read(tmp_path, *nodes())


def lif(n):
    return nir.LIF(tau=np.full(n, 2e-4), r=np.full(n, 2.0), v_leak=np.zeros(n),
                   v_threshold=np.ones(n))


def test_hand_written_recurrent_graph_and_bad_topologies(tmp_path):
    nodes = {"input": nir.Input(input_type=np.array([4])), "w": affine(3, 4), "lif": lif(3),
             "rec": nir.Linear(weight=np.eye(3) * 0.5),
             "output": nir.Output(output_type=np.array([3]))}
    edges = [("input", "w"), ("w", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    nir.write(str(tmp_path / "rec.nir"), nir.NIRGraph(nodes=nodes, edges=edges))
    # unit gains at dt = 1e-4 look like snnTorch's export: ask for NIR's reset explicitly
    got = spikegen.load(tmp_path / "rec.nir", reset="zero")
    np.testing.assert_allclose(got.layers[0].recurrent, 0.5 * np.eye(3))   # gain 1
    assert got.layers[0].neuron.reset == "zero_all"
    # feedback from a later layer is not a recurrent edge spikegen reads
    nodes.update(w2=affine(3, 3), lif2=lif(3))
    edges = [("input", "w"), ("w", "lif"), ("lif", "w2"), ("w2", "lif2"), ("lif2", "rec"),
             ("rec", "lif"), ("lif2", "output")]
    nir.write(str(tmp_path / "bad.nir"), nir.NIRGraph(nodes=nodes, edges=edges))
    with pytest.raises(SpikegenError, match="recurrent edge 'lif2' -> 'rec'|feeds 2 nodes"):
        spikegen.load(tmp_path / "bad.nir")


def test_nested_graph_is_inlined(tmp_path):
    inner = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "lif": lif(3),
                                "rec": nir.Linear(weight=np.eye(3)),
                                "output": nir.Output(output_type=np.array([3]))},
                         edges=[("input", "lif"), ("lif", "rec"), ("rec", "lif"),
                                ("lif", "output")])
    outer = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([4])),
                                "w": affine(3, 4), "sub": inner,
                                "output": nir.Output(output_type=np.array([3]))},
                         edges=[("input", "w"), ("w", "sub"), ("sub", "output")])
    nir.write(str(tmp_path / "nested.nir"), outer)
    got = spikegen.load(tmp_path / "nested.nir")
    assert got.layers[0].recurrent is not None and got.shape == (4, 3)


# -- whose conventions: the graph's writer, the reset it implies, the label of the float model


@new_nir
def test_snntorch_export_defaults_to_snntorch_reset_and_says_so(tmp_path):
    write_nir(tmp_path / "net.nir", model())
    got = spikegen.load(tmp_path / "net.nir")
    assert [layer.neuron.reset for layer in got.layers] == ["subtract", "subtract"]
    assert got.source == "NIR graph (snnTorch export)"
    (note,) = got.notes
    assert "written by snnTorch (its node pattern)" in note
    assert "dt 0.0001 (snnTorch's export time step)" in note
    assert "reset subtract (snnTorch's default" in note and "give reset=zero (--reset zero)" in note
    # an explicit reset still wins, and the note says it was given
    got = spikegen.load(tmp_path / "net.nir", reset="zero")
    assert got.layers[0].neuron.reset == "zero" and "reset zero (given)" in got.notes[0]


def _norse_like(n=3, **metadata):
    """A graph as Norse writes it: r = 1 and its own time constants (no snnTorch pattern)."""
    graph = nir.NIRGraph.from_list(
        affine(n, 4), nir.LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n),
                              v_threshold=np.ones(n)))
    if metadata:
        graph.metadata = metadata
    return graph


def test_other_graphs_keep_nir_reset_and_are_labelled_nir_graph(tmp_path):
    nir.write(str(tmp_path / "g.nir"), _norse_like())
    got = spikegen.load(tmp_path / "g.nir")
    assert got.layers[0].neuron.reset == "zero" and got.source == "NIR graph"
    assert "of unknown origin" in got.notes[0] and "give dt (--dt)" in got.notes[0]


def test_graph_metadata_names_the_writer(tmp_path):
    nir.write(str(tmp_path / "g.nir"), _norse_like(source="norse 1.1"))
    got = spikegen.load(tmp_path / "g.nir", dt=1e-3)
    assert got.source == "NIR graph (Norse export)"
    assert "written by Norse (named in its metadata)" in got.notes[0]
    assert "dt 0.001 (given)" in got.notes[0] and got.layers[0].neuron.reset == "zero"
    nir.write(str(tmp_path / "s.nir"), _norse_like(framework="snntorch"))
    assert spikegen.load(tmp_path / "s.nir").layers[0].neuron.reset == "subtract"


@pytest.mark.parametrize("source,label", [("NIR graph (Norse export)", "NIR graph (Norse export)"),
                                          (None, "snnTorch")])
def test_summary_labels_the_float_model_by_its_source(source, label):
    network = {"name": "n", "shape": [4, 3], "layers": []}
    if source:
        network["source"] = source
    tree = {
        "spikegen": "0", "network": network, "coding": {"kind": "events"},
        "quantization_notes": [], "memory": {"total_bits": 100, "bram36_estimate": 0},
        "resources_estimate": {"lut": 10, "ff": 20, "bram36": 0},
        "evaluation": {"samples": 10, "source": "digits", "float_accuracy": 0.9749,
                       "reference_accuracy": 0.95, "output_spike_agreement": 1.0,
                       "class_agreement": 1.0, "saturated_additions": 0},
        "cycles": {"per_step_mean": 1.0, "per_inference_mean": 2.0},
    }
    assert f"accuracy: float ({label}) 97.49 %" in summary(tree)


def test_reads_files_that_its_nir_release_cannot(tmp_path, monkeypatch):
    """nir 1.0.4 fails on fields added later (LIF v_reset): spikegen reads the HDF5 itself."""
    nodes = {"input": nir.Input(input_type=np.array([4])), "w": affine(3, 4), "lif": lif(3),
             "rec": nir.Linear(weight=np.eye(3) * 0.5),
             "output": nir.Output(output_type=np.array([3]))}
    edges = [("input", "w"), ("w", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    nir.write(str(tmp_path / "rec.nir"), nir.NIRGraph(nodes=nodes, edges=edges))
    expected = spikegen.load(tmp_path / "rec.nir")

    def old_read(path):
        raise TypeError("LIF.__init__() got an unexpected keyword argument 'v_reset'")

    monkeypatch.setattr(nir, "read", old_read)
    got = spikegen.load(tmp_path / "rec.nir")
    assert to_json(got) == to_json(expected)
    (tmp_path / "bad.nir").write_bytes((tmp_path / "rec.nir").read_bytes()[:600])
    with pytest.raises(SpikegenError, match="not a readable NIR file \\(TypeError: LIF"):
        spikegen.load(tmp_path / "bad.nir")


# -- spikegen.save_nir: the README's example, scalar beta and all


def readme_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), snntorch.Leaky(beta=0.9, init_hidden=True),
                         nn.Linear(32, 10), snntorch.Leaky(beta=0.9, init_hidden=True))


def test_readme_example_saves_loads_and_exports(tmp_path):
    model = readme_model()
    # why save_nir exists: scalar beta fails type inference (with nir 1.0.4, v_reset fails)
    with pytest.raises((ValueError, TypeError), match="type mismatch|v_reset"):
        export_nir.export_to_nir(model, torch.zeros(64))
    spikegen.save(model, tmp_path / "net.pt")
    spikegen.save_nir(model, tmp_path / "net.nir")
    from_pt = spikegen.load(tmp_path / "net.pt")
    from_nir = spikegen.load(tmp_path / "net.nir")
    assert from_nir.shape == from_pt.shape == (64, 32, 10)
    assert from_nir.source == "NIR graph (snnTorch export)"
    assert "reset subtract (the graph's metadata)" in from_nir.notes[0]
    for a, b in zip(from_pt.layers, from_nir.layers):
        np.testing.assert_allclose(b.weight, a.weight, rtol=1e-6)
        np.testing.assert_allclose(b.neuron.beta, a.neuron.beta, rtol=1e-6)
        assert b.neuron.reset == a.neuron.reset == "subtract"
    spikes = (np.random.default_rng(1).random((4, 6, 64)) < 0.3).astype(np.uint8)
    np.testing.assert_array_equal(spikegen.simulate(from_nir, spikes),
                                  spikegen.simulate(from_pt, spikes))


def test_save_nir_keeps_zero_reset_and_recurrence(tmp_path):
    from spikegen.ir import LIF, DenseLayer, Network
    rng = np.random.default_rng(2)
    net = Network((
        DenseLayer(rng.normal(0, 0.5, (5, 6)), None,
                   CubaLIF(alpha=0.5, beta=np.linspace(0.5, 0.9, 5), threshold=1.0,
                           reset="zero_all"), rng.normal(0, 0.5, (5, 5))),
        DenseLayer(rng.normal(0, 0.5, (3, 5)), rng.normal(0, 0.1, 3),
                   LIF(beta=1.0, threshold=0.75, reset="zero"))), name="r")
    spikegen.save_nir(net, tmp_path / "r.nir")
    got = spikegen.load(tmp_path / "r.nir")
    assert [layer.neuron.reset for layer in got.layers] == ["zero_all", "zero"]
    np.testing.assert_allclose(got.layers[0].recurrent, net.layers[0].recurrent, rtol=1e-6)
    np.testing.assert_allclose(got.layers[0].neuron.beta, net.layers[0].neuron.beta, rtol=1e-6)
    assert got.layers[0].neuron.alpha == 0.5 and got.layers[1].neuron.beta == 1.0
    spikes = (rng.random((4, 6, 6)) < 0.4).astype(np.uint8)
    np.testing.assert_array_equal(spikegen.simulate(got, spikes), spikegen.simulate(net, spikes))


def test_save_nir_errors(tmp_path):
    from spikegen.ir import LIF, DenseLayer, Network
    with pytest.raises(TypeError, match="Model must be a spikegen Network or a torch.nn.Module, "
                                        "not str"):
        spikegen.save_nir("net.pt", tmp_path / "x.nir")
    layer = DenseLayer(np.ones((2, 3)), None, LIF(beta=0.5, threshold=1.0, reset="none"))
    with pytest.raises(SpikegenError, match="reset none: save_nir writes networks"):
        spikegen.save_nir(Network((layer,)), tmp_path / "x.nir")
    with pytest.raises(SpikegenError, match="readout membrane has no NIR form"):
        spikegen.save_nir(Network((layer,), readout="membrane"), tmp_path / "x.nir")
