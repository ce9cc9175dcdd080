"""NIR files from snnTorch and Norse through ``spikegen build model.nir`` and ``spikegen verify``:
every neuron model, bit-exact on the emitted HDL (Verilator, and GHDL when installed), and the
same HDL whether a network arrives as a state_dict or as NIR."""
import json
import shutil

import numpy as np
import pytest
import snntorch
import torch
from torch import nn

from spikegen.cli import main
from spikegen.ir import from_json
from spikegen.reference import simulate

nir = pytest.importorskip("nir")
export_nir = pytest.importorskip("snntorch.export_nir")

#: Layer sizes and snnTorch neuron kinds of :func:`snntorch_model`: one layer of each.
SIZES = (12, 10, 8, 8, 6, 4)
KINDS = ("leaky", "synaptic", "rleaky_all", "rleaky_one", "rsynaptic")


def grid(rng, shape, lo=-10, hi=14):
    """Weights on a 1/16 grid: exact in float32 and in 8-bit weights."""
    return torch.tensor(rng.integers(lo, hi, shape) / 16.0, dtype=torch.float32)


def neuron(kind, n, rng, reset, per_neuron):
    """An snnTorch neuron layer as its NIR exporter needs it: per-neuron beta, alpha and
    threshold tensors (equal values when not ``per_neuron``), all exactly representable."""
    if per_neuron:
        beta = torch.tensor(rng.choice([0.5, 0.75, 0.875], n), dtype=torch.float32)
        alpha = torch.tensor(rng.choice([0.5, 0.75], n), dtype=torch.float32)
        threshold = torch.tensor(rng.choice([0.5, 0.75, 1.0, 1.25], n), dtype=torch.float32)
    else:
        beta, alpha, threshold = torch.full((n,), 0.75), torch.full((n,), 0.5), torch.ones(n)
    common = dict(beta=beta, threshold=threshold, reset_mechanism=reset, init_hidden=True)
    if kind == "leaky":
        return snntorch.Leaky(**common)
    if kind == "synaptic":
        return snntorch.Synaptic(alpha=alpha, **common)
    if kind == "rleaky_one":
        return snntorch.RLeaky(all_to_all=False, V=grid(rng, n), **common)
    if kind == "rleaky_all":
        module = snntorch.RLeaky(linear_features=n, **common)
    else:
        module = snntorch.RSynaptic(alpha=alpha, linear_features=n, **common)
    with torch.no_grad():
        module.recurrent.weight.copy_(grid(rng, (n, n)))
        module.recurrent.bias.copy_(grid(rng, n, -3, 4))
    return module


def snntorch_model(seed, kinds=KINDS, sizes=SIZES, reset="subtract", per_neuron=False):
    """``nn.Linear`` + one snnTorch neuron layer of each of ``kinds``, in order."""
    rng = np.random.default_rng(seed)
    modules = []
    for a, b, kind in zip(sizes, sizes[1:], kinds):
        linear = nn.Linear(a, b)
        with torch.no_grad():
            linear.weight.copy_(grid(rng, (b, a)))
            linear.bias.copy_(grid(rng, b, -3, 4))
        modules += [linear, neuron(kind, b, rng, reset, per_neuron)]
    return nn.Sequential(*modules)


def export(net, path, *, li_output=False):
    """snnTorch's NIR export of ``net`` to ``path``; with ``li_output`` the last ``Leaky``
    (a ``LIF`` node) becomes an ``LI`` node of the same tau and r: a leaky-integrator output
    layer, read by its membrane."""
    graph = export_nir.export_to_nir(net, torch.zeros(net[0].in_features))
    if li_output:
        last = next(a for a, b in graph.edges if b == "output")
        lif = graph.nodes[last]
        assert isinstance(lif, nir.LIF)
        nodes = dict(graph.nodes)
        nodes[last] = nir.LI(tau=lif.tau, r=lif.r, v_leak=lif.v_leak)
        graph = nir.NIRGraph(nodes=nodes, edges=graph.edges)
    nir.write(str(path), graph)
    return path


def build(source, out, *options):
    assert main(["build", str(source), "--out", str(out), "--board", "none", *options]) == 0
    return from_json(json.loads((out / "network.json").read_text()))


