"""Convolutional NIR graphs (Conv2d, SumPool2d, AvgPool2d, Flatten), written with the ``nir``
package the way an snnTorch-convention exporter would, read back and compared with the same
network built in torch and snnTorch: spike for spike in float, on dyadic weights (exact in
float32, so no rounding can flip a spike)."""
import numpy as np
import pytest
import snntorch as snn
import torch
from torch import nn

import nir
import spikegen
from spikegen.errors import SpikegenError
from spikegen.floatmodel import run_float
from spikegen.nir_frontend import DEFAULT_DT, load_nir
from spikegen.snntorch_model import network_from_module
from spikegen.torch_modules import SumPool2d


def dyadic(rng, *shape, scale=8):
    return rng.integers(-scale, scale + 1, shape) / 16.0


def lif_node(shape, beta, threshold=1.0):
    """snnTorch's export convention: dt 1e-4, tau = dt / (1 - beta), r = tau / dt."""
    tau = DEFAULT_DT / (1.0 - beta)
    full = lambda v: np.full(shape, v, dtype=np.float64)        # noqa: E731
    return nir.LIF(tau=full(tau), r=full(tau / DEFAULT_DT), v_leak=full(0.0),
                   v_threshold=full(threshold), v_reset=full(0.0))


def li_node(shape, beta):
    tau = DEFAULT_DT / (1.0 - beta)
    full = lambda v: np.full(shape, v, dtype=np.float64)        # noqa: E731
    return nir.LI(tau=full(tau), r=full(tau / DEFAULT_DT), v_leak=full(0.0))


def chain(path, nodes, input_type, type_check=True):
    """Write a chain of named nodes between Input and Output (``nir`` checks the types it
    can infer unless told not to)."""
    named = {"input": nir.Input(input_type=np.array(input_type))}
    named.update(nodes)
    last = list(nodes.values())[-1].output_type.get("output")
    named["output"] = nir.Output(output_type=np.array([1] if last is None else last))
    names = list(named)
    nir.write(path, nir.NIRGraph(nodes=named, edges=list(zip(names, names[1:])),
                                 type_check=type_check))
    return path


def conv_module(weight, bias, **options):
    conv = nn.Conv2d(weight.shape[1] * options.get("groups", 1), weight.shape[0],
                     weight.shape[2:], bias=bias is not None, **options)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(weight))
        if bias is not None:
            conv.bias.copy_(torch.tensor(bias))
    return conv


def linear_module(weight, bias):
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight))
        if bias is not None:
            linear.bias.copy_(torch.tensor(bias))
    return linear


def case_spike_pooling(rng):
    """Conv(pad 1) -> LIF -> SumPool2d (spikes) -> Conv(stride 2) -> LIF -> Flatten(0) ->
    Affine -> LIF, on a 2x8x8 map."""
    w1, b1 = dyadic(rng, 4, 2, 3, 3), dyadic(rng, 4)
    w2, b2 = dyadic(rng, 3, 4, 2, 2), dyadic(rng, 3)
    w3, b3 = dyadic(rng, 5, 3 * 2 * 2, scale=12), dyadic(rng, 5)
    nodes = {
        "conv1": nir.Conv2d(input_shape=(8, 8), weight=w1, stride=1, padding=1, dilation=1,
                            groups=1, bias=b1),
        "lif1": lif_node((4, 8, 8), 0.75),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "conv2": nir.Conv2d(input_shape=(4, 4), weight=w2, stride=2, padding=0, dilation=1,
                            groups=1, bias=b2),
        "lif2": lif_node((3, 2, 2), 0.5),
        "flat": nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=0),
        "fc": nir.Affine(weight=w3, bias=b3),
        "lif3": lif_node((5,), 0.875),
    }
    model = nn.Sequential(conv_module(w1, b1, padding=1), snn.Leaky(0.75, init_hidden=True),
                          SumPool2d(2), conv_module(w2, b2, stride=2),
                          snn.Leaky(0.5, init_hidden=True), nn.Flatten(),
                          linear_module(w3, b3), snn.Leaky(0.875, init_hidden=True))
    return nodes, model, (2, 8, 8), True, {}


