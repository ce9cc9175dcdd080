import numpy as np
import pytest

from spikegen.ir import LIF, DenseLayer, Network


def random_network(rng, sizes, *, beta=0.9, threshold=1.0, reset="subtract", reset_delay=True,
                   bias=True, scale=0.5, mean=0.05):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        weight = rng.normal(mean, scale, (b, a))
        layers.append(DenseLayer(weight, rng.normal(0, 0.1, b) if bias else None,
                                 LIF(beta=beta, threshold=threshold, reset=reset,
                                     reset_delay=reset_delay)))
    return Network(tuple(layers), name="random")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
