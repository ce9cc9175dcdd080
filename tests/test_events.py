"""Event-camera input: recordings in tonic's layout binned into channels-last spike maps, and
N-MNIST read from its own .bin files on disk (written here, byte by byte)."""

import os
import sys

import numpy as np
import pytest

import spikegen
from spikegen import events
from spikegen.cli import main
from spikegen.compiler import BuildOptions, Build, check, load, plan, quantize
from spikegen.data import eval_data
from spikegen.errors import SpikegenError
from spikegen.verify import _inputs as verify_inputs

from helpers.networks import random_network


NMNIST_INPUTS = 34 * 34 * 2
EVENT = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])


def nmnist_bytes(x, y, p, t):
    """N-MNIST's 40-bit events: x, y, then polarity (bit 7) and a 23-bit time stamp in
    microseconds, big end first."""
    t = np.asarray(t, dtype=np.int64)
    assert (t < 1 << 23).all()
    raw = np.stack([np.asarray(x), np.asarray(y), (np.asarray(p) << 7) | (t >> 16),
                    (t >> 8) & 0xFF, t & 0xFF], axis=1)
    return raw.astype(np.uint8).tobytes()


def random_recording(rng, n, width=34, height=34, span=300_000):
    return (rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n),
            np.sort(rng.integers(0, span, n)))


def expected_spikes(x, y, p, t, steps, width=34, height=34):
    """tonic's n_time_bins binning, written out: bins of (t_last - t_first) // steps from the
    first event; events past the last whole bin are dropped; channels last."""
    x, y, p, t = (np.asarray(v, dtype=np.int64) for v in (x, y, p, t))
    order = np.argsort(t, kind="stable")
    x, y, p, t = x[order], y[order], p[order], t[order]
    out = np.zeros((steps, height, width, 2), dtype=np.uint8)
    window = (t[-1] - t[0]) // steps
    for xi, yi, pi, ti in zip(x, y, p, t):
        step = (ti - t[0]) // window
        if step < steps:
            out[step, yi, xi, pi] = 1
    return out.reshape(steps, -1)


@pytest.fixture
def nmnist(tmp_path):
    """tonic's NMNIST folder (save_to/NMNIST/Test/<digit>/*.bin): 2 recordings of each of the
    digits 0, 1 and 3, and the events each file holds."""
    rng = np.random.default_rng(1)
    root = tmp_path / "data"
    recordings = []
    for digit in (0, 1, 3):
        folder = root / "NMNIST" / "Test" / str(digit)
        folder.mkdir(parents=True)
        for k in range(2):
            rec = random_recording(rng, 60 + 10 * digit + k)
            (folder / f"{k:05d}.bin").write_bytes(nmnist_bytes(*rec))
            recordings.append((digit, rec))
    return root, recordings


def test_nmnist_bin_files_are_read_and_binned(nmnist):
    root, recordings = nmnist
    data = eval_data(f"nmnist:{root}", inputs=NMNIST_INPUTS, steps=7)
    assert data.inputs.shape == (6, 7, NMNIST_INPUTS) and data.inputs.dtype == np.uint8
    assert data.labels.tolist() == [0, 0, 1, 1, 3, 3]
    for k, (_, rec) in enumerate(recordings):
        np.testing.assert_array_equal(data.inputs[k], expected_spikes(*rec, 7))
    assert data.inputs.sum() > 0 and f"nmnist:{root}" in data.source


def test_nmnist_timestamp_overflow_markers(tmp_path):
    """An event with y = 240 marks a time-stamp overflow (tonic's reader): it is no event, and
    later time stamps move on by 2**13."""
    root = write_nmnist(tmp_path, nmnist_bytes([3, 0, 5], [4, 240, 6], [1, 0, 0], [10, 0, 20]))
    (recording,) = events.read_nmnist(root).events
    assert recording["x"].tolist() == [3, 5] and recording["y"].tolist() == [4, 6]
    assert recording["p"].tolist() == [1, 0] and recording["t"].tolist() == [10, 20 + 2 ** 13]