def case_current_pooling(rng):
    """Conv('same', dilation 2) -> AvgPool2d (currents) -> LIF -> Flatten(1) -> Linear ->
    LIF, input recorded with a batch dimension of 1."""
    w1, b1 = dyadic(rng, 3, 2, 3, 3), dyadic(rng, 3)
    w2 = dyadic(rng, 4, 3 * 3 * 3, scale=12)
    nodes = {
        "conv": nir.Conv2d(input_shape=(6, 6), weight=w1, stride=1, padding="same",
                           dilation=2, groups=1, bias=b1),
        "avg": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                             padding=np.array([0, 0])),
        "lif1": lif_node((3, 3, 3), 0.5, threshold=0.5),
        "flat": nir.Flatten(input_type={"input": np.array([1, 3, 3, 3])}, start_dim=1),
        "fc": nir.Linear(weight=w2),
        "lif2": lif_node((4,), 0.75),
    }
    model = nn.Sequential(conv_module(w1, b1, padding="same", dilation=2), nn.AvgPool2d(2),
                          snn.Leaky(0.5, threshold=0.5, init_hidden=True), nn.Flatten(),
                          linear_module(w2, None), snn.Leaky(0.75, init_hidden=True))
    # nir's own type check knows no batch dimension; files with one exist all the same
    return nodes, model, (1, 2, 6, 6), False, {}


def case_grouped(rng):
    """Conv(groups 2, stride 2, padding (1, 0), no bias) -> SumPool2d (currents) -> LIF ->
    Flatten -> Affine -> LIF, 4 channels in."""
    w1 = dyadic(rng, 4, 2, 3, 2)
    w2, b2 = dyadic(rng, 3, 4 * 2 * 2, scale=12), dyadic(rng, 3)
    nodes = {
        "conv": nir.Conv2d(input_shape=(9, 9), weight=w1, stride=2, padding=(1, 0),
                           dilation=1, groups=2, bias=np.zeros(4)),
        "sum": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                             padding=np.array([0, 0])),
        "lif1": lif_node((4, 2, 2), 0.75, threshold=2.0),
        "flat": nir.Flatten(input_type={"input": np.array([4, 2, 2])}),
        "fc": nir.Affine(weight=w2, bias=b2),
        "lif2": lif_node((3,), 0.5),
    }
    model = nn.Sequential(conv_module(w1, None, stride=2, padding=(1, 0), groups=2),
                          SumPool2d(2), snn.Leaky(0.75, threshold=2.0, init_hidden=True),
                          nn.Flatten(), linear_module(w2, b2), snn.Leaky(0.5, init_hidden=True))
    # nir 1.0.8 types a grouped Conv2d's input as weight.shape[1] channels: unchecked
    return nodes, model, (4, 9, 9), False, {}


def case_synaptic(rng):
    """Conv -> CubaLIF (snnTorch's Synaptic export convention) -> Flatten -> Affine -> LIF."""
    w1, b1 = dyadic(rng, 3, 2, 3, 3), dyadic(rng, 3)
    w2 = dyadic(rng, 4, 3 * 4 * 4, scale=12)
    dt, shape = DEFAULT_DT, (3, 4, 4)
    tau_syn, tau_mem = dt / (1 - 0.5), dt / (1 - 0.75)
    full = lambda v: np.full(shape, v, dtype=np.float64)        # noqa: E731
    nodes = {
        "conv": nir.Conv2d(input_shape=(6, 6), weight=w1, stride=1, padding=0, dilation=1,
                           groups=1, bias=b1),
        "cuba": nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / dt),
                            v_leak=full(0.0), v_threshold=full(1.0), v_reset=full(0.0),
                            w_in=full(tau_syn / dt)),
        "flat": nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0),
        "fc": nir.Affine(weight=w2, bias=np.zeros(4)),
        "lif": lif_node((4,), 0.5),
    }
    model = nn.Sequential(conv_module(w1, b1), snn.Synaptic(alpha=0.5, beta=0.75,
                                                           init_hidden=True),
                          nn.Flatten(), linear_module(w2, np.zeros(4)),
                          snn.Leaky(0.5, init_hidden=True))
    return nodes, model, (2, 6, 6), True, {}


