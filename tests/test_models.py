"""Neuron models beyond Leaky: snnTorch's Synaptic, RLeaky, RSynaptic, per-neuron parameters,
membrane readout and event grouping, each against snnTorch's own layers or a naive model."""
import numpy as np
import pytest
import snntorch
import torch

import spikegen
from spikegen.errors import SpikegenError
from spikegen.ir import (LIF, CubaLIF, DenseLayer, FixedFormat, HardwareConfig, Network,
                         QCubaLIF, QDenseLayer, QLIF, QNetwork, to_json)
from spikegen.quantize import quantize
from spikegen.reference import leak, simulate

from helpers.snntorch_models import KINDS, load_state_dict, model, run_snntorch


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("delay", [True, False])
def test_matches_snntorch_spikes_and_membranes(tmp_path, rng, kind, reset, delay):
    """From the user's state_dict to the reference: every layer's spikes, membranes and
    synaptic currents equal snnTorch's."""
    if kind.startswith("rsynaptic") and not delay:
        pytest.skip("snnTorch 1.0's RSynaptic ignores reset_delay=False (see the loader test)")
    net = model(kind, rng, reset, delay, per_neuron=(kind in ("synaptic", "rleaky_one")))
    spikes = (rng.random((24, 5, 10)) < 0.4).astype(np.uint8)
    expected = run_snntorch(net, spikes)
    qnet = quantize(load_state_dict(tmp_path, net, reset_delay=delay), mem_frac_bits=12,
                    mem_bits=40)
    got = simulate(qnet, spikes, record=True)
    assert got.saturations == 0
    assert sum(r["spk"].sum() for r in expected) > 0
    for trace, layer, want in zip(got.layers, qnet.layers, expected):
        np.testing.assert_array_equal(trace.spikes, want["spk"])
        np.testing.assert_array_equal(trace.mem * layer.mem_format.lsb, want["mem"])
        if "syn" in want:
            np.testing.assert_array_equal(trace.syn * layer.syn_format.lsb, want["syn"])
    np.testing.assert_array_equal(got.membrane * qnet.layers[-1].mem_format.lsb,
                                  expected[-1]["mem"][:, -1])


@pytest.mark.parametrize("kind", KINDS)
def test_per_neuron_parameters_match_snntorch(tmp_path, rng, kind):
    net = model(kind, rng, "subtract", True, per_neuron=True)
    spikes = (rng.random((16, 5, 10)) < 0.4).astype(np.uint8)
    loaded = load_state_dict(tmp_path, net)
    assert isinstance(loaded.layers[0].neuron.threshold, np.ndarray)
    got = simulate(quantize(loaded, mem_frac_bits=12, mem_bits=40), spikes, record=True)
    for trace, want in zip(got.layers, run_snntorch(net, spikes)):
        np.testing.assert_array_equal(trace.spikes, want["spk"])


@pytest.mark.parametrize("kind", ["leaky", "synaptic"])
def test_membrane_readout_matches_snntorch(tmp_path, rng, kind):
    """A last layer read as a membrane (a leaky integrator: reset none): the class is the
    largest final membrane."""
    net = model(kind, rng, "none", True)
    spikes = (rng.random((40, 5, 10)) < 0.4).astype(np.uint8)
    final = run_snntorch(net, spikes)[-1]["mem"][:, -1]
    loaded = load_state_dict(tmp_path, net, readout="membrane")
    result = simulate(quantize(loaded, mem_frac_bits=12, mem_bits=40), spikes)
    np.testing.assert_array_equal(result.predicted, np.argmax(final, axis=1))


def test_membrane_readout_ties_go_to_the_lowest_index():
    layer = QDenseLayer(np.array([[4], [4], [2]]), None, FixedFormat(8, 0), FixedFormat(8, 0),
                        QLIF(threshold=100, decay=0, decay_bits=4, reset="none"))
    net = QNetwork((layer,), readout="membrane")
    result = simulate(net, np.ones((1, 3, 1), dtype=np.uint8))
    np.testing.assert_array_equal(result.membrane, [[12, 12, 6]])
    assert result.predicted[0] == 0


