"""Quantization: scales, rounding notes, widths."""
import numpy as np
import pytest

from spikegen.errors import SpikegenError
from spikegen.ir import LIF, DenseLayer, Network
from spikegen.quantize import quantize, weight_exponent

from helpers.networks import random_network


def test_power_of_two_scale_keeps_sixteenths_exact(rng):
    weight = rng.integers(-100, 100, (5, 7)) / 16.0
    net = Network((DenseLayer(weight, None, LIF(beta=0.5)),))
    q = quantize(net, weight_bits=8)
    assert q.layers[0].weight_format.frac == weight_exponent(weight, 8)
    np.testing.assert_array_equal(q.layers[0].weight * q.layers[0].weight_format.lsb, weight)
    assert q.notes == ()                     # beta 0.5 and threshold 1 are exact


def test_inexact_values_are_noted(rng):
    net = random_network(rng, (6, 4), beta=0.9, threshold=0.7)
    q = quantize(net, beta_bits=6)
    text = " ".join(q.notes)
    assert "beta 0.9 -> 0.90625 (58/2^6" in text
    assert "threshold 0.7 ->" in text
    assert q.layers[0].neuron.decay == 6 and q.layers[0].neuron.decay_bits == 6


def test_beta_one_minus_power_of_two_is_a_shift(rng):
    q = quantize(random_network(rng, (6, 4), beta=0.9375), beta_bits=8)
    assert q.layers[0].neuron.decay_shift == 4


def test_narrow_membrane_coarsens_the_scale(rng):
    net = random_network(rng, (30, 8), beta=0.9375, scale=0.05, mean=0.0)
    q = quantize(net, weight_bits=4, mem_bits=6, mem_frac_bits=0)
    assert q.layers[0].neuron.threshold <= 31
    assert any("weight scale lowered" in note for note in q.notes)
    assert any("membrane 6 bits (the bound over" in note for note in q.notes)


def test_range_analysis_covers_one_step(rng):
    net = random_network(rng, (12, 5))
    layer = quantize(net).layers[0]
    shifted = layer.weight << layer.shift
    top = layer.neuron.threshold + np.maximum(shifted, 0).sum(axis=1).max() + \
        max(0, layer.bias.max())
    assert top <= layer.mem_format.max


@pytest.mark.parametrize("option,value,message", [
    ("weight_bits", 1, "weight_bits must be an integer from 2 to 16"),
    ("beta_bits", 0, "beta_bits must be an integer from 1 to 16"),
    ("mem_bits", 50, "mem_bits must be an integer from 2 to 40"),
])
def test_bad_widths(rng, option, value, message):
    with pytest.raises(SpikegenError, match=message):
        quantize(random_network(rng, (4, 3)), **{option: value})
