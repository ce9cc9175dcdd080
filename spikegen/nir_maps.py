"""Convolutional NIR graphs: ``Conv2d``, ``SumPool2d``, ``AvgPool2d`` and ``Flatten`` nodes read
into :mod:`spikegen.fold`'s operations and folded into spikegen's layers.

:func:`spikegen.nir_frontend.load_nir` hands a graph here when it holds a convolution or a
pooling node, or takes a map of more than one channel (whose flattening order matters). The
chain of nodes becomes :class:`~spikegen.fold.Conv`, :class:`~spikegen.fold.Pool`,
:class:`~spikegen.fold.Flatten`, :class:`~spikegen.fold.Linear` and
:class:`~spikegen.fold.Neuron` operations in NIR's (and PyTorch's) (C, H, W) terms, and
:func:`~spikegen.fold.fold` turns them into convolution and dense layers on spikegen's
channels-last maps (pooling folded, Flatten + Linear permuted).

========================  ==================================================================
NIR node                  operation
========================  ==================================================================
``Conv2d``                a convolution: ``weight`` (C_out, C_in / groups, kH, kW), ``bias``,
                          ``stride``, ``dilation``, ``groups``; ``padding`` an integer, a
                          pair (rows, columns), ``"valid"`` or ``"same"`` (PyTorch's: the
                          top and left get half the kernel's extent, rounded down; stride 1)
``SumPool2d``,            sum or average pooling (of currents between a convolution and its
``AvgPool2d``             neurons, or of spikes after them); windows must tile the map
``Flatten``               the map becomes a vector in (C, H, W) order, whatever its
                          ``start_dim``/``end_dim`` (exporters count the batch dimension or
                          not); its ``input_type`` is not trusted
``Affine``, ``Linear``    a dense layer's weights (a Linear right after a map is flattened)
``Threshold``             right after a sum or average pooling of spikes, with a threshold
                          below one spike: the max pooling (OR) of the window, which NIR has
                          no node for (how :func:`spikegen.save_nir` writes one)
neuron nodes              as :mod:`spikegen.nir_frontend` reads them; after a convolution
                          every neuron of the map shares ``tau``, ``v_threshold`` (and
                          ``tau_syn``), and the input gain and ``v_leak`` are folded into the
                          convolution per output channel
========================  ==================================================================

**Shapes** are inferred from the input map forward, never taken from a node's
``input_type``/``output_type`` (exporters disagree on them; nir 1.0.8 types a grouped
``Conv2d``'s input with ``weight.shape[1]`` channels): the map is the ``input_shape`` given to
:func:`~spikegen.nir_frontend.load_nir` (checked against the ``Input`` node's), else the
``Input`` node's shape (C, H, W) (a leading batch dimension of 1 dropped), else the first
``Conv2d``'s ``input_shape`` (H, W) with C from its weight; a graph with none of them is
refused naming what it lacks.
"""
import numpy as np

from .errors import SpikegenError


__all__ = ["reads_maps", "map_layers", "MAP_NODES"]


#: Node types that make a graph a convolutional one.
MAP_NODES = ("Conv2d", "SumPool2d", "AvgPool2d")

_POOLS = {"SumPool2d": "sum", "AvgPool2d": "avg"}
_SUPPORTED = ("Input, Output, Conv2d, SumPool2d, AvgPool2d, Flatten, Affine, Linear, LIF, IF, "
              "CubaLIF, LI, CubaLI, and Threshold after a pooling of spikes")


def _shape(node):
    """The shape an ``Input`` node records (``nir`` keeps it in ``input_type``; a graph read
    without ``nir`` has its HDF5 ``shape``), or ``None``."""
    types = getattr(node, "input_type", None)
    value = types.get("input") if isinstance(types, dict) else getattr(node, "shape", None)
    if value is None:
        return None
    shape = tuple(int(s) for s in np.asarray(value).reshape(-1))
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]                  # a batch dimension
    return shape


def reads_maps(nodes, order, input_shape=None):
    """Whether the chain ``order`` is read as maps (here) rather than as dense layers."""
    if input_shape is not None or any(type(nodes[n]).__name__ in MAP_NODES for n in order):
        return True
    shape = _shape(nodes[order[0]])
    return shape is not None and len(shape) == 3 and shape[0] > 1


