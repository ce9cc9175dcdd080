"""Post-training quantization: calibrated scales, the accuracy table and its plot."""
import numpy as np
import pytest

from spikegen import ptq
from spikegen.errors import SpikegenError
from spikegen.ir import LIF, DenseLayer, InputCoding, Network
from spikegen.quantize import quantize, weight_exponent

from helpers.networks import random_network


@pytest.fixture(scope="module")
def problem():
    """Three classes lighting disjoint blocks of 8 pixels, and a float network that solves
    it by construction, with one outlier weight that wastes the automatic scale's codes."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 240)
    blocks = np.repeat(np.eye(3), 8, axis=1)
    x = np.clip(blocks[labels] * 0.8 + rng.normal(0, 0.15, (240, 24)), 0, 1)
    weight = np.where(blocks > 0, 0.3, -0.1) + rng.normal(0, 0.02, (3, 24))
    weight[0, 0] = 2.5
    neuron = LIF(beta=0.9)
    return Network((DenseLayer(weight, None, neuron),), name="toy"), x, labels


def test_clip_weights_pins_the_exponent():
    rng = np.random.default_rng(1)
    net = random_network(rng, (12, 6, 3), scale=0.8)
    auto = [weight_exponent(layer.weight, 4) for layer in net.layers]
    clipped = ptq.clip_weights(net, [auto[0] + 2, auto[1]], 4)
    assert [layer.weight_format.frac for layer in quantize(clipped, weight_bits=4).layers] \
        == [auto[0] + 2, auto[1]]
    assert np.max(np.abs(clipped.layers[0].weight)) == 7 * 2.0 ** -(auto[0] + 2)
    # a layer at its automatic exponent is left untouched (keeps the code -top - 1)
    assert clipped.layers[1].weight is net.layers[1].weight


@pytest.mark.parametrize("kind", ["events", "rate", "direct"])
def test_engines_agree(problem, kind):
    net, x, _ = problem
    coding = InputCoding(kind, steps=10)
    qnet = quantize(net, weight_bits=5, coding=coding)
    inputs = ptq.coded_inputs(x[:50], coding, seed=3)
    assert np.array_equal(ptq.reference_outputs(qnet, inputs, batch=16),
                          ptq.reference_outputs(qnet, inputs, engine="torch", batch=16))


def test_calibration_clips_the_outlier(problem):
    net, x, labels = problem
    coding = InputCoding("direct", steps=12)
    cal = ptq.calibrate(net, x, labels, coding=coding, weight_bits=3, candidates=4)
    assert cal.metric == "accuracy"
    assert cal.exponents[0] > cal.automatic[0]
    assert cal.score >= cal.baseline and cal.score > 0.9
    assert 0 < cal.clipped[0] < 0.05
    qnet = quantize(cal.network, weight_bits=3, coding=coding)
    assert qnet.layers[0].weight_format.frac == cal.exponents[0]
    text = cal.summary()
    assert f"exponent {cal.automatic[0]} -> {cal.exponents[0]}" in text
    # without labels it maximises agreement with the float network
    unlabelled = ptq.calibrate(net, x, coding=coding, weight_bits=3, candidates=2)
    assert unlabelled.metric == "agreement" and unlabelled.score >= unlabelled.baseline


def test_calibration_errors(problem):
    net, x, labels = problem
    coding = InputCoding("direct", steps=4)
    with pytest.raises(SpikegenError, match=r"candidates must be a positive integer, not 0"):
        ptq.calibrate(net, x, labels, coding=coding, candidates=0)
    with pytest.raises(SpikegenError, match=r"calibration data must have shape \(samples, 24\)"):
        ptq.calibrate(net, x[:, :5], coding=coding)
    with pytest.raises(SpikegenError, match=r"calibration labels must have shape \(240,\)"):
        ptq.calibrate(net, x, labels[:3], coding=coding)
    with pytest.raises(SpikegenError, match=r"events coding needs a number of steps"):
        ptq.coded_inputs(x, InputCoding("events"))


def test_accuracy_table_and_plot(problem, tmp_path):
    net, x, labels = problem
    rows = ptq.accuracy_table(net, x[:120], labels[:120], kind="direct", weight_bits=(2, 3, 8),
                              steps=(4, 12), calibration=(x[120:], labels[120:]),
                              candidates=3)
    assert [(r["weight_bits"], r["steps"]) for r in rows] == [
        (2, 4), (3, 4), (8, 4), (2, 12), (3, 12), (8, 12)]
    for row in rows:
        for key in ("float_accuracy", "reference_accuracy", "calibrated_accuracy"):
            assert 0.0 <= row[key] <= 1.0
    eight = [r for r in rows if r["weight_bits"] == 8 and r["steps"] == 12][0]
    assert eight["reference_accuracy"] > 0.9
    text = ptq.format_table(rows)
    assert text.splitlines()[0].split()[:3] == ["bits", "steps", "float"]
    assert len(text.splitlines()) == 2 + len(rows)
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    ptq.plot_table(rows, first)
    ptq.plot_table(rows, second)
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()