def test_nmnist_reads_like_tonics_own_dataset(nmnist, monkeypatch):
    """Same recordings, labels and order as tonic's NMNIST class reading the folder (its
    download check patched out), and the same frames as its ToFrame, clipped and permuted."""
    from tonic.datasets import NMNIST
    from tonic.transforms import ToFrame

    root, _ = nmnist
    monkeypatch.setattr(NMNIST, "_check_exists", lambda self: True)
    theirs = NMNIST(str(root), train=False)
    ours = events.read_nmnist(root)
    assert len(theirs) == len(ours.events) and ours.labels.tolist() == theirs.targets
    to_frame = ToFrame(sensor_size=NMNIST.sensor_size, n_time_bins=5)
    for k, recording in enumerate(ours.events):
        their_events, label = theirs[k]
        assert label == ours.labels[k]
        np.testing.assert_array_equal(recording, their_events)
        frames = (to_frame(their_events) > 0).transpose(0, 2, 3, 1).reshape(5, -1)
        np.testing.assert_array_equal(events.to_spikes(recording, NMNIST.sensor_size, 5),
                                      frames)


@pytest.mark.parametrize("where", ["", "NMNIST", "NMNIST/Test"])
def test_nmnist_folder_forms(nmnist, where):
    root, _ = nmnist
    data = eval_data(f"nmnist:{root / where}", inputs=NMNIST_INPUTS, steps=3, limit=4)
    assert data.inputs.shape == (4, 3, NMNIST_INPUTS) and data.labels.tolist() == [0, 0, 1, 1]


def test_a_conv_network_takes_the_map_and_names_both_shapes(nmnist):
    root, _ = nmnist
    spec = f"nmnist:{root}"
    flat = eval_data(spec, inputs=NMNIST_INPUTS, steps=4)
    conv = eval_data(spec, inputs=NMNIST_INPUTS, steps=4, input_shape=(34, 34, 2))
    np.testing.assert_array_equal(flat.inputs, conv.inputs)
    with pytest.raises(SpikegenError, match=r"the events are 34x34x2 maps \(height, width, "
                                            r"polarity\) but the network's input is 28x28x1"):
        eval_data(spec, inputs=784, steps=4, input_shape=(28, 28, 1))
    with pytest.raises(SpikegenError, match=r"the events give 2312 inputs \(34x34x2 maps: .*\) "
                                            r"but the network has 784$"):
        eval_data(spec, inputs=784, steps=4, input_shape=(784,))


def test_an_npy_recording_takes_its_sensor_from_a_conv_network(tmp_path):
    rng = np.random.default_rng(2)
    x, y, p, t = random_recording(rng, 50, width=6, height=5, span=1000)
    rec = np.zeros(50, dtype=EVENT)
    rec["x"], rec["y"], rec["p"], rec["t"] = x, y, p.astype(bool), t
    order = rng.permutation(50)                 # out of time order: sorted before binning
    np.save(tmp_path / "rec.npy", rec[order])
    data = eval_data(f"events:{tmp_path / 'rec.npy'}", inputs=60, steps=4,
                     input_shape=(5, 6, 2))
    assert data.labels is None
    np.testing.assert_array_equal(data.inputs[0],
                                  expected_spikes(x, y, p, t, 4, width=6, height=5))
    with pytest.raises(SpikegenError, match=r"rec.npy: the recordings do not record their "
                                            r"sensor size and the network's input is flat"):
        eval_data(f"events:{tmp_path / 'rec.npy'}", inputs=60, steps=4)


def test_an_npz_of_recordings(tmp_path):
    rng = np.random.default_rng(3)
    recs = [random_recording(rng, n, width=4, height=3, span=500) for n in (30, 0, 41)]
    parts = []
    for x, y, p, t in recs:
        part = np.zeros(len(x), dtype=EVENT)
        part["x"], part["y"], part["p"], part["t"] = x, y, p.astype(bool), t
        parts.append(part)
    path = tmp_path / "recs.npz"
    np.savez(path, events=np.concatenate(parts), lengths=[30, 0, 41], labels=[2, 0, 1],
             sensor_size=[4, 3, 2])
    data = eval_data(f"events:{path}", inputs=24, steps=5)
    assert data.inputs.shape == (3, 5, 24) and data.labels.tolist() == [2, 0, 1]
    np.testing.assert_array_equal(data.inputs[0], expected_spikes(*recs[0], 5, 4, 3))
    assert not data.inputs[1].any()             # an empty recording: empty steps
    np.testing.assert_array_equal(data.inputs[2], expected_spikes(*recs[2], 5, 4, 3))
    assert eval_data(f"events:{path}", inputs=24, steps=5, limit=2).inputs.shape[0] == 2


