"""ONNX graphs of ReLU networks read as data: the operators spikegen maps, hostile files, and
the PyTorch and ONNX paths of one model giving the same network and the same HDL."""
import contextlib
import io
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from torch import nn

import spikegen
from spikegen.ann import ann_from_module, forward
from spikegen.cli import main
from spikegen.convert import balance, to_network
from spikegen.errors import SpikegenError
from spikegen.ir import InputCoding, to_json
from spikegen.onnx_frontend import load_onnx
from spikegen.quantize import quantize


RNG = np.random.default_rng(0)


def _init(name, shape, scale=0.5):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32),
                                   name)


def _const(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def _model(nodes, initializers, *, input_shape=(1, 2, 6, 6), output="y", opset=17,
           inputs=None, extra_opsets=()):
    graph = helper.make_graph(
        nodes, "g", inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             ["N", *input_shape[1:]])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", "K"])], initializers)
    opsets = [helper.make_opsetid("", opset), *extra_opsets]
    return helper.make_model(graph, opset_imports=opsets)


def _save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def _cnn():
    """Conv + BatchNormalization + Relu + MaxPool + Conv + AveragePool + Clip + Flatten +
    MatMul + Add + Relu + Gemm (transB) + Dropout + Identity."""
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv0", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c0", "g", "beta", "mean", "var"], ["n0"],
                         name="bn", epsilon=1e-3),
        helper.make_node("Relu", ["n0"], ["r0"], name="relu0"),
        helper.make_node("MaxPool", ["r0"], ["p0"], name="pool0", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p0", "w1"], ["c1"], name="conv1"),
        helper.make_node("AveragePool", ["c1"], ["p1"], name="pool1", kernel_shape=[1, 1]),
        helper.make_node("Clip", ["p1", "zero", "top"], ["r1"], name="clip1"),
        helper.make_node("Flatten", ["r1"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "w2"], ["m2"], name="mm2"),
        helper.make_node("Add", ["m2", "b2"], ["a2"], name="add2"),
        helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
        helper.make_node("Dropout", ["r2"], ["d2"], name="drop"),
        helper.make_node("Identity", ["d2"], ["i2"], name="id"),
        helper.make_node("Gemm", ["i2", "w3", "b3"], ["y"], name="gemm3", transB=1),
    ]
    inits = [_init("w0", (4, 2, 3, 3)), _init("b0", (4,), 0.1),
             _const("g", RNG.uniform(0.5, 1.5, 4)), _const("beta", RNG.uniform(-.2, .2, 4)),
             _const("mean", RNG.uniform(-.3, .3, 4)), _const("var", RNG.uniform(.5, 2, 4)),
             _init("w1", (3, 4, 2, 2)), _const("zero", 0.0), _const("top", 1.5),
             _init("w2", (3 * 2 * 2, 5)), _init("b2", (5,), 0.1), _init("w3", (3, 5)),
             _init("b3", (3,), 0.1)]
    return _model(nodes, inits)


def test_operators_match_onnx_reference_evaluator(tmp_path):
    model = _cnn()
    path = _save(tmp_path, model)
    ann = load_onnx(path)
    assert ann.input_shape == (2, 6, 6) and ann.source == "ONNX" and ann.name == "m"
    x = (RNG.random((10, 72)) < 0.5).astype(np.float32)
    [expected] = ReferenceEvaluator(model).run(None, {"x": x.reshape(10, 2, 6, 6)})
    np.testing.assert_allclose(forward(ann, x), expected, rtol=1e-4, atol=1e-5)
    thresholds, clipped = balance(ann, x)
    assert clipped == (False, True, False) and thresholds[1] == 1.5
    network = to_network(ann, thresholds, 8)
    assert [layer.kind for layer in network.layers] == ["conv2d", "conv2d", "dense", "dense"]
    assert network.source == "ONNX ReLU network, converted"


