"""snnTorch models built the way users build them, with exactly representable values, and
snnTorch's own step-by-step record of them."""
import numpy as np
import snntorch
import torch
from torch import nn

import spikegen


KINDS = ("leaky", "synaptic", "rleaky_all", "rleaky_one", "rsynaptic_all", "rsynaptic_one")


def grid(rng, shape, lo=-10, hi=14):
    return torch.tensor(rng.integers(lo, hi, shape) / 16.0, dtype=torch.float32)


def neuron_layer(kind, n, rng, reset, delay, per_neuron):
    """An snnTorch neuron layer built the way users build it, exactly representable values."""
    if per_neuron:
        beta = torch.tensor(rng.choice([0.5, 0.75, 1.0], n), dtype=torch.float32)
        alpha = torch.tensor(rng.choice([0.5, 0.75, 0.0], n), dtype=torch.float32)
        threshold = torch.tensor(rng.choice([0.5, 0.75, 1.0, 1.25], n), dtype=torch.float32)
    else:
        beta, alpha, threshold = 0.75, 0.5, 1.0
    common = dict(beta=beta, threshold=threshold, reset_mechanism=reset, init_hidden=True)
    if kind == "leaky":
        return snntorch.Leaky(reset_delay=delay, **common)
    if kind == "synaptic":
        return snntorch.Synaptic(alpha=alpha, reset_delay=delay, **common)
    recurrent = dict(linear_features=n) if kind.endswith("_all") else \
        dict(all_to_all=False, V=grid(rng, n))
    if kind.startswith("rleaky"):
        module = snntorch.RLeaky(reset_delay=delay, **recurrent, **common)
    else:
        module = snntorch.RSynaptic(alpha=alpha, reset_delay=delay, **recurrent, **common)
    if kind.endswith("_all"):
        with torch.no_grad():
            module.recurrent.weight.copy_(grid(rng, (n, n)))
            module.recurrent.bias.copy_(grid(rng, n, -3, 4))
    return module


def model(kind, rng, reset="subtract", delay=True, per_neuron=False, sizes=(10, 7, 4)):
    modules = []
    for a, b in zip(sizes, sizes[1:]):
        linear = nn.Linear(a, b)
        with torch.no_grad():
            linear.weight.copy_(grid(rng, (b, a)))
            linear.bias.copy_(grid(rng, b, -3, 4))
        modules += [linear, neuron_layer(kind, b, rng, reset, delay, per_neuron)]
    return nn.Sequential(*modules)


def run_snntorch(net, spikes):
    """Spikes, membranes and synaptic currents of every neuron layer, step by step."""
    layers = [m for m in net if not isinstance(m, nn.Linear)]
    for layer in layers:
        layer.reset_mem()
    record = [{"spk": [], "mem": [], "syn": []} for _ in layers]
    with torch.no_grad():
        for t in range(spikes.shape[1]):
            h = torch.tensor(spikes[:, t], dtype=torch.float32)
            for k, layer in enumerate(layers):
                h = layer(net[2 * k](h))
                record[k]["spk"].append(h.numpy().copy())
                record[k]["mem"].append(layer.mem.numpy().copy())
                if hasattr(layer, "syn"):
                    record[k]["syn"].append(layer.syn.numpy().copy())
    return [{key: np.stack(v, axis=1) for key, v in r.items() if v} for r in record]


def load_state_dict(tmp_path, net, **options):
    path = tmp_path / "net.pt"
    torch.save(net.state_dict(), path)
    return spikegen.load(path, **options)
