"""NIR input: snnTorch's export maps back to the same network, and the same HDL."""
import numpy as np
import pytest
import snntorch
import torch
from torch import nn

import spikegen
from spikegen.cli import main
from spikegen.errors import SpikegenError

nir = pytest.importorskip("nir")
export_nir = pytest.importorskip("snntorch.export_nir")


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


def test_dt_changes_beta(tmp_path):
    write_nir(tmp_path / "net.nir", model())
    # tau = 1e-4 / (1 - 0.875) = 8e-4; at dt = 2e-4, beta = 1 - 0.25 and the input gain is 2
    got = spikegen.load(tmp_path / "net.nir", dt=2e-4)
    assert got.layers[0].neuron.beta == pytest.approx(0.75)
    assert got.layers[0].neuron.reset == "zero"


def test_unsupported_node_is_named(tmp_path):
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3)),
        nir.Delay(delay=np.ones(3)))
    nir.write(str(tmp_path / "delay.nir"), graph)
    with pytest.raises(SpikegenError, match="node 'delay' is a Delay, which spikegen does not "
                                            "support"):
        spikegen.load(tmp_path / "delay.nir")


def test_damaged_file(tmp_path):
    good = tmp_path / "net.nir"
    write_nir(good, model())
    bad = tmp_path / "bad.nir"
    bad.write_bytes(good.read_bytes()[:600])
    with pytest.raises(SpikegenError, match="not a readable NIR file"):
        spikegen.load(bad)


def test_options_only_for_nir(tmp_path):
    torch.save(model().state_dict(), tmp_path / "net.pt")
    with pytest.raises(SpikegenError, match="--dt and --reset apply to NIR files only"):
        spikegen.load(tmp_path / "net.pt", dt=1e-3)
