"""Convolutional networks from snnTorch through ``spikegen build`` and ``spikegen verify``:
bit-exact on the emitted Verilog (Verilator) and VHDL (GHDL), every pooling placement, and
the cycle model against the simulated cycles."""
import json

import numpy as np
import pytest
import snntorch as snn
import torch
from torch import nn

import spikegen
from spikegen.cli import main


def _leaky(beta=0.75):
    return snn.Leaky(beta=beta, init_hidden=True)


def _grid(model, seed):
    """Weights on a 1/8 grid (exact in 8-bit weights)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.tensor(rng.integers(-5, 7, tuple(m.weight.shape)) / 8.0))
                if m.bias is not None:
                    m.bias.copy_(torch.tensor(rng.integers(-1, 2, tuple(m.bias.shape)) / 8.0))
    return model.eval()


NETWORKS = {
    # max pooling of spikes, a strided convolution, lanes that split the channels, a dense
    # layer taking two events per cycle
    "maxpool": (lambda: nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), _leaky(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), _leaky(),
        nn.Flatten(), nn.Linear(6 * 2 * 2, 5), _leaky()), (2, 8, 8), ["-P", "2", "-E", "2"]),
    # average pooling of currents and of spikes (folded), dilation, current-based neurons
    "avgpool": (lambda: nn.Sequential(
        nn.Conv2d(1, 3, 2, dilation=2), nn.AvgPool2d(2), snn.Synaptic(
            alpha=0.5, beta=0.75, init_hidden=True), nn.AvgPool2d(2),
        nn.Conv2d(3, 4, 2, padding="same"), _leaky(1.0),
        nn.Flatten(), nn.Linear(16, 3), _leaky()), (1, 10, 10), []),
    # max pooling of currents (snnTorch's tutorials: Conv2d -> MaxPool2d -> Leaky) through
    # the current buffer, lanes that split the channels
    "currentmax": (lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), _leaky(),
        nn.Flatten(), nn.Linear(4 * 3 * 3, 3), _leaky()), (1, 6, 6), ["-P", "2"]),
}


def _build(tmp_path, name, extra=()):
    build, shape, options = NETWORKS[name]
    torch.manual_seed(0)
    source = tmp_path / f"{name}.pt"
    spikegen.save(_grid(build(), 7), source, input_shape=shape)
    out = tmp_path / "build"
    assert main(["build", str(source), "--out", str(out), "--board", "none",
                 *options, *extra]) == 0
    return out


def _verify(out, simulator, samples):
    assert main(["verify", str(out), "--samples", str(samples), "--density", "0.3",
                 "--steps", "5", "--simulator", simulator]) == 0
    result = json.loads((out / "verify.json").read_text())
    assert result["samples"] == samples
    assert result["mismatched_samples"] == 0 and result["mismatched_spikes"] == 0
    return result


@pytest.mark.verilator
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_conv_network_on_verilator(tmp_path, name):
    out = _build(tmp_path, name)
    result = _verify(out, "verilator", 12)
    network = json.loads((out / "network.json").read_text())
    kinds = [layer["type"] for layer in network["layers"]]
    assert kinds.count("QConvLayer") == (2 if name in ("maxpool", "avgpool") else 1)
    if name == "currentmax":
        [conv] = [layer for layer in network["layers"] if layer["type"] == "QConvLayer"]
        assert conv["geometry"]["current_pool"] == 2
    assert result["cycles_per_inference"] > 0


@pytest.mark.ghdl
@pytest.mark.parametrize("name", ["maxpool", "currentmax"])
def test_conv_network_on_ghdl(tmp_path, name):
    _verify(_build(tmp_path, name), "ghdl", 3)