def test_rsynaptic_reset_delay_false_is_refused(tmp_path, rng):
    with pytest.raises(SpikegenError, match="RSynaptic, which ignores reset_delay=False"):
        load_state_dict(tmp_path, model("rsynaptic_all", rng), reset_delay=False)


def test_recurrent_bias_is_folded_and_one_to_one_is_diagonal(tmp_path, rng):
    net = model("rleaky_all", rng)
    got = load_state_dict(tmp_path, net).layers[0]
    np.testing.assert_array_equal(
        got.bias, (net[0].bias + net[1].recurrent.bias).detach().double())
    np.testing.assert_array_equal(got.recurrent, net[1].recurrent.weight.detach().double())
    one = load_state_dict(tmp_path, model("rleaky_one", rng)).layers[0]
    assert np.count_nonzero(one.recurrent - np.diag(np.diag(one.recurrent))) == 0
    assert one.neuron.reset == "subtract"
    zero = load_state_dict(tmp_path, model("synaptic", rng, "zero")).layers[0]
    assert isinstance(zero.neuron, CubaLIF) and zero.neuron.reset == "zero_all"


def test_learned_beta_and_old_state_buffers(tmp_path, rng):
    net = model("leaky", rng)
    net[1] = snntorch.Leaky(beta=torch.full((7,), 0.5), learn_beta=True, learn_threshold=True)
    # older snnTorch kept the state as a buffer
    state = with_entry(net.state_dict(), "1.threshold", "1.mem", torch.zeros(0))
    torch.save(state, tmp_path / "net.pt")
    assert spikegen.load(tmp_path / "net.pt").layers[0].neuron.beta == 0.5


def with_entry(state, after, key, value):
    """The state_dict with ``key`` inserted after ``after`` (where the module puts it)."""
    out = {}
    for k, v in state.items():
        out[k] = v
        if k == after:
            out[key] = value
    return out


@pytest.mark.parametrize("change,message", [
    (lambda s: s.__setitem__("1.beta", torch.zeros(3)),
     r"entry '1.beta' has shape \(3,\), expected a scalar or \(7,\)"),
    (lambda s: s.__setitem__("1.recurrent.weight", torch.zeros(7, 7, 3, 3)),
     "a convolutional RLeaky/RSynaptic is not supported"),
    (lambda s: {k: v for k, v in s.items() if k != "1.recurrent.weight"},
     "has a recurrent.bias without a recurrent.weight"),
    (lambda s: with_entry(s, "1.beta", "1.V", torch.zeros(7)),
     "has both V and a recurrent nn.Linear"),
    (lambda s: s.__setitem__("1.recurrent.bias", torch.zeros(5)),
     r"'1.recurrent.bias' has shape \(5,\), expected \(7,\)"),
])
def test_bad_recurrent_state_dicts(tmp_path, rng, change, message):
    state = model("rleaky_all", rng).state_dict()
    state = change(state) or state
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(SpikegenError, match=message):
        spikegen.load(tmp_path / "bad.pt")


def test_bad_readout_option(tmp_path, rng):
    with pytest.raises(SpikegenError, match="readout must be one of spikes, membrane"):
        load_state_dict(tmp_path, model("leaky", rng), readout="votes")


def test_checkpoint_round_trips_new_models(tmp_path, rng):
    net = load_state_dict(tmp_path, model("rsynaptic_one", rng, per_neuron=True),
                          readout="membrane")
    spikegen.save(net, tmp_path / "ckpt.pt")
    back = spikegen.load(tmp_path / "ckpt.pt")
    assert back.readout == "membrane"
    assert to_json(quantize(back)) == to_json(quantize(net))


# ------------------------------------------------------------------------ quantizer


