"""From a chain of PyTorch-style operations to spikegen's layers: convolutions, pooling and
flattening folded into the layers the hardware builds.

The loaders (snnTorch modules and checkpoints, NIR graphs) describe a network as a sequence
of operations in PyTorch's terms, maps of shape (C, H, W): :class:`Conv`, :class:`Pool`,
:class:`Flatten`, :class:`Linear` and :class:`Neuron`. :func:`fold` turns the sequence into
:class:`~spikegen.ir.ConvLayer` and :class:`~spikegen.ir.DenseLayer` objects, each a linear
map followed by neurons, on spikegen's channels-last maps (see
:mod:`rtl_lib.conv_geometry`). Every fold is exact in real arithmetic:

* **sum or average pooling of currents** (a pool between a convolution and its neurons, as
  ``Conv2d -> AvgPool2d -> Leaky``) is a convolution: the kernel is widened by the window
  (``w'[a * s + ky * d] += w[ky]`` along each axis), the stride multiplied by it, the bias
  multiplied by the window's size for a sum; an average divides by it;
* **sum or average pooling of spikes** (a pool after neurons) becomes the next convolution's
  input pooling (``ConvGeometry.pool``; an average divides its weights by the window's size),
  or, before ``Flatten`` and a dense layer, the dense layer's weights repeated over each
  window's inputs;
* **max pooling of spikes** (``Leaky -> MaxPool2d``) is the OR of the window: the previous
  convolution's ``out_pool``; **max pooling of currents** (``Conv2d -> MaxPool2d -> Leaky``,
  snnTorch's tutorials) is the convolution's ``current_pool``: the neurons take the largest
  current of their window each step;
* **Flatten then Linear**: the dense layer's weight columns are permuted from PyTorch's
  (C, H, W) order to channels last;
* **grouped convolutions** are stored with the zero weights between groups; ``padding="same"``
  pads the top and left by half the kernel's extent (rounded down), as PyTorch does.

Pooling windows must tile their input (stride equal to the kernel, no padding); a window
that does not fit is named in a one-line :class:`~spikegen.errors.SpikegenError`.
"""
from dataclasses import dataclass

import numpy as np

from rtl_lib.conv_geometry import ConvGeometry, conv_output_size

from .errors import SpikegenError
from .ir import ConvLayer, DenseLayer


__all__ = ["Conv", "Pool", "Flatten", "Unflatten", "Linear", "Neuron", "fold", "same_padding"]


