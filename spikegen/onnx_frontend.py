"""ONNX graphs of ReLU networks, read as data into an :class:`~spikegen.ann.ANN`.

The file is parsed with ``onnx.load(..., load_external_data=False)`` and checked
(``onnx.checker``, then strict shape inference); nothing in it is executed. Accepted: a chain
of nodes (each takes the output of the one before it, plus constants), opset 13 or later, of

=======================  ===========================================================
ONNX operator            becomes
=======================  ===========================================================
Conv                     :class:`~spikegen.fold.Conv` (explicit pads or VALID)
Gemm; MatMul (+ Add)     :class:`~spikegen.fold.Linear` (the Add of a constant: its bias)
Relu; Clip(0, m)         :class:`~spikegen.ann.Activation` (``m``: a clipped ReLU)
MaxPool, AveragePool     :class:`~spikegen.fold.Pool`
Flatten (axis 1);        :class:`~spikegen.fold.Flatten`
Reshape to (N, -1)
BatchNormalization       :class:`~spikegen.ann.BatchNorm` (folded into the layer before it)
Dropout, Identity        nothing (inference)
Constant                 a constant
Quant (QONNX)            on a constant (weights): the quantized constant; after a Relu
                         (unsigned, zero point 0; Brevitas' QuantReLU): a ReLU clipped at
                         ``scale * levels`` and quantized to its levels. Per-tensor scale
                         and zero point, ``rounding_mode="ROUND"`` (half to even)
=======================  ===========================================================

Anything else, and malformed or hostile files (external data, missing initialisers, wrong
shapes, dimensions above :data:`MAX_DIM` or tensors above :data:`MAX_ELEMENTS`), get a
one-line :class:`~spikegen.errors.SpikegenError` naming the node and its operator.
"""
import os
from dataclasses import replace

import numpy as np

from .ann import ANN, Activation, BatchNorm
from .errors import SpikegenError
from .fold import Conv, Flatten, Linear, Pool


__all__ = ["is_onnx_file", "load_onnx", "MAX_DIM", "MAX_ELEMENTS", "MAX_FILE_BYTES",
           "MIN_OPSET", "SUPPORTED"]


MAX_DIM = 1 << 16               #: largest dimension of any tensor
MAX_ELEMENTS = 1 << 26          #: largest number of elements of any tensor
MAX_FILE_BYTES = 1 << 30        #: largest file
MAX_NODES = 4096
MIN_OPSET = 13
QUANT_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
SUPPORTED = ("Conv, Gemm, MatMul, Add (a bias), Relu, Clip, MaxPool, AveragePool, Flatten, "
             "Reshape (flatten), BatchNormalization, Dropout, Identity, Constant and QONNX "
             "Quant on weights or after a Relu")


def is_onnx_file(path):
    """Whether ``path`` names an ONNX file (by its extension)."""
    return os.fspath(path).lower().endswith(".onnx")


class _Graph:
    """What the handlers see: the file's name, constants by name, the node being read."""

    def __init__(self, path, consts, shapes):
        self.path, self.consts, self.shapes = path, consts, shapes
        self.node = None

    def fail(self, message):
        node = self.node
        raise SpikegenError(f"{self.path}: node {node.name or '(unnamed)'!r} "
                            f"({node.op_type}): {message}")

    def attrs(self, defaults):
        import onnx

        values = dict(defaults)
        for attr in self.node.attribute:
            if attr.name not in defaults:
                self.fail(f"attribute {attr.name!r} is not supported")
            values[attr.name] = onnx.helper.get_attribute_value(attr)
        for key, value in values.items():
            if isinstance(value, bytes):
                values[key] = value.decode("utf-8", "replace")
            elif isinstance(value, list):
                values[key] = [int(v) for v in value]
        return values

    def const(self, index, *, optional=False):
        inputs = self.node.input
        if index >= len(inputs) or not inputs[index]:
            if optional:
                return None
            self.fail(f"input {index} is missing")
        name = inputs[index]
        if name not in self.consts:
            self.fail(f"input {name!r} must be an initializer or a constant")
        return self.consts[name]

    def ints(self, values, count, label, lo=0):
        if len(values) != count or any(not lo <= v <= MAX_DIM for v in values):
            self.fail(f"{label} must be {count} integers from {lo} to {MAX_DIM}, not {values}")
        return tuple(int(v) for v in values)


def _check_external(path, tensor, where):
    import onnx

    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        raise SpikegenError(f"{path}: {where} refers to external data; spikegen reads "
                            "self-contained ONNX files only (save without external data)")


