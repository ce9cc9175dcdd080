"""Conventional (ReLU) networks as data: what :mod:`spikegen.convert` turns into spiking ones.

An :class:`ANN` is a chain of operations on maps of shape (C, H, W) (or vectors), in
PyTorch's terms: :mod:`spikegen.fold`'s :class:`~spikegen.fold.Conv`,
:class:`~spikegen.fold.Linear`, :class:`~spikegen.fold.Pool` and
:class:`~spikegen.fold.Flatten`, plus :class:`Activation` (a ReLU, clipped at ``max`` when
given: ``nn.ReLU6``, ``nn.Hardtanh(0, m)``, ONNX ``Clip(0, m)``) and :class:`BatchNorm`
(folded into the linear map before it by :func:`prepare`). It is read from

* a PyTorch module (:func:`ann_from_module`): ``nn.Conv2d``, ``nn.Linear``, ``nn.ReLU``,
  ``nn.ReLU6``, ``nn.Hardtanh(0, m)``, ``nn.MaxPool2d``, ``nn.AvgPool2d``, ``nn.Flatten``,
  ``nn.BatchNorm1d/2d``, ``nn.Dropout`` and ``nn.Identity`` (ignored), in registration order;
* a checkpoint :func:`spikegen.save` wrote for such a module (:func:`save_ann`,
  :func:`load_ann`; tensors, numbers and strings only, read with ``weights_only=True`` by
  :func:`spikegen.convert.read_ann`);
* an ONNX graph (:mod:`spikegen.onnx_frontend`).

Both paths give the same operations from the same weights (float32 values, read as float64),
so a model and its ONNX export convert to the same spiking network.
"""
import math
import os
from dataclasses import dataclass, replace

import numpy as np

from .errors import SpikegenError
from .fold import Conv, Flatten, Linear, Pool


__all__ = ["Activation", "BatchNorm", "ANN", "ann_from_module", "is_ann_module", "save_ann",
           "load_ann", "is_ann_checkpoint", "prepare", "forward", "ANN_FORMAT"]


ANN_FORMAT = "spikegen-ann"
ANN_VERSION = 1


@dataclass(frozen=True)
class Activation:
    """A ReLU, ``min(max(x, 0), max)`` when ``max`` is given (a clipped ReLU); with
    ``levels`` ``L`` as well, quantized to ``L`` steps of ``max / L``, rounding half to even
    (QONNX's unsigned ``Quant`` after a ``Relu``, as Brevitas' ``QuantReLU`` exports)."""
    max: "float | None" = None
    name: str = "relu"
    levels: "int | None" = None


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """Inference batch normalisation of the channels (or features):
    ``(x - mean) / sqrt(var + eps) * weight + bias``."""
    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float
    name: str = "batchnorm"


@dataclass(frozen=True, eq=False)
class ANN:
    """A trained conventional network: ``ops`` on inputs of ``input_shape`` ((C, H, W) or
    (N,)); ``source`` names where it came from (``"PyTorch"``, ``"ONNX"``)."""
    ops: tuple
    input_shape: tuple
    name: str = "ann"
    source: str = "PyTorch"

    @property
    def inputs(self):
        return int(np.prod(self.input_shape))


# -- PyTorch modules --------------------------------------------------------------------------


def _array(tensor):
    return tensor.detach().float().double().cpu().numpy().copy()


def _activation_of(module):
    """The :class:`Activation` of a ReLU-family module, or ``None``."""
    from torch import nn

    if isinstance(module, nn.ReLU6):
        return Activation(6.0, name="ReLU6")
    if isinstance(module, nn.ReLU):
        return Activation(None, name="ReLU")
    if isinstance(module, nn.Hardtanh):
        if module.min_val != 0.0 or not module.max_val > 0.0:
            raise SpikegenError(f"nn.Hardtanh({module.min_val:g}, {module.max_val:g}) is not a "
                                "clipped ReLU; use nn.Hardtanh(0, max) with max > 0")
        return Activation(float(np.float32(module.max_val)), name="Hardtanh")
    return None


def is_ann_module(model):
    """Whether ``model`` is a conventional network (ReLU activations, no snnTorch neurons)."""
    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    try:
        import snntorch
        spiking = any(isinstance(m, snntorch.SpikingNeuron) for m in leaves)
    except ImportError:                              # pragma: no cover (a dependency)
        spiking = False
    return not spiking and any(_relu_like(m) for m in leaves)


