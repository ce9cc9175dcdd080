"""ANN-to-SNN conversion: ReLU networks from PyTorch (modules and checkpoints) into
integrate-and-fire networks that spikegen quantizes, builds and verifies."""
import json

import numpy as np
import pytest
import torch
from torch import nn

import spikegen
from spikegen.ann import ann_from_module, forward, load_ann, prepare
from spikegen.cli import main
from spikegen.convert import (accuracy_sweep, balance, calibration_data, convert, read_ann,
                              snn_inputs, to_network)
from spikegen.errors import SpikegenError
from spikegen.ir import InputCoding
from spikegen.ptq import coded_inputs
from spikegen.quantize import quantize
from spikegen.reference import simulate


def _conv_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.AvgPool2d(2), nn.ReLU6(),
                          nn.Flatten(), nn.Dropout(0.2), nn.Linear(6, 5), nn.Hardtanh(0, 2.5),
                          nn.Linear(5, 3))
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
        model[1].weight.uniform_(0.5, 1.5)
    return model.eval()


def _inputs(count, features, seed=0):
    return (np.random.default_rng(seed).random((count, features)) < 0.4).astype(np.float64)


def test_module_forward_equals_torch_and_survives_a_checkpoint(tmp_path):
    model = _conv_model()
    x = _inputs(20, 2 * 8 * 8)
    with torch.no_grad():
        expected = model(torch.from_numpy(x).float().reshape(-1, 2, 8, 8)).double().numpy()
    ann = ann_from_module(model, (2, 8, 8))
    # batch norm folded and the max pooling moved before its ReLU: the same function
    for network in (ann, prepare(ann)):
        np.testing.assert_allclose(forward(network, x), expected, rtol=1e-5, atol=1e-5)
    spikegen.save(model, tmp_path / "ann.pt", input_shape=(2, 8, 8))
    loaded = read_ann(tmp_path / "ann.pt")
    assert read_ann(tmp_path / "ann.pt").input_shape == (2, 8, 8)
    np.testing.assert_array_equal(forward(loaded, x), forward(ann, x))
    assert [type(op).__name__ for op in prepare(loaded).ops] == [
        "Conv", "Pool", "Activation", "Conv", "Pool", "Activation", "Flatten", "Linear",
        "Activation", "Linear"]


def test_integrate_and_fire_counts_round_the_activations():
    """Weights on a 1/16 grid (exact in 8 bits): every hidden neuron fires
    ``ceil(T a + 1/2) - 1`` times, ``T a`` rounded (the bias shift), its activation ``a``
    clipped to the threshold; the readout's final membrane is ``T`` times the logits of the
    rates."""
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Linear(6, 5), nn.Hardtanh(0, 1.0), nn.Linear(5, 3))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(rng.integers(-8, 9, (5, 6)) / 16.0))
        model[0].bias.copy_(torch.tensor(rng.integers(-2, 3, 5) / 16.0))
        model[2].weight.copy_(torch.tensor(rng.integers(-8, 9, (3, 5)) / 16.0))
        model[2].bias.zero_()
    ann = ann_from_module(model, (6,))
    steps = 16
    x = _inputs(40, 6, seed=1)
    conversion = convert(ann, x, steps=steps)
    assert conversion.thresholds == (1.0,) and conversion.clipped == (True,)
    qnet = quantize(conversion.network, coding=InputCoding("events", steps=steps))
    assert qnet.readout == "membrane" and qnet.layers[-1].neuron.reset == "none"
    result = simulate(qnet, coded_inputs(x, InputCoding("events", steps=steps)), record=True)
    _, [activation] = forward(ann, x, record=True)
    counts = result.layers[0].spikes.sum(axis=1)
    np.testing.assert_array_equal(counts, np.ceil(steps * activation + 0.5) - 1)
    final = result.membrane * qnet.layers[1].mem_format.lsb
    np.testing.assert_allclose(final, counts @ model[2].weight.detach().double().numpy().T)


