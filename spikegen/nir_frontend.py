"""Reading NIR graphs (the Neuromorphic Intermediate Representation, ``nir`` on PyPI).

NIR nodes are continuous-time. A leaky integrate-and-fire node ``LIF(tau, r, v_leak,
v_threshold, v_reset)`` obeys ``tau dv/dt = (v_leak - v) + r I``; spikegen discretises it with
forward Euler at the time step ``dt``, as the NIR documentation specifies::

    v[t] = (1 - dt/tau) v[t-1] + (dt/tau) v_leak + (dt/tau) r I[t]

so ``beta = 1 - dt/tau``, the input current is scaled by ``dt r / tau`` (folded into the
weights and bias of the ``Affine``/``Linear`` node before it) and ``(dt/tau) v_leak`` is a
constant input added every step (folded into the bias). ``IF(r, v_threshold, v_reset)``
integrates without leak: ``v[t] = v[t-1] + r I[t]`` (beta = 1). snnTorch exports with
``dt = 1e-4``, ``tau = dt / (1 - beta)`` and ``r = tau / dt``, so its networks map back to
their own beta and a unit input gain.

NIR does not record the reset mechanism: ``reset`` (``zero``, NIR's reset to ``v_reset``,
which must then be 0; or ``subtract``, snnTorch's default) and ``reset_delay`` are options
and the report says which were used. This version reads feed-forward chains of ``Input``,
``Affine``/``Linear``, ``Scale``, ``Flatten`` and ``LIF``/``IF`` nodes ending in ``Output``;
any other node, or a recurrent edge, is refused with a message naming it.
"""
import os

import numpy as np

from .errors import SpikegenError
from .ir import LIF, DenseLayer, Network


__all__ = ["load_nir", "DEFAULT_DT", "is_nir_file"]


#: snnTorch's export time step.
DEFAULT_DT = 1e-4

_SUPPORTED = "Input, Output, Affine, Linear, Scale, Flatten, LIF, IF"