def verify(out, simulator="verilator", samples=5):
    assert main(["verify", str(out), "--samples", str(samples), "--density", "0.4",
                 "--steps", "6", "--simulator", simulator]) == 0
    result = json.loads((out / "verify.json").read_text())
    assert result["simulator"] == simulator and result["samples"] == samples
    assert result["mismatched_samples"] == 0 and result["mismatched_spikes"] == 0
    return result


def assert_every_layer_spikes(qnet, inputs=12):
    """A network that never spikes would verify trivially: every spiking layer fires on
    random input like verify's."""
    spikes = (np.random.default_rng(0).random((5, 6, inputs)) < 0.4).astype(np.uint8)
    result = simulate(qnet, spikes, record=True)
    spiking = len(qnet.layers) - (qnet.readout == "membrane")
    for k in range(spiking):
        assert result.layers[k].spikes.sum() > 0, f"layer {k} never spikes"


def kinds_of(qnet):
    """Per layer: the neuron class, whether it is recurrent, and whether all-to-all."""
    return [(type(layer.neuron).__name__, layer.recurrent is not None,
             None if layer.recurrent is None
             else bool(np.count_nonzero(layer.recurrent - np.diag(np.diag(layer.recurrent)))))
            for layer in qnet.layers]


def ghdl_too(out, on_verilator):
    """The same check on GHDL (the VHDL) when it is installed: the same RTL, the same
    cycles."""
    if shutil.which("ghdl") is None:
        return
    on_ghdl = verify(out, "ghdl")
    assert on_ghdl["cycles_per_inference"] == on_verilator["cycles_per_inference"]


@pytest.mark.verilator
@pytest.mark.ghdl
@pytest.mark.slow
def test_every_snntorch_model_per_neuron_with_li_output(tmp_path):
    """Leaky, Synaptic, RLeaky (all-to-all, one-to-one) and RSynaptic layers with per-neuron
    betas, alphas and thresholds, then an LI output read by its membrane, in one NIR file:
    fully parallel with two events per cycle, bit-exact on Verilator and GHDL."""
    net = snntorch_model(7, kinds=KINDS + ("leaky",), sizes=SIZES + (3,), per_neuron=True)
    source = export(net, tmp_path / "model.nir", li_output=True)
    out = tmp_path / "build"
    qnet = build(source, out, "--reset", "subtract", "-P", "0", "-E", "2")
    assert kinds_of(qnet) == [("QLIF", False, None), ("QCubaLIF", False, None),
                              ("QLIF", True, True), ("QLIF", True, False),
                              ("QCubaLIF", True, True), ("QLIF", False, None)]
    assert qnet.readout == "membrane" and qnet.hardware.events_per_cycle == 2
    assert isinstance(qnet.layers[0].neuron.threshold, np.ndarray)     # per neuron
    assert qnet.layers[-1].neuron.reset == "none"
    assert_every_layer_spikes(qnet)
    ghdl_too(out, verify(out))


@pytest.mark.verilator
@pytest.mark.ghdl
@pytest.mark.slow
def test_every_snntorch_model_grouped_with_zero_reset(tmp_path):
    """The same five kinds, one value per layer, with snnTorch's zero reset (``zero`` for
    Leaky, ``zero_all`` for the others) and spikes read out: three lanes per layer, one event
    per cycle, bit-exact on Verilator and GHDL."""
    net = snntorch_model(11, reset="zero")
    source = export(net, tmp_path / "model.nir")
    out = tmp_path / "build"
    qnet = build(source, out, "--reset", "zero", "-P", "3", "-E", "1")
    assert kinds_of(qnet) == [("QLIF", False, None), ("QCubaLIF", False, None),
                              ("QLIF", True, True), ("QLIF", True, False),
                              ("QCubaLIF", True, True)]
    assert [layer.neuron.reset for layer in qnet.layers] == ["zero"] + ["zero_all"] * 4
    assert qnet.readout == "spikes" and qnet.hardware.parallelism == 3
    assert_every_layer_spikes(qnet)
    ghdl_too(out, verify(out))