def _trained_digits(hidden, iterations=150):
    """A ReLU MLP trained on the digits' binarized training split (full batch, a second)."""
    from spikegen import datasets

    data = datasets.digits()
    x = (data.x_train >= 0.5).astype(np.float32)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # tiny products: a second thread only waits for a core
    try:
        for _ in range(iterations):
            loss = nn.functional.cross_entropy(model(torch.from_numpy(x)),
                                               torch.from_numpy(data.y_train.astype(np.int64)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return model, data, x


def test_converted_digits_network_keeps_the_ann_accuracy():
    model, data, x = _trained_digits(32)
    ann = ann_from_module(model, (64,))
    thresholds, clipped = balance(ann, x.astype(np.float64), percentile=99.9)
    assert clipped == (False,) and thresholds[0] > 0
    test = (data.x_test >= 0.5).astype(np.float64)
    ann_accuracy, rows = accuracy_sweep(ann, thresholds, test, data.y_test, [2, 16])
    assert ann_accuracy > 0.9
    assert rows[-1]["snn_accuracy"] >= ann_accuracy - 0.02
    assert rows[0]["snn_accuracy"] < rows[-1]["snn_accuracy"]


def test_percentile_threshold_and_shift_values():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2, 3))
        model[0].bias.zero_()
    ann = ann_from_module(model, (3,))
    x = np.linspace(0.0, 1.0, 101)[:, None] * np.ones((1, 3))
    thresholds, _ = balance(ann, x, percentile=50)
    assert thresholds[0] == pytest.approx(np.percentile(x[1:, 0], 50))
    net = to_network(ann, thresholds, 10, shift=0.5)
    lam = thresholds[0]
    np.testing.assert_allclose(net.layers[0].weight, np.eye(2, 3) / lam)
    np.testing.assert_allclose(net.layers[0].bias, [0.05, 0.05])
    np.testing.assert_allclose(net.layers[1].weight, model[2].weight.detach().numpy() * lam,
                               rtol=1e-6)
    assert net.coding == InputCoding("events", steps=10) and net.readout == "membrane"


def test_conv_layers_and_channels_last_inputs():
    model = _conv_model()
    ann = ann_from_module(model, (2, 8, 8))
    x = _inputs(30, 128)
    conversion = convert(ann, x, steps=8)
    kinds = [layer.kind for layer in conversion.network.layers]
    assert kinds == ["conv2d", "conv2d", "dense", "dense"]
    first = conversion.network.layers[0].geometry
    assert first.current_pool == 2                    # ReLU -> MaxPool moved before the ReLU
    assert conversion.clipped == (False, True, True)
    flat = snn_inputs(ann, x)
    np.testing.assert_array_equal(flat.reshape(30, 8, 8, 2)[:, 3, 5, 1],
                                  x.reshape(30, 2, 8, 8)[:, 1, 3, 5])
    assert "99.9th percentile" in conversion.summary()


@pytest.mark.parametrize("model, message", [
    (nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)), "two linear layers without a ReLU"),
    (nn.Sequential(nn.Linear(4, 3), nn.ReLU()), "must end with a Linear layer"),
    (nn.Sequential(nn.ReLU(), nn.Linear(4, 3)), "a ReLU must follow a Conv2d or Linear"),
    (nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.BatchNorm1d(3), nn.Linear(3, 2)),
     "batch normalisation must follow a Conv2d or Linear"),
])
def test_unconvertible_chains(model, message):
    ann = ann_from_module(model, (4,))
    with pytest.raises(SpikegenError, match=message):
        balance(ann, np.ones((2, 4)))