def _array(path, tensor, where):
    from onnx import numpy_helper

    _check_external(path, tensor, where)
    dims = [int(d) for d in tensor.dims]
    if any(d < 0 or d > MAX_DIM for d in dims) or int(np.prod(dims, dtype=object)) > MAX_ELEMENTS:
        raise SpikegenError(f"{path}: {where} has shape {dims}, beyond spikegen's limits "
                            f"({MAX_DIM} per dimension, {MAX_ELEMENTS} elements)")
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as exc:
        raise SpikegenError(f"{path}: {where} is malformed ({exc})") from None
    if array.shape != tuple(dims):
        raise SpikegenError(f"{path}: {where} holds {array.size} values for shape {dims}")
    if array.dtype.kind == "f":
        array = array.astype(np.float64)
        if not np.isfinite(array).all():
            raise SpikegenError(f"{path}: {where} contains NaN or Inf")
    elif array.dtype.kind in "iub":
        array = array.astype(np.int64)
    else:
        raise SpikegenError(f"{path}: {where} has unsupported type {array.dtype}")
    return array


def _read_model(path):
    import onnx

    if not os.path.isfile(path):
        raise SpikegenError(f"{path}: no such file")
    size = os.path.getsize(path)
    if size == 0:
        raise SpikegenError(f"{path}: the file is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise SpikegenError(f"{path}: {size} bytes, larger than spikegen reads "
                            f"({MAX_FILE_BYTES})")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:          # protobuf's DecodeError and friends: not an ONNX file
        raise SpikegenError(f"{path}: not an ONNX model ({type(exc).__name__})") from None
    graph = model.graph
    for tensor in graph.initializer:
        _check_external(path, tensor, f"initializer {tensor.name!r}")
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                _check_external(path, attr.t, f"node {node.name!r} ({node.op_type}) "
                                              f"attribute {attr.name!r}")
    if len(graph.node) > MAX_NODES:
        raise SpikegenError(f"{path}: {len(graph.node)} nodes, more than spikegen reads "
                            f"({MAX_NODES})")
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or opset < MIN_OPSET:
        raise SpikegenError(f"{path}: ONNX opset {opset} is not supported; export with opset "
                            f"{MIN_OPSET} or later")
    _check_input(path, graph)
    try:
        onnx.checker.check_model(model)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:          # ValidationError, InferenceError: one line of it
        first = str(exc).strip().splitlines()
        raise SpikegenError(f"{path}: not a valid ONNX model "
                            f"({first[0] if first else type(exc).__name__})") from None
    return model, inferred


def _dims(value_info):
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def _check_input(path, graph):
    initialised = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialised]
    if len(inputs) != 1:
        raise SpikegenError(f"{path}: the graph must have one input, not {len(inputs)}")
    dims = _dims(inputs[0])
    if len(dims) not in (2, 4) or any(d is None or not 1 <= d <= MAX_DIM for d in dims[1:]):
        raise SpikegenError(f"{path}: input {inputs[0].name!r} has shape {dims}; spikegen takes "
                            f"(N, C, H, W) or (N, features) with fixed sizes up to {MAX_DIM}")
    if int(np.prod(dims[1:], dtype=object)) > MAX_ELEMENTS:
        raise SpikegenError(f"{path}: input {inputs[0].name!r} of shape {dims} is too large")
    return inputs[0].name, tuple(int(d) for d in dims[1:])


# -- operators --------------------------------------------------------------------------------


def _pads(g, pads, auto_pad, count):
    if auto_pad not in ("NOTSET", "VALID"):
        g.fail(f"auto_pad {auto_pad} is not supported; export with explicit pads")
    if auto_pad == "VALID":
        return (0,) * (2 * count)
    return g.ints(pads or [0] * (2 * count), 2 * count, "pads")


def _conv(g, ops):
    a = g.attrs({"kernel_shape": None, "strides": [1, 1], "pads": None, "dilations": [1, 1],
                 "group": 1, "auto_pad": "NOTSET"})
    weight = g.const(1)
    if weight.ndim != 4:
        g.fail(f"only 2-D convolutions are supported, not a weight of shape {weight.shape}")
    bias = g.const(2, optional=True)
    if bias is not None and bias.shape != (weight.shape[0],):
        g.fail(f"bias of shape {bias.shape} for {weight.shape[0]} output channels")
    if a["kernel_shape"] is not None and tuple(a["kernel_shape"]) != weight.shape[2:]:
        g.fail(f"kernel_shape {a['kernel_shape']} does not match the weight {weight.shape}")
    groups = a["group"]
    if not isinstance(groups, int) or groups < 1:
        g.fail(f"group must be a positive integer, not {groups!r}")
    pads = _pads(g, a["pads"], a["auto_pad"], 2)
    ops.append(Conv(weight, bias, stride=g.ints(a["strides"], 2, "strides", 1),
                    padding=pads, dilation=g.ints(a["dilations"], 2, "dilations", 1),
                    groups=groups, name=_label(g)))