def test_quantizer_rounds_per_neuron_and_shares_the_weight_scale(rng):
    weight = rng.integers(-20, 20, (3, 5)) / 16.0
    recurrent = np.diag([3.0, -0.5, 0.25])           # the largest weight is recurrent
    neuron = CubaLIF(alpha=[0.9, 0.5, 0.5], beta=0.8, threshold=[1.0, 0.7, 1.0])
    q = quantize(Network((DenseLayer(weight, None, neuron, recurrent),)), weight_bits=6,
                 beta_bits=4)
    layer = q.layers[0]
    assert layer.weight_format.frac == 3                     # 3.0 * 2**3 = 24 <= 31
    np.testing.assert_array_equal(layer.recurrent, np.diag([24, -4, 2]))
    assert layer.neuron.syn_decay.tolist() == [2, 8, 8]      # 1 - 0.9 -> 2/16
    text = "\n".join(q.notes)
    assert "layer 0 neuron 0: alpha 0.9 -> 0.875 (14/2^4" in text
    assert "layer 0 neuron 1: threshold 0.7 ->" in text
    assert "layer 0: beta 0.8 -> 0.8125 (13/2^4" in text
    assert "neuron 0: threshold" not in text and "neuron 2: alpha" not in text
    assert layer.syn_format.frac == layer.mem_format.frac
    shifted = np.concatenate([layer.weight, layer.recurrent], axis=1) << layer.shift
    assert np.maximum(shifted, 0).sum(axis=1).max() <= layer.syn_format.max
    assert np.minimum(shifted, 0).sum(axis=1).min() >= layer.syn_format.min


def test_syn_bits_option_saturates_and_is_noted(rng):
    net = Network((DenseLayer(rng.normal(0, 1, (4, 8)), None, CubaLIF(alpha=0.5, beta=0.5)),))
    q = quantize(net, syn_bits=5)
    assert q.layers[0].syn_format.bits == 5
    assert any("synaptic current 5 bits (the bound over" in n for n in q.notes)


# -------------------------------------------------------------------- event grouping


def naive(qnet, spikes, e):
    """The IR's arithmetic one sample, one neuron and one group of E events at a time."""
    x_all = spikes
    for layer in qnet.layers:
        n = layer.neuron
        cuba = isinstance(n, QCubaLIF)
        fmt, acc_fmt = layer.mem_format, layer.acc_format
        p = lambda v, j: int(v[j]) if isinstance(v, np.ndarray) else int(v)  # noqa: E731
        sat = lambda v, f: min(max(v, f.min), f.max)  # noqa: E731
        w = layer.weight if layer.recurrent is None else np.hstack([layer.weight,
                                                                    layer.recurrent])
        out = np.zeros((x_all.shape[0], x_all.shape[1], layer.outputs), dtype=np.uint8)
        for b in range(x_all.shape[0]):
            mem = [0] * layer.outputs
            syn = [0] * layer.outputs
            prev = [0] * layer.outputs
            for t in range(x_all.shape[1]):
                x = list(x_all[b, t]) + (prev if layer.recurrent is not None else [])
                active = [i for i, v in enumerate(x) if v]
                groups = [active[k:k + e] for k in range(0, len(active), e)]
                spikes_t = []
                for j in range(layer.outputs):
                    theta, bias = p(n.threshold, j), 0 if layer.bias is None else int(layer.bias[j])
                    r = mem[j] > theta
                    base = 0 if (n.reset == "zero" and r) else mem[j]
                    if cuba:
                        acc = sat(int(leak(syn[j], p(n.syn_decay, j), n.decay_bits)) + bias,
                                  acc_fmt)
                    else:
                        acc = int(leak(base, p(n.decay, j), n.decay_bits)) + bias
                        acc = sat(acc - (theta if n.reset == "subtract" and r else 0), fmt)
                    for g in groups:
                        acc = sat(acc + sum(int(w[j, i]) << layer.shift for i in g), acc_fmt)
                    if cuba:
                        syn[j] = acc
                        m = int(leak(base, p(n.decay, j), n.decay_bits)) + acc
                        m = sat(m - (theta if n.reset == "subtract" and r else 0), fmt)
                    else:
                        m = acc
                    if n.reset == "zero_all" and r:
                        m = 0
                    spike = m > theta
                    if not n.reset_delay and n.reset == "subtract":
                        m = sat(m - (int(spike) - int(r)) * theta, fmt)
                    elif not n.reset_delay and n.reset in ("zero", "zero_all"):
                        m = 0 if (spike and not r) else (sat(2 * m, fmt) if r and not spike
                                                        else m)
                    mem[j] = m
                    spikes_t.append(int(spike))
                prev = spikes_t
                out[b, t] = spikes_t
        x_all = out
    return x_all