def test_module_errors():
    with pytest.raises(SpikegenError, match=r"module Sigmoid is not supported in a ReLU"):
        ann_from_module(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid()), (2,))
    with pytest.raises(SpikegenError, match=r"nn.Hardtanh\(-1, 1\) is not a clipped ReLU"):
        ann_from_module(nn.Sequential(nn.Linear(2, 2), nn.Hardtanh()), (2,))
    with pytest.raises(SpikegenError, match="needs its input shape"):
        ann_from_module(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), None)
    with pytest.raises(SpikegenError, match=r"input shape must be \(C, H, W\)"):
        ann_from_module(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), (2, 2))


def test_conversion_option_errors():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.fill_(-1.0)
        model[0].bias.fill_(-1.0)
    ann = ann_from_module(model, (2,))
    with pytest.raises(SpikegenError, match="percentile must be a number from 50 to 100"):
        balance(ann, np.ones((2, 2)), percentile=101)
    with pytest.raises(SpikegenError, match="no positive activation on the calibration data"):
        balance(ann, np.ones((2, 2)))
    with pytest.raises(SpikegenError, match=r"calibration data must have shape \(samples, 2\)"):
        balance(ann, np.ones((0, 2)))
    with pytest.raises(SpikegenError, match="steps must be a positive integer"):
        to_network(ann, (1.0,), 0)
    with pytest.raises(SpikegenError, match="shift must be a number from 0 to 1"):
        to_network(ann, (1.0,), 4, shift=2)
    with pytest.raises(SpikegenError, match="1 positive activation ranges are needed"):
        to_network(ann, (1.0, 2.0), 4)


def test_calibration_data_errors(tmp_path):
    ann = ann_from_module(nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2)), (3,))
    np.savez(tmp_path / "none.npz", y=np.zeros(2))
    with pytest.raises(SpikegenError, match="no 'x' array of intensities"):
        calibration_data(str(tmp_path / "none.npz"), ann)
    np.savez(tmp_path / "shape.npz", x=np.zeros((2, 4)))
    with pytest.raises(SpikegenError, match=r"the network takes \(samples, 3\)"):
        calibration_data(str(tmp_path / "shape.npz"), ann)
    np.savez(tmp_path / "range.npz", x=np.full((2, 3), 2.0))
    with pytest.raises(SpikegenError, match=r"intensities must be in \[0, 1\]"):
        calibration_data(str(tmp_path / "range.npz"), ann)
    np.savez(tmp_path / "labels.npz", x=np.zeros((2, 3)), labels=np.zeros(3))
    with pytest.raises(SpikegenError, match="'labels' has shape"):
        calibration_data(str(tmp_path / "labels.npz"), ann)
    with pytest.raises(SpikegenError, match="no such file"):
        calibration_data(str(tmp_path / "missing.npz"), ann)
    x, y = calibration_data("digits", ann_from_module(
        nn.Sequential(nn.Linear(64, 2), nn.ReLU(), nn.Linear(2, 2)), (64,)), binarize=0.5)
    assert set(np.unique(x)) <= {0.0, 1.0} and y.shape == (x.shape[0],)


