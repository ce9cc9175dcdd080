"""Convolutional snnTorch models through spikegen: pooling and flattening folded into the
layers (spikegen.fold), checkpoints with their input shape, and the bit-exact reference
against snnTorch's own forward pass where the fixed-point arithmetic is exact."""
import numpy as np
import pytest
import torch
import snntorch as snn
from torch import nn

import spikegen
from spikegen.errors import SpikegenError
from spikegen.floatmodel import run_float
from spikegen.ir import Network
from spikegen.quantize import quantize
from spikegen.reference import simulate
from spikegen.snntorch_model import network_from_module, reset_state


def _leaky(beta=0.5):
    return snn.Leaky(beta=beta, init_hidden=True)


def _exact(model, seed=0):
    """Weights and biases on a 1/8 grid (exact in fixed point), as the dense tests do."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.round(torch.randn_like(m.weight) * 4) / 8)
                if m.bias is not None:
                    m.bias.copy_(torch.round(torch.randn_like(m.bias) * 2) / 8)
    return model.eval()


def _torch_spikes(model, x):
    """snnTorch's own output spikes for spike maps x (batch, steps, C, H, W)."""
    reset_state(model)
    with torch.no_grad():
        return np.stack([model(torch.from_numpy(x[:, t]).float()).numpy() > 0
                         for t in range(x.shape[1])], axis=1)