@pytest.mark.parametrize("e", [1, 2, 3])
@pytest.mark.parametrize("cuba", [False, True])
@pytest.mark.parametrize("reset,delay", [("subtract", True), ("zero", False),
                                         ("zero_all", True), ("zero_all", False),
                                         ("none", True)])
def test_grouping_matches_naive_model_when_saturating(rng, e, cuba, reset, delay):
    layers = []
    for a, b in ((9, 6), (6, 4)):
        kind = CubaLIF(alpha=[0.5, 0.75, 0.875, 0.5, 1.0, 0.25][:b], beta=0.8125,
                       threshold=0.75, reset=reset, reset_delay=delay) if cuba else \
            LIF(beta=[0.8125, 0.5, 1.0, 0.75, 0.9, 0.6][:b], threshold=0.75, reset=reset,
                reset_delay=delay)
        layers.append(DenseLayer(rng.integers(-12, 14, (b, a)) / 16.0,
                                 rng.integers(-3, 4, b) / 16.0, kind,
                                 rng.integers(-12, 14, (b, b)) / 16.0))
    qnet = quantize(Network(tuple(layers)), weight_bits=5, mem_bits=6, syn_bits=5,
                    mem_frac_bits=1, hardware=HardwareConfig(events_per_cycle=e))
    spikes = (rng.random((10, 7, 9)) < 0.5).astype(np.uint8)
    result = simulate(qnet, spikes, record=True)
    assert result.saturations > 0
    np.testing.assert_array_equal(result.spikes, naive(qnet, spikes, e))


def test_grouping_changes_saturated_results():
    """A 4-bit membrane (-8..7), events +3 +3 +3 -3: E = 1 saturates at 7 then drops to 4;
    E = 2 adds +6 then 0; E = 3 saturates 9 to 7 then drops to 4; E = 4 adds +6 at once."""
    layer = QDenseLayer(np.array([[3, 3, 3, -3]]), None, FixedFormat(3, 0), FixedFormat(4, 0),
                        QLIF(threshold=7, decay=0, decay_bits=4, reset="none"))
    spikes = np.ones((1, 1, 4), dtype=np.uint8)
    for e, want in ((1, 4), (2, 6), (3, 4), (4, 6)):
        net = QNetwork((layer,), hardware=HardwareConfig(events_per_cycle=e))
        assert simulate(net, spikes).membrane[0, 0] == want, e


# ------------------------------------------------------------------------ hardware


@pytest.mark.parametrize("kind", ["synaptic", "rleaky_all", "rleaky_one", "rsynaptic_all"])
def test_assemble_builds_every_model(tmp_path, rng, kind):
    """Each model assembles into an accelerator (its bit-exactness is tested in
    tests/rtl_lib/ and on Verilator in tests/test_verilator.py)."""
    from spikegen.assemble import accelerator

    qnet = quantize(load_state_dict(tmp_path, model(kind, rng)))
    assert accelerator(qnet).layers[0].outputs == qnet.layers[0].outputs


def test_assemble_per_neuron_parameters_on_shared_lanes(tmp_path, rng):
    """LIF: a parameter memory per layer; current-based: refused with a one-line error."""
    from spikegen.assemble import accelerator

    net = model("leaky", rng, per_neuron=True)
    qnet = quantize(load_state_dict(tmp_path, net), hardware=HardwareConfig(parallelism=2))
    assert all(layer.variable_params for layer in accelerator(qnet).layers)
    net = model("synaptic", rng, per_neuron=True)
    qnet = quantize(load_state_dict(tmp_path, net), hardware=HardwareConfig(parallelism=2))
    with pytest.raises(SpikegenError, match="per-neuron thresholds or betas that differ need "
                                            "one lane per neuron for current-based neurons"):
        accelerator(qnet)
