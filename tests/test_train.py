"""Training: the demo trainer, the float + calibration + QAT path, and its checkpoint."""
import numpy as np
import pytest
import snntorch
import torch

import spikegen
from spikegen import datasets, ptq
from spikegen.errors import SpikegenError
from spikegen.ir import InputCoding
from spikegen.quantize import quantize
from spikegen.train import augment_images, save_network, train, train_network


@pytest.fixture(scope="module")
def digits():
    return datasets.digits()


def small_run(dataset, coding, **options):
    settings = dict(hidden=(32,), coding=coding, steps=6, epochs=4, qat_epochs=1, batch=32,
                    lr=5e-3, weight_bits=6, seed=5)
    settings.update(options)
    lines = []
    model, metrics = train_network(dataset, progress=lines.append, **settings)
    return model, metrics, lines


def test_demo_trainer_keeps_its_interface(digits):
    lines = []
    model = train(digits, epochs=2, progress=lines.append)
    assert isinstance(model, torch.nn.Sequential)
    assert [type(m) for m in model] == [torch.nn.Linear, snntorch.Leaky] * 2
    assert model[0].in_features == 64 and model[0].out_features == 32
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: loss ")


@pytest.mark.parametrize("coding", ["events", "rate", "direct"])
def test_train_network_builds_what_it_measured(digits, coding, tmp_path):
    """The saved net.pt, loaded and quantized as ``spikegen build`` does, gives the bit-exact
    accuracy the trainer reported."""
    model, metrics, lines = small_run(digits, coding)
    assert [type(m) for m in model] == [torch.nn.Linear, snntorch.Leaky] * 2
    assert metrics["coding"] == coding and metrics["steps"] == 6
    assert metrics["float_accuracy"] > 0.7 and metrics["reference_accuracy"] > 0.7
    assert any(line.startswith("float epoch 4/4: loss") for line in lines)
    assert any(line.startswith("calibration (accuracy): float") for line in lines)
    assert any("bit-exact validation" in line for line in lines)
    path = tmp_path / "sub" / "net.pt"
    save_network(model, path)
    qcoding = InputCoding(coding, steps=6)
    qnet = quantize(spikegen.load(path), weight_bits=6, coding=qcoding)
    assert [layer.weight_format.frac for layer in qnet.layers] == metrics["exponents"]
    inputs = ptq.coded_inputs(digits.x_test, qcoding, seed=5)
    accuracy = np.mean(ptq.predict(ptq.reference_outputs(qnet, inputs)) == digits.y_test)
    assert accuracy == metrics["reference_accuracy"]


def test_training_is_reproducible(digits):
    first, metrics, _ = small_run(digits, "direct", epochs=2, augment=True)
    second, again, _ = small_run(digits, "direct", epochs=2, augment=True)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    assert metrics["reference_accuracy"] == again["reference_accuracy"]
    other, _, _ = small_run(digits, "direct", epochs=2, augment=True, seed=6)
    assert not torch.equal(first[0].weight, other[0].weight)


def test_augmentation():
    x = torch.rand((4, 64), dtype=torch.float64)
    same = augment_images(x, torch.Generator().manual_seed(0), rotate=0, scale=0, shift=0)
    assert torch.allclose(same, x, atol=1e-6)
    a = augment_images(x, torch.Generator().manual_seed(1))
    b = augment_images(x, torch.Generator().manual_seed(1))
    assert a.shape == (4, 64) and torch.equal(a, b) and not torch.allclose(a, x)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # a one-pixel shift moves a single lit pixel by one
    image = torch.zeros((1, 64), dtype=torch.float64)
    image[0, 3 * 8 + 3] = 1.0
    theta_free = augment_images(image, torch.Generator().manual_seed(2), rotate=0, scale=0,
                                shift=1)
    assert abs(float(theta_free.sum()) - 1.0) < 1e-6


@pytest.mark.parametrize("options, message", [
    (dict(coding="spikes"), r"coding must be one of events, rate, direct, not 'spikes'"),
    (dict(steps=0), r"steps must be a positive integer, not 0"),
    (dict(hidden=()), r"hidden must be one or more positive layer sizes, not \(\)"),
    (dict(qat_epochs=-1), r"--qat-epochs must be a non-negative integer, not -1"),
    (dict(batch=0), r"--batch must be a positive integer, not 0"),
])
def test_option_errors(digits, options, message):
    with pytest.raises(SpikegenError, match=message):
        train_network(digits, **options)


def test_augmentation_needs_square_images():
    odd = datasets.Dataset(np.random.default_rng(0).random((20, 10)), np.arange(20) % 2,
                           np.zeros((0, 10)), np.zeros(0, dtype=np.int64), "odd")
    with pytest.raises(SpikegenError, match=r"augmentation needs square images; 10 features "
                                            r"are not a square number of pixels"):
        train_network(odd, augment=True, epochs=1)
    empty = datasets.Dataset(np.zeros((0, 4)), np.zeros(0, dtype=np.int64), np.zeros((0, 4)),
                             np.zeros(0, dtype=np.int64), "empty")
    with pytest.raises(SpikegenError, match=r"data set 'empty' has no training images"):
        train_network(empty)


def test_on_grid_puts_the_weights_on_the_hardware_grid():
    from spikegen.snntorch_model import network_from_module
    from spikegen.train import _float_model, on_grid

    torch.manual_seed(0)
    model = _float_model((12, 8, 4), 0.9, 1.0, 25.0)
    before = quantize(network_from_module(model), weight_bits=6)
    snapped = network_from_module(on_grid(model, weight_bits=6))
    after = quantize(snapped, weight_bits=6)
    assert not np.array_equal(network_from_module(model).layers[0].weight,
                              snapped.layers[0].weight)
    for layer, q, q0 in zip(snapped.layers, after.layers, before.layers):
        np.testing.assert_array_equal(q.weight, q0.weight)
        assert q.weight_format == q0.weight_format
        np.testing.assert_array_equal(layer.weight, q.weight * q.weight_format.lsb)