def _relu_like(module):
    from torch import nn

    return isinstance(module, (nn.ReLU, nn.ReLU6, nn.Hardtanh))


def ann_from_module(model, input_shape, *, name="ann"):
    """The :class:`ANN` of a PyTorch module (its leaf modules in registration order)."""
    from torch import nn

    from .snntorch_model import _conv_op, _pool_op

    ops = []
    for child in model.modules():
        if next(child.children(), None) is not None:
            continue                                  # containers: their leaves follow
        activation = _activation_of(child)
        if activation is not None:
            ops.append(activation)
        elif isinstance(child, nn.Conv2d):
            ops.append(_conv_op(child))
        elif isinstance(child, nn.Linear):
            ops.append(Linear(_array(child.weight),
                              None if child.bias is None else _array(child.bias),
                              name="Linear"))
        elif isinstance(child, nn.MaxPool2d):
            ops.append(_pool_op(child, "max"))
        elif isinstance(child, nn.AvgPool2d):
            ops.append(_pool_op(child, "avg"))
        elif isinstance(child, nn.Flatten):
            ops.append(Flatten(name="Flatten"))
        elif isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            ops.append(_batchnorm_of(child))
        elif isinstance(child, (nn.Dropout, nn.Identity)):
            continue
        else:
            raise SpikegenError(f"module {type(child).__name__} is not supported in a ReLU "
                                "network (spikegen converts Conv2d, Linear, ReLU, ReLU6, "
                                "Hardtanh(0, m), MaxPool2d, AvgPool2d, Flatten, BatchNorm1d/2d "
                                "and Dropout)")
    return ANN(tuple(ops), _input_shape(input_shape), name=name, source="PyTorch")


def _batchnorm_of(module):
    if module.running_mean is None or module.running_var is None:
        raise SpikegenError(f"{type(module).__name__} without running statistics "
                            "(track_running_stats=False) cannot be folded")
    count = module.num_features
    weight = _array(module.weight) if module.weight is not None else np.ones(count)
    bias = _array(module.bias) if module.bias is not None else np.zeros(count)
    return BatchNorm(weight, bias, _array(module.running_mean), _array(module.running_var),
                     float(module.eps), name=type(module).__name__)


def _input_shape(shape):
    if shape is None:
        raise SpikegenError("a ReLU network needs its input shape: give `input_shape` "
                            "(C, H, W) or (features,)")
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise SpikegenError(f"input shape must be a tuple of integers, not {shape!r}") from None
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise SpikegenError(f"input shape must be (C, H, W) or (features,) of positive sizes, "
                            f"not {shape}")
    return shape


# -- checkpoints ------------------------------------------------------------------------------


def _tensor(array):
    import torch

    return None if array is None else torch.from_numpy(np.array(array, dtype=np.float32))


def _entry(op):
    if isinstance(op, Conv):
        return {"op": "conv", "weight": _tensor(op.weight), "bias": _tensor(op.bias),
                "stride": list(op.stride), "padding": list(op.padding),
                "dilation": list(op.dilation), "groups": int(op.groups)}
    if isinstance(op, Linear):
        return {"op": "linear", "weight": _tensor(op.weight), "bias": _tensor(op.bias)}
    if isinstance(op, Pool):
        return {"op": "pool", "kind": op.kind, "kernel": list(op.kernel),
                "stride": list(op.stride), "padding": list(op.padding)}
    if isinstance(op, Flatten):
        return {"op": "flatten"}
    if isinstance(op, BatchNorm):
        return {"op": "batchnorm", "weight": _tensor(op.weight), "bias": _tensor(op.bias),
                "mean": _tensor(op.mean), "var": _tensor(op.var), "eps": float(op.eps)}
    return {"op": "relu", "max": op.max, "levels": op.levels}


def save_ann(model, path, *, name=None, input_shape=None):
    """Write a ReLU network (a PyTorch module, or an :class:`ANN`) as a spikegen checkpoint."""
    import torch

    ann = model if isinstance(model, ANN) else ann_from_module(model, input_shape,
                                                               name=name or "ann")
    tree = {"format": ANN_FORMAT, "version": ANN_VERSION, "name": name or ann.name,
            "input_shape": list(ann.input_shape), "ops": [_entry(op) for op in ann.ops]}
    torch.save(tree, os.fspath(path))