def case_integrate_and_fire(rng):
    """Sinabs' pattern: Conv -> IF -> SumPool2d (spikes) -> Flatten(1) -> Linear -> IF, read
    with reset subtract (IF nodes are no snnTorch pattern, so it is given)."""
    w1 = dyadic(rng, 2, 1, 3, 3)
    w2 = dyadic(rng, 3, 2 * 2 * 2, scale=12)
    ones = lambda *shape: np.ones(shape)                        # noqa: E731
    nodes = {
        "conv": nir.Conv2d(input_shape=(6, 6), weight=w1, stride=1, padding=0, dilation=1,
                           groups=1, bias=np.zeros(2)),
        "if1": nir.IF(r=ones(2, 4, 4), v_threshold=ones(2, 4, 4), v_reset=0 * ones(2, 4, 4)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([1, 2, 2, 2])}, start_dim=1),
        "fc": nir.Linear(weight=w2),
        "if2": nir.IF(r=ones(3), v_threshold=ones(3), v_reset=0 * ones(3)),
    }
    model = nn.Sequential(conv_module(w1, None), snn.Leaky(1.0, init_hidden=True),
                          SumPool2d(2), nn.Flatten(), linear_module(w2, None),
                          snn.Leaky(1.0, init_hidden=True))
    return nodes, model, (1, 6, 6), False, {"reset": "subtract"}


def case_max_pooling(rng):
    """snnTorch's tutorial shape, 4C3-MP2-3C3-MP2-5: max pooling of spikes, written as NIR
    has no max pooling node: SumPool2d (or AvgPool2d) then Threshold below one spike."""
    w1, b1 = dyadic(rng, 4, 2, 3, 3), dyadic(rng, 4)
    w2, b2 = dyadic(rng, 3, 4, 3, 3), dyadic(rng, 3)
    w3, b3 = dyadic(rng, 5, 3 * 2 * 2, scale=12), dyadic(rng, 5)
    window = dict(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                  padding=np.array([0, 0]))
    nodes = {
        "conv1": nir.Conv2d(input_shape=(12, 12), weight=w1, stride=1, padding=1, dilation=1,
                            groups=1, bias=b1),
        "lif1": lif_node((4, 12, 12), 0.75),
        "sum": nir.SumPool2d(**window),
        "or1": nir.Threshold(threshold=np.full((4, 6, 6), 0.5)),
        "conv2": nir.Conv2d(input_shape=(6, 6), weight=w2, stride=1, padding=0, dilation=1,
                            groups=1, bias=b2),
        "lif2": lif_node((3, 4, 4), 0.5),
        "avg": nir.AvgPool2d(**window),
        "or2": nir.Threshold(threshold=np.full((3, 2, 2), 0.2)),
        "flat": nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=0),
        "fc": nir.Affine(weight=w3, bias=b3),
        "lif3": lif_node((5,), 0.875),
    }
    model = nn.Sequential(conv_module(w1, b1, padding=1), snn.Leaky(0.75, init_hidden=True),
                          nn.MaxPool2d(2), conv_module(w2, b2),
                          snn.Leaky(0.5, init_hidden=True), nn.MaxPool2d(2), nn.Flatten(),
                          linear_module(w3, b3), snn.Leaky(0.875, init_hidden=True))
    return nodes, model, (2, 12, 12), True, {}


def torch_spikes(model, maps):
    """The model's output spikes over time on (batch, steps, C, H, W) spikes."""
    for module in model.modules():
        if isinstance(module, snn.SpikingNeuron):
            module.reset_mem()
    with torch.no_grad():
        return np.stack([model(torch.tensor(maps[:, t], dtype=torch.float32)).numpy() > 0
                         for t in range(maps.shape[1])], axis=1)


@pytest.mark.parametrize("case", [case_spike_pooling, case_current_pooling, case_grouped,
                                  case_synaptic, case_integrate_and_fire, case_max_pooling])