def test_a_folder_of_class_folders(tmp_path):
    rng = np.random.default_rng(4)
    recs = {}
    for label in (1, 10, 2):                    # read in numeric order: 1, 2, 10
        (tmp_path / str(label)).mkdir()
        x, y, p, t = random_recording(rng, 20, width=3, height=3, span=90)
        rec = np.zeros(20, dtype=[("t", np.int64), ("x", np.uint8), ("y", np.uint8),
                                  ("p", np.int8)])
        rec["x"], rec["y"], rec["p"], rec["t"] = x, y, p, t
        np.save(tmp_path / str(label) / "a.npy", rec)
        recs[label] = (x, y, p, t)
    data = eval_data(f"events:{tmp_path}", inputs=18, steps=3, input_shape=(3, 3, 2))
    assert data.labels.tolist() == [1, 2, 10]
    for k, label in enumerate((1, 2, 10)):
        np.testing.assert_array_equal(data.inputs[k],
                                      expected_spikes(*recs[label], 3, width=3, height=3))


def test_build_and_verify_read_nmnist(tmp_path, nmnist):
    """A dense network takes the flat 34x34x2 map: the build's check step evaluates it, and
    verify's data is the same spikes."""
    root, _ = nmnist
    net = tmp_path / "net.pt"
    spikegen.save(random_network(np.random.default_rng(0), (NMNIST_INPUTS, 6, 4)), net)
    b = Build(options=BuildOptions(source=str(net), out=str(tmp_path / "out"), board=None,
                                   eval=f"nmnist:{root}", steps=6))
    for step in (load, quantize, plan, check):
        b = step(b)
    assert b.evaluation.metrics["samples"] == 6
    assert b.eval.inputs.shape == (6, 6, NMNIST_INPUTS)
    spikes, source = verify_inputs(str(tmp_path / "out"), b.qnet, data=f"nmnist:{root}",
                                   samples=3, density=0.1, steps=6, seed=0)
    np.testing.assert_array_equal(spikes, b.eval.inputs[:3])
    assert source.startswith(f"nmnist:{root}, 3 recordings binned into 6 steps")


