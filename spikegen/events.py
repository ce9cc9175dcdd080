"""Event-camera recordings as spike trains: what ``--eval events:PATH`` and ``nmnist:DIR`` read.

A **recording** is a structured numpy array of events with the fields ``x``, ``y``, ``p``
(polarity) and ``t`` (time stamp), in tonic's layout: any order of fields, integer ``x``,
``y``, integer or bool ``p``, integer or float ``t`` (tonic's ``tonic.io.events_struct``, or
``tonic.datasets.NMNIST.dtype``). A sensor of size ``(x, y, p)`` (tonic's ``sensor_size``
order, N-MNIST's is (34, 34, 2)) gives spike maps of shape (H, W, C) = (y, x, p).

**Binning.** Each recording becomes ``steps`` time steps with tonic's own
``tonic.transforms.ToFrame(sensor_size, n_time_bins=steps)``, so a network trained on tonic's
frames sees the same bins here: the bins are ``(t_last - t_first) // steps`` time units long
from the first event (events sorted by time first), and the events after the last whole bin
(the last event always, plus the remainder of the division) fall outside every bin, as in
tonic. A pixel spikes in a step when it had **at least one event** of that polarity in the
bin (tonic's counts clipped to 0/1). The frames (steps, p, y, x) are permuted to spikegen's
channels-last order, polarity as the channel: the event of polarity ``p`` at ``(x, y)`` is
input ``(y * W + x) * C + p``. A dense network takes the same flat map.

Two cases are decided here rather than in tonic: an empty recording gives ``steps`` empty
steps (tonic's empty-input branch returns its frames transposed), and a recording that spans
fewer time units than ``steps`` is refused (tonic's bins would be 0 units long and every step
empty).

**Sources** (:func:`load`):

* ``events:FILE.npy`` — one recording (``np.save`` of a structured array), no label;
* ``events:FILE.npz`` — ``events`` (a structured array: one recording, or several
  concatenated with ``lengths``, the number of events of each), optional ``labels`` (one per
  recording) and ``sensor_size`` (x, y, p);
* ``events:DIR`` — ``.npy`` recordings in one subfolder per class, named by the integer
  label (tonic's folder layout, e.g. ``DIR/3/0001.npy``), or directly in ``DIR`` (no
  labels);
* ``nmnist:DIR`` — N-MNIST as tonic stores it, read by path and never downloaded: the test
  split's ``.bin`` files (40-bit events, read with ``tonic.io.read_mnist_file``) in
  ``DIR/Test/<digit>/``, ``DIR/NMNIST/Test/<digit>/`` (tonic's ``save_to``) or
  ``DIR/<digit>/`` (the split folder itself).

Files are read in sorted order (numerically by class folder, then by name), with
``allow_pickle=False``. The sensor size comes from the data when it records one (N-MNIST,
``sensor_size`` in an .npz) and is checked against the network's input; otherwise a
convolutional network's input shape (H, W, C) gives it.
"""
import io
import os
import sys
from dataclasses import dataclass

import numpy as np

from .errors import SpikegenError


__all__ = ["Recordings", "SPECS", "is_event_spec", "load", "spike_trains", "to_spikes",
           "sensor_shape", "NMNIST_SENSOR"]


#: The prefixes of event data on the command line.
SPECS = ("events:", "nmnist:")

#: N-MNIST's sensor, in tonic's (x, y, p) order.
NMNIST_SENSOR = (34, 34, 2)

_FIELDS = ("x", "y", "p", "t")


@dataclass(frozen=True, eq=False)
class Recordings:
    """Event recordings read from disk, not yet binned.

    ``events`` is a tuple of structured arrays (fields x, y, p, t), ``labels`` an int64 array
    (one per recording) or ``None``, ``sensor_size`` tonic's (x, y, p) or ``None`` when the
    source does not record it, ``source`` names where they came from.
    """
    events: tuple
    labels: "np.ndarray | None"
    sensor_size: "tuple | None"
    source: str