def is_nir_file(path):
    """An HDF5 file (NIR's container), judged by its signature bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def _snap(value, target, tolerance=1e-5):
    """Exports in float32 turn 1.0 into 0.99999997: take values that close as exact."""
    return target if abs(value - target) <= tolerance * max(1.0, abs(target)) else value


def _uniform(path, node_name, label, values, count):
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size not in (1, count):
        raise SpikegenError(f"{path}: node {node_name!r}: {label} has {values.size} values "
                            f"for {count} neurons")
    if not np.all(values == values[0]):
        raise SpikegenError(f"{path}: node {node_name!r}: per-neuron {label} values differ; "
                            "this version of spikegen needs one value per layer")
    return float(values[0])


def _chain(path, graph):
    """Node names from the input to the output, refusing branches and recurrent edges."""
    successors = {}
    for source, target in graph.edges:
        successors.setdefault(source, []).append(target)
    inputs = [name for name, node in graph.nodes.items() if type(node).__name__ == "Input"]
    if len(inputs) != 1:
        raise SpikegenError(f"{path}: expected one Input node, found {len(inputs)}")
    order, seen = [inputs[0]], {inputs[0]}
    while True:
        nxt = successors.get(order[-1], [])
        if not nxt:
            break
        if len(nxt) > 1:
            raise SpikegenError(f"{path}: node {order[-1]!r} feeds {len(nxt)} nodes; "
                                "spikegen reads feed-forward chains")
        if nxt[0] in seen:
            raise SpikegenError(f"{path}: recurrent edge {order[-1]!r} -> {nxt[0]!r}; "
                                "recurrent layers are not supported yet")
        order.append(nxt[0])
        seen.add(nxt[0])
    if len(order) != len(graph.nodes):
        stray = sorted(set(graph.nodes) - seen)
        raise SpikegenError(f"{path}: nodes not on the input-to-output chain: "
                            f"{', '.join(map(repr, stray))}")
    return order


def load_nir(path, *, dt=DEFAULT_DT, reset="zero", reset_delay=True, name=None):
    """Read a NIR file into spikegen's float IR (see the module docstring)."""
    try:
        import nir
    except ImportError:
        raise SpikegenError("reading NIR needs the 'nir' package: pip install nir") from None
    if not dt > 0:
        raise SpikegenError(f"--dt must be positive, not {dt}")
    if reset not in ("zero", "subtract"):
        raise SpikegenError(f"--reset must be zero or subtract for NIR input, not {reset!r}")
    try:
        graph = nir.read(os.fspath(path))
    except Exception as exc:     # h5py and nir raise many types for a damaged file
        raise SpikegenError(f"{path}: not a readable NIR file ({type(exc).__name__}: "
                            f"{exc})") from None

    layers = []
    weight = bias = None
    in_scale = None
    for node_name in _chain(path, graph):
        node = graph.nodes[node_name]
        kind = type(node).__name__
        if kind in ("Input", "Output", "Flatten"):
            continue
        if kind in ("Affine", "Linear"):
            if weight is not None:
                raise SpikegenError(f"{path}: node {node_name!r}: two weight nodes in a row")
            weight = np.asarray(node.weight, dtype=np.float64)
            if weight.ndim != 2:
                raise SpikegenError(f"{path}: node {node_name!r}: weight of shape "
                                    f"{weight.shape}; spikegen reads dense layers")
            bias = (np.asarray(node.bias, dtype=np.float64).reshape(-1) if kind == "Affine"
                    else None)
            if in_scale is not None:
                weight = weight * in_scale[None, :]
                in_scale = None
            continue
        if kind == "Scale":
            scale = np.asarray(node.scale, dtype=np.float64).reshape(-1)
            if weight is None:
                in_scale = scale if in_scale is None else in_scale * scale
            else:
                weight = weight * scale[:, None]
                bias = None if bias is None else bias * scale
            continue
        if kind not in ("LIF", "IF"):
            raise SpikegenError(f"{path}: node {node_name!r} is a {kind}, which spikegen does "
                                f"not support yet (supported: {_SUPPORTED})")
        if weight is None:
            raise SpikegenError(f"{path}: node {node_name!r} ({kind}) has no Affine or "
                                "Linear node before it")
        count = weight.shape[0]
        r = _uniform(path, node_name, "r", node.r, count)
        threshold = _uniform(path, node_name, "v_threshold", node.v_threshold, count)
        v_reset = _uniform(path, node_name, "v_reset", getattr(node, "v_reset", 0.0), count)
        if reset == "zero" and v_reset != 0.0:
            raise SpikegenError(f"{path}: node {node_name!r} resets to v_reset={v_reset:g}; "
                                "spikegen resets to 0 (or use --reset subtract)")
        if kind == "LIF":
            tau = _uniform(path, node_name, "tau", node.tau, count)
            v_leak = _uniform(path, node_name, "v_leak", node.v_leak, count)
            if not tau > 0:
                raise SpikegenError(f"{path}: node {node_name!r}: tau must be positive")
            beta = 1.0 - dt / tau
            gain = dt * r / tau
            constant = dt / tau * v_leak
        else:
            beta, gain, constant = 1.0, r, 0.0
        beta = _snap(beta, round(beta, 6))
        gain = _snap(gain, 1.0)
        if not 0.0 <= beta <= 1.0:
            raise SpikegenError(f"{path}: node {node_name!r}: dt={dt:g} and tau={tau:g} give "
                                f"beta={beta:g}, outside [0, 1]; check --dt")
        w = weight * gain
        b = None if bias is None else bias * gain
        if constant != 0.0:
            b = (np.zeros(count) if b is None else b) + constant
        layers.append(DenseLayer(w, b, LIF(beta=beta, threshold=threshold, reset=reset,
                                           reset_delay=bool(reset_delay))))
        weight = bias = None
    if weight is not None:
        raise SpikegenError(f"{path}: the last weight node has no LIF or IF node after it")
    if not layers:
        raise SpikegenError(f"{path}: the graph holds no layers")
    for before, after in zip(layers, layers[1:]):
        if after.inputs != before.outputs:
            raise SpikegenError(f"{path}: shape mismatch: a layer with {after.inputs} inputs "
                                f"follows one with {before.outputs} neurons")
    if name is None:
        name = os.path.splitext(os.path.basename(os.fspath(path)))[0] or "net"
    return Network(tuple(layers), name=name)