def test_the_command_line_says_what_is_wrong(tmp_path, nmnist, capsys):
    root, _ = nmnist
    net = tmp_path / "net.pt"
    spikegen.save(random_network(np.random.default_rng(0), (784, 6, 4)), net)
    assert main(["build", str(net), "--out", str(tmp_path / "x"), "--eval",
                 f"nmnist:{root}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"spikegen: error: nmnist:{root}: the events give 2312 inputs (34x34x2 "
                   "maps: height, width, polarity) but the network has 784")


def write_nmnist(tmp_path, raw, name="00000.bin", digit="7"):
    folder = tmp_path / "Test" / digit
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(raw)
    return tmp_path


def test_nmnist_errors(tmp_path):
    with pytest.raises(SpikegenError, match=r"nowhere: no such directory \(give the folder "
                                            r"tonic's NMNIST saved to"):
        events.read_nmnist(tmp_path / "nowhere")
    with pytest.raises(SpikegenError, match=r"no N-MNIST test recordings \(expected "
                                            r"Test/<digit>/\*.bin"):
        events.read_nmnist(tmp_path)
    bad = write_nmnist(tmp_path / "a", b"\x01\x02\x03\x04\x05\x06")
    with pytest.raises(SpikegenError, match=r"00000.bin: not an N-MNIST file \(6 bytes is "
                                            r"not a whole number of 5-byte events\)"):
        events.read_nmnist(bad)
    eleven = write_nmnist(tmp_path / "b", nmnist_bytes([1], [1], [0], [5]), digit="11")
    with pytest.raises(SpikegenError, match=r"class folder 11 is not a digit 0-9"):
        events.read_nmnist(eleven)


def test_binning_errors(tmp_path):
    short = write_nmnist(tmp_path / "short", nmnist_bytes([1, 2], [1, 2], [0, 1], [5, 7]))
    with pytest.raises(SpikegenError, match=r"recording 0: its events span 2 time units, "
                                            r"fewer than the 4 steps .* give fewer steps$"):
        eval_data(f"nmnist:{short}", inputs=NMNIST_INPUTS, steps=4)
    with pytest.raises(SpikegenError, match=r"event recordings are spike trains; they need "
                                            r"coding events, not rate$"):
        eval_data(f"nmnist:{short}", inputs=NMNIST_INPUTS, coding="rate")
    for spec in ("events:", "nmnist:"):
        with pytest.raises(SpikegenError, match=rf"{spec} needs a path, as in {spec}PATH"):
            eval_data(spec, inputs=4)
    with pytest.raises(SpikegenError, match=r"nothing.npy: no such file or directory"):
        eval_data(f"events:{tmp_path / 'nothing.npy'}", inputs=4)
    (tmp_path / "rec.txt").write_text("0 0 0 0")
    with pytest.raises(SpikegenError, match=r"rec.txt: event data must be an .npy recording, "
                                            r"an .npz of recordings or a folder"):
        eval_data(f"events:{tmp_path / 'rec.txt'}", inputs=4)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpikegenError, match=r"empty: no .npy recordings \(give class "
                                            r"folders"):
        eval_data(f"events:{tmp_path / 'empty'}", inputs=4)


def _npz(tmp_path, **arrays):
    path = tmp_path / "r.npz"
    np.savez(path, **arrays)
    return f"events:{path}"


@pytest.mark.parametrize("arrays, message", [
    (dict(spikes=np.zeros(3)), r"r.npz: no 'events' array \(found: spikes, sensor_size\)"),
    (dict(events=np.zeros(3)), r"r.npz: recording 0: not a structured array of events"),
    (dict(events=np.zeros(3, dtype=[("x", int), ("y", int), ("t", int)])),
     r"r.npz: recording 0: events have the fields x, y, t; missing p \(expected x, y, p, t"),
    (dict(events=np.zeros(3, dtype=[("x", float), ("y", int), ("t", int), ("p", int)])),
     r"recording 0: field 'x' must be integer, not float64"),
    (dict(events=np.zeros(3, dtype=[("x", int), ("y", int), ("t", "U2"), ("p", int)])),
     r"recording 0: field 't' must be a number"),
    (dict(events=np.array([(0, 0, np.nan, 0)], dtype=[("x", int), ("y", int), ("t", float),
                                                       ("p", int)])),
     r"recording 0: time stamps must be finite"),
    (dict(events=np.array([(4, 0, 0, 0), (0, 0, 9, 0)], dtype=EVENT)),
     r"recording 0: x = 4 is outside the sensor \(x, y, p\) = \(4, 3, 2\): x must be from 0 "
     r"to 3"),
    (dict(events=np.array([(0, 0, 0, 0), (0, -1, 9, 0)], dtype=EVENT)),
     r"recording 0: y = -1 is outside the sensor"),
    (dict(events=np.zeros(3, dtype=EVENT), lengths=[1, 1]),
     r"r.npz: 'lengths' must be the non-negative event counts of the recordings, summing to "
     r"the 3 events"),
    (dict(events=np.zeros(3, dtype=EVENT), lengths=[1, 2], labels=[1]),
     r"r.npz: 'labels' must be 2 integers \(one per recording\), not shape \(1,\)"),
    (dict(events=np.zeros(3, dtype=EVENT), sensor_size=[4, 0, 2]),
     r"r.npz: 'sensor_size' must be three positive integers \(x, y, p\), not \[4, 0, 2\]"),
])
def test_recording_errors(tmp_path, arrays, message):
    arrays.setdefault("sensor_size", [4, 3, 2])
    with pytest.raises(SpikegenError, match=message):
        eval_data(_npz(tmp_path, **arrays), inputs=24, steps=2)


def test_unreadable_files(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(SpikegenError, match=r"bad.npz: not a readable numpy file"):
        eval_data(f"events:{tmp_path / 'bad.npz'}", inputs=4)
    np.save(tmp_path / "plain.npy", np.zeros((3, 4)))
    with pytest.raises(SpikegenError, match=r"plain.npy: not a structured array of events"):
        eval_data(f"events:{tmp_path / 'plain.npy'}", inputs=4, input_shape=(1, 2, 2))
    np.save(tmp_path / "nd.npy", np.zeros((2, 2), dtype=EVENT))
    with pytest.raises(SpikegenError, match=r"nd.npy: recording 0: events must be a 1-D "
                                            r"array, not shape \(2, 2\)"):
        eval_data(f"events:{tmp_path / 'nd.npy'}", inputs=4, input_shape=(1, 2, 2))


def conv_graph(path, channels):
    """A small convolutional NIR graph on a channels x 34 x 34 map."""
    import nir

    rng = np.random.default_rng(2)
    tau = 1e-4 / (1 - 0.75)

    def lif(shape):
        return nir.LIF(tau=np.full(shape, tau), r=np.full(shape, tau / 1e-4),
                       v_leak=np.zeros(shape), v_threshold=np.ones(shape),
                       v_reset=np.zeros(shape))
    window = np.array([2, 2])
    nodes = {"input": nir.Input(input_type=np.array([channels, 34, 34])),
             "pool": nir.SumPool2d(kernel_size=window, stride=window, padding=np.array([0, 0])),
             "conv": nir.Conv2d(input_shape=(17, 17), weight=rng.normal(0, .5, (3, channels, 5, 5)),
                                stride=2, padding=1, dilation=1, groups=1, bias=np.zeros(3)),
             "lif": lif((3, 8, 8)),
             "flat": nir.Flatten(input_type={"input": np.array([3, 8, 8])}, start_dim=0),
             "fc": nir.Affine(weight=rng.normal(0, .3, (4, 192)), bias=np.zeros(4)),
             "lif2": lif((4,)), "output": nir.Output(output_type=np.array([4]))}
    names = list(nodes)
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:]))))
    return path


