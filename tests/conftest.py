import numpy as np
import pytest

from spikegen.ir import LIF, DenseLayer, HardwareConfig, Network
from spikegen.quantize import quantize


def random_network(rng, sizes, *, beta=0.9, threshold=1.0, reset="subtract", reset_delay=True,
                   bias=True, scale=0.5, mean=0.05):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        weight = rng.normal(mean, scale, (b, a))
        layers.append(DenseLayer(weight, rng.normal(0, 0.1, b) if bias else None,
                                 LIF(beta=beta, threshold=threshold, reset=reset,
                                     reset_delay=reset_delay)))
    return Network(tuple(layers), name="random")


def random_case(seed):
    """A random quantized network and input: shapes, widths, beta, reset, P, FIFO depth."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(3, 20)) for _ in range(depth + 1)]
    net = random_network(rng, sizes, beta=float(rng.choice([1.0, 0.9375, 0.9, 0.6, 0.0])),
                         reset=str(rng.choice(["subtract", "zero", "none"])),
                         reset_delay=bool(rng.integers(2)), bias=bool(rng.integers(2)),
                         scale=0.7, mean=0.2)
    hardware = HardwareConfig(parallelism=int(rng.choice([0, 1, 2, 3, 5])), max_steps=15,
                              fifo_depth=int(rng.choice([2, 4, 16])))
    options = dict(weight_bits=int(rng.integers(3, 9)), beta_bits=int(rng.integers(3, 9)),
                   mem_frac_bits=int(rng.integers(0, 3)), hardware=hardware)
    if rng.integers(2):
        # a narrow membrane that saturates: just wide enough for the thresholds
        widest = max(layer.neuron.threshold for layer in quantize(net, **options).layers)
        options["mem_bits"] = widest.bit_length() + 1 + int(rng.integers(0, 3))
    qnet = quantize(net, **options)
    spikes = (rng.random((4, int(rng.integers(3, 10)), sizes[0]))
              < rng.uniform(0.1, 0.6)).astype(np.uint8)
    return qnet, spikes


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