def _ints(path, name, label, value, *, size, minimum):
    """A node's integer parameter as a tuple of ``size`` (a scalar is repeated)."""
    values = np.asarray(value).reshape(-1)
    if values.size == 1:
        values = np.repeat(values, size)
    if (values.size != size or values.dtype.kind not in "iuf"
            or not np.all(values == np.round(values)) or np.any(values < minimum)):
        raise SpikegenError(f"{path}: node {name!r}: {label} must be {size} integers of at "
                            f"least {minimum}, not {np.asarray(value).tolist()}")
    return tuple(int(v) for v in values)


def _text(value):
    if isinstance(value, np.ndarray) and value.dtype.kind in "SU" and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode("utf-8")
    return str(value) if isinstance(value, (str, np.str_)) else None


def _input_chw(path, nodes, order, given):
    """The (C, H, W) map the graph takes (see the module docstring)."""
    recorded = _shape(nodes[order[0]])
    if given is not None:
        given = _ints(path, order[0], "input_shape", given, size=3, minimum=1)
        if recorded is not None and len(recorded) == 3 and recorded != given:
            raise SpikegenError(f"{path}: the Input node's shape is {recorded} but "
                                f"`input_shape` is {given}")
        return given
    if recorded is not None and len(recorded) == 3:
        return recorded
    first = nodes[order[1]] if len(order) > 1 else None
    if type(first).__name__ == "Conv2d" and getattr(first, "input_shape", None) is not None:
        h, w = _ints(path, order[1], "input_shape", first.input_shape, size=2, minimum=1)
        weight = np.asarray(first.weight)
        chw = (int(weight.shape[1]) * int(getattr(first, "groups", 1) or 1), h, w)
        if recorded is not None and int(np.prod(recorded)) != int(np.prod(chw)):
            raise SpikegenError(f"{path}: the Input node's shape {recorded} does not hold the "
                                f"{chw} map (C, H, W) the first Conv2d {order[1]!r} takes")
        return chw
    raise SpikegenError(f"{path}: the graph records no input map shape (C, H, W): its Input "
                        f"node has shape {recorded}, and no Conv2d input_shape follows it; "
                        "write the Input node as nir.Input(input_type=np.array([C, H, W])), "
                        "or read it with spikegen.nir_frontend.load_nir(path, "
                        "input_shape=(C, H, W))")


def _conv(path, name, node, shape):
    from .fold import Conv, same_padding

    if len(shape) != 3:
        raise SpikegenError(f"{path}: node {name!r} (Conv2d) follows a flat vector of "
                            f"{shape[0]}, not a (C, H, W) map")
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 4:
        raise SpikegenError(f"{path}: node {name!r}: Conv2d weight of shape {weight.shape}, "
                            "expected (C_out, C_in / groups, kH, kW)")
    groups = _ints(path, name, "groups", getattr(node, "groups", 1) or 1, size=1, minimum=1)[0]
    stride = _ints(path, name, "stride", node.stride, size=2, minimum=1)
    dilation = _ints(path, name, "dilation", node.dilation, size=2, minimum=1)
    kernel = weight.shape[2:]
    text = _text(node.padding)
    if text == "valid":
        padding = (0, 0, 0, 0)
    elif text == "same":
        if stride != (1, 1):
            raise SpikegenError(f"{path}: node {name!r}: padding 'same' with stride {stride}; "
                                "PyTorch defines 'same' for stride 1 only: give the padding "
                                "as numbers")
        padding = same_padding(kernel, dilation)
    elif text is not None:
        raise SpikegenError(f"{path}: node {name!r}: padding {text!r} is not 'same', 'valid' "
                            "or numbers")
    else:
        rows, cols = _ints(path, name, "padding", node.padding, size=2, minimum=0)
        padding = (rows, cols, rows, cols)
    bias = getattr(node, "bias", None)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64).reshape(-1)
        if bias.size == 1:
            bias = np.repeat(bias, weight.shape[0])
        if bias.size != weight.shape[0]:
            raise SpikegenError(f"{path}: node {name!r}: bias of {bias.size} values for "
                                f"{weight.shape[0]} output channels")
    op = Conv(weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups,
              name=name)
    from rtl_lib.conv_geometry import conv_output_size

    top, left, bottom, right = padding
    rows = conv_output_size(shape[1], kernel[0], stride[0], top, dilation[0], bottom)
    cols = conv_output_size(shape[2], kernel[1], stride[1], left, dilation[1], right)
    return op, (weight.shape[0], rows, cols)


