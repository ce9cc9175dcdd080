"""Write the Sinabs NIR test fixtures (tests/fixtures/sinabs/*.nir) with sinabs.to_nir.

Sinabs pins nir 1.0.4 and nirtorch 2.0.2, which break snnTorch 1.0's exporter, so it lives in
a venv of its own, never the project's (see docs TOOLCHAIN notes)::

    python3 -m venv /tmp/sinabs-venv
    /tmp/sinabs-venv/bin/pip install torch==2.13.0 sinabs
    /tmp/sinabs-venv/bin/python scripts/sinabs_fixtures.py

Networks (dense, weights multiples of 1/8, so they are exact in fixed point):

* ``iaf.nir``: 12 -> 10 -> 4, ``sinabs.layers.IAF`` with its defaults (subtract reset,
  ``MultiSpike``), biases multiples of 1/16, and per layer a spike threshold above what one
  step can add and 1/1024 off the grid of the sums (:func:`threshold`; exact in spikegen
  with ``mem_frac_bits`` 4): Sinabs' ``v >= threshold`` is then spikegen's ``v >
  threshold``, and the membrane never holds two thresholds, so ``MultiSpike`` emits one
  spike a step, as spikegen does;
* ``lif.nir``: 12 -> 8, ``sinabs.layers.LIF`` with ``tau_mem = 20`` steps.

The weights, thresholds and the versions that wrote them are in ``fixtures.json`` beside them,
and ``iaf_io.npz`` holds Sinabs' own forward pass of ``iaf`` on random input spikes (``spikes``
(samples, steps, 12), and each layer's output spike counts ``layer0``, ``layer1``): what
spikegen's bit-exact reference must reproduce.
"""
import json
import math
import os

import numpy as np
import torch
from torch import nn

import nir
import sinabs
import sinabs.layers as sl

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "sinabs")


def threshold(layer):
    """Above what one step can add (so the membrane never holds two thresholds: MultiSpike
    emits one spike a step), and 1/1024 off the 1/16 grid of the sums: after ``k`` spikes
    the membrane is a sum minus ``k`` thresholds, which lands on the threshold only for
    ``k + 1`` a multiple of 64, so within 32 steps ``v >= threshold`` is ``v > threshold``."""
    most = (layer.weight.clamp(min=0).sum(1) + layer.bias.clamp(min=0)).max().item()
    return math.ceil(most * 8) / 8 + 1 / 1024


def grid(rng, shape, step, lo, hi):
    return torch.tensor(rng.integers(lo, hi + 1, size=shape) * step, dtype=torch.float32)


def linear(rng, inputs, outputs, *, bias=True):
    layer = nn.Linear(inputs, outputs, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(grid(rng, (outputs, inputs), 1 / 8, -4, 4))
        if bias:
            layer.bias.copy_(grid(rng, (outputs,), 1 / 16, -1, 2))
    return layer


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(14)
    # Sinabs layers take (batch, time, features); its exporter reads each layer's shape from
    # the state a forward pass leaves
    sample = torch.zeros(1, 1, 12)
    first, second = linear(rng, 12, 10), linear(rng, 10, 4)
    iaf = nn.Sequential(first, sl.IAF(spike_threshold=threshold(first)),
                        second, sl.IAF(spike_threshold=threshold(second)))
    lif = nn.Sequential(linear(rng, 12, 8, bias=False),
                        sl.LIF(tau_mem=20.0, spike_threshold=1.0))
    record = {"sinabs": sinabs.__version__, "nir": nir.version if hasattr(nir, "version")
              else getattr(nir, "__version__", "?"), "torch": torch.__version__,
              "networks": {}}
    for name, model in (("iaf", iaf), ("lif", lif)):
        model(sample)
        graph = sinabs.to_nir(model, sample)
        path = os.path.join(OUT, f"{name}.nir")
        nir.write(path, graph)
        record["networks"][name] = {
            "nodes": {key: type(node).__name__ for key, node in sorted(graph.nodes.items())},
            "weights": [m.weight.tolist() for m in model if isinstance(m, nn.Linear)],
            "biases": [None if m.bias is None else m.bias.tolist()
                       for m in model if isinstance(m, nn.Linear)],
        }
        print(f"wrote {path}: {record['networks'][name]['nodes']}")
    # Sinabs' forward pass on sparse random spikes (batch, time, features), states fresh
    spikes = (rng.random((24, 32, 12)) < 0.4).astype(np.float32)
    for module in iaf:
        if isinstance(module, sl.IAF):
            module.reset_states()
    with torch.no_grad():
        x = torch.from_numpy(spikes)
        outputs = {}
        for index, module in enumerate(iaf):
            x = module(x)
            if isinstance(module, sl.IAF):
                outputs[f"layer{len(outputs)}"] = x.numpy().astype(np.uint8)
    np.savez_compressed(os.path.join(OUT, "iaf_io.npz"), spikes=spikes.astype(np.uint8),
                        **outputs)
    record["iaf_io_max_spikes_per_step"] = int(max(v.max() for v in outputs.values()))
    record["iaf_io_spikes"] = {k: int(v.sum()) for k, v in outputs.items()}
    with open(os.path.join(OUT, "fixtures.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