def is_event_spec(spec):
    """Whether a command-line data ``spec`` names event recordings."""
    return isinstance(spec, str) and spec.startswith(SPECS)


def _tonic(what):
    try:
        import tonic.io
        import tonic.transforms
    except ImportError:
        raise SpikegenError(f"{what} needs tonic: pip install tonic") from None
    return tonic


# -- one recording ----------------------------------------------------------------------------


def _checked(events, sensor_size, where):
    """``events`` validated against ``sensor_size`` (x, y, p) and sorted by time."""
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise SpikegenError(f"{where}: not a structured array of events (fields x, y, p, t "
                            "as tonic stores them)")
    names = events.dtype.names
    missing = [name for name in _FIELDS if name not in names]
    if missing:
        raise SpikegenError(f"{where}: events have the fields {', '.join(names)}; missing "
                            f"{', '.join(missing)} (expected x, y, p, t as tonic stores them)")
    if events.ndim != 1:
        raise SpikegenError(f"{where}: events must be a 1-D array, not shape {events.shape}")
    for name in ("x", "y", "p"):
        kind = events.dtype[name].kind
        if kind not in "iub":
            raise SpikegenError(f"{where}: field {name!r} must be integer, not "
                                f"{events.dtype[name]}")
    if events.dtype["t"].kind not in "iuf":
        raise SpikegenError(f"{where}: field 't' must be a number, not {events.dtype['t']}")
    if events.dtype["t"].kind == "f" and not np.isfinite(events["t"]).all():
        raise SpikegenError(f"{where}: time stamps must be finite")
    for name, size in zip(("x", "y", "p"), sensor_size):
        values = events[name].astype(np.int64)
        if values.size and (values.min() < 0 or values.max() >= size):
            bad = int(values.min() if values.min() < 0 else values.max())
            raise SpikegenError(f"{where}: {name} = {bad} is outside the sensor (x, y, p) = "
                                f"{tuple(sensor_size)}: {name} must be from 0 to {size - 1}")
    return events[np.argsort(events["t"], kind="stable")]


def to_spikes(events, sensor_size, steps, *, where="recording"):
    """One recording binned into ``steps`` spike maps, flat and channels last.

    Parameters
    ----------
    events : numpy structured array
        Fields x, y, p, t (see the module docstring).
    sensor_size : (int, int, int)
        tonic's (x, y, p) sensor size.
    steps : int
        Time steps (``ToFrame``'s ``n_time_bins``).

    Returns
    -------
    numpy.ndarray of uint8, shape (steps, y * x * p)
        1 where a pixel had at least one event of that polarity in the step's bin.
    """
    width, height, polarities = sensor_size
    events = _checked(events, sensor_size, where)
    if events.size == 0:
        return np.zeros((steps, height * width * polarities), dtype=np.uint8)
    span = events["t"][-1] - events["t"][0]
    if span // steps == 0:
        raise SpikegenError(f"{where}: its events span {span} time units, fewer than the "
                            f"{steps} steps (tonic's ToFrame bins would be empty); give fewer "
                            "`steps`")
    tonic = _tonic("binning event recordings")
    frames = tonic.transforms.ToFrame(sensor_size=tuple(sensor_size), n_time_bins=steps)(events)
    # (steps, p, y, x) counts -> (steps, y, x, p) spikes
    spikes = (frames != 0).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(spikes, dtype=np.uint8).reshape(steps, -1)


def _progress(items, label):
    if len(items) < 100 or not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=label, unit="rec", leave=False)


def spike_trains(recordings, sensor_size, steps):
    """Every recording binned (:func:`to_spikes`): (samples, steps, inputs) of uint8."""
    inputs = int(np.prod(sensor_size))
    out = np.zeros((len(recordings.events), steps, inputs), dtype=np.uint8)
    for k in _progress(range(len(recordings.events)), "binning events"):
        out[k] = to_spikes(recordings.events[k], sensor_size, steps,
                           where=f"{recordings.source}: recording {k}")
    return out