def _gemm(g, ops):
    a = g.attrs({"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0})
    if a["transA"]:
        g.fail("transA=1 is not supported")
    weight = g.const(1)
    if weight.ndim != 2:
        g.fail(f"weight must be 2-D, not shape {weight.shape}")
    weight = (weight if a["transB"] else weight.T) * a["alpha"]
    bias = g.const(2, optional=True)
    if bias is not None:
        if bias.size not in (1, weight.shape[0]):
            g.fail(f"bias of shape {bias.shape} for {weight.shape[0]} outputs")
        bias = np.broadcast_to(bias.reshape(-1), (weight.shape[0],)) * float(a["beta"])
    ops.append(Linear(np.array(weight, dtype=np.float64), bias, name=_label(g)))


def _matmul(g, ops):
    g.attrs({})
    weight = g.const(1)
    if weight.ndim != 2:
        g.fail(f"the second input must be a 2-D constant, not shape {weight.shape}")
    ops.append(Linear(np.array(weight.T, dtype=np.float64), None, name=_label(g)))


def _add(g, ops):
    g.attrs({})
    last = ops[-1] if ops else None
    if not isinstance(last, (Linear, Conv)) or last.bias is not None:
        g.fail("only the bias of a MatMul, Gemm or Conv without one is supported")
    bias = g.const(1)
    outputs = last.weight.shape[0]
    if isinstance(last, Conv):      # broadcast over (N, C, H, W): shape (C, 1, 1)
        ok = bias.size == outputs and bias.ndim in (3, 4) and bias.shape[-3] == outputs
    else:
        ok = bias.size == outputs and bias.shape[-1] == outputs
    if not ok:
        g.fail(f"a bias of shape {bias.shape} does not fit {outputs} outputs")
    ops[-1] = replace(last, bias=bias.reshape(-1).astype(np.float64))


def _relu(g, ops):
    g.attrs({})
    ops.append(Activation(None, name=_label(g)))


def _clip(g, ops):
    g.attrs({})
    low, high = g.const(1, optional=True), g.const(2, optional=True)
    if low is None or low.size != 1 or float(low.reshape(())) != 0.0:
        g.fail("only Clip(0, max) (a clipped ReLU) is supported")
    top = None if high is None else float(high.reshape(-1)[0])
    if high is not None and (high.size != 1 or not top > 0):
        g.fail(f"the clip maximum must be one positive value, not {high}")
    ops.append(Activation(top, name=_label(g)))


def _pool(kind):
    def read(g, ops):
        defaults = {"kernel_shape": None, "strides": None, "pads": None, "ceil_mode": 0,
                    "auto_pad": "NOTSET", "dilations": [1, 1]}
        if kind == "max":
            defaults["storage_order"] = 0
        else:
            defaults["count_include_pad"] = 0
        a = g.attrs(defaults)
        if a["kernel_shape"] is None:
            g.fail("kernel_shape is missing")
        kernel = g.ints(a["kernel_shape"], 2, "kernel_shape", 1)
        if a["ceil_mode"]:
            g.fail("ceil_mode=1 is not supported")
        if tuple(a["dilations"]) != (1, 1):
            g.fail("dilated pooling is not supported")
        pads = _pads(g, a["pads"], a["auto_pad"], 2)
        if pads[:2] != pads[2:]:
            g.fail(f"asymmetric pads {pads} are not supported")
        stride = g.ints(a["strides"] or [1, 1], 2, "strides", 1)
        ops.append(Pool(kind, kernel, stride, pads[:2], name=_label(g)))
    return read


def _flatten(g, ops):
    a = g.attrs({"axis": 1})
    if a["axis"] != 1:
        g.fail(f"only axis 1 is supported, not {a['axis']}")
    ops.append(Flatten(name=_label(g)))


def _reshape(g, ops):
    a = g.attrs({"allowzero": 0})
    shape = g.const(1).reshape(-1)
    source = g.shapes.get(g.node.input[0])
    features = None if source is None or any(d is None for d in source[1:]) \
        else int(np.prod(source[1:]))
    if len(shape) != 2 or shape[0] not in (-1, 1) + ((0,) if not a["allowzero"] else ()) or \
            not (shape[1] == -1 or (features is not None and shape[1] == features)):
        g.fail(f"only a flatten to (N, features) is supported, not shape {shape.tolist()}")
    ops.append(Flatten(name=_label(g)))


def _batchnorm(g, ops):
    a = g.attrs({"epsilon": 1e-5, "momentum": 0.9, "training_mode": 0})
    if a["training_mode"]:
        g.fail("training_mode=1 is not supported")
    weight, bias, mean, var = (g.const(k) for k in (1, 2, 3, 4))
    ops.append(BatchNorm(weight, bias, mean, var, float(a["epsilon"]), name=_label(g)))


def _skip(g, ops):
    pass


def _label(g):
    return f"node {g.node.name or '(unnamed)'!r} ({g.node.op_type})"


_HANDLERS = {"Conv": _conv, "Gemm": _gemm, "MatMul": _matmul, "Add": _add, "Relu": _relu,
             "Clip": _clip, "MaxPool": _pool("max"), "AveragePool": _pool("avg"),
             "Flatten": _flatten, "Reshape": _reshape, "BatchNormalization": _batchnorm,
             "Dropout": _skip, "Identity": _skip}


def _quantizer(g):
    """A QONNX ``Quant``'s attributes and per-tensor scale, zero point and code range."""
    a = g.attrs({"signed": 1, "narrow": 0, "rounding_mode": "ROUND"})
    scale, zero, bits = (g.const(k) for k in (1, 2, 3))
    if scale.size != 1 or zero.size != 1 or bits.size != 1:
        g.fail("only per-tensor quantizers (one scale, zero point and bit width) are "
               "supported")
    if a["rounding_mode"] != "ROUND":
        g.fail(f"rounding_mode {a['rounding_mode']} is not supported (ROUND only)")
    scale, zero, bits = float(scale.reshape(())), float(zero.reshape(())), bits.reshape(())
    if not scale > 0 or float(bits) != int(bits) or not 2 <= int(bits) <= 16:
        g.fail(f"scale {scale:g} and bit width {bits} out of range (scale > 0, 2 to 16 bits)")
    bits = int(bits)
    if a["signed"]:
        lo, hi = -(1 << (bits - 1)) + a["narrow"], (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1 - a["narrow"]
    return a, scale, zero, lo, hi


def _quant(g):
    """A QONNX ``Quant`` of a constant: the quantized constant,
    ``(clip(round(x / s + z), lo, hi) - z) * s``."""
    _, scale, zero, lo, hi = _quantizer(g)
    return (np.clip(np.round(g.const(0) / scale + zero), lo, hi) - zero) * scale


def _act_quant(g, ops):
    """A QONNX ``Quant`` right after a ``Relu``, unsigned with zero point 0 (Brevitas'
    ``QuantReLU``): the ReLU quantized to ``hi`` levels of ``scale``."""
    a, scale, zero, lo, hi = _quantizer(g)
    last = ops[-1] if ops else None
    if not isinstance(last, Activation) or last.max is not None or a["signed"] or zero != 0:
        g.fail("quantized activations must be unsigned, with zero point 0, right after a Relu "
               "(Brevitas' QuantReLU)")
    ops[-1] = Activation(scale * hi, name=last.name, levels=hi)


def load_onnx(path, *, name=None):
    """The :class:`~spikegen.ann.ANN` of an ONNX file (see the module docstring)."""
    path = os.fspath(path)
    model, inferred = _read_model(path)
    graph = model.graph
    consts = {t.name: _array(path, t, f"initializer {t.name!r}") for t in graph.initializer}
    current, input_shape = _check_input(path, graph)
    shapes = {v.name: _dims(v) for v in list(inferred.graph.value_info) + list(graph.input)}
    g = _Graph(path, consts, shapes)
    ops = []
    for node in graph.node:
        g.node = node
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            attr = {a.name: a for a in node.attribute}
            if "value" not in attr:
                g.fail("only tensor constants (attribute 'value') are supported")
            consts[node.output[0]] = _array(path, attr["value"].t, _label(g))
            continue
        quant = node.op_type == "Quant" and node.domain in QUANT_DOMAINS
        if quant and node.input and node.input[0] in consts:
            consts[node.output[0]] = _quant(g)
            continue
        handler = _act_quant if quant else \
            _HANDLERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if handler is None:
            g.fail(f"operator not supported; spikegen converts {SUPPORTED}")
        data = [name for name in node.input if name and name not in consts]
        if data != [current]:
            g.fail(f"takes {data or 'only constants'}, not the output {current!r} of the node "
                   "before it (spikegen reads a chain of operations)")
        handler(g, ops)
        current = node.output[0]
    outputs = [o.name for o in graph.output]
    if outputs != [current]:
        raise SpikegenError(f"{path}: the graph's outputs {outputs} are not the output of its "
                            f"last node ({current!r})")
    if not ops:
        raise SpikegenError(f"{path}: the graph has no operations")
    stem = os.path.splitext(os.path.basename(path))[0] or "ann"
    return ANN(tuple(ops), input_shape, name=name or stem, source="ONNX")