def test_reshape_flatten_and_qonnx_weight_quantizer(tmp_path):
    quant = helper.make_node("Quant", ["w", "s", "z", "bits"], ["wq"], name="q",
                             domain="qonnx.custom_op.general", signed=1, narrow=1,
                             rounding_mode="ROUND")
    nodes = [quant,
             helper.make_node("Reshape", ["x", "shape"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "wq"], ["h"], name="fc", transB=1),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2"], ["y"], name="out", transB=1)]
    weight = np.array([[0.26, -0.9, 0.05, 0.7], [1.2, 0.1, -0.33, 0.0]], dtype=np.float32)
    inits = [_const("w", weight), _const("s", 0.25), _const("z", 0.0), _const("bits", 3.0),
             _const("shape", [-1, 4], np.int64), _init("w2", (2, 2))]
    path = _save(tmp_path, _model(nodes, inits, input_shape=(1, 1, 2, 2),
                                  extra_opsets=[helper.make_opsetid(
                                      "qonnx.custom_op.general", 1)]))
    ann = load_onnx(path)
    # 3-bit narrow signed: codes -3..3 of 0.25
    expected = np.clip(np.round(weight.astype(np.float64) / 0.25), -3, 3) * 0.25
    np.testing.assert_array_equal(ann.ops[1].weight, expected)
    assert type(ann.ops[0]).__name__ == "Flatten"


def _two_layer(nodes_mid=(), inits_extra=(), **kwargs):
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], name="fc", transB=1), *nodes_mid]
    last = nodes[-1].output[0] if nodes_mid else "h"
    nodes.append(helper.make_node("Relu", [last], ["r"], name="relu"))
    nodes.append(helper.make_node("Gemm", ["r", "w2"], ["y"], name="out", transB=1))
    inits = [_init("w", (3, 4)), _init("w2", (2, 3)), *inits_extra]
    return _model(nodes, inits, **{"input_shape": (1, 4), **kwargs})


def _bad(tmp_path, model, message, check=False):
    path = _save(tmp_path, model)
    with pytest.raises(SpikegenError, match=message):
        load_onnx(path)
    return path


def test_unsupported_operator_is_named(tmp_path):
    model = _two_layer([helper.make_node("Sigmoid", ["h"], ["s"], name="squash")])
    _bad(tmp_path, model, r"node 'squash' \(Sigmoid\): operator not supported; spikegen "
                          r"converts Conv, Gemm")


def test_hostile_files(tmp_path):
    # external data
    model = _two_layer()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    _bad(tmp_path, model, "initializer 'w' refers to external data")
    # a missing initializer
    model = _two_layer()
    del model.graph.initializer[1]
    _bad(tmp_path, model, "not a valid ONNX model")
    # wrong shapes: a (2, 5) weight after 3 features
    model = _two_layer()
    model.graph.initializer[1].CopyFrom(_init("w2", (2, 5)))
    _bad(tmp_path, model, "not a valid ONNX model|takes 5 inputs")
    # huge dimensions
    _bad(tmp_path, _two_layer(input_shape=(1, 1 << 20)), r"input 'x' has shape")
    model = _two_layer()
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 14, 1 << 14])
    model.graph.initializer[0].CopyFrom(big)
    _bad(tmp_path, model, r"beyond spikegen's limits|not a valid ONNX model")
    # not ONNX at all, and empty
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage\xff\xff\xff")
    with pytest.raises(SpikegenError, match="not an ONNX model"):
        load_onnx(tmp_path / "junk.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(SpikegenError, match="the file is empty"):
        load_onnx(tmp_path / "empty.onnx")
    with pytest.raises(SpikegenError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")


def test_graph_shape_errors(tmp_path):
    _bad(tmp_path, _two_layer(opset=11), "ONNX opset 11 is not supported")
    # a residual connection: not a chain
    model = _two_layer([helper.make_node("Gemm", ["h", "w3"], ["h2"], name="fc2"),
                        helper.make_node("Add", ["h2", "h"], ["s"], name="skip")],
                       [_init("w3", (3, 3))])
    _bad(tmp_path, model, r"node 'skip' \(Add\): takes \['h2', 'h'\], not the output")
    # Clip that is not a ReLU
    model = _two_layer([helper.make_node("Clip", ["h", "lo", "hi"], ["c"], name="c")],
                       [_const("lo", -1.0), _const("hi", 1.0)])
    _bad(tmp_path, model, r"node 'c' \(Clip\): only Clip\(0, max\)")
    # Reshape that is not a flatten
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["f"], name="rs"),
             helper.make_node("Flatten", ["f"], ["g"], name="fl"),
             helper.make_node("Gemm", ["g", "w"], ["h"], name="fc", transB=1),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2"], ["y"], name="out", transB=1)]
    model = _model(nodes, [_const("shape", [-1, 2, 2], np.int64), _init("w", (3, 4)),
                           _init("w2", (2, 3))], input_shape=(1, 4))
    _bad(tmp_path, model, r"node 'rs' \(Reshape\): only a flatten")
    # two graph inputs
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 4]) for n in "xz"]
    _bad(tmp_path, _two_layer(inputs=inputs), "the graph must have one input, not 2")