def _pool(path, name, node, kind, shape):
    from .fold import Pool

    if len(shape) != 3:
        raise SpikegenError(f"{path}: node {name!r} ({kind}) follows a flat vector of "
                            f"{shape[0]}, not a (C, H, W) map")
    kernel = _ints(path, name, "kernel_size", node.kernel_size, size=2, minimum=1)
    stride = getattr(node, "stride", None)
    stride = kernel if stride is None else _ints(path, name, "stride", stride, size=2,
                                                 minimum=1)
    padding = getattr(node, "padding", None)
    padding = (0, 0) if padding is None else _ints(path, name, "padding", padding, size=2,
                                                   minimum=0)
    out = tuple((s + 2 * p - k) // st + 1
                for s, p, k, st in zip(shape[1:], padding, kernel, stride))
    return Pool(_POOLS[kind], kernel, stride, padding, name=name), (shape[0], *out)


def _max_pool(path, name, node, pool, linear):
    """A sum or average pooling of spikes followed by ``Threshold`` (``z = 1`` where ``v >
    threshold``), read as the max pooling (OR) of the window it equals: NIR has no max
    pooling node, and :func:`spikegen.save_nir` writes one this way."""
    from .fold import Pool

    if not isinstance(pool, Pool) or pool.kind not in ("sum", "avg") or linear is not None:
        raise SpikegenError(f"{path}: node {name!r}: a Threshold in a convolutional graph "
                            "reads only as a max pooling of spikes, right after a SumPool2d "
                            "or AvgPool2d of a neuron layer's spikes")
    threshold = np.unique(np.asarray(node.threshold, dtype=np.float64))
    # a window's pooled value is its spike count times this: OR when above 0 only
    step = 1.0 if pool.kind == "sum" else 1.0 / (pool.kernel[0] * pool.kernel[1])
    if threshold.size != 1 or not 0.0 <= threshold[0] < step:
        raise SpikegenError(f"{path}: node {name!r}: threshold {threshold.tolist()} after a "
                            f"{pool.kind} pooling of spikes is no max pooling (one threshold "
                            f"from 0 to below {step:g} is)")
    return Pool("max", pool.kernel, pool.stride, pool.padding, name=f"{pool.name}+{name}")


def _uniform_rows(path, name, label, values, channels):
    """Per-neuron ``values`` of a (C, H, W) map as one value per channel, if they are."""
    rows = np.asarray(values, dtype=np.float64).reshape(channels, -1)
    if not np.all(rows == rows[:, :1]):
        raise SpikegenError(f"{path}: node {name!r}: {label} differs across the map; the "
                            "neurons of a convolution share theirs (one value per channel)")
    return rows[:, 0]


def _conv_neurons(path, name, node, kind, conv, pooled, count, channels, neuron_layer):
    """The convolution with the neuron node's input gain and ``v_leak`` folded in, and its
    :class:`~spikegen.fold.Neuron`."""
    from .fold import Conv, Neuron

    # the neuron node read as a layer of unit weights gives its gain and constant input
    unit = neuron_layer(path, name, node, kind, np.ones((count, 1)), None, None, None)
    gain = _uniform_rows(path, name, "the input gain (r, tau)", unit.weight[:, 0], channels)
    bias = None if conv.bias is None else conv.bias * gain
    if unit.bias is not None:
        constant = _uniform_rows(path, name, "v_leak", unit.bias, channels)
        # a sum pooling of currents adds its window's biases up; an average keeps one
        constant = constant / (pooled * pooled)
        bias = constant if bias is None else bias + constant
    weight = conv.weight * gain[:, None, None, None]
    conv = Conv(weight, bias, stride=conv.stride, padding=conv.padding,
                dilation=conv.dilation, groups=conv.groups, name=conv.name)
    return conv, Neuron(unit.neuron, name=name)