@dataclass(frozen=True, eq=False)
class Conv:
    """``nn.Conv2d``: ``weight`` (out channels, in channels / groups, kernel rows, kernel
    columns), ``bias`` or ``None``, ``padding`` as (top, left, bottom, right)."""
    weight: np.ndarray
    bias: "np.ndarray | None"
    stride: tuple = (1, 1)
    padding: tuple = (0, 0, 0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1
    name: str = "conv"


@dataclass(frozen=True)
class Pool:
    """``nn.MaxPool2d``, ``nn.AvgPool2d`` or NIR's ``SumPool2d``: ``kind`` is ``"max"``,
    ``"avg"`` or ``"sum"``; ``kernel`` and ``stride`` are (rows, columns)."""
    kind: str
    kernel: tuple
    stride: tuple
    padding: tuple = (0, 0)
    name: str = "pool"


@dataclass(frozen=True)
class Flatten:
    """``nn.Flatten``: a (C, H, W) map becomes a vector in PyTorch's order, or with
    ``channels_last`` in spikegen's (H, W, C) order."""
    channels_last: bool = False
    name: str = "flatten"


@dataclass(frozen=True)
class Unflatten:
    """A vector in channels-last order becomes a map: ``shape`` is (H, W, C)."""
    shape: tuple
    name: str = "unflatten"


@dataclass(frozen=True, eq=False)
class Linear:
    """``nn.Linear``: ``weight`` (outputs, inputs), ``bias`` or ``None``."""
    weight: np.ndarray
    bias: "np.ndarray | None"
    name: str = "linear"


@dataclass(frozen=True, eq=False)
class Neuron:
    """A neuron layer: ``neuron`` (:class:`~spikegen.ir.LIF` or
    :class:`~spikegen.ir.CubaLIF`), ``recurrent`` weights (dense layers only) and the bias
    of the recurrence folded into the layer's (``recurrent_bias``)."""
    neuron: object
    recurrent: "np.ndarray | None" = None
    recurrent_bias: "np.ndarray | None" = None
    name: str = "neuron"


def same_padding(kernel, dilation):
    """PyTorch's ``padding="same"`` (stride 1): (top, left, bottom, right)."""
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return (total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2)


def _grouped(weight, groups):
    """A grouped convolution's weight with the zero weights between groups:
    (out, in / groups, kh, kw) -> (out, in, kh, kw)."""
    if groups == 1:
        return weight
    out, per, kh, kw = weight.shape
    full = np.zeros((out, per * groups, kh, kw), dtype=weight.dtype)
    step = out // groups
    for g in range(groups):
        full[g * step:(g + 1) * step, g * per:(g + 1) * per] = weight[g * step:(g + 1) * step]
    return full


def _widen(weight, window, stride, dilation):
    """The kernel of a convolution followed by a ``window``-sum pooling (stride ``window``):
    along each axis ``w'[a * stride + k * dilation] += w[k]``, dilation 1."""
    out, cin, kh, kw = weight.shape
    rows = (window[0] - 1) * stride[0] + (kh - 1) * dilation[0] + 1
    cols = (window[1] - 1) * stride[1] + (kw - 1) * dilation[1] + 1
    wide = np.zeros((out, cin, rows, cols), dtype=np.float64)
    for a in range(window[0]):
        for ky in range(kh):
            for b in range(window[1]):
                for kx in range(kw):
                    wide[:, :, a * stride[0] + ky * dilation[0],
                         b * stride[1] + kx * dilation[1]] += weight[:, :, ky, kx]
    return wide


class _Pending:
    """The linear map of the layer being folded, before its neurons."""

    def __init__(self, op, in_chw, spike_pool, scale, source):
        self.op = op
        self.in_chw = in_chw            # the map the layer reads, (C, H, W), or (N,) flat
        self.source = source            # the spike map before a pooling of spikes
        self.spike_pool = spike_pool    # sum pooling of the input spikes (window side)
        self.scale = scale              # 1 / window size of an average pooling of spikes
        self.current_pool = None        # (kind, window) of a pooling of currents
        self.channels_last = False      # the dense weights are in (H, W, C) order already


def _check_window(pool, shape, where):
    if pool.kernel != pool.stride or tuple(pool.padding) not in ((0, 0),):
        raise SpikegenError(f"{where}: pooling windows must tile the map (stride equal to the "
                            f"kernel, no padding), not kernel {pool.kernel} stride "
                            f"{pool.stride} padding {pool.padding}")
    if pool.kernel[0] != pool.kernel[1]:
        raise SpikegenError(f"{where}: pooling windows must be square, not {pool.kernel}")
    if pool.kind not in ("max", "avg", "sum"):
        raise SpikegenError(f"{where}: unknown pooling {pool.kind!r}")
    k = pool.kernel[0]
    if len(shape) != 3 or shape[1] < k or shape[2] < k:
        raise SpikegenError(f"{where}: a {k}x{k} pooling needs a map of at least {k}x{k}, "
                            f"not shape {shape}")
    return k


def fold(ops, input_shape, *, where="network"):
    """The layers of the operation chain ``ops`` on inputs of ``input_shape`` ((C, H, W) for
    a convolutional network, (N,) for a dense one). Returns a tuple of layers."""
    shape = tuple(int(s) for s in input_shape)
    layers = []
    pending = None
    spike_pool, spike_scale, source = 1, 1.0, shape
    for op in ops:
        label = f"{where}: {op.name}"
        if isinstance(op, (Conv, Linear)):
            if pending is not None:
                raise SpikegenError(f"{label}: two linear layers without neurons between "
                                    "them; put a neuron layer after each")
            if isinstance(op, Conv) and len(shape) != 3:
                raise SpikegenError(f"{label}: a convolution needs a (C, H, W) map, not "
                                    f"shape {shape}")
            pending = _Pending(op, shape, spike_pool, spike_scale, source)
            spike_pool, spike_scale = 1, 1.0
            shape = _linear_output(op, shape, pending, label)
        elif isinstance(op, Pool):
            k = _check_window(op, shape, label)
            if pending is not None:
                if not isinstance(pending.op, Conv) or pending.current_pool is not None:
                    raise SpikegenError(f"{label}: pooling of currents must follow a "
                                        "convolution")
                pending.current_pool = (op.kind, k)
            elif op.kind == "max":
                last = layers[-1] if layers else None
                if not isinstance(last, ConvLayer) or spike_pool != 1 \
                        or last.geometry.out_pool != 1:
                    raise SpikegenError(f"{label}: max pooling of spikes must follow the "
                                        "neurons of a convolution")
                g = last.geometry
                if any(s % k for s in g.out_hw):
                    raise SpikegenError(f"{label}: a {g.out_hw[0]}x{g.out_hw[1]} map does not "
                                        f"divide into {k}x{k} windows (PyTorch would drop "
                                        "the rest); pad or crop the convolution's output")
                layers[-1] = ConvLayer(last.weight, last.bias, last.neuron,
                                       _replace_geometry(g, out_pool=k))
            else:
                if spike_pool != 1:
                    raise SpikegenError(f"{label}: two poolings of spikes in a row; merge "
                                        "them into one window")
                spike_pool, source = k, shape
                spike_scale = 1.0 / (k * k) if op.kind == "avg" else 1.0
            shape = (shape[0], shape[1] // k, shape[2] // k)
            if pending is None and op.kind == "max":
                source = shape              # the convolution now sends the pooled map
        elif isinstance(op, Flatten):
            if pending is not None:
                raise SpikegenError(f"{label}: Flatten between a linear layer and its "
                                    "neurons is not supported")
            if len(shape) == 3:
                shape = ("hwc" if op.channels_last else "flat", *shape)
        elif isinstance(op, Unflatten):
            h, w, c = op.shape
            flat = shape[1:] if isinstance(shape[0], str) else shape
            if int(np.prod(flat)) != h * w * c or spike_pool != 1:
                raise SpikegenError(f"{label}: cannot make a {op.shape} map of shape {shape}")
            shape = source = (c, h, w)
        elif isinstance(op, Neuron):
            if pending is None:
                raise SpikegenError(f"{label}: a neuron layer needs a linear layer (Conv2d "
                                    "or Linear) before it")
            layers.append(_layer(pending, op, label))
            shape = source = _layer_shape(layers[-1])
            pending = None
        else:
            raise SpikegenError(f"{label}: unsupported operation {type(op).__name__}")
    if pending is not None:
        raise SpikegenError(f"{where}: the last linear layer has no neuron layer after it")
    if spike_pool != 1:
        raise SpikegenError(f"{where}: the network ends with a pooling; spikegen's output "
                            "is the last neuron layer")
    if not layers:
        raise SpikegenError(f"{where}: no layers")
    return tuple(layers)


def _replace_geometry(g, **changes):
    fields = dict(in_hw=g.in_hw, in_channels=g.in_channels, out_channels=g.out_channels,
                  kernel=g.kernel, out_hw=g.out_hw, stride=g.stride, padding=g.padding,
                  dilation=g.dilation, pool=g.pool, out_pool=g.out_pool)
    fields.update(changes)
    return ConvGeometry(**fields)


def _linear_output(op, shape, pending, label):
    """The shape after ``op`` (before any pooling of currents)."""
    if isinstance(op, Linear):
        if op.weight.ndim != 2:
            raise SpikegenError(f"{label}: weight must be 2-D, not shape {op.weight.shape}")
        flat = shape[1:] if isinstance(shape[0], str) else shape
        if len(flat) == 3 and not isinstance(shape[0], str):
            raise SpikegenError(f"{label}: a Linear layer after a (C, H, W) map needs a "
                                "Flatten before it")
        inputs = int(np.prod(flat))
        if op.weight.shape[1] != inputs:
            raise SpikegenError(f"{label}: takes {op.weight.shape[1]} inputs but the layer "
                                f"before it gives {inputs} (shape {tuple(flat)})")
        pending.in_chw = tuple(flat)
        pending.channels_last = shape[0] == "hwc"
        return (op.weight.shape[0],)
    c, h, w = shape
    out, per, kh, kw = op.weight.shape
    if per * op.groups != c or out % op.groups:
        raise SpikegenError(f"{label}: weight of shape {op.weight.shape} with groups "
                            f"{op.groups} does not take {c} input channels")
    top, left, bottom, right = op.padding
    rows = conv_output_size(h, kh, op.stride[0], top, op.dilation[0], bottom)
    cols = conv_output_size(w, kw, op.stride[1], left, op.dilation[1], right)
    if rows < 1 or cols < 1:
        raise SpikegenError(f"{label}: a {kh}x{kw} kernel does not fit a {h}x{w} map")
    return (out, rows, cols)


def _layer(pending, op, label):
    """The IR layer of a linear map and its neurons."""
    p = pending.op
    bias = None if p.bias is None else np.asarray(p.bias, dtype=np.float64)
    if op.recurrent_bias is not None:
        bias = (np.zeros(np.shape(op.recurrent_bias)) if bias is None else bias) \
            + op.recurrent_bias
    try:
        if isinstance(p, Linear):
            return DenseLayer(_dense_weight(pending), bias, op.neuron, op.recurrent)
        if op.recurrent is not None:
            raise SpikegenError(f"{label}: recurrent convolution layers are not supported")
        return _conv_layer(pending, bias, op.neuron)
    except ValueError as exc:
        raise SpikegenError(f"{label}: {exc}") from None


def _dense_weight(pending):
    """A dense layer's weights on the channels-last (source) map it reads."""
    weight = np.asarray(pending.op.weight, dtype=np.float64) * pending.scale
    chw = pending.in_chw
    if len(chw) != 3:
        return weight
    c, h, w = chw
    outputs = weight.shape[0]
    if pending.channels_last:
        grid = weight.reshape(outputs, h, w, c).transpose(0, 3, 1, 2)
    else:
        grid = weight.reshape(outputs, c, h, w)
    k = pending.spike_pool
    if k > 1:
        # each pooled input takes the spikes of its window: its weight repeats over it (the
        # rows and columns a window does not cover have no weight)
        _, rows, cols = pending.source
        source = np.zeros((outputs, c, rows, cols))
        source[:, :, :h * k, :w * k] = np.repeat(np.repeat(grid, k, axis=2), k, axis=3)
        grid = source
    return grid.transpose(0, 2, 3, 1).reshape(outputs, -1)


def _conv_layer(pending, bias, neuron):
    p = pending.op
    weight = _grouped(np.asarray(p.weight, dtype=np.float64), p.groups) * pending.scale
    c, h, w = pending.in_chw
    k_in = pending.spike_pool
    stride, dilation = tuple(p.stride), tuple(p.dilation)
    top, left, bottom, right = p.padding
    rows = conv_output_size(h, weight.shape[2], stride[0], top, dilation[0], bottom)
    cols = conv_output_size(w, weight.shape[3], stride[1], left, dilation[1], right)
    current_pool = 1
    if pending.current_pool is not None and pending.current_pool[0] == "max":
        current_pool = pending.current_pool[1]
    elif pending.current_pool is not None:
        kind, k = pending.current_pool
        weight = _widen(weight, (k, k), stride, dilation)
        if bias is not None and kind == "sum":
            bias = bias * (k * k)
        if kind == "avg":
            weight = weight / (k * k)
        stride, dilation = (stride[0] * k, stride[1] * k), (1, 1)
        rows, cols = rows // k, cols // k
    geometry = ConvGeometry(in_hw=tuple(pending.source[1:]), in_channels=c,
                            out_channels=weight.shape[0], kernel=weight.shape[2:],
                            out_hw=(rows, cols), stride=stride, padding=(top, left),
                            dilation=dilation, pool=k_in, current_pool=current_pool)
    return ConvLayer(weight, bias, neuron, geometry)


def _layer_shape(layer):
    if isinstance(layer, ConvLayer):
        h, w, c = layer.output_shape
        return (c, h, w)
    return (layer.outputs,)