def test_conv_graph_equals_the_torch_model(tmp_path, case):
    rng = np.random.default_rng(7)
    nodes, model, input_type, type_check, options = case(rng)
    net = load_nir(chain(tmp_path / "conv.nir", nodes, input_type, type_check=type_check),
                   **options)
    chw = input_type[-3:]
    assert net.source == "NIR graph" + ("" if options else " (snnTorch export)")
    ref = network_from_module(model, input_shape=chw)
    assert [layer.kind for layer in net.layers] == [layer.kind for layer in ref.layers]
    for ours, theirs in zip(net.layers, ref.layers):
        if ours.kind == "conv2d":
            assert ours.geometry == theirs.geometry
        np.testing.assert_allclose(ours.weight, theirs.weight)
    maps = (rng.random((6, 5, *chw)) < 0.4).astype(np.uint8)
    flat = maps.transpose(0, 1, 3, 4, 2).reshape(6, 5, -1)          # channels last
    want = torch_spikes(model, maps)
    assert want.any()
    np.testing.assert_array_equal(run_float(net, flat), want)


def test_li_readout_and_input_shape_from_the_first_conv(tmp_path):
    """A flat Input node: the first Conv2d's input_shape gives the map; an LI last layer is
    a membrane readout."""
    rng = np.random.default_rng(3)
    w1, w2 = dyadic(rng, 2, 1, 3, 3), dyadic(rng, 3, 2 * 4 * 4)
    nodes = {
        "conv": nir.Conv2d(input_shape=(6, 6), weight=w1, stride=1, padding="valid",
                           dilation=1, groups=1, bias=np.zeros(2)),
        "lif": lif_node((2, 4, 4), 0.5),
        "flat": nir.Flatten(input_type={"input": np.array([2, 4, 4])}),
        "fc": nir.Affine(weight=w2, bias=np.zeros(3)),
        "li": li_node((3,), 0.75),
    }
    net = load_nir(chain(tmp_path / "li.nir", nodes, [36], type_check=False))
    assert net.readout == "membrane" and net.layers[0].input_shape == (6, 6, 1)
    model = nn.Sequential(conv_module(w1, None), snn.Leaky(0.5, init_hidden=True),
                          nn.Flatten(), linear_module(w2, None),
                          snn.Leaky(0.75, threshold=0.0, reset_mechanism="none",
                                    init_hidden=True))
    maps = (rng.random((4, 6, 1, 6, 6)) < 0.5).astype(np.uint8)
    torch_spikes(model, maps)
    _, membrane = run_float(net, maps.reshape(4, 6, -1), membrane=True)
    np.testing.assert_allclose(membrane, model[-1].mem.numpy(), atol=1e-6)


def test_flatten_of_a_multichannel_input_is_channels_last(tmp_path):
    """A dense graph on a (C, H, W) input: its weights are permuted, so spikegen's flat
    channels-last spikes give what the graph computes on (C, H, W)."""
    rng = np.random.default_rng(4)
    w = dyadic(rng, 3, 2 * 3 * 3, scale=12)
    nodes = {"flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0),
             "fc": nir.Affine(weight=w, bias=np.zeros(3)), "lif": lif_node((3,), 0.5)}
    net = load_nir(chain(tmp_path / "dense.nir", nodes, [2, 3, 3]))
    grid = w.reshape(3, 2, 3, 3)
    np.testing.assert_array_equal(net.layers[0].weight,
                                  grid.transpose(0, 2, 3, 1).reshape(3, -1))


