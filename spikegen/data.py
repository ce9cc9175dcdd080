"""Evaluation data: what ``spikegen build --eval`` and ``spikegen verify --data`` run on.

The data sets themselves (:class:`~spikegen.datasets.Dataset`, ``digits``, MNIST) live in
:mod:`spikegen.datasets`, which knows nothing of evaluation; ``Dataset`` and ``digits`` are
also importable from here, where the command line has always found them.

Evaluation data on the command line (``--eval``/``--data``) is one of:

* ``digits`` — the digits test split; ``mnist-idx:DIR`` — MNIST-format IDX files in ``DIR``
  (the test set); rate coded on the host with ``--steps`` and ``--seed`` for ``events``
  coding, as 8-bit pixels for on-chip coding;
* ``PATH.npz`` — spike trains ``spikes`` (samples, steps, inputs) of 0/1 (``events``) or
  ``pixels`` (samples, inputs) of 0..255 (``rate``, ``direct``), optional ``labels``; read
  with ``allow_pickle=False``;
* ``events:PATH`` (an .npy recording, an .npz of recordings, a folder of them) and
  ``nmnist:DIR`` (N-MNIST's test split as tonic stores it) — event-camera recordings, binned
  into ``--steps`` steps of spike maps (:mod:`spikegen.events`), for ``events`` coding.
"""
import os
from dataclasses import dataclass

import numpy as np

from . import datasets, events
from .datasets import Dataset, digits  # noqa: F401 (spikegen.cli and users read them here)
from .encode import pixels_u8, rate
from .errors import SpikegenError


__all__ = ["EvalData", "eval_data", "random_spikes", "random_pixels"]


@dataclass(frozen=True, eq=False)
class EvalData:
    """Evaluation inputs and labels (or ``None``).

    ``inputs`` are spike trains (samples, steps, inputs) of 0/1 for ``events`` coding and
    8-bit pixel values (samples, inputs) for on-chip coding (``rate``, ``direct``).
    """
    inputs: np.ndarray
    labels: "np.ndarray | None"
    source: str

    @property
    def spikes(self):
        return self.inputs


def eval_data(spec, *, inputs, steps=16, seed=0, limit=None, coding="events",
              input_shape=None):
    """Evaluation data from a command-line ``spec`` (see the module docstring).

    ``input_shape`` is the network's input shape, (H, W, C) for a convolutional network;
    event recordings are checked against it (a dense network takes the flat map).
    """
    pixels = coding != "events"
    if events.is_event_spec(spec):
        return _event_data(spec, inputs=inputs, input_shape=input_shape, steps=steps,
                           limit=limit, coding=coding)
    if isinstance(spec, str) and not spec.endswith(".npz"):
        try:
            data = datasets.get(spec)
        except (KeyError, ValueError, ImportError):
            raise SpikegenError(f"evaluation data {spec!r} is not understood; give 'digits', "
                                "'mnist-idx:DIR', an .npz file with 'spikes' (samples, "
                                "steps, inputs) or 'pixels' (samples, inputs), and 'labels', "
                                "or event recordings as events:PATH or nmnist:DIR") from None
        if inputs != data.x_test.shape[1]:
            raise SpikegenError(f"`eval` {spec} gives {data.x_test.shape[1]} inputs but the "
                                f"network has {inputs}")
        x, y = data.x_test, data.y_test
        if limit is not None:
            x, y = x[:limit], y[:limit]
        if pixels:
            return EvalData(pixels_u8(x), y, f"{data.name} test split, 8-bit pixels")
        return EvalData(rate(x, steps, seed=seed), y,
                        f"{data.name} test split, rate coded, {steps} steps, seed {seed}")
    if not os.path.isfile(spec):
        raise SpikegenError(f"{spec}: no such file")
    key = "pixels" if pixels else "spikes"
    try:
        with np.load(spec, allow_pickle=False) as archive:
            if key not in archive.files:
                raise SpikegenError(f"{spec}: no {key!r} array for {coding} coding (found: "
                                    f"{', '.join(archive.files) or 'nothing'})")
            values = archive[key]
            labels = archive["labels"] if "labels" in archive.files else None
    except SpikegenError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise SpikegenError(f"{spec}: not a readable .npz file ({exc})") from None
    if pixels:
        if values.ndim != 2 or values.shape[1] != inputs:
            raise SpikegenError(f"{spec}: 'pixels' has shape {values.shape}, expected "
                                f"(samples, {inputs})")
        if values.size and (values.min() < 0 or values.max() > 255):
            raise SpikegenError(f"{spec}: 'pixels' must hold values from 0 to 255")
    else:
        if values.ndim != 3 or values.shape[2] != inputs:
            raise SpikegenError(f"{spec}: 'spikes' has shape {values.shape}, expected "
                                f"(samples, steps, {inputs})")
        if not np.isin(values, (0, 1)).all():
            raise SpikegenError(f"{spec}: 'spikes' must hold only 0 and 1")
    if labels is not None and labels.shape != (values.shape[0],):
        raise SpikegenError(f"{spec}: 'labels' has shape {labels.shape}, expected "
                            f"({values.shape[0]},)")
    if limit is not None:
        values = values[:limit]
        labels = None if labels is None else labels[:limit]
    return EvalData(values.astype(np.uint8),
                    None if labels is None else labels.astype(np.int64), spec)


def _event_data(spec, *, inputs, input_shape, steps, limit, coding):
    if coding != "events":
        raise SpikegenError(f"{spec}: event recordings are spike trains; they need `coding` "
                            f"events, not {coding}")
    recordings = events.load(spec, limit=limit)
    sensor = events.sensor_shape(recordings, inputs=inputs, input_shape=input_shape)
    spikes = events.spike_trains(recordings, sensor, steps)
    return EvalData(spikes, recordings.labels,
                    f"{recordings.source}, {len(recordings.events)} recordings binned into "
                    f"{steps} steps (tonic ToFrame, a spike where a pixel had an event)")


def random_pixels(samples, inputs, density, seed=0):
    """Random 8-bit pixels: each nonzero (uniform 1..255) with probability ``density``."""
    if not 0.0 <= density <= 1.0:
        raise SpikegenError(f"`density` must be between 0 and 1, not {density}")
    rng = np.random.default_rng(seed)
    values = rng.integers(1, 256, (samples, inputs))
    values[rng.random((samples, inputs)) >= density] = 0
    return values.astype(np.uint8)


def random_spikes(samples, steps, inputs, density, seed=0):
    """Random spike trains: every input spikes in every step with probability ``density``."""
    if not 0.0 <= density <= 1.0:
        raise SpikegenError(f"`density` must be between 0 and 1, not {density}")
    rng = np.random.default_rng(seed)
    return (rng.random((samples, steps, inputs)) < density).astype(np.uint8)