def is_ann_checkpoint(obj):
    return isinstance(obj, dict) and obj.get("format") == ANN_FORMAT


def _numbers(path, where, value, count=None):
    if not isinstance(value, (list, tuple)) or (count is not None and len(value) != count) \
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 16
                       for v in value):
        raise SpikegenError(f"{path}: {where} must be a list of {count or 'some'} small "
                            f"non-negative integers, not {value!r}")
    return tuple(value)


def _values(path, where, value, optional=False):
    import torch

    if value is None and optional:
        return None
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise SpikegenError(f"{path}: {where} is not a float tensor")
    array = value.detach().to(torch.float64).numpy().copy()
    if not np.isfinite(array).all():
        raise SpikegenError(f"{path}: {where} contains NaN or Inf")
    return array


def _op_of(path, index, entry):
    where = f"operation {index}"
    if not isinstance(entry, dict):
        raise SpikegenError(f"{path}: {where} is malformed")
    kind = entry.get("op")
    if kind == "conv":
        return Conv(_values(path, f"{where} weight", entry.get("weight")),
                    _values(path, f"{where} bias", entry.get("bias"), optional=True),
                    stride=_numbers(path, f"{where} stride", entry.get("stride"), 2),
                    padding=_numbers(path, f"{where} padding", entry.get("padding"), 4),
                    dilation=_numbers(path, f"{where} dilation", entry.get("dilation"), 2),
                    groups=_numbers(path, f"{where} groups", [entry.get("groups")], 1)[0],
                    name=f"Conv2d ({where})")
    if kind == "linear":
        return Linear(_values(path, f"{where} weight", entry.get("weight")),
                      _values(path, f"{where} bias", entry.get("bias"), optional=True),
                      name=f"Linear ({where})")
    if kind == "pool":
        return Pool(str(entry.get("kind")), _numbers(path, f"{where} kernel",
                                                     entry.get("kernel"), 2),
                    _numbers(path, f"{where} stride", entry.get("stride"), 2),
                    _numbers(path, f"{where} padding", entry.get("padding"), 2),
                    name=f"pool ({where})")
    if kind == "flatten":
        return Flatten(name=f"Flatten ({where})")
    if kind == "batchnorm":
        eps = entry.get("eps")
        if not isinstance(eps, float) or not 0 <= eps < 1:
            raise SpikegenError(f"{path}: {where} eps must be a small float, not {eps!r}")
        return BatchNorm(*(_values(path, f"{where} {key}", entry.get(key))
                           for key in ("weight", "bias", "mean", "var")), eps,
                         name=f"BatchNorm ({where})")
    if kind == "relu":
        top = entry.get("max")
        if top is not None and not (isinstance(top, float) and math.isfinite(top) and top > 0):
            raise SpikegenError(f"{path}: {where} clip must be a positive float, not {top!r}")
        levels = entry.get("levels")
        if levels is not None and (top is None or not isinstance(levels, int)
                                   or not 1 <= levels < 1 << 16):
            raise SpikegenError(f"{path}: {where} levels must be an integer from 1 to 65535 "
                                f"with a clip value, not {levels!r}")
        return Activation(top, name=f"ReLU ({where})", levels=levels)
    raise SpikegenError(f"{path}: {where} has unknown kind {kind!r}")


def load_ann(path, obj):
    """The :class:`ANN` of a checkpoint :func:`save_ann` wrote: ``obj`` is its contents, read
    safely from ``path`` (:func:`spikegen.convert.read_ann` does both)."""
    path = os.fspath(path)
    if not is_ann_checkpoint(obj):
        raise SpikegenError(f"{path}: not a spikegen ReLU-network checkpoint")
    if obj.get("version") != ANN_VERSION:
        raise SpikegenError(f"{path}: ReLU-network checkpoint version {obj.get('version')!r} "
                            f"is not supported (this spikegen reads version {ANN_VERSION})")
    entries = obj.get("ops")
    if not isinstance(entries, (list, tuple)) or not entries:
        raise SpikegenError(f"{path}: the checkpoint has no operations")
    ops = tuple(_op_of(path, k, entry) for k, entry in enumerate(entries))
    shape = obj.get("input_shape")
    return ANN(ops, _input_shape(shape), name=str(obj.get("name") or "ann"), source="PyTorch")


# -- the network as the converter sees it -----------------------------------------------------


