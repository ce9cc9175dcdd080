"""Training convolutional networks: architecture strings, the lean LIF forward pass against
snnTorch, and `spikegen train --arch` writing a checkpoint that builds and simulates."""
import numpy as np
import pytest
import torch
from snntorch import surrogate

import spikegen
from spikegen import datasets, ptq
from spikegen.arch import ConvSpec, DenseSpec, PoolSpec, arch_model, format_arch, parse_arch
from spikegen.cli import main
from spikegen.errors import SpikegenError
from spikegen.ir import LIF, InputCoding
from spikegen.quantize import quantize
from spikegen.reference import simulate
from spikegen.snntorch_model import reset_state
from spikegen.train import save_network, train_network
from spikegen.train_conv import forward, image_shape


NEURON = LIF(beta=0.9, threshold=1.0, reset="subtract", reset_delay=True)


@pytest.fixture(scope="module")
def digits():
    return datasets.digits()


def test_parse_arch():
    specs = parse_arch("12C5-MP2-32c5-ap2-100-10")
    assert specs == (ConvSpec(12, 5), PoolSpec("max", 2), ConvSpec(32, 5), PoolSpec("avg", 2),
                     DenseSpec(100), DenseSpec(10))
    assert format_arch(specs) == "12C5-MP2-32C5-AP2-100-10"


@pytest.mark.parametrize("text, message", [
    ("12C5-XP2-10", r"cannot read 'XP2'; write <n>C<k> \(convolution\), MP<k> or AP<k>"),
    ("", r"architecture must be a string such as 12C5-MP2-32C5-MP2-10, not ''"),
    ("0C5-10", r"'0C5' needs positive sizes"),
    ("MP2-12C5-10", r"pooling 'MP2' must follow a convolution"),
    ("12C5-MP2-MP2-10", r"pooling 'MP2' must follow a convolution"),
    ("12C5-10-4C3-10", r"convolution '4C3' after a dense layer"),
    ("100-10", r"has no convolution first; train dense networks with --hidden"),
    ("12C5-MP2", r"must end with the dense output layer"),
])
def test_arch_errors(text, message):
    with pytest.raises(SpikegenError, match=message):
        parse_arch(text)


@pytest.mark.parametrize("text, message", [
    ("4C9-10", r"4C9 does not fit a 8x8 map; use a smaller kernel"),
    ("4C3-MP4-10", r"MP4 does not tile a 6x6 map; pick a window that divides it"),
])
def test_arch_shape_errors(text, message):
    with pytest.raises(SpikegenError, match=message):
        arch_model(parse_arch(text), (1, 8, 8), NEURON)


@pytest.mark.parametrize("arch", ["3C3-MP2-2C2-10", "3C3-AP2-4C2-AP2-6-10"])
def test_forward_equals_snntorch(arch):
    """The trainer's forward pass gives the spikes of the model run step by step by
    snnTorch, and its weights' gradients match those through snnTorch's layers."""
    torch.manual_seed(3)
    model = arch_model(parse_arch(arch), (1, 8, 8), NEURON,
                       spike_grad=surrogate.fast_sigmoid(25.0))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)                          # enough current to spike often
    spikes = (torch.rand(5, 7, 64) < 0.5).float()
    ours = forward(model, spikes, (1, 8, 8))
    reset_state(model)
    theirs = torch.stack([model(spikes[:, t].reshape(5, 1, 8, 8)) for t in range(7)], dim=1)
    assert 0 < float(ours.detach().mean()) < 1
    assert torch.equal(ours, theirs)
    ours.sum().backward()
    ours_grad = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    reset_state(model)
    theirs = torch.stack([model(spikes[:, t].reshape(5, 1, 8, 8)) for t in range(7)], dim=1)
    theirs.sum().backward()
    for a, p in zip(ours_grad, model.parameters()):
        assert torch.allclose(a, p.grad, rtol=1e-4, atol=1e-5)


def test_image_shape():
    assert image_shape(784) == (1, 28, 28)
    with pytest.raises(SpikegenError, match=r"square images; 10 features"):
        image_shape(10)