def test_a_conv_network_on_nmnist(tmp_path, nmnist):
    """A convolutional NIR graph on N-MNIST's 2x34x34 maps: the build evaluates the
    recordings; a graph on 1x34x34 maps is refused naming both shapes."""
    root, _ = nmnist
    net = conv_graph(tmp_path / "conv.nir", 2)
    b = Build(options=BuildOptions(source=str(net), out=str(tmp_path / "out"), board=None,
                                   eval=f"nmnist:{root}", steps=5))
    for step in (load, quantize, plan, check):
        b = step(b)
    assert b.qnet.layers[0].input_shape == (34, 34, 2)
    assert b.evaluation.metrics["samples"] == 6 and b.eval.inputs.shape == (6, 5, 2312)
    b = Build(options=BuildOptions(source=str(conv_graph(tmp_path / "one.nir", 1)),
                                   out=str(tmp_path / "out"), board=None,
                                   eval=f"nmnist:{root}", steps=5))
    with pytest.raises(SpikegenError, match=r"the events are 34x34x2 maps \(height, width, "
                                            r"polarity\) but the network's input is 34x34x1 "
                                            r"\(height, width, channels\)$"):
        for step in (load, quantize, plan, check):
            b = step(b)


def test_more_file_errors(tmp_path, monkeypatch):
    np.save(tmp_path / "one.npy", np.zeros(3, dtype=EVENT))
    os.rename(tmp_path / "one.npy", tmp_path / "one.npz")
    with pytest.raises(SpikegenError, match=r"one.npz: not an .npz archive"):
        eval_data(f"events:{tmp_path / 'one.npz'}", inputs=4)
    np.savez(tmp_path / "objects.npz", events=np.array([1, "a"], dtype=object))
    with pytest.raises(SpikegenError, match=r"objects.npz: not a readable .npz file"):
        eval_data(f"events:{tmp_path / 'objects.npz'}", inputs=4)
    (tmp_path / "dir.bin").mkdir()
    with pytest.raises(SpikegenError, match=r"dir.bin: cannot read"):
        events.read_nmnist_file(tmp_path / "dir.bin")
    with pytest.raises(SpikegenError, match=r"'digits' is not event data \(give events:PATH "
                                            r"or nmnist:DIR\)"):
        events.load("digits")
    monkeypatch.setitem(sys.modules, "tonic", None)
    with pytest.raises(SpikegenError, match=r"reading N-MNIST needs tonic: pip install tonic"):
        events.read_nmnist_file(tmp_path / "dir.bin")
