"""Input coding on the host: intensities to spike trains."""
import numpy as np


__all__ = ["rate"]


def rate(x, steps, *, seed=0):
    """Rate (Bernoulli) coding: input ``i`` spikes in each step with probability ``x[i]``.

    ``x`` (samples, features) in [0, 1]; returns (samples, steps, features) of 0/1 as uint8.
    Seeded, so the same call gives the same spikes.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    draws = rng.random((x.shape[0], steps, x.shape[1]))
    return (draws < x[:, None, :]).astype(np.uint8)