def test_checkpoint_errors(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    spikegen.save(model, tmp_path / "ann.pt", input_shape=(3,))
    with pytest.raises(SpikegenError, match="a ReLU network, not a spiking one"):
        spikegen.load(tmp_path / "ann.pt")
    tree = torch.load(tmp_path / "ann.pt", weights_only=True)
    tree["ops"][1] = {"op": "sigmoid"}
    torch.save(tree, tmp_path / "bad.pt")
    with pytest.raises(SpikegenError, match="operation 1 has unknown kind 'sigmoid'"):
        read_ann(tmp_path / "bad.pt")
    tree["ops"][1] = {"op": "relu", "max": -1.0}
    torch.save(tree, tmp_path / "bad.pt")
    with pytest.raises(SpikegenError, match="operation 1 clip must be a positive float"):
        read_ann(tmp_path / "bad.pt")
    tree["ops"][1] = {"op": "relu", "max": 2.0, "levels": 0}
    torch.save(tree, tmp_path / "bad.pt")
    with pytest.raises(SpikegenError, match="operation 1 levels must be an integer from 1"):
        read_ann(tmp_path / "bad.pt")
    tree["ops"][1] = {"op": "relu", "max": None}
    tree["version"] = 99
    torch.save(tree, tmp_path / "bad.pt")
    with pytest.raises(SpikegenError, match="checkpoint version 99 is not supported"):
        read_ann(tmp_path / "bad.pt")


def _digits_model(tmp_path):
    model, _, _ = _trained_digits(12, iterations=60)
    path = tmp_path / "ann.pt"
    spikegen.save(model, path, input_shape=(64,))
    return path


def test_cli_convert_then_build(tmp_path, capsys):
    path = _digits_model(tmp_path)
    out = tmp_path / "new folder" / "net.pt"
    assert main(["convert", str(path), "--calib", "digits", "--steps", "8", "--out", str(out),
                 "--eval", "digits", "--eval-samples", "40", "--sweep", "2,8",
                 "--binarize", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "activation range" in text and "SNN bit-exact %" in text
    assert (tmp_path / "new folder" / "net-accuracy.png").stat().st_size > 0
    network = spikegen.load(out)
    assert network.readout == "membrane" and network.coding.steps == 8
    build = tmp_path / "build"
    assert main(["build", str(path), "--calib", "digits", "--steps", "8", "--out", str(build),
                 "--board", "none", "--hdl", "verilog", "--eval", "digits"]) == 0
    report = json.loads((build / "report.json").read_text())
    assert "converted" in report["network"]["source"]
    notes = " ".join(report["network"]["conventions"])
    assert "activation range" in notes and "samples of the calibration data (digits)" in notes
    assert "samples of the evaluation data (digits)" in notes
    assert report["evaluation"]["reference_accuracy"] > 0.5
    # the report's accuracy against steps, measured, and its plot
    conv = report["conversion"]
    assert [row["steps"] for row in conv["sweep"]] == [2, 4, 8, 16]
    assert {row["images"] for row in conv["sweep"]} == {report["evaluation"]["samples"]}
    assert conv["weight_bits"] == 8 and conv["ann_accuracy"] > 0.5
    at_8 = next(row["snn_accuracy"] for row in conv["sweep"] if row["steps"] == 8)
    assert abs(at_8 - report["evaluation"]["reference_accuracy"]) < 0.03
    assert conv["sweep"][0]["snn_accuracy"] != at_8       # T changes the result
    plot = next(f for f in report["files"] if f.endswith("conversion.png"))
    assert (build / plot).stat().st_size > 0
    assert "conversion: ReLU network" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    path = _digits_model(tmp_path)
    assert main(["build", str(path), "--out", str(tmp_path / "b"), "--board", "none"]) == 1
    assert "give --calib DATA" in capsys.readouterr().err
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 64)))
    assert main(["convert", str(path), "--calib", str(tmp_path / "x.npz"), "--steps", "4",
                 "--out", str(tmp_path / "n.pt"), "--eval", str(tmp_path / "x.npz")]) == 1
    assert "has no labels" in capsys.readouterr().err
    spikegen.save(nn.Sequential(nn.Linear(64, 2), spikegen_leaky()), tmp_path / "snn.pt")
    assert main(["convert", str(tmp_path / "snn.pt"), "--calib", "digits", "--steps", "4"]) == 1
    assert "not a ReLU network" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", str(path), "--calib", "digits", "--steps", "4", "--sweep", "0,4"])
    assert "steps must be positive integers" in capsys.readouterr().err


def spikegen_leaky():
    import snntorch

    return snntorch.Leaky(beta=0.9, init_hidden=True)