# -- the sensor against the network -----------------------------------------------------------


def _shape_text(shape):
    return "x".join(str(s) for s in shape)


def sensor_shape(recordings, *, inputs, input_shape=None):
    """tonic's (x, y, p) sensor size the recordings are binned with, checked against the
    network's input: ``input_shape`` (H, W, C) of a convolutional network, else the flat
    ``inputs`` of a dense one."""
    where = recordings.source
    conv = input_shape is not None and len(input_shape) == 3
    if recordings.sensor_size is None:
        if not conv:
            raise SpikegenError(f"{where}: the recordings do not record their sensor size and "
                                f"the network's input is flat ({inputs}); give an .npz with "
                                "'sensor_size' (x, y, p)")
        height, width, channels = input_shape
        return (width, height, channels)
    width, height, polarities = recordings.sensor_size
    maps = (height, width, polarities)
    if conv and tuple(input_shape) != maps:
        raise SpikegenError(f"{where}: the events are {_shape_text(maps)} maps (height, "
                            f"width, polarity) but the network's input is "
                            f"{_shape_text(input_shape)} (height, width, channels)")
    if not conv and inputs != width * height * polarities:
        raise SpikegenError(f"{where}: the events give {width * height * polarities} inputs "
                            f"({_shape_text(maps)} maps: height, width, polarity) but the "
                            f"network has {inputs}")
    return recordings.sensor_size


# -- sources ----------------------------------------------------------------------------------


def _sensor_size(value, where):
    value = np.asarray(value)
    if (value.shape != (3,) or value.dtype.kind not in "iu" or (value < 1).any()):
        raise SpikegenError(f"{where}: 'sensor_size' must be three positive integers "
                            f"(x, y, p), not {value.tolist()}")
    return tuple(int(v) for v in value)


def _load_array(path):
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SpikegenError(f"{path}: not a readable numpy file ({exc})") from None


def _read_npy(path, where=None):
    events = _load_array(path)
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise SpikegenError(f"{where or path}: not a structured array of events (fields x, "
                            "y, p, t as tonic stores them)")
    return events


def _read_npz(path):
    archive = _load_array(path)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise SpikegenError(f"{path}: not an .npz archive")
    with archive:
        files = archive.files
        if "events" not in files:
            raise SpikegenError(f"{path}: no 'events' array (found: "
                                f"{', '.join(files) or 'nothing'})")
        try:
            events = archive["events"]
            lengths = archive["lengths"] if "lengths" in files else None
            labels = archive["labels"] if "labels" in files else None
            sensor = archive["sensor_size"] if "sensor_size" in files else None
        except ValueError as exc:
            raise SpikegenError(f"{path}: not a readable .npz file ({exc})") from None
    if lengths is None:
        lengths = np.array([len(events)])
    if (lengths.ndim != 1 or lengths.dtype.kind not in "iu" or (lengths < 0).any()
            or int(lengths.sum()) != len(events)):
        raise SpikegenError(f"{path}: 'lengths' must be the non-negative event counts of the "
                            f"recordings, summing to the {len(events)} events")
    if labels is not None and (labels.shape != lengths.shape or labels.dtype.kind not in "iu"):
        raise SpikegenError(f"{path}: 'labels' must be {lengths.size} integers (one per "
                            f"recording), not shape {labels.shape} of {labels.dtype}")
    cuts = np.cumsum(lengths)[:-1]
    return Recordings(tuple(np.split(events, cuts)),
                      None if labels is None else labels.astype(np.int64),
                      None if sensor is None else _sensor_size(sensor, path), path)


def _class_folders(directory):
    """``(label, folder)`` of the integer-named subfolders of ``directory``, by label."""
    folders = [(int(name), os.path.join(directory, name)) for name in os.listdir(directory)
               if name.isdigit() and os.path.isdir(os.path.join(directory, name))]
    return sorted(folders)


def _files(directory, suffix):
    return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                  if name.endswith(suffix) and os.path.isfile(os.path.join(directory, name)))