def test_the_input_shape_option(tmp_path):
    """A file whose Conv2d has no input_shape (nir 1.0.8 cannot write one, older writers
    did; made here by deleting it from the HDF5 file) and whose Input node is flat."""
    import h5py

    rng = np.random.default_rng(5)
    nodes = {"conv": nir.Conv2d(input_shape=(5, 5), weight=dyadic(rng, 2, 2, 3, 3), stride=1,
                                padding=0, dilation=1, groups=1, bias=np.zeros(2)),
             "lif": lif_node((2, 3, 3), 0.5)}
    path = chain(tmp_path / "bare.nir", nodes, [50], type_check=False)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/conv/input_shape"]
    with pytest.raises(SpikegenError, match=r"bare.nir: the graph records no input map shape "
                                            r"\(C, H, W\): its Input node has shape \(50,\), "
                                            r"and no Conv2d input_shape follows it; write the "
                                            r"Input node as nir.Input\(input_type=np.array"
                                            r"\(\[C, H, W\]\)\), or read it with spikegen."
                                            r"nir_frontend.load_nir\(path, input_shape="
                                            r"\(C, H, W\)\)$"):
        load_nir(path)
    net = load_nir(path, input_shape=(2, 5, 5))
    assert net.layers[0].input_shape == (5, 5, 2) and net.outputs == 18
    shaped = chain(tmp_path / "shaped.nir", nodes, [2, 5, 5])
    with pytest.raises(SpikegenError, match=r"the Input node's shape is \(2, 5, 5\) but "
                                            r"input_shape is \(2, 6, 6\)"):
        load_nir(shaped, input_shape=(2, 6, 6))


def conv(rng, **options):
    fields = dict(input_shape=(6, 6), weight=dyadic(rng, 2, 1, 3, 3), stride=1, padding=0,
                  dilation=1, groups=1, bias=np.zeros(2))
    fields.update(options)
    return nir.Conv2d(**fields)


@pytest.mark.parametrize("build, message", [
    (lambda rng: {"conv": conv(rng, stride=2, padding="same"), "lif": lif_node((2, 3, 3), .5)},
     r"node 'conv': padding 'same' with stride \(2, 2\); PyTorch defines 'same' for stride 1 "
     r"only: give the padding as numbers"),
    (lambda rng: {"conv": conv(rng), "lif": nir.LIF(
        tau=np.full((2, 4, 4), 2e-4), r=np.full((2, 4, 4), 2.0), v_leak=np.zeros((2, 4, 4)),
        v_threshold=np.arange(32.0).reshape(2, 4, 4) + 1, v_reset=np.zeros((2, 4, 4)))},
     r"A convolution layer's neurons share their parameters"),
    (lambda rng: {"conv": conv(rng), "lif": nir.LIF(
        tau=np.full((2, 4, 4), 2e-4), r=np.arange(32.0).reshape(2, 4, 4) + 1,
        v_leak=np.zeros((2, 4, 4)), v_threshold=np.ones((2, 4, 4)),
        v_reset=np.zeros((2, 4, 4)))},
     r"node 'lif': the input gain \(r, tau\) differs across the map; the neurons of a "
     r"convolution share theirs \(one value per channel\)"),
    (lambda rng: {"conv": conv(rng), "lif": lif_node((2, 4, 4), .5),
                  "scale": nir.Scale(scale=np.ones(32))},
     r"node 'scale' is a Scale, which spikegen does not read in a convolutional graph "
     r"\(supported: Input, Output, Conv2d"),
    (lambda rng: {"flat": nir.Flatten(input_type={"input": np.array([1, 6, 6])}),
                  "conv": conv(rng), "lif": lif_node((2, 4, 4), .5)},
     r"node 'conv' \(Conv2d\) follows a flat vector of 36, not a \(C, H, W\) map"),
    (lambda rng: {"conv": conv(rng), "lif": lif_node((2, 4, 4), .5),
                  "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]),
                                        padding=np.array([0, 0])),
                  "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}),
                  "fc": nir.Affine(weight=np.ones((2, 18)), bias=np.zeros(2)),
                  "lif2": lif_node((2,), .5)},
     r"pool: pooling windows must tile the map \(stride equal to the kernel, no padding\)"),
    (lambda rng: {"conv": conv(rng, padding=np.array([1, -1])), "lif": lif_node((2, 6, 4), .5)},
     r"node 'conv': padding must be 2 integers of at least 0, not \[1, -1\]"),
    (lambda rng: {"conv": conv(rng), "lif": lif_node((2, 4, 4), .5),
                  "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                        padding=np.array([0, 0])),
                  "conv2": conv(rng, input_shape=(2, 2), weight=dyadic(rng, 2, 2, 1, 1))},
     r"the last Conv node has no neuron node after it"),
    (lambda rng: {"lif": lif_node((1, 6, 6), .5), "conv": conv(rng)},
     r"node 'lif' \(LIF\) has no Conv2d, Affine or Linear node before it"),
    (lambda rng: {"conv": conv(rng), "lif": lif_node((2, 4, 4), .5),
                  "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                        padding=np.array([0, 0])),
                  "or": nir.Threshold(threshold=np.ones((2, 2, 2)))},
     r"node 'or': threshold \[1.0\] after a sum pooling of spikes is no max pooling \(one "
     r"threshold from 0 to below 1 is\)"),
    (lambda rng: {"conv": conv(rng), "or": nir.Threshold(threshold=np.zeros((2, 4, 4)))},
     r"node 'or': a Threshold in a convolutional graph reads only as a max pooling of "
     r"spikes, right after a SumPool2d or AvgPool2d of a neuron layer's spikes"),
])
def test_conv_graph_errors(tmp_path, build, message):
    path = chain(tmp_path / "bad.nir", build(np.random.default_rng(0)), [1, 6, 6],
                 type_check=False)
    with pytest.raises(SpikegenError, match=message):
        load_nir(path)


