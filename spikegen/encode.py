"""Input coding on the host: intensities to spike trains."""
import numpy as np


__all__ = ["rate", "RATE_SEED", "xorshift32", "rate_draws", "rate_onchip", "pixels_u8"]


def rate(x, steps, *, seed=0):
    """Rate (Bernoulli) coding: input ``i`` spikes in each step with probability ``x[i]``.

    ``x`` (samples, features) in [0, 1]; returns (samples, steps, features) of 0/1 as uint8.
    Seeded, so the same call gives the same spikes.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    draws = rng.random((x.shape[0], steps, x.shape[1]))
    return (draws < x[:, None, :]).astype(np.uint8)


# -- on-chip rate coding ----------------------------------------------------------------------

#: Seed of the on-chip generator (any nonzero 32-bit value; the hardware's reset value).
RATE_SEED = 0x2545F491


def xorshift32(state):
    """One step of Marsaglia's xorshift32 (13, 17, 5) on a uint32 array or int."""
    state = np.asarray(state, dtype=np.uint32)
    state = state ^ (state << np.uint32(13))
    state = state ^ (state >> np.uint32(17))
    state = state ^ (state << np.uint32(5))
    return state


def rate_draws(count, seed=RATE_SEED):
    """The first ``count`` 8-bit draws of the on-chip generator: the top byte of each state."""
    if not 0 < seed < (1 << 32):
        raise ValueError(f"Seed must be a nonzero 32-bit value, not {seed!r}")
    draws = np.empty(count, dtype=np.uint8)
    state = np.uint32(seed)
    for k in range(count):
        state = xorshift32(state)
        draws[k] = int(state) >> 24
    return draws


def rate_onchip(pixels, steps, *, seed=RATE_SEED):
    """Spike trains exactly as the on-chip rate coder makes them.

    ``pixels`` (samples, inputs) of integers 0..255. For every sample the generator restarts
    from ``seed``; in each step it walks the sample's nonzero pixels in ascending index and
    draws one byte ``r`` per pixel: the pixel spikes when ``r < value`` (probability
    ``value / 256``). Returns (samples, steps, inputs) of 0/1.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.min(initial=0) < 0 or pixels.max(initial=0) > 255:
        raise ValueError("Pixels must be a (samples, inputs) array of integers 0..255")
    samples, inputs = pixels.shape
    active = pixels > 0
    counts = active.sum(axis=1)
    draws = rate_draws(max(1, int(steps * counts.max(initial=0))), seed)
    spikes = np.zeros((samples, steps, inputs), dtype=np.uint8)
    for b in range(samples):
        index = np.flatnonzero(active[b])
        if index.size == 0:
            continue
        r = draws[:steps * index.size].reshape(steps, index.size)
        spikes[b][:, index] = r < pixels[b, index][None, :]
    return spikes


def pixels_u8(x):
    """Intensities in [0, 1] → the 8-bit pixel values the on-chip coders take."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