def map_layers(path, nodes, order, loops, input_shape, neuron_layer):
    """The layers of a convolutional graph's chain ``order``, and the name of a last LI or
    CubaLI node (a membrane readout) or ``None``.

    ``neuron_layer(path, name, node, kind, weight, bias, rec_node, rec_name)`` reads a neuron
    node after weights of shape (neurons, inputs) as a dense layer (the NIR reader's own,
    with its time step and reset bound).
    """
    from .fold import Conv, Flatten, Linear, Neuron, fold
    from .nir_frontend import _NEURONS, _WEIGHTS

    shape = _input_chw(path, nodes, order, input_shape)
    chw = shape
    ops = []
    linear = None             # index in ops of the linear operation awaiting its neurons
    pooled = 1                # the side of a sum pooling of its currents (1: none or avg)
    integrator = None
    for name in order:
        node = nodes[name]
        kind = type(node).__name__
        if kind in ("Input", "Output"):
            continue
        if integrator is not None:
            raise SpikegenError(f"{path}: node {integrator!r} ({type(nodes[integrator]).__name__}"
                                f") feeds node {name!r}; a leaky integrator has no spikes, so "
                                "it must be the last layer")
        if kind == "Flatten" or (kind in _WEIGHTS and len(shape) == 3):
            # a Linear right after a map reads it flattened, as after a Flatten node
            if len(shape) == 3:
                ops.append(Flatten(name=name))
                shape = (int(np.prod(shape)),)
            if kind == "Flatten":
                continue
        if kind == "Conv2d":
            op, shape = _conv(path, name, node, shape)
            linear, pooled = len(ops), 1
            ops.append(op)
        elif kind in _POOLS:
            op, shape = _pool(path, name, node, kind, shape)
            if linear is not None and op.kind == "sum":
                pooled = op.kernel[0]
            ops.append(op)
        elif kind in _WEIGHTS:
            weight = np.asarray(node.weight, dtype=np.float64)
            if weight.ndim != 2:
                raise SpikegenError(f"{path}: node {name!r}: weight of shape {weight.shape}; "
                                    "expected (outputs, inputs)")
            bias = (np.asarray(node.bias, dtype=np.float64).reshape(-1) if kind == "Affine"
                    else None)
            linear = len(ops)
            ops.append(Linear(weight, bias, name=name))
            shape = (weight.shape[0],)
        elif kind in _NEURONS:
            if linear is None:
                raise SpikegenError(f"{path}: node {name!r} ({kind}) has no Conv2d, Affine or "
                                    "Linear node before it")
            op, rec_name = ops[linear], loops.get(name)
            if isinstance(op, Conv):
                if rec_name is not None:
                    raise SpikegenError(f"{path}: node {name!r}: recurrent convolution layers "
                                        "are not supported")
                ops[linear], neuron = _conv_neurons(path, name, node, kind, op, pooled,
                                                    int(np.prod(shape)), shape[0],
                                                    neuron_layer)
            else:
                layer = neuron_layer(path, name, node, kind, op.weight, op.bias,
                                     nodes.get(rec_name), rec_name)
                ops[linear] = Linear(layer.weight, layer.bias, name=op.name)
                neuron = Neuron(layer.neuron, layer.recurrent, name=name)
            ops.append(neuron)
            linear, pooled = None, 1
            if kind in ("LI", "CubaLI"):
                integrator = name
        elif kind == "Threshold":
            ops[-1] = _max_pool(path, name, node, ops[-1] if ops else None, linear)
        else:
            raise SpikegenError(f"{path}: node {name!r} is a {kind}, which spikegen does not "
                                f"read in a convolutional graph (supported: {_SUPPORTED})")
    if linear is not None:
        raise SpikegenError(f"{path}: the last {type(ops[linear]).__name__} node has no "
                            "neuron node after it")
    return list(fold(ops, chw, where=path)), integrator
