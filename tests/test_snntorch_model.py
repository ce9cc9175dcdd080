"""snnTorch models of networks: built from the IR, read back by the one module walker."""
import numpy as np
import pytest
import snntorch
import torch

import spikegen
from spikegen.errors import SpikegenError
from spikegen.ir import LIF, CubaLIF, DenseLayer, Network
from spikegen.snntorch_model import (network_from_module, reset_state, to_snntorch,
                                     untrained)


def leaky(beta=0.5, threshold=1.0):
    return snntorch.Leaky(beta=beta, threshold=threshold, init_hidden=True)


def test_built_model_reads_back_as_the_same_network():
    rng = np.random.default_rng(0)
    layers = tuple(DenseLayer(rng.normal(size=(n, m)).astype(np.float32).astype(np.float64),
                              rng.normal(size=n).astype(np.float32).astype(np.float64) if k
                              else None,
                              LIF(beta=0.75, threshold=1.5, reset=reset, reset_delay=k == 0))
                   for k, (m, n, reset) in enumerate(((5, 4, "subtract"), (4, 3, "zero"))))
    net = Network(layers, name="pair")
    back = network_from_module(to_snntorch(net), name="pair")
    for a, b in zip(net.layers, back.layers):
        np.testing.assert_array_equal(a.weight, b.weight)
        assert (a.bias is None) == (b.bias is None)
        if a.bias is not None:
            np.testing.assert_array_equal(a.bias, b.bias)
        assert a.neuron == b.neuron
    delays = network_from_module(to_snntorch(net), reset_delay=False)
    assert [layer.neuron.reset_delay for layer in delays.layers] == [False, False]


def test_to_snntorch_picks_the_layer_kind():
    rng = np.random.default_rng(1)
    cuba = DenseLayer(rng.normal(size=(3, 2)), None,
                      CubaLIF(alpha=0.5, beta=0.75, threshold=1.0, reset="zero_all",
                              reset_delay=True), rng.normal(size=(3, 3)))
    model = to_snntorch(Network((cuba,)))
    assert type(model[1]) is snntorch.RSynaptic
    np.testing.assert_array_equal(model[1].recurrent.weight.detach().numpy(),
                                  cuba.recurrent.astype(np.float32))
    bad = DenseLayer(rng.normal(size=(3, 2)), None,
                     LIF(beta=0.5, threshold=1.0, reset="zero_all", reset_delay=True))
    with pytest.raises(SpikegenError, match=r"snnTorch's Leaky has no reset mode 'zero_all'"):
        to_snntorch(Network((bad,)))


def test_untrained_is_seeded_and_resettable():
    neuron = LIF(beta=0.9, threshold=1.0, reset="subtract", reset_delay=True)
    torch.manual_seed(3)
    a = untrained((6, 4, 2), neuron)
    torch.manual_seed(3)
    b = untrained((6, 4, 2), neuron)
    assert [type(m) for m in a] == [torch.nn.Linear, snntorch.Leaky] * 2
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    a(torch.ones(1, 6))
    assert bool(a[1].mem.abs().sum() > 0)
    reset_state(a)
    assert float(a[1].mem.abs().sum()) == 0.0


@pytest.mark.parametrize("modules, message", [
    ((torch.nn.Linear(3, 2), torch.nn.Linear(2, 2), leaky()),
     r"module: Linear: two linear layers without neurons between them"),
    ((leaky(), torch.nn.Linear(3, 2), leaky()),
     r"module: Leaky: a neuron layer needs a linear layer \(Conv2d or Linear\) before it"),
    ((torch.nn.Linear(3, 2), leaky(), torch.nn.Linear(2, 2)),
     r"module: the last linear layer has no neuron layer after it"),
    ((torch.nn.Linear(3, 2), leaky(beta=torch.tensor([0.5, 0.25]))),
     r"per-neuron beta values differ"),
])
def test_walker_errors(tmp_path, modules, message):
    model = torch.nn.Sequential(*modules)
    with pytest.raises(SpikegenError, match=message):
        network_from_module(model)
    # spikegen.save walks the module with the same walker and names itself
    with pytest.raises(SpikegenError, match=r"^spikegen.save: " + message):
        spikegen.save(model, tmp_path / "net.pt")