def test_a_recurrent_convolution_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    nodes = {"input": nir.Input(input_type=np.array([1, 6, 6])), "conv": conv(rng),
             "lif": lif_node((2, 4, 4), .5), "rec": nir.Linear(weight=np.eye(32)),
             "output": nir.Output(output_type=np.array([2, 4, 4]))}
    edges = [("input", "conv"), ("conv", "lif"), ("lif", "rec"), ("rec", "lif"),
             ("lif", "output")]
    nir.write(tmp_path / "rec.nir", nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    with pytest.raises(SpikegenError, match=r"node 'lif': recurrent convolution layers are "
                                            r"not supported"):
        load_nir(tmp_path / "rec.nir")


def test_spikegen_load_reads_a_conv_graph(tmp_path):
    nodes, _, input_type, _, _ = case_spike_pooling(np.random.default_rng(1))
    net = spikegen.load(chain(tmp_path / "conv.nir", nodes, input_type))
    assert [layer.kind for layer in net.layers] == ["conv2d", "conv2d", "dense"]
    assert net.layers[1].geometry.pool == 2 and net.inputs == 2 * 8 * 8


# -- spikegen.save_nir of convolutional networks ----------------------------------------------


@pytest.mark.parametrize("case", [case_spike_pooling, case_current_pooling, case_grouped,
                                  case_synaptic, case_integrate_and_fire, case_max_pooling])
def test_save_nir_writes_conv_networks_that_read_back(tmp_path, case):
    """snnTorch 1.0's exporter fails on conv networks; save_nir's graph passes nir's own type
    check, reads back as the same layers and computes what the torch model computes."""
    rng = np.random.default_rng(11)
    _, model, input_type, _, _ = case(rng)
    chw = input_type[-3:]
    spikegen.save_nir(model, tmp_path / "out.nir", input_shape=chw)
    back = load_nir(tmp_path / "out.nir")
    ref = network_from_module(model, input_shape=chw)
    assert back.notes[0].startswith("NIR graph written by snnTorch (named in its metadata)")
    for ours, theirs in zip(back.layers, ref.layers, strict=True):
        assert ours.kind == theirs.kind
        if ours.kind == "conv2d":
            assert ours.geometry == theirs.geometry
        np.testing.assert_allclose(ours.weight, theirs.weight, rtol=1e-6)
        assert ours.neuron == theirs.neuron
    maps = (rng.random((4, 5, *chw)) < 0.4).astype(np.uint8)
    flat = maps.transpose(0, 1, 3, 4, 2).reshape(4, 5, -1)
    np.testing.assert_array_equal(run_float(back, flat), torch_spikes(model, maps))


def conv_layer(in_hw, out_hw, padding, channels=1):
    from rtl_lib.conv_geometry import ConvGeometry
    from spikegen.ir import LIF, ConvLayer

    geometry = ConvGeometry(in_hw=in_hw, in_channels=channels, out_channels=2, kernel=(3, 3),
                            out_hw=out_hw, padding=padding)
    return ConvLayer(np.ones((2, channels, 3, 3)), None, LIF(beta=0.5, threshold=1.0),
                     geometry)


@pytest.mark.parametrize("layers, message", [
    (lambda: (conv_layer((5, 5), (4, 4), 1),),
     r"layer 0: padding \(1, 1\) \(top, left\) with a 4x4 output pads the bottom or right "
     r"differently; NIR's Conv2d pads both sides alike"),
    (lambda: (spikegen.ir.DenseLayer(np.ones((18, 4)), None,
                                     spikegen.ir.LIF(beta=0.5, threshold=1.0)),
              conv_layer((3, 3), (1, 1), 0, channels=2)),
     r"layer 1: a convolution after a dense layer has no NIR form \(NIR has no node that "
     r"reshapes a vector into a map\)"),
])
def test_save_nir_conv_errors(tmp_path, layers, message):
    from spikegen.ir import Network

    with pytest.raises(SpikegenError, match=message):
        spikegen.save_nir(Network(layers()), tmp_path / "x.nir")


def edit_hdf5(path, node, field, value):
    """Rewrite a field of a written graph, for files nir itself refuses to write."""
    import h5py

    with h5py.File(path, "r+") as f:
        del f[f"node/nodes/{node}/{field}"]
        f[f"node/nodes/{node}/{field}"] = value


@pytest.mark.parametrize("field, value, message", [
    ("weight", np.ones((2, 1, 3)), r"node 'conv': Conv2d weight of shape \(2, 1, 3\), expected "
                                   r"\(C_out, C_in / groups, kH, kW\)"),
    ("padding", "full", r"node 'conv': padding 'full' is not 'same', 'valid' or numbers"),
    ("bias", np.zeros(3), r"node 'conv': bias of 3 values for 2 output channels"),
])
def test_damaged_conv_nodes(tmp_path, field, value, message):
    rng = np.random.default_rng(0)
    path = chain(tmp_path / "d.nir", {"conv": conv(rng), "lif": lif_node((2, 4, 4), .5)},
                 [1, 6, 6])
    edit_hdf5(path, "conv", field, value)
    with pytest.raises(SpikegenError, match=message):
        load_nir(path)


def test_shape_errors(tmp_path):
    rng = np.random.default_rng(0)
    flat = chain(tmp_path / "flat.nir", {"conv": conv(rng), "lif": lif_node((2, 4, 4), .5)},
                 [40], type_check=False)
    with pytest.raises(SpikegenError, match=r"the Input node's shape \(40,\) does not hold the "
                                            r"\(1, 6, 6\) map \(C, H, W\) the first Conv2d "
                                            r"'conv' takes"):
        load_nir(flat)
    pooled = chain(tmp_path / "pool.nir", {
        "conv": conv(rng), "lif": lif_node((2, 4, 4), .5),
        "flat": nir.Flatten(input_type={"input": np.array([2, 4, 4])}, start_dim=0),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0]))}, [1, 6, 6], type_check=False)
    with pytest.raises(SpikegenError, match=r"node 'pool' \(SumPool2d\) follows a flat vector "
                                            r"of 32, not a \(C, H, W\) map"):
        load_nir(pooled)
    dense = chain(tmp_path / "dense.nir", {
        "conv": conv(rng), "lif": lif_node((2, 4, 4), .5),
        "fc": nir.Affine(weight=np.ones((3, 32)), bias=np.zeros(3)),
        "lif2": lif_node((3,), .5)}, [1, 6, 6], type_check=False)
    edit_hdf5(dense, "fc", "weight", np.ones((3, 32, 1)))
    with pytest.raises(SpikegenError, match=r"node 'fc': weight of shape \(3, 32, 1\); "
                                            r"expected \(outputs, inputs\)"):
        load_nir(dense)
