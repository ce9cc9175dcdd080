import pickle

import numpy as np
import pytest
import snntorch
import torch
from torch import nn

import spikegen
from spikegen.errors import SpikegenError


def sequential(bias=True, beta=0.9, reset="subtract", delay=True):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 5, bias=bias), snntorch.Leaky(beta=beta, init_hidden=True,
                                                   reset_mechanism=reset, reset_delay=delay),
        nn.Linear(5, 3, bias=bias), snntorch.Leaky(beta=beta, init_hidden=True,
                                                   reset_mechanism=reset, reset_delay=delay))


class Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.lif1 = snntorch.Leaky(beta=0.5, threshold=0.75, reset_mechanism="zero")
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.lif2 = snntorch.Leaky(beta=torch.full((2,), 0.25))


def test_state_dict_of_sequential(tmp_path):
    model = sequential()
    path = tmp_path / "net.pt"
    torch.save(model.state_dict(), path)
    net = spikegen.load(path)
    assert net.shape == (6, 5, 3)
    assert net.name == "net"
    np.testing.assert_array_equal(net.layers[0].weight, model[0].weight.detach().double())
    assert net.layers[1].neuron.beta == pytest.approx(0.9)
    assert net.layers[0].neuron.reset == "subtract" and net.layers[0].neuron.reset_delay


def test_state_dict_of_named_module(tmp_path):
    path = tmp_path / "named.pt"
    torch.save(Named().state_dict(), path)
    net = spikegen.load(path, reset_delay=False)
    assert net.shape == (4, 3, 2)
    assert net.layers[0].neuron.reset == "zero"
    assert net.layers[0].neuron.threshold == 0.75
    assert net.layers[1].neuron.beta == 0.25      # uniform per-neuron tensor accepted
    assert net.layers[1].bias is None
    assert not any(layer.neuron.reset_delay for layer in net.layers)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("delay", [True, False])
def test_spikegen_checkpoint_records_reset_delay(tmp_path, reset, delay):
    path = tmp_path / "ckpt.pt"
    spikegen.save(sequential(bias=False, reset=reset, delay=delay), path, name="mine")
    net = spikegen.load(path)
    assert net.name == "mine"
    assert all(l.neuron.reset == reset and l.neuron.reset_delay == delay for l in net.layers)
    assert net.layers[0].bias is None
    # a checkpoint of the IR round-trips exactly
    again = tmp_path / "again.pt"
    spikegen.save(net, again)
    back = spikegen.load(again)
    for a, b in zip(net.layers, back.layers):
        np.testing.assert_array_equal(a.weight, b.weight)
        assert a.neuron == b.neuron


def _error(path, **kwargs):
    with pytest.raises(SpikegenError) as info:
        spikegen.load(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_pickled_module_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(nn.Linear(2, 2), path)
    message = _error(path)
    assert "pickled Python objects" in message and "never unpickles" in message
    assert "state_dict" in message   # says what is accepted


def test_unknown_keys(tmp_path):
    path = tmp_path / "conv.pt"
    torch.save({"0.weight": torch.zeros(3, 2), "1.running_mean": torch.zeros(3)}, path)
    assert "unknown keys '1.running_mean'" in _error(path)


def test_shape_mismatch(tmp_path):
    state = sequential().state_dict()
    state["2.weight"] = torch.zeros(3, 4)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    assert "shape mismatch: '2.weight' takes 4 inputs but the layer before it has 5" in \
        _error(path)


def test_bias_shape_mismatch(tmp_path):
    state = sequential().state_dict()
    state["0.bias"] = torch.zeros(7)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    assert "'0.bias' has shape (7,), expected (5,)" in _error(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_and_inf(tmp_path, value):
    state = sequential().state_dict()
    state["0.weight"][1, 2] = value
    path = tmp_path / "nan.pt"
    torch.save(state, path)
    assert "'0.weight' contains NaN or Inf" in _error(path)


def test_non_torch_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights\n")
    assert "not a PyTorch file" in _error(path)


def test_raw_pickle_is_not_a_torch_file(tmp_path):
    path = tmp_path / "raw.pt"
    path.write_bytes(pickle.dumps({"a": 1}))
    message = _error(path)
    assert "not a PyTorch file" in message or "pickled" in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    assert "the file is empty (0 bytes)" in _error(path)


def test_truncated_file(tmp_path):
    good = tmp_path / "good.pt"
    torch.save(sequential().state_dict(), good)
    path = tmp_path / "cut.pt"
    path.write_bytes(good.read_bytes()[:200])
    assert "not a PyTorch file" in _error(path) or "truncated" in _error(path)


def test_missing_file(tmp_path):
    assert "no such file" in _error(tmp_path / "nothing.pt")


def test_not_a_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    assert "holds a list, not a dictionary of tensors" in _error(path)


def test_linear_without_leaky(tmp_path):
    path = tmp_path / "mlp.pt"
    torch.save(nn.Sequential(nn.Linear(3, 2)).state_dict(), path)
    assert "the last nn.Linear has no snnTorch neuron layer after it" in _error(path)


def test_two_linears_in_a_row(tmp_path):
    path = tmp_path / "mlp.pt"
    torch.save(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)).state_dict(), path)
    assert "second nn.Linear" in _error(path)


def test_leaky_first(tmp_path):
    path = tmp_path / "leaky.pt"
    torch.save(nn.Sequential(snntorch.Leaky(beta=0.5), nn.Linear(3, 2)).state_dict(), path)
    assert "without an nn.Linear before it" in _error(path)


def test_per_neuron_beta_that_differs(tmp_path):
    model = sequential()
    model[1].beta = torch.linspace(0.5, 0.9, 5)
    path = tmp_path / "beta.pt"
    torch.save(model.state_dict(), path)
    net = spikegen.load(path)
    np.testing.assert_allclose(net.layers[0].neuron.beta, np.linspace(0.5, 0.9, 5), rtol=1e-6)
    assert net.layers[1].neuron.beta == pytest.approx(0.9)


def test_graded_spikes(tmp_path):
    state = sequential().state_dict()
    state["1.graded_spikes_factor"] = torch.tensor(2.0)
    path = tmp_path / "graded.pt"
    torch.save(state, path)
    assert "graded_spikes_factor" in _error(path)


def test_unknown_checkpoint_version(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"format": "spikegen", "version": 99, "layers": []}, path)
    assert "version 99 is not supported" in _error(path)


def test_cli_reports_one_line_without_traceback(tmp_path, capsys):
    from spikegen.cli import main

    path = tmp_path / "module.pt"
    torch.save(nn.Linear(2, 2), path)
    assert main(["build", str(path), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("spikegen: error: ")]
    assert len(errors) == 1 and err.endswith(errors[0] + "\n")
    assert "pickled Python objects" in errors[0]
    assert "Traceback" not in err


def test_a_missing_file_is_named_before_any_option_conflict(tmp_path):
    for options in ({}, {"reset": "subtract"}, {"dt": 1.0}, {"readout": "votes"}):
        with pytest.raises(SpikegenError, match=r"nosuch.nir: no such file$"):
            spikegen.load(tmp_path / "nosuch.nir", **options)