@pytest.mark.verilator
def test_converted_conv_network_on_verilator(tmp_path):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 3)).eval()
    path = tmp_path / "ann.pt"
    spikegen.save(model, path, input_shape=(1, 6, 6))
    np.savez(tmp_path / "calib.npz", x=_inputs(50, 36), labels=np.zeros(50, dtype=np.int64))
    out = tmp_path / "build"
    assert main(["build", str(path), "--calib", str(tmp_path / "calib.npz"), "--steps", "6",
                 "--out", str(out), "--board", "none", "--hdl", "verilog"]) == 0
    assert main(["verify", str(out), "--samples", "8", "--density", "0.4", "--steps", "6",
                 "--simulator", "verilator"]) == 0
    result = json.loads((out / "verify.json").read_text())
    assert result["samples"] == 8 and result["mismatched_samples"] == 0
    assert result["mismatched_spikes"] == 0


def test_more_checkpoint_and_batchnorm_errors(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    spikegen.save(model, tmp_path / "ann.pt", input_shape=(3,))
    good = torch.load(tmp_path / "ann.pt", weights_only=True)
    cases = [
        (lambda t: t["ops"][0].update(weight=torch.tensor([1, 2])), "operation 0 weight is "
                                                                    "not a float tensor"),
        (lambda t: t["ops"][0].update(bias=torch.tensor([float("nan"), 0.0])),
         "operation 0 bias contains NaN or Inf"),
        (lambda t: t.update(ops=[]), "the checkpoint has no operations"),
        (lambda t: t["ops"].insert(0, {"op": "pool", "kind": "max", "kernel": [2],
                                       "stride": [2, 2], "padding": [0, 0]}),
         r"operation 0 kernel must be a list of 2 small non-negative integers"),
        (lambda t: t["ops"].insert(1, {"op": "batchnorm", "eps": "tiny"}),
         "operation 1 eps must be a small float"),
        (lambda t: t["ops"].__setitem__(0, "linear"), "operation 0 is malformed"),
    ]
    for change, message in cases:
        tree = {**good, "ops": [dict(op) for op in good["ops"]]}
        change(tree)
        torch.save(tree, tmp_path / "bad.pt")
        with pytest.raises(SpikegenError, match=message):
            read_ann(tmp_path / "bad.pt")
    with pytest.raises(SpikegenError, match="not a spikegen ReLU-network checkpoint"):
        load_ann(tmp_path / "ann.pt", obj={"format": "spikegen"})
    norm = nn.BatchNorm1d(3, track_running_stats=False)
    with pytest.raises(SpikegenError, match="without running statistics"):
        ann_from_module(nn.Sequential(nn.Linear(3, 3), norm, nn.ReLU(), nn.Linear(3, 2)), (3,))
    wrong = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(2, 2))
    with pytest.raises(SpikegenError, match=r"batch normalisation of \(4,\) values after a "
                                            "layer of 2 channels"):
        prepare(ann_from_module(wrong, (3,)))
    negative = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        negative[1].running_var.fill_(-1.0)
    with pytest.raises(SpikegenError, match="with a non-positive variance"):
        prepare(ann_from_module(negative, (3,)))
    with pytest.raises(SpikegenError, match="the network has no Conv2d or Linear layer"):
        balance(ann_from_module(nn.Sequential(nn.Flatten(), nn.MaxPool2d(1)), (3,)),
                np.ones((1, 3)))


def test_python_api(tmp_path):
    model, data, x = _trained_digits(8, iterations=20)
    conversion = spikegen.convert_ann(model, x, steps=4, input_shape=(64,), percentile=99.0)
    assert conversion.percentile == 99.0 and conversion.network.coding.steps == 4
    spikegen.save(model, tmp_path / "ann.pt", input_shape=(64,))
    again = spikegen.convert_ann(tmp_path / "ann.pt", x, steps=4, percentile=99.0)
    assert again.thresholds == conversion.thresholds
    spikegen.save(nn.Sequential(nn.Linear(64, 2), spikegen_leaky()), tmp_path / "snn.pt")
    with pytest.raises(SpikegenError, match="not a ReLU network"):
        spikegen.convert_ann(tmp_path / "snn.pt", x, steps=4)
