"""A second NIR writer: Norse's export maps back to Norse's own dynamics, spike for spike."""
import numpy as np
import pytest
import torch

import spikegen
from spikegen.quantize import quantize

norse = pytest.importorskip("norse.torch", reason="Norse is not installed (pip install norse "
                                                  "torch==2.13.0)")
nir = pytest.importorskip("nir")

DT = 1e-3


def norse_model(rng):
    """Linear + LIFBoxCell twice; weights on a 1/8 grid, beta = 1 - dt * tau_mem_inv = 0.5."""
    layers = []
    for a, b in ((10, 6), (6, 3)):
        linear = torch.nn.Linear(a, b)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(rng.integers(-6, 10, (b, a)) / 8.0))
            linear.bias.copy_(torch.tensor(rng.integers(-2, 3, b) / 8.0))
        # per-neuron tensors: nir.write cannot store 0-d parameters
        p = norse.LIFBoxParameters(tau_mem_inv=torch.full((b,), 500.0),
                                   v_th=torch.full((b,), 0.75), v_leak=torch.zeros(b),
                                   v_reset=torch.zeros(b))
        layers += [linear, norse.LIFBoxCell(p, dt=DT)]
    return norse.SequentialState(*layers)


def test_norse_export_matches_norse(tmp_path, rng):
    model = norse_model(rng)
    spikes = (rng.random((32, 6, 10)) < 0.5).astype(np.uint8)
    state, out = None, []
    with torch.no_grad():
        for t in range(spikes.shape[1]):
            z, state = model(torch.tensor(spikes[:, t], dtype=torch.float32), state)
            out.append(z.numpy())
    expected = np.stack(out, axis=1).astype(np.uint8)
    assert expected.sum() > 0

    nir.write(str(tmp_path / "norse.nir"), norse.to_nir(model, torch.zeros(10), dt=DT))
    # Norse 1.1 writes tau = dt / tau_mem_inv (not 1 / tau_mem_inv), so NIR's forward Euler
    # gives Norse's own beta = 1 - dt * tau_mem_inv at --dt = dt**2. Norse resets to
    # v_reset = 0 in the step of the spike: spikegen's zero reset without reset delay.
    net = spikegen.load(tmp_path / "norse.nir", dt=DT ** 2, reset="zero", reset_delay=False)
    assert [layer.neuron.beta for layer in net.layers] == [0.5, 0.5]
    got = spikegen.simulate(quantize(net, mem_frac_bits=10, mem_bits=40), spikes)
    np.testing.assert_array_equal(got, expected)
