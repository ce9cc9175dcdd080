"""Data sets and evaluation data.

``digits``: scikit-learn's 8x8 digits (1,797 images, shipped inside the package), split
deterministically into 1,437 training and 360 test images, intensities scaled to [0, 1].

Evaluation data on the command line (``--eval``/``--data``) is one of:

* ``digits`` — the digits test split, rate coded with ``--steps`` and ``--seed``;
* ``PATH.npz`` — spike trains ``spikes`` (samples, steps, inputs) of 0/1, optional ``labels``;
  read with ``allow_pickle=False``.
"""
import os
from dataclasses import dataclass

import numpy as np

from .encode import rate
from .errors import SpikegenError


__all__ = ["Dataset", "digits", "EvalData", "eval_data"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Intensities in [0, 1] of shape (samples, features) and integer labels."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str


def digits(seed=0):
    """scikit-learn's digits, split 80/20 by a seeded permutation."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float64)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(round(0.8 * len(y)))
    train, test = order[:cut], order[cut:]
    return Dataset(x[train], y[train], x[test], y[test], "digits")


@dataclass(frozen=True, eq=False)
class EvalData:
    """Input spike trains (samples, steps, inputs) of 0/1 and labels (or ``None``)."""
    spikes: np.ndarray
    labels: "np.ndarray | None"
    source: str


def eval_data(spec, *, inputs, steps=16, seed=0, limit=None):
    """Evaluation spike trains from a command-line ``spec`` (see the module docstring)."""
    if spec == "digits":
        data = digits()
        if inputs != data.x_test.shape[1]:
            raise SpikegenError(f"--eval digits gives 64 inputs but the network has {inputs}; "
                                "give spike trains of the right width as an .npz file")
        x, y = data.x_test, data.y_test
        if limit is not None:
            x, y = x[:limit], y[:limit]
        spikes = rate(x, steps, seed=seed)
        return EvalData(spikes, y, f"digits test split, rate coded, {steps} steps, seed {seed}")
    if not isinstance(spec, str) or not spec.endswith(".npz"):
        raise SpikegenError(f"evaluation data {spec!r} is not understood; give 'digits' or an "
                            ".npz file with 'spikes' (samples, steps, inputs) and 'labels'")
    if not os.path.isfile(spec):
        raise SpikegenError(f"{spec}: no such file")
    try:
        with np.load(spec, allow_pickle=False) as archive:
            if "spikes" not in archive.files:
                raise SpikegenError(f"{spec}: no 'spikes' array (found: "
                                    f"{', '.join(archive.files) or 'nothing'})")
            spikes = archive["spikes"]
            labels = archive["labels"] if "labels" in archive.files else None
    except SpikegenError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise SpikegenError(f"{spec}: not a readable .npz file ({exc})") from None
    if spikes.ndim != 3 or spikes.shape[2] != inputs:
        raise SpikegenError(f"{spec}: 'spikes' has shape {spikes.shape}, expected "
                            f"(samples, steps, {inputs})")
    if not np.isin(spikes, (0, 1)).all():
        raise SpikegenError(f"{spec}: 'spikes' must hold only 0 and 1")
    if labels is not None and labels.shape != (spikes.shape[0],):
        raise SpikegenError(f"{spec}: 'labels' has shape {labels.shape}, expected "
                            f"({spikes.shape[0]},)")
    if limit is not None:
        spikes = spikes[:limit]
        labels = None if labels is None else labels[:limit]
    return EvalData(spikes.astype(np.uint8), None if labels is None else labels.astype(np.int64),
                    spec)


def random_spikes(samples, steps, inputs, density, seed=0):
    """Random spike trains: every input spikes in every step with probability ``density``."""
    if not 0.0 <= density <= 1.0:
        raise SpikegenError(f"--density must be between 0 and 1, not {density}")
    rng = np.random.default_rng(seed)
    return (rng.random((samples, steps, inputs)) < density).astype(np.uint8)