@pytest.mark.parametrize("options, message", [
    (dict(arch="4C3-MP2-10", coding="direct"),
     r"takes spike events: use --coding events or rate, not direct"),
    (dict(arch="4C3-MP2-10", qat_epochs=2),
     r"quantization-aware fine-tuning of convolutional networks is not implemented"),
    (dict(arch="4C3-MP2-7", coding="events"), r"ends with 7 outputs but the data set has 10"),
    (dict(binarize=0.5), r"binarized inputs are implemented for convolutional networks"),
])
def test_option_errors(digits, options, message):
    with pytest.raises(SpikegenError, match=message):
        train_network(digits, epochs=1, **options)


def test_train_network_conv_builds_what_it_measured(digits, tmp_path):
    """A small conv network learns digits; the saved checkpoint, loaded and quantized as
    ``spikegen build`` does, gives the calibrated exponents and bit-exact accuracy the
    trainer reported."""
    lines = []
    model, metrics = train_network(digits, arch="4C3-AP2-10", coding="events", steps=4,
                                   epochs=3, batch=32, lr=5e-3, binarize=0.5, seed=1,
                                   progress=lines.append)
    assert metrics["arch"] == "4C3-AP2-10" and metrics["qat_epochs"] == 0
    assert metrics["float_accuracy"] > 0.4 and metrics["reference_accuracy"] > 0.4
    assert any(line.startswith("float epoch 3/3: loss") for line in lines)
    assert any(line.startswith("calibration (accuracy): float") for line in lines)
    path = tmp_path / "conv.pt"
    save_network(model, path, coding=InputCoding("events", steps=4))
    net = spikegen.load(path)
    geometry = net.layers[0].geometry
    assert (geometry.kernel, geometry.stride, geometry.out_hw) == ((4, 4), (2, 2), (3, 3))
    qnet = quantize(net, coding=InputCoding("events", steps=4))
    assert [layer.weight_format.frac for layer in qnet.layers] == metrics["exponents"]
    x = (digits.x_test >= 0.5).astype(np.float64)
    predicted = simulate(qnet, ptq.coded_inputs(x, qnet.coding)).predicted
    assert np.mean(predicted == digits.y_test) == metrics["reference_accuracy"]


def test_train_arch_checkpoint_builds_and_simulates(digits, tmp_path, capsys):
    """`spikegen train --arch` writes a checkpoint that loads as a convolutional network; the
    quantized network gives the bit-exact accuracy the trainer printed."""
    net_path = tmp_path / "conv.pt"
    assert main(["train", "--arch", "4C3-MP2-10", "--epochs", "1", "--steps", "4",
                 "--binarize", "0.5", "--seed", "1", "--out", str(net_path)]) == 0
    out = capsys.readouterr().out
    assert "4C3-MP2-10, events coding, 4 steps, 8-bit calibrated" in out
    net = spikegen.load(net_path)
    assert [layer.kind for layer in net.layers] == ["conv2d", "dense"]
    assert net.layers[0].geometry.out_pool == 2 and net.inputs == 64
    coding = InputCoding("events", steps=4)
    qnet = quantize(net, coding=coding)
    x = (digits.x_test >= 0.5).astype(np.float64)
    spikes = ptq.coded_inputs(x, coding)
    assert np.array_equal(spikes, np.repeat(x[:, None, :], 4, axis=1))
    accuracy = float(np.mean(simulate(qnet, spikes).predicted == digits.y_test))
    assert f"reference_accuracy {100 * accuracy:.2f} %" in out


def test_train_arch_cli_errors(tmp_path, capsys):
    assert main(["train", "--arch", "4C3-MP2-10", "--hidden", "8",
                 "--out", str(tmp_path / "n.pt")]) == 1
    assert "give --hidden (a dense network) or --arch (a convolutional one), not both" \
        in capsys.readouterr().err
    assert main(["train", "--arch", "4C3-QP2-10", "--out", str(tmp_path / "n.pt")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read 'QP2'" in err