# every placement of pooling: of currents (before the neurons), of spikes (after them) into
# a convolution or a dense layer; padding forms, stride, dilation, groups, bias or not
CASES = {
    "maxpool-spikes": (lambda: nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), _leaky(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2), _leaky(), nn.Flatten(), nn.Linear(6, 5), _leaky()),
        (2, 8, 8)),
    "avgpool-currents": (lambda: nn.Sequential(
        nn.Conv2d(2, 4, 3, padding="same", bias=False), nn.AvgPool2d(2), _leaky(),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 5), _leaky()), (2, 9, 9)),
    "avgpool-spikes-into-conv": (lambda: nn.Sequential(
        nn.Conv2d(2, 4, 3, dilation=2, groups=2), _leaky(), nn.AvgPool2d(2),
        nn.Conv2d(4, 4, 2, padding=1), snn.Synaptic(alpha=0.5, beta=0.5, init_hidden=True),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 5), _leaky()), (2, 11, 11)),
    "avgpool-spikes-into-dense": (lambda: nn.Sequential(
        nn.Conv2d(1, 3, 3, stride=2, padding=(1, 0)), _leaky(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(3 * 2 * 1, 4), _leaky()), (1, 9, 7)),
    # snnTorch's tutorials: max pooling of currents, before the neurons
    "maxpool-currents": (lambda: nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.MaxPool2d(2), _leaky(), nn.Conv2d(4, 3, 2), nn.MaxPool2d(2),
        _leaky(), nn.Flatten(), nn.Linear(3, 4), _leaky()), (2, 8, 8)),
    "valid-padding-no-bias": (lambda: nn.Sequential(
        nn.Conv2d(3, 2, (3, 2), padding="valid", bias=False), _leaky(1.0),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(2 * 4 * 5, 3), _leaky(1.0)), (3, 6, 6)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fold_equals_torch_and_reference_equals_snntorch(case, tmp_path):
    build, shape = CASES[case]
    model = _exact(build())
    x = (np.random.default_rng(1).random((12, 8, *shape)) < 0.3).astype(np.uint8)
    expected = _torch_spikes(model, x)
    net = network_from_module(model, input_shape=shape)
    flat = x.transpose(0, 1, 3, 4, 2).reshape(*x.shape[:2], -1)
    assert np.array_equal(run_float(net, flat), expected)
    # enough fraction bits that the leak (beta 0.5) stays exact: then spike for spike
    qnet = quantize(net, weight_bits=8, mem_frac_bits=14)
    result = simulate(qnet, x)
    assert result.saturations == 0
    assert np.array_equal(result.spikes, expected)
    # the checkpoint records what a state_dict cannot: strides, padding, pooling, the input
    spikegen.save(model, tmp_path / "net.pt", input_shape=shape)
    again = spikegen.load(tmp_path / "net.pt")
    assert np.array_equal(simulate(quantize(again, weight_bits=8, mem_frac_bits=14),
                                   x).spikes, expected)


def test_default_quantization_agrees_with_snntorch():
    build, shape = CASES["maxpool-spikes"]
    model = build().eval()
    torch.manual_seed(3)
    x = (np.random.default_rng(2).random((40, 10, *shape)) < 0.3).astype(np.uint8)
    expected = _torch_spikes(model, x)
    result = simulate(quantize(network_from_module(model, input_shape=shape)), x)
    assert np.mean(result.spikes == expected) > 0.98


def test_saturating_conv_follows_the_event_order():
    """Narrow membranes: the reference adds event by event in ascending index, the order the
    hardware uses; brute force over the events gives the same sums and saturations."""
    from rtl_lib.conv_geometry import ConvGeometry
    from spikegen import reference
    from spikegen.ir import FixedFormat, QConvLayer, QLIF

    rng = np.random.default_rng(4)
    g = ConvGeometry((7, 7), 2, 3, (3, 3), (4, 4), stride=1, padding=1, dilation=1, pool=2)
    w = rng.integers(-8, 8, size=(3, 2, 3, 3))
    fmt = FixedFormat(5, 0)
    layer = QConvLayer(w, None, FixedFormat(4, 0), fmt,
                       QLIF(threshold=9, decay=0, decay_bits=4, reset="none"), g)
    x = (rng.random((6, 7 * 7 * 2)) < 0.5).astype(np.uint8)
    state = reference.layer_initial_state(layer, 6)
    acc, saturations = reference._conv_integrate(layer, state.acc, x)
    brute, count = np.zeros_like(acc), 0
    for b in range(6):
        a = np.zeros((4, 4, 3), dtype=np.int64)
        for index in np.flatnonzero(x[b]):
            y, xx, c = g.coordinates(index)
            for ky, oy in g.row_taps(y):
                for kx, ox in g.col_taps(xx):
                    total = a[oy, ox] + w[:, c, ky, kx]
                    count += int(np.count_nonzero((total > fmt.max) | (total < fmt.min)))
                    a[oy, ox] = np.clip(total, fmt.min, fmt.max)
        brute[b] = a.reshape(-1)
    assert saturations == count > 0
    assert np.array_equal(acc, brute)


def test_simulate_takes_maps_and_flat_events():
    build, shape = CASES["maxpool-spikes"]
    qnet = quantize(network_from_module(_exact(build()), input_shape=shape))
    x = (np.random.default_rng(5).random((3, 4, *shape)) < 0.3).astype(np.uint8)
    flat = x.transpose(0, 1, 3, 4, 2).reshape(3, 4, -1)
    assert np.array_equal(simulate(qnet, x).spikes, simulate(qnet, flat).spikes)
    with pytest.raises(ValueError, match=r"shape \(batch, steps, 2, 8, 8\)"):
        simulate(qnet, x[:, :, :, :7])


@pytest.mark.parametrize("model, shape, message", [
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), _leaky()), (1, 9, 9),
     "convolution output does not divide into 2x2"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), _leaky(), nn.MaxPool2d(3)), (1, 9, 9),
     "does not divide into 3x3 windows"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), _leaky(), nn.MaxPool2d(2, stride=1)),
     (1, 8, 8), "must tile the map"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), _leaky(), nn.Linear(72, 3), _leaky()),
     (1, 8, 8), "needs a Flatten"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), _leaky()), None, "needs its input shape"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3), _leaky()), (1, 8, 8),
     "two linear layers"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), _leaky(), nn.BatchNorm2d(2)), (1, 8, 8),
     "BatchNorm2d is not supported"),
])
def test_unsupported_arrangements_get_one_line_errors(model, shape, message):
    with pytest.raises(SpikegenError, match=message):
        network_from_module(model(), input_shape=shape)


def test_a_bare_conv_state_dict_is_refused(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), _leaky())
    torch.save(model.state_dict(), tmp_path / "net.pt")
    with pytest.raises(SpikegenError, match=r"spikegen.save\(model, path, input_shape"):
        spikegen.load(tmp_path / "net.pt")


def test_to_snntorch_reads_back():
    from spikegen.snntorch_model import to_snntorch

    build, shape = CASES["avgpool-spikes-into-conv"]
    net = network_from_module(_exact(build()), input_shape=shape)
    again = network_from_module(to_snntorch(net))
    assert isinstance(again, Network) and len(again.layers) == len(net.layers)
    for a, b in zip(net.layers, again.layers):
        assert a.kind == b.kind and np.allclose(a.weight, b.weight)
        assert getattr(a, "geometry", None) == getattr(b, "geometry", None)
