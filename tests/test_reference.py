"""The reference model against snnTorch's own forward pass, and against a naive model."""
import numpy as np
import pytest
import snntorch
import torch
from torch import nn

import spikegen
from spikegen.floatmodel import run_float
from spikegen.ir import LIF, DenseLayer, Network
from spikegen.quantize import quantize
from spikegen.reference import leak, simulate


def exact_network(rng, sizes, beta, reset, delay, bias):
    """Weights and biases multiples of 1/16, threshold 1: exactly representable."""
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        weight = rng.integers(-10, 14, (b, a)) / 16.0
        layers.append(DenseLayer(weight, rng.integers(-3, 4, b) / 16.0 if bias else None,
                                 LIF(beta=beta, threshold=1.0, reset=reset, reset_delay=delay)))
    return Network(tuple(layers))


def snntorch_forward(net, spikes):
    """snnTorch's own forward pass, layer objects built the way users build them."""
    modules = []
    for layer in net.layers:
        linear = nn.Linear(layer.inputs, layer.outputs, bias=layer.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(layer.weight, dtype=torch.float32))
            if layer.bias is not None:
                linear.bias.copy_(torch.tensor(layer.bias, dtype=torch.float32))
        n = layer.neuron
        modules += [linear, snntorch.Leaky(beta=n.beta, threshold=n.threshold,
                                           reset_mechanism=n.reset, reset_delay=n.reset_delay)]
    x = torch.tensor(spikes, dtype=torch.float32)
    mems = [None] * len(net.layers)
    out = []
    with torch.no_grad():
        for t in range(spikes.shape[1]):
            h = x[:, t]
            for k in range(len(net.layers)):
                h, mems[k] = modules[2 * k + 1](modules[2 * k](h), mems[k])
            out.append(h.numpy())
    return np.stack(out, axis=1).astype(np.uint8)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("delay", [True, False])
@pytest.mark.parametrize("beta,steps,frac", [(1.0, 20, 0), (0.5, 6, 8), (0.75, 5, 10)])
@pytest.mark.parametrize("bias", [True, False])
def test_reproduces_snntorch_where_exact(rng, reset, delay, beta, steps, frac, bias):
    net = exact_network(rng, (20, 16, 8), beta, reset, delay, bias)
    spikes = (rng.random((64, steps, 20)) < 0.35).astype(np.uint8)
    expected = snntorch_forward(net, spikes)
    got = spikegen.simulate(net, spikes, weight_bits=8, mem_frac_bits=frac)
    assert expected.sum() > 0
    np.testing.assert_array_equal(got, expected)


def test_agreement_with_snntorch_for_inexact_beta(rng):
    """beta = 0.9 is not a fixed-point value: measure, as the report does."""
    net = exact_network(rng, (20, 16, 8), 0.9, "subtract", True, True)
    spikes = (rng.random((64, 16, 20)) < 0.35).astype(np.uint8)
    agreement = np.mean(spikegen.simulate(net, spikes) == run_float(net, spikes))
    assert 0.9 < agreement < 1.0


def naive(qnet, spikes):
    """The arithmetic of spikegen.ir written out one neuron and one event at a time."""
    out = np.zeros((spikes.shape[0], spikes.shape[1], qnet.outputs), dtype=np.uint8)
    for b in range(spikes.shape[0]):
        x = spikes[b]
        for layer in qnet.layers:
            n, fmt = layer.neuron, layer.mem_format
            sat = lambda v: min(max(v, fmt.min), fmt.max)  # noqa: E731
            y = np.zeros((x.shape[0], layer.outputs), dtype=np.uint8)
            for j in range(layer.outputs):
                mem = 0
                for t in range(x.shape[0]):
                    r = mem > n.threshold
                    base = 0 if (n.reset == "zero" and r) else mem
                    m = int(leak(base, n.decay, n.decay_bits))
                    m += 0 if layer.bias is None else int(layer.bias[j])
                    m -= n.threshold if (n.reset == "subtract" and r) else 0
                    m = sat(m)
                    for i in range(layer.inputs):
                        if x[t, i]:
                            m = sat(m + (int(layer.weight[j, i]) << layer.shift))
                    spike = m > n.threshold
                    if not n.reset_delay and n.reset == "subtract":
                        m = sat(m - (int(spike) - int(r)) * n.threshold)
                    elif not n.reset_delay and n.reset == "zero":
                        m = 0 if (spike and not r) else (sat(2 * m) if (r and not spike) else m)
                    mem = m
                    y[t, j] = spike
            x = y
        out[b] = x
    return out


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("delay", [True, False])
def test_saturating_order_matches_naive_model(rng, reset, delay):
    """A narrow membrane saturates often: the fast path must keep the event order."""
    net = exact_network(rng, (12, 7, 4), 0.8125, reset, delay, True)
    qnet = quantize(net, weight_bits=5, mem_bits=7, mem_frac_bits=1)
    spikes = (rng.random((12, 8, 12)) < 0.5).astype(np.uint8)
    result = simulate(qnet, spikes, record=True)
    assert result.saturations > 0
    np.testing.assert_array_equal(result.spikes, naive(qnet, spikes))


def test_record_gives_every_layer(rng):
    net = exact_network(rng, (10, 6, 3), 0.5, "subtract", True, True)
    spikes = (rng.random((4, 5, 10)) < 0.5).astype(np.uint8)
    result = spikegen.simulate(net, spikes, record=True, mem_frac_bits=6)
    assert [t.spikes.shape for t in result.layers] == [(4, 5, 6), (4, 5, 3)]
    assert [t.mem.shape for t in result.layers] == [(4, 5, 6), (4, 5, 3)]
    np.testing.assert_array_equal(result.layers[-1].spikes, result.spikes)
    np.testing.assert_array_equal(result.counts, result.spikes.sum(axis=1))


def test_membranes_match_snntorch_where_exact(rng):
    net = exact_network(rng, (10, 6), 0.5, "subtract", False, True)
    spikes = (rng.random((8, 6, 10)) < 0.5).astype(np.uint8)
    lif = snntorch.Leaky(beta=0.5, reset_delay=False)
    linear = nn.Linear(10, 6)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(net.layers[0].weight, dtype=torch.float32))
        linear.bias.copy_(torch.tensor(net.layers[0].bias, dtype=torch.float32))
    mem, mems = None, []
    with torch.no_grad():
        for t in range(6):
            _, mem = lif(linear(torch.tensor(spikes[:, t], dtype=torch.float32)), mem)
            mems.append(mem.numpy().copy())
    qnet = quantize(net, mem_frac_bits=8)
    trace = simulate(qnet, spikes, record=True).layers[0]
    np.testing.assert_array_equal(trace.mem * qnet.layers[0].mem_format.lsb,
                                  np.stack(mems, axis=1))


def test_rejects_bad_spikes(rng):
    net = exact_network(rng, (10, 3), 0.5, "subtract", True, False)
    with pytest.raises(ValueError, match=r"shape \(batch, steps, 10\)"):
        spikegen.simulate(net, np.zeros((2, 3, 9)))
    with pytest.raises(ValueError, match="0 or 1"):
        spikegen.simulate(net, np.full((2, 3, 10), 2))