def _labelled_files(directory, suffix):
    """``(paths, labels)`` of the ``suffix`` files in class folders (labels), else directly
    in ``directory`` (labels ``None``)."""
    paths, labels = [], []
    for label, folder in _class_folders(directory):
        found = _files(folder, suffix)
        paths += found
        labels += [label] * len(found)
    if paths:
        return paths, np.array(labels, dtype=np.int64)
    return _files(directory, suffix), None


def _read_folder(directory, limit):
    paths, labels = _labelled_files(directory, ".npy")
    if not paths:
        raise SpikegenError(f"{directory}: no .npy recordings (give class folders named by "
                            "their integer label, e.g. 3/0001.npy, or .npy files)")
    paths = paths[:limit]
    events = tuple(_read_npy(path) for path in _progress(paths, "reading events"))
    return Recordings(events, None if labels is None else labels[:len(paths)], None,
                      directory)


def _nmnist_split(directory):
    for candidate in (os.path.join(directory, "Test"),
                      os.path.join(directory, "NMNIST", "Test"), directory):
        if os.path.isdir(candidate) and _class_folders(candidate):
            return candidate
    return None


def read_nmnist_file(path):
    """One N-MNIST ``.bin`` recording, read with tonic's ``read_mnist_file`` (tonic's NMNIST
    dtype, time stamps in microseconds)."""
    tonic = _tonic("reading N-MNIST")
    from tonic.datasets import NMNIST

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SpikegenError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) % 5:
        raise SpikegenError(f"{path}: not an N-MNIST file ({len(raw)} bytes is not a whole "
                            "number of 5-byte events)")
    return tonic.io.read_mnist_file(io.BytesIO(raw), dtype=NMNIST.dtype, is_stream=True)


def read_nmnist(directory, limit=None):
    """N-MNIST's test recordings on disk (see the module docstring), never downloaded."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise SpikegenError(f"{directory}: no such directory (give the folder tonic's NMNIST "
                            "saved to, holding Test/<digit>/*.bin)")
    split = _nmnist_split(directory)
    paths, labels = ([], None) if split is None else _labelled_files(split, ".bin")
    if not paths or labels is None:
        raise SpikegenError(f"{directory}: no N-MNIST test recordings (expected "
                            "Test/<digit>/*.bin as tonic's NMNIST stores them, or a split "
                            "folder of <digit>/*.bin)")
    if labels.max() > 9:
        raise SpikegenError(f"{split}: class folder {int(labels.max())} is not a digit 0-9")
    paths = paths[:limit]
    events = tuple(read_nmnist_file(path) for path in _progress(paths, "reading N-MNIST"))
    return Recordings(events, labels[:len(paths)], NMNIST_SENSOR, f"nmnist:{directory}")


def load(spec, *, limit=None):
    """The recordings a command-line ``spec`` names (see the module docstring); the first
    ``limit`` of them when given."""
    if not is_event_spec(spec):
        raise SpikegenError(f"{spec!r} is not event data (give events:PATH or nmnist:DIR)")
    prefix, path = spec.split(":", 1)
    if not path:
        raise SpikegenError(f"{prefix}: needs a path, as in {prefix}:PATH")
    if prefix == "nmnist":
        return read_nmnist(path, limit)
    if os.path.isdir(path):
        return _read_folder(path, limit)
    if not os.path.isfile(path):
        raise SpikegenError(f"{path}: no such file or directory")
    if path.endswith(".npz"):
        recordings = _read_npz(path)
        if limit is not None:
            recordings = Recordings(recordings.events[:limit],
                                    None if recordings.labels is None
                                    else recordings.labels[:limit],
                                    recordings.sensor_size, recordings.source)
        return recordings
    if path.endswith(".npy"):
        return Recordings((_read_npy(path),), None, None, path)
    raise SpikegenError(f"{path}: event data must be an .npy recording, an .npz of "
                        "recordings or a folder of .npy recordings")