def test_operator_attribute_errors(tmp_path):
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="cv", auto_pad="SAME_UPPER")
    nodes = [conv, helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="fl"),
             helper.make_node("Gemm", ["f", "w2"], ["y"], name="out", transB=1)]
    model = _model(nodes, [_init("w", (2, 2, 3, 3)), _init("w2", (2, 72))])
    _bad(tmp_path, model, r"node 'cv' \(Conv\): auto_pad SAME_UPPER is not supported")
    pool = helper.make_node("MaxPool", ["h4"], ["p"], name="mp", kernel_shape=[2, 2],
                            ceil_mode=1)
    nodes = [helper.make_node("Conv", ["x", "w"], ["h4"], name="cv"), pool,
             helper.make_node("Relu", ["p"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="fl"),
             helper.make_node("Gemm", ["f", "w2"], ["y"], name="out", transB=1)]
    model = _model(nodes, [_init("w", (2, 2, 3, 3)), _init("w2", (2, 18))])
    _bad(tmp_path, model, r"node 'mp' \(MaxPool\): ceil_mode=1 is not supported")
    quant = helper.make_node("Quant", ["h", "s", "z", "bits"], ["q"], name="act",
                             domain="qonnx.custom_op.general")
    model = _two_layer([quant], [_const("s", 0.1), _const("z", 0.0), _const("bits", 4.0)],
                       extra_opsets=[helper.make_opsetid("qonnx.custom_op.general", 1)])
    _bad(tmp_path, model, r"node 'act' \(Quant\): quantized activations must be unsigned, "
                          "with zero point 0, right after a Relu")
    quant = helper.make_node("Quant", ["w", "s", "z", "bits"], ["wq"], name="wq",
                             domain="qonnx.custom_op.general", rounding_mode="FLOOR")
    nodes = [quant, helper.make_node("Gemm", ["x", "wq"], ["h"], name="fc", transB=1),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2"], ["y"], name="out", transB=1)]
    model = _model(nodes, [_init("w", (3, 4)), _const("s", [0.1, 0.2]), _const("z", 0.0),
                           _const("bits", 4.0), _init("w2", (2, 3))], input_shape=(1, 4),
                   extra_opsets=[helper.make_opsetid("qonnx.custom_op.general", 1)])
    _bad(tmp_path, model, r"node 'wq' \(Quant\): only per-tensor quantizers")


def _export(model, shape, path):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(model, (torch.zeros(1, *shape),), path, dynamo=True,
                          external_data=False, opset_version=18)


def test_torch_export_gives_the_same_network_and_hdl(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(3, 4, 3), nn.AvgPool2d(1), nn.ReLU6(), nn.Flatten(),
                          nn.Linear(4, 5), nn.Hardtanh(0, 2.0), nn.Linear(5, 3)).eval()
    _export(model, (1, 6, 6), tmp_path / "m.onnx")
    spikegen.save(model, tmp_path / "m.pt", input_shape=(1, 6, 6))
    calib = (RNG.random((30, 36)) < 0.5).astype(np.float64)
    np.savez(tmp_path / "calib.npz", x=calib)
    qnets = []
    for ann in (ann_from_module(model, (1, 6, 6)), load_onnx(tmp_path / "m.onnx")):
        thresholds, _ = balance(ann, calib)
        qnets.append(quantize(to_network(ann, thresholds, 8, name="m"),
                              coding=InputCoding("events", steps=8)))
    assert to_json(qnets[0]) == to_json(qnets[1])
    verilog = []
    for source in ("m.pt", "m.onnx"):
        out = tmp_path / f"build-{source}"
        assert main(["build", str(tmp_path / source), "--calib", str(tmp_path / "calib.npz"),
                     "--steps", "8", "--out", str(out), "--board", "none",
                     "--hdl", "verilog"]) == 0
        verilog.append({p.name: p.read_bytes() for p in sorted(out.rglob("*.v"))})
        network = json.loads((out / "network.json").read_text())
        assert network["readout"] == "membrane"
    assert verilog[0] and verilog[0] == verilog[1]


def test_cli_convert_reads_onnx(tmp_path, capsys):
    model = _two_layer()
    path = _save(tmp_path, model)
    np.savez(tmp_path / "calib.npz", x=RNG.random((20, 4)), labels=np.arange(20) % 2)
    assert main(["convert", str(path), "--calib", str(tmp_path / "calib.npz"), "--steps", "4",
                 "--out", str(tmp_path / "net.pt"), "--eval", str(tmp_path / "calib.npz"),
                 "--sweep", "4"]) == 0
    assert "ANN %" in capsys.readouterr().out
    assert spikegen.load(tmp_path / "net.pt").source == "snnTorch"  # a plain checkpoint now
    with pytest.raises(SpikegenError, match="a ReLU network, not a spiking one"):
        spikegen.load(path)
    onnx.checker.check_model(model)


def _fc(op="Gemm", inputs=("x", "w"), **attrs):
    return helper.make_node(op, list(inputs), ["h"], name="fc", **attrs)


def _chain(first, inits, *, input_shape=(1, 4), extra=(), opsets=()):
    """``first`` (producing ``h``), then ReLU and a Gemm of 3 to 2."""
    nodes = [*extra, first, helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2"], ["y"], name="out", transB=1)]
    return _model(nodes, [*inits, _init("w2", (2, 3))], input_shape=input_shape,
                  extra_opsets=opsets)


QONNX = [helper.make_opsetid("qonnx.custom_op.general", 1)]
CONV_IN = (1, 1, 4, 4)


@pytest.mark.parametrize("build, message", [
    (lambda: _chain(_fc(transB=1, foo=1), [_init("w", (3, 4))]),
     r"not a valid ONNX model \(Unrecognized attribute: foo for operator Gemm\)"),
    (lambda: _chain(_fc("Gemm", ("x", "w", "b"), transB=1), [_init("w", (3, 4)),
                                                              _init("b", (2,))]),
     r"'fc' \(Gemm\): bias of shape \(2,\) for 3 outputs"),
    (lambda: _chain(_fc("Gemm", ("x", "x"), transB=1), []),
     r"'fc' \(Gemm\): takes \['x', 'x'\], not the output 'x'"),
    (lambda: _chain(_fc("MatMul", ("x", "w")), [_init("w", (2, 4, 3))]),
     r"not a valid ONNX model \(\[ShapeInferenceError\]"),
    (lambda: _chain(helper.make_node("Add", ["x0", "b"], ["h"], name="add"), [
        _init("b", (3,)), _init("w0", (3, 4)), _init("b0", (3,))],
        extra=[helper.make_node("Gemm", ["x", "w0", "b0"], ["x0"], name="fc0", transB=1)]),
     r"'add' \(Add\): only the bias of a MatMul, Gemm or Conv without one"),
    (lambda: _chain(helper.make_node("Add", ["x0", "b"], ["h"], name="add"), [
        _init("b", (1, 3)), _init("w0", (4, 3))],
        extra=[helper.make_node("MatMul", ["x", "w0"], ["x0"], name="mm")]),
     None),
    (lambda: _chain(helper.make_node("Clip", ["x0", "lo", "hi"], ["h"], name="clip"), [
        _const("lo", 0.0), _const("hi", -2.0), _init("w0", (4, 3))],
        extra=[helper.make_node("MatMul", ["x", "w0"], ["x0"], name="mm")]),
     r"'clip' \(Clip\): the clip maximum must be one positive value"),
    (lambda: _chain(helper.make_node("Clip", ["x0", "lo", "hi"], ["h"], name="clip"), [
        _const("lo", 0.0), _init("w0", (4, 3))],
        extra=[helper.make_node("Constant", [], ["hi"], name="k", value_float=1.0),
               helper.make_node("MatMul", ["x", "w0"], ["x0"], name="mm")]),
     r"'k' \(Constant\): only tensor constants \(attribute 'value'\)"),
    (lambda: _model([helper.make_node("Flatten", ["x"], ["f"], name="fl", axis=2),
                     _fc(inputs=("f", "w"), transB=1),
                     helper.make_node("Relu", ["h"], ["r"], name="relu"),
                     helper.make_node("Gemm", ["r", "w2"], ["y"], name="out", transB=1)],
                    [_init("w", (3, 16)), _init("w2", (2, 3))], input_shape=CONV_IN),
     r"'fl' \(Flatten\): only axis 1 is supported, not 2"),
    (lambda: _model([helper.make_node("AveragePool", ["x"], ["p"], name="ap",
                                      kernel_shape=[2, 2], strides=[2, 2],
                                      pads=[1, 1, 0, 0]),
                     helper.make_node("Flatten", ["p"], ["f"], name="fl"),
                     _fc(inputs=("f", "w"), transB=1),
                     helper.make_node("Relu", ["h"], ["r"], name="relu"),
                     helper.make_node("Gemm", ["r", "w2"], ["y"], name="out", transB=1)],
                    [_init("w", (3, 4)), _init("w2", (2, 3))], input_shape=CONV_IN),
     r"'ap' \(AveragePool\): asymmetric pads \(1, 1, 0, 0\)"),
    (lambda: _model([helper.make_node("Conv", ["x", "w"], ["h"], name="cv", group=0)],
                    [_init("w", (2, 1, 3, 3))], input_shape=CONV_IN, output="h"),
     r"not a valid ONNX model|'cv' \(Conv\): group must be a positive integer"),
    (lambda: _model([helper.make_node("Conv", ["x", "w"], ["h"], name="cv",
                                      kernel_shape=[2, 2])],
                    [_init("w", (2, 1, 3, 3))], input_shape=CONV_IN, output="h"),
     r"not a valid ONNX model|'cv' \(Conv\): kernel_shape \[2, 2\] does not match"),
    (lambda: _model([helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["h"],
                                      name="bn", training_mode=1)],
                    [_const(n, np.ones(1)) for n in "gbmv"], input_shape=CONV_IN,
                    output="h"),
     r"not a valid ONNX model|'bn' \(BatchNormalization\): training_mode=1"),
    (lambda: _model([helper.make_node("Quant", ["w", "s", "z", "b"], ["wq"], name="q",
                                      domain="qonnx.custom_op.general"),
                     _fc(inputs=("x", "wq"), transB=1),
                     helper.make_node("Relu", ["h"], ["y"], name="relu")],
                    [_init("w", (3, 4)), _const("s", 0.1), _const("z", 0.0),
                     _const("b", 40.0)], input_shape=(1, 4), extra_opsets=QONNX),
     r"'q' \(Quant\): scale 0.1 and bit width 40.0 out of range"),
    (lambda: _model([_fc(transB=1), helper.make_node("Relu", ["h"], ["r"], name="relu"),
                     helper.make_node("Relu", ["x"], ["y"], name="other")],
                    [_init("w", (3, 4))], input_shape=(1, 4)),
     r"'other' \(Relu\): takes \['x'\], not the output 'r'"),
])
def test_node_errors(tmp_path, build, message):
    path = _save(tmp_path, build())
    if message is None:                        # MatMul + Add of a (1, 3) bias: accepted
        ann = load_onnx(path)
        assert ann.ops[0].bias.shape == (3,)
        return
    with pytest.raises(SpikegenError, match=message):
        load_onnx(path)


def test_graph_output_and_checkpoint_shape_errors(tmp_path):
    model = _two_layer()
    model.graph.output[0].name = "r"
    _bad(tmp_path, model, r"the graph's outputs \['r'\] are not the output of its last node")
    ann = load_onnx(_save(tmp_path, _two_layer()))
    with pytest.raises(SpikegenError, match=r"inputs must have shape \(samples, 4\)"):
        forward(ann, np.zeros((2, 5)))


def test_brevitas_qonnx_export(tmp_path):
    """A QONNX file Brevitas 0.13.4 wrote (``export_qonnx`` of QuantConv2d and QuantLinear
    layers with 4-bit weights, 3-bit QuantReLUs, an average pooling; fixture made in a
    separate environment, Brevitas is no dependency): its weight Quant nodes become 4-bit
    weights, its activation Quant nodes 7-level clipped ReLUs, and the network computes what
    Brevitas computed; the ReLU checkpoint keeps the levels."""
    from pathlib import Path

    from spikegen.ann import Activation, save_ann
    from spikegen.convert import read_ann

    fixtures = Path(__file__).parent / "fixtures"
    ann = load_onnx(fixtures / "brevitas_qonnx.onnx")
    expected = np.load(fixtures / "brevitas_qonnx.npz")
    np.testing.assert_allclose(forward(ann, expected["x"]), expected["y"], atol=1e-5)
    weights = [op.weight for op in ann.ops if hasattr(op, "weight")]
    assert len(weights) == 3
    assert all(np.unique(w).size <= 15 for w in weights)      # 4-bit narrow codes
    activations = [op for op in ann.ops if isinstance(op, Activation)]
    assert [op.levels for op in activations] == [7, 7]
    thresholds, clipped = balance(ann, expected["x"].astype(np.float64))
    assert clipped == (True, True) and thresholds == tuple(op.max for op in activations)
    from spikegen.convert import convert
    summary = convert(ann, expected["x"].astype(np.float64), steps=7).summary()
    assert summary.count("7 levels: exact at T = 7") == 2
    save_ann(ann, tmp_path / "ann.pt")
    saved = read_ann(tmp_path / "ann.pt")              # float32 tensors: equal to 1e-6
    assert [op.levels for op in saved.ops if isinstance(op, Activation)] == [7, 7]
    np.testing.assert_allclose(forward(saved, expected["x"]), forward(ann, expected["x"]),
                               rtol=1e-6)
