"""Quantization-aware training: the torch forward pass is the reference, bit for bit."""
import zlib

import numpy as np
import pytest
import torch

import spikegen
from spikegen import qat, reference
from spikegen.errors import SpikegenError
from spikegen.ir import InputCoding
from spikegen.quantize import quantize
from spikegen.snntorch_model import network_from_module

from helpers.networks import random_case, random_network


def inputs_for(rng, kind, inputs, steps):
    if kind == "events":
        return (rng.random((6, steps, inputs)) < 0.4).astype(np.uint8)
    pixels = rng.integers(0, 256, (6, inputs))
    pixels[rng.random(pixels.shape) < 0.3] = 0
    return pixels


def assert_same_as_reference(model, inputs):
    """Output spikes, and every layer's spikes and membranes, equal the reference's."""
    qnet = quantize(model.network(), coding=model.coding, **model.options)
    expected = reference.simulate(qnet, inputs, record=True)
    out, traces = model(inputs, record=True)
    assert np.array_equal(out.detach().numpy().astype(np.uint8), expected.spikes)
    for (spikes, mem), trace in zip(traces, expected.layers):
        assert np.array_equal(spikes, trace.spikes)
        assert np.array_equal(mem, trace.mem)
    return expected


@pytest.mark.parametrize("kind", ["events", "rate", "direct"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("reset_delay", [True, False])
def test_forward_equals_reference(kind, reset, reset_delay):
    rng = np.random.default_rng(zlib.crc32(f"{kind} {reset} {reset_delay}".encode()))
    net = random_network(rng, (20, 12, 5), beta=0.9, reset=reset, reset_delay=reset_delay,
                         scale=0.6, mean=0.2)
    coding = InputCoding(kind, steps=9)
    inputs = inputs_for(rng, kind, 20, 9)
    model = qat.QATNetwork(net, coding=coding, weight_bits=6, beta_bits=5)
    model.eval()
    assert_same_as_reference(model, inputs)
    model.train()
    assert_same_as_reference(model, inputs)


@pytest.mark.parametrize("kind", ["events", "rate", "direct"])
def test_forward_equals_reference_when_the_membrane_saturates(kind):
    rng = np.random.default_rng(7)
    net = random_network(rng, (30, 10, 4), beta=1.0, reset="none", scale=0.8, mean=0.3)
    model = qat.QATNetwork(net, coding=InputCoding(kind, steps=8), weight_bits=5, mem_bits=8)
    expected = assert_same_as_reference(model, inputs_for(rng, kind, 30, 8))
    assert expected.saturations > 0


@pytest.mark.parametrize("seed", range(40))
def test_simulate_equals_reference_on_random_networks(seed):
    qnet, spikes = random_case(seed)
    expected = reference.simulate(qnet, spikes, record=True)
    spikes_out, traces = qat.simulate(qnet, spikes, record=True)
    assert np.array_equal(spikes_out, expected.spikes)
    assert all(np.array_equal(mem, trace.mem) for (_, mem), trace in zip(traces,
                                                                         expected.layers))


def test_saturating_sum_is_the_sequential_one():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        m = torch.tensor(rng.integers(-8, 8, 5), dtype=torch.float64)
        s = torch.tensor(rng.integers(0, 2, (5, n)), dtype=torch.float64)
        w = torch.tensor(rng.integers(-7, 8, (5, n)), dtype=torch.float64)
        expected = m.clone()
        for i in range(n):
            expected = torch.clamp(expected + s[:, i] * w[:, i], -8, 7)
        assert torch.equal(qat._saturating_sum(m, s, w, -8.0, 7.0), expected)


def test_gradients_reach_every_parameter():
    rng = np.random.default_rng(1)
    net = random_network(rng, (16, 8, 3), scale=0.5, mean=0.3)
    for kind in ("events", "direct"):
        model = qat.QATNetwork(net, coding=InputCoding(kind, steps=6))
        out = model(inputs_for(rng, kind, 16, 6))
        torch.nn.functional.cross_entropy(out.sum(1), torch.tensor([0, 1, 2, 0, 1, 2])).backward()
        for p in model.parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all()
            assert p.grad.abs().sum() > 0


def test_saved_checkpoint_builds_the_same_quantized_network(tmp_path):
    """What the trainer saves is what ``spikegen build`` quantizes: same integers."""
    rng = np.random.default_rng(2)
    net = random_network(rng, (10, 6, 3), reset_delay=False)
    model = qat.QATNetwork(net, coding=InputCoding("direct", steps=5), weight_bits=4)
    path = tmp_path / "net.pt"
    spikegen.save(model.to_module(), path)
    loaded = quantize(spikegen.load(path), weight_bits=4, coding=model.coding)
    built = model.quantized()
    for a, b in zip(loaded.layers, built.layers):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
        assert a.neuron == b.neuron and a.mem_format == b.mem_format
    again = qat.QATNetwork.from_module(model.to_module(), coding=model.coding, weight_bits=4)
    assert np.array_equal(again.network().layers[0].weight, model.network().layers[0].weight)


def test_weight_limits_hold_an_exponent():
    rng = np.random.default_rng(3)
    net = random_network(rng, (10, 4), scale=1.0)
    auto = quantize(net, weight_bits=4).layers[0].weight_format.frac
    limit = 7 * 2.0 ** -(auto + 1)
    model = qat.QATNetwork(net, weight_bits=4, weight_limits=[limit])
    model.project_()
    assert float(model.weights[0].detach().abs().max()) == limit
    assert model.quantized().layers[0].weight_format.frac == auto + 1
    with pytest.raises(ValueError, match=r"weight_limits needs one entry per layer \(1\), not 2"):
        qat.QATNetwork(net, weight_limits=[1.0, 1.0])


def test_errors():
    rng = np.random.default_rng(4)
    net = random_network(rng, (10, 4))
    with pytest.raises(SpikegenError, match=r"a 40-bit membrane with 16-bit beta exceeds "
                                            r"float64's exact integers"):
        qat.QATNetwork(net, mem_bits=40, beta_bits=16)
    with pytest.raises(SpikegenError, match=r"weight_bits must be an integer from 2 to 16"):
        qat.QATNetwork(net, weight_bits=1)
    model = qat.QATNetwork(net, coding=InputCoding("direct", steps=3))
    with pytest.raises(ValueError, match=r"Pixels must be integers from 0 to 255"):
        model(np.full((2, 10), 300))
    with pytest.raises(SpikegenError, match=r"the last linear layer has no neuron layer"):
        network_from_module(torch.nn.Sequential(torch.nn.Linear(3, 2)))