@pytest.mark.verilator
@pytest.mark.ghdl
def test_per_neuron_lif_on_shared_lanes(tmp_path):
    """Leaky and RLeaky layers with per-neuron betas and thresholds on fewer lanes than
    neurons: each group's parameters come from a memory. Bit-exact on Verilator and GHDL."""
    net = snntorch_model(5, kinds=("leaky", "rleaky_all", "rleaky_one"), sizes=(12, 10, 8, 6),
                         per_neuron=True)
    source = export(net, tmp_path / "model.nir")
    out = tmp_path / "build"
    qnet = build(source, out, "--reset", "subtract", "-P", "3", "-E", "2")
    assert all(isinstance(layer.neuron.threshold, np.ndarray) for layer in qnet.layers)
    assert_every_layer_spikes(qnet)
    ghdl_too(out, verify(out))


@pytest.mark.verilator
def test_norse_export_builds_and_verifies(tmp_path):
    norse = pytest.importorskip("norse.torch", reason="Norse is not installed (pip install "
                                                      "norse torch==2.13.0)")
    rng = np.random.default_rng(3)
    dt = 1e-3
    layers = []
    for a, b in ((12, 8), (8, 4)):
        linear = nn.Linear(a, b)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(rng.integers(-6, 10, (b, a)) / 8.0))
            linear.bias.copy_(torch.tensor(rng.integers(-2, 3, b) / 8.0))
        p = norse.LIFBoxParameters(tau_mem_inv=torch.full((b,), 500.0),
                                   v_th=torch.full((b,), 0.75), v_leak=torch.zeros(b),
                                   v_reset=torch.zeros(b))
        layers += [linear, norse.LIFBoxCell(p, dt=dt)]
    model = norse.SequentialState(*layers)
    source = tmp_path / "norse.nir"
    nir.write(str(source), norse.to_nir(model, torch.zeros(12), dt=dt))
    out = tmp_path / "build"
    # Norse 1.1 writes tau = dt / tau_mem_inv, not 1 / tau_mem_inv: --dt dt**2 gives Norse's
    # own beta = 1 - dt tau_mem_inv (see test_norse.py); Norse resets to 0 in the step of the
    # spike (zero reset without reset delay)
    qnet = build(source, out, "--dt", str(dt ** 2), "--reset", "zero", "--no-reset-delay",
                 "-P", "3")
    assert [layer.neuron.beta for layer in qnet.layers] == [0.5, 0.5]
    assert [(layer.neuron.reset, layer.neuron.reset_delay) for layer in qnet.layers] == \
        [("zero", False)] * 2
    assert_every_layer_spikes(qnet)
    verify(out)


@pytest.mark.parametrize("kinds,built", [
    (("synaptic", "synaptic"), [("QCubaLIF", False, None)] * 2),
    (("rleaky_all", "rleaky_one"), [("QLIF", True, True), ("QLIF", True, False)]),
    (("rsynaptic", "rsynaptic"), [("QCubaLIF", True, True)] * 2),
], ids=["synaptic", "rleaky", "rsynaptic"])
def test_state_dict_and_nir_give_identical_hdl(tmp_path, kinds, built):
    """The same snnTorch network saved as a state_dict and exported to NIR: the same Verilog
    and VHDL, byte for byte."""
    net = snntorch_model(5, kinds=kinds, sizes=(12, 8, 4))
    torch.save(net.state_dict(), tmp_path / "model.pt")
    export(net, tmp_path / "model.nir")
    for name, extra in (("pt", []), ("nir", ["--reset", "subtract"])):
        qnet = build(tmp_path / f"model.{name}", tmp_path / name, "--hdl", "both", "-P", "3",
                     *extra)
        assert kinds_of(qnet) == built
    for folder, suffix in (("verilog", ".v"), ("vhdl", ".vhd")):
        files = sorted(p.name for p in (tmp_path / "pt" / "hdl" / folder).iterdir()
                       if p.suffix == suffix)
        assert files and files == sorted(p.name for p in (tmp_path / "nir" / "hdl" / folder)
                                         .iterdir() if p.suffix == suffix)
        for name in files:
            assert (tmp_path / "pt" / "hdl" / folder / name).read_bytes() == \
                (tmp_path / "nir" / "hdl" / folder / name).read_bytes(), name