def _fold_batchnorm(linear, bn, where):
    count = linear.weight.shape[0]
    if bn.weight.shape != (count,) or bn.bias.shape != (count,) or bn.mean.shape != (count,) \
            or bn.var.shape != (count,):
        raise SpikegenError(f"{where}: batch normalisation of {bn.weight.shape} values after "
                            f"a layer of {count} channels")
    if np.any(bn.var + bn.eps <= 0):
        raise SpikegenError(f"{where}: batch normalisation with a non-positive variance")
    scale = bn.weight / np.sqrt(bn.var + bn.eps)
    bias = np.zeros(count) if linear.bias is None else linear.bias
    shape = (count,) + (1,) * (linear.weight.ndim - 1)
    return replace(linear, weight=linear.weight * scale.reshape(shape),
                   bias=(bias - bn.mean) * scale + bn.bias)


def prepare(ann):
    """The operations the converter works on: every batch normalisation folded into the
    convolution or linear map right before it, and every max pooling right after an
    activation moved before it (``relu(maxpool(x)) == maxpool(relu(x))``: the pooling then
    takes the currents, which the hardware does, :attr:`ConvGeometry.current_pool`)."""
    ops = []
    for op in ann.ops:
        if isinstance(op, BatchNorm):
            if not ops or not isinstance(ops[-1], (Conv, Linear)):
                raise SpikegenError(f"{op.name}: batch normalisation must follow a Conv2d or "
                                    "Linear layer directly, to be folded into its weights")
            ops[-1] = _fold_batchnorm(ops[-1], op, op.name)
        elif isinstance(op, Pool) and op.kind == "max" and ops \
                and isinstance(ops[-1], Activation) and len(ops) >= 2 \
                and isinstance(ops[-2], Conv):
            ops.insert(len(ops) - 1, op)
        else:
            ops.append(op)
    return replace(ann, ops=tuple(ops))


def forward(ann, x, *, record=False, batch=500):
    """Run the ANN in float64 on inputs ``x`` (samples, features), features in the order of
    ``input_shape`` (C, H, W). Returns the outputs (samples, outputs) and, with ``record``,
    the output of every :class:`Activation` (a list of (samples, ...) arrays)."""
    import torch
    from torch.nn import functional as F

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != ann.inputs:
        raise SpikegenError(f"inputs must have shape (samples, {ann.inputs}), not {x.shape}")
    outputs, records = [], []
    for start in range(0, x.shape[0], batch):
        h = torch.from_numpy(x[start:start + batch]).reshape(-1, *ann.input_shape)
        acts = []
        with torch.no_grad():
            for op in ann.ops:
                h = _apply(op, h, F, torch)
                if isinstance(op, Activation):
                    acts.append(h.numpy().copy() if record else None)
        outputs.append(h.reshape(h.shape[0], -1).numpy().copy())
        records.append(acts)
    out = np.concatenate(outputs) if outputs else np.zeros((0, 0))
    if not record:
        return out
    return out, [np.concatenate([r[k] for r in records]) for k in range(len(records[0]))]


def _apply(op, h, F, torch):
    if isinstance(op, Conv):
        top, left, bottom, right = op.padding
        h = F.pad(h, (left, right, top, bottom))
        return F.conv2d(h, torch.from_numpy(op.weight),
                        None if op.bias is None else torch.from_numpy(op.bias),
                        stride=op.stride, dilation=op.dilation, groups=op.groups)
    if isinstance(op, Linear):
        return F.linear(h, torch.from_numpy(op.weight),
                        None if op.bias is None else torch.from_numpy(op.bias))
    if isinstance(op, Pool):
        pool = F.max_pool2d if op.kind == "max" else F.avg_pool2d
        return pool(h, op.kernel, op.stride, op.padding)
    if isinstance(op, Flatten):
        return h.reshape(h.shape[0], -1)
    if isinstance(op, BatchNorm):
        shape = (1, -1) + (1,) * (h.ndim - 2)
        scale = torch.from_numpy(op.weight / np.sqrt(op.var + op.eps)).reshape(shape)
        return (h - torch.from_numpy(op.mean).reshape(shape)) * scale \
            + torch.from_numpy(op.bias).reshape(shape)
    if op.max is None:
        return h.clamp(min=0.0)
    if op.levels is None:
        return h.clamp(0.0, op.max)
    step = op.max / op.levels
    return torch.round(h / step).clamp(0.0, op.levels) * step

