"""Reading NIR graphs (the Neuromorphic Intermediate Representation, ``nir`` on PyPI).

NIR nodes are continuous-time; spikegen discretises them with forward Euler at the time step
``dt``, as the NIR documentation specifies (all parameters may be scalars or per neuron):

=========================  =================================================================
NIR node                   spikegen layer (after the ``Affine``/``Linear`` node before it)
=========================  =================================================================
``LIF(tau, r, v_leak,      ``LIF``: ``v[t] = (1 - dt/tau) v[t-1] + (dt/tau) v_leak + (dt r /
v_threshold, v_reset)``    tau) I[t]``: ``beta = 1 - dt/tau``, the input gain ``dt r/tau``
                           folded into the weight rows and bias, ``(dt/tau) v_leak`` a
                           constant added to the bias
``IF(r, v_threshold,       ``LIF`` with ``beta = 1`` and input gain ``r``
v_reset)``
``CubaLIF(tau_syn,         ``CubaLIF``: ``I[t] = (1 - dt/tau_syn) I[t-1] + (dt w_in/tau_syn)
tau_mem, r, v_leak,        S[t]``, ``v[t] = (1 - dt/tau_mem) v[t-1] + (dt r/tau_mem) I[t]``:
v_threshold, v_reset,      ``alpha = 1 - dt/tau_syn``, ``beta = 1 - dt/tau_mem``, both gains
w_in)``                    folded into the weight rows (the current is kept pre-scaled by
                           ``dt r/tau_mem``); the membrane takes the current of the same step,
                           as snnTorch's ``Synaptic`` does; ``v_leak`` must be 0
``LI(tau, r, v_leak)``     ``LIF`` with ``reset="none"``, ``threshold=0``, as the last layer
                           with ``readout="membrane"``
``CubaLI(...)``            ``CubaLIF`` likewise
``Threshold(threshold)``   after ``LI``/``CubaLI``: makes it spiking (``reset="none"``); after
                           a weight node: a stateless layer, ``LIF(beta=0, reset="none")``
``Affine``, ``Linear``     the weights (and bias) of the next layer
``Scale``                  folded into the weights: before them (columns) or after (rows)
``Flatten``, ``Input``,    nothing
``Output``
recurrent edge             a neuron node ``n`` with an ``Affine``/``Linear`` node whose only
                           input and only output are ``n`` (how snnTorch exports ``RLeaky`` and
                           ``RSynaptic``): the layer's ``recurrent`` weights (times the input
                           gain), an ``Affine`` bias added to the layer's bias
=========================  =================================================================

Spikes are strict (``v > v_threshold``). snnTorch exports with ``dt = 1e-4``, ``tau = dt / (1
- beta)``, ``r = tau / dt`` (``tau_syn = dt / (1 - alpha)``, ``w_in = tau_syn / dt``), so its
networks map back to their own beta and alpha and unit gains; values within 1e-5 of those are
snapped to them (float32 exports turn 1.0 into 0.99999997).

NIR does not record the reset mechanism: ``reset`` (``zero``, NIR's reset to ``v_reset``,
which must then be 0; or ``subtract``, snnTorch's default) and ``reset_delay`` are options and
the report says which were used. Nor does it record who wrote the graph, so spikegen looks for
it: a graph whose metadata names its writer (``source``, ``framework``, ``exporter``,
``generator`` or ``library``), or whose every neuron node has snnTorch's pattern (unit input
gain ``dt r / tau = 1`` at ``dt = 1e-4``, ``v_leak = v_reset = 0``), is that framework's. An
snnTorch export is read with snnTorch's own default reset, ``subtract``, unless ``reset`` is
given; the conventions assumed are recorded in :attr:`Network.notes
<spikegen.ir.Network>`, and :attr:`Network.source <spikegen.ir.Network>` names the graph
(``NIR graph (snnTorch export)``) for the report; a graph :func:`spikegen.save_nir` wrote
records its reset in its metadata. ``zero`` follows snnTorch's layer of the same shape:
``zero`` for a feed-forward ``LIF``/``IF`` (``Leaky``), ``zero_all`` for ``CubaLIF`` and
recurrent layers (``Synaptic``, ``RLeaky``, ``RSynaptic``; see :mod:`spikegen.ir`). The graph
must be a chain from ``Input`` to ``Output`` apart from recurrent edges; any other node or
topology is refused with a one-line message naming the node.

Convolutional graphs (a ``Conv2d``, ``SumPool2d`` or ``AvgPool2d`` node, an input map of
several channels, or an ``input_shape`` given) are read by :mod:`spikegen.nir_maps`.
"""
import functools
import os
from types import SimpleNamespace

import numpy as np

from .errors import SpikegenError
from .ir import LIF, CubaLIF, DenseLayer, Network


__all__ = ["load_nir", "DEFAULT_DT", "is_nir_file"]


#: snnTorch's export time step.
DEFAULT_DT = 1e-4

_SUPPORTED = ("Input, Output, Affine, Linear, Scale, Flatten, LIF, IF, CubaLIF, LI, CubaLI, "
              "Threshold")
_NEURONS = ("LIF", "IF", "CubaLIF", "LI", "CubaLI")
_WEIGHTS = ("Affine", "Linear")


def is_nir_file(path):
    """An HDF5 file (NIR's container), judged by its signature bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def _snap(values, target, tolerance=1e-5):
    """Exports in float32 turn 1.0 into 0.99999997: take values that close as exact."""
    values = np.asarray(values, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return np.where(np.abs(values - target) <= tolerance * np.maximum(1.0, np.abs(target)),
                    target, values)


def _param(path, node_name, label, value, count):
    """A node parameter as a float array of ``count`` values (a scalar is broadcast)."""
    values = np.asarray(value, dtype=np.float64).reshape(-1)
    if values.size not in (1, count):
        raise SpikegenError(f"{path}: node {node_name!r}: {label} has {values.size} values "
                            f"for {count} neurons")
    if not np.all(np.isfinite(values)):
        raise SpikegenError(f"{path}: node {node_name!r}: {label} is not finite")
    return np.broadcast_to(values, (count,)).copy()


def _flatten(path, graph):
    """Nodes and edges with nested graphs inlined (``outer.inner`` names)."""
    nodes, edges = {}, []
    entry, exit_ = {}, {}
    for name, node in graph.nodes.items():
        if type(node).__name__ == "NIRGraph":    # nir's class, or _read_hdf5's
            inner_nodes, inner_edges = _flatten(path, node)
            ins = [n for n, v in inner_nodes.items() if type(v).__name__ == "Input"]
            outs = [n for n, v in inner_nodes.items() if type(v).__name__ == "Output"]
            if len(ins) != 1 or len(outs) != 1:
                raise SpikegenError(f"{path}: nested graph {name!r} needs one Input and one "
                                    "Output node")
            for n, v in inner_nodes.items():
                if n not in (ins[0], outs[0]):
                    nodes[f"{name}.{n}"] = v
            entry[name] = [f"{name}.{t}" for s, t in inner_edges if s == ins[0]]
            exit_[name] = [f"{name}.{s}" for s, t in inner_edges if t == outs[0]]
            edges += [(f"{name}.{s}", f"{name}.{t}") for s, t in inner_edges
                      if s != ins[0] and t != outs[0]]
        else:
            nodes[name] = node
    for source, target in graph.edges:
        for s in exit_.get(source, [source]):
            for t in entry.get(target, [target]):
                edges.append((s, t))
    return nodes, edges


def _recurrent_edges(nodes, edges):
    """``{neuron: weight node}`` for weight nodes whose only input and only output is the same
    neuron node, and the edges without those loops."""
    preds, succs = {}, {}
    for s, t in edges:
        succs.setdefault(s, []).append(t)
        preds.setdefault(t, []).append(s)
    loops = {}
    for name, node in nodes.items():
        if type(node).__name__ in _WEIGHTS and preds.get(name) == succs.get(name) \
                and len(preds.get(name, [])) == 1 \
                and type(nodes[preds[name][0]]).__name__ in _NEURONS:
            neuron = preds[name][0]
            if neuron in loops:
                raise SpikegenError(f"node {neuron!r} has two recurrent weight nodes "
                                    f"({loops[neuron]!r}, {name!r})")
            loops[neuron] = name
    loop_nodes = set(loops.values())
    kept = [(s, t) for s, t in edges if s not in loop_nodes and t not in loop_nodes]
    return loops, kept


def _chain(path, nodes, edges):
    """Node names from the input to the output, refusing branches and other cycles."""
    successors = {}
    for source, target in edges:
        successors.setdefault(source, []).append(target)
    inputs = [name for name, node in nodes.items() if type(node).__name__ == "Input"]
    if len(inputs) != 1:
        raise SpikegenError(f"{path}: expected one Input node, found {len(inputs)}")
    order, seen = [inputs[0]], {inputs[0]}
    while True:
        nxt = successors.get(order[-1], [])
        if not nxt:
            break
        if len(nxt) > 1:
            raise SpikegenError(f"{path}: node {order[-1]!r} feeds {len(nxt)} nodes; "
                                "spikegen reads feed-forward chains with recurrent edges "
                                "through one Affine or Linear node")
        if nxt[0] in seen:
            raise SpikegenError(f"{path}: recurrent edge {order[-1]!r} -> {nxt[0]!r}; "
                                "spikegen reads recurrence only as a neuron node's output "
                                "fed back to it through one Affine or Linear node")
        order.append(nxt[0])
        seen.add(nxt[0])
    return order, seen


#: Graph metadata keys that may name the framework which wrote the graph.
_WRITER_KEYS = ("source", "framework", "exporter", "generator", "library")
#: Spelling of the frameworks spikegen recognises (lower case -> as their projects write it).
_FRAMEWORKS = {"snntorch": "snnTorch", "norse": "Norse", "sinabs": "Sinabs",
               "rockpool": "Rockpool", "lava": "Lava", "spyx": "Spyx"}


def _metadata_writer(graph):
    """The framework the graph's metadata names, or ``None`` (exporters seldom write it, and
    ``nir`` releases before 1.0.5 have no graph metadata at all)."""
    metadata = getattr(graph, "metadata", None)
    if not isinstance(metadata, dict):
        return None
    for key in _WRITER_KEYS:
        value = metadata.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            value = value.strip()
            return _FRAMEWORKS.get(value.lower().split()[0], value)
    return None


def _looks_like_snntorch(nodes):
    """snnTorch's exporter writes ``tau = dt/(1-beta)``, ``r = tau/dt`` (and ``w_in =
    tau_syn/dt``) at ``dt = 1e-4``, with ``v_leak = v_reset = 0``: every neuron node's input
    gain is 1 at that time step. Norse and Sinabs write other time constants and gains."""
    found = False
    for node in nodes.values():
        kind = type(node).__name__
        if kind not in _NEURONS:
            continue
        found = True
        try:
            cuba = kind.startswith("Cuba")
            if kind == "IF":
                return False
            tau = np.asarray(node.tau_mem if cuba else node.tau, dtype=np.float64)
            gains = [DEFAULT_DT * np.asarray(node.r, dtype=np.float64) / tau]
            if cuba:
                gains.append(DEFAULT_DT * np.asarray(node.w_in, dtype=np.float64)
                             / np.asarray(node.tau_syn, dtype=np.float64))
            zeros = [node.v_leak] + ([getattr(node, "v_reset", 0.0)] if "LIF" in kind else [])
        except (AttributeError, TypeError, ValueError):
            return False
        if not all(np.allclose(g, 1.0, rtol=1e-4) for g in gains) \
                or any(np.any(np.asarray(z, dtype=np.float64) != 0.0) for z in zeros):
            return False
    return found


def _conventions(writer, how, dt, dt_given, reset, reset_given, reset_delay):
    """The notes saying which conventions the reading assumed, and where each came from."""
    if writer == "snnTorch":
        time = f"dt {dt:g}" + (" (given)" if dt_given else " (snnTorch's export time step)")
        mech = (f"reset {reset} ({reset_given})" if reset_given
                else "reset subtract (snnTorch's default; NIR records no reset: give "
                     "reset=zero (--reset zero) for NIR's reset to v_reset)")
    else:
        time = f"dt {dt:g}" + (" (given)" if dt_given else " (snnTorch's export time step; "
                               "NIR records none: give dt (--dt), e.g. 1 for Sinabs, whose time "
                               "constants are in steps)")
        mech = f"reset {reset}" + (f" ({reset_given})" if reset_given
                                   else " (NIR's reset to v_reset; give reset=subtract for "
                                        "snnTorch's)")
    who = "NIR graph" + (f" written by {writer} ({how})" if writer else
                         " of unknown origin (no writer in its metadata)")
    return (f"{who}, read with {time}, {mech}, reset delay {'on' if reset_delay else 'off'}, "
            "one binary spike per step when v > v_threshold",)


def load_nir(path, *, dt=None, reset=None, reset_delay=True, name=None, readout=None,
             input_shape=None):
    """Read a NIR file into spikegen's float IR (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
    dt : float or None
        The discretisation time step; ``None`` means :data:`DEFAULT_DT` (snnTorch's).
    reset : str or None
        ``"zero"`` or ``"subtract"``; ``None`` means ``"subtract"`` for a graph that
        snnTorch wrote (snnTorch's default) and ``"zero"`` (NIR's ``v_reset``) otherwise.
    reset_delay : bool
    name, readout : str or None
    input_shape : (int, int, int) or None
        The (C, H, W) map a convolutional graph takes, when its ``Input`` node does not
        record it (see :mod:`spikegen.nir_maps`).

    Returns
    -------
    Network
        With ``source`` naming the graph and ``notes`` the conventions assumed.
    """
    try:
        import nir
    except ImportError:
        raise SpikegenError("reading NIR needs the 'nir' package: pip install nir") from None
    dt_given = dt is not None
    dt = DEFAULT_DT if dt is None else dt
    if not dt > 0:
        raise SpikegenError(f"`dt` must be positive, not {dt}")
    if reset not in (None, "zero", "subtract"):
        raise SpikegenError(f"`reset` must be zero or subtract for NIR input, not {reset!r}")
    try:
        graph = _read_graph(nir, os.fspath(path))
    except Exception as exc:     # h5py and nir raise many types for a damaged file
        raise SpikegenError(f"{path}: not a readable NIR file ({type(exc).__name__}: "
                            f"{exc})") from None
    try:
        nodes, edges = _flatten(path, graph)
        loops, edges = _recurrent_edges(nodes, edges)
    except SpikegenError as exc:
        if str(exc).startswith(f"{path}:"):
            raise
        raise SpikegenError(f"{path}: {exc}") from None
    writer, how = _metadata_writer(graph), "named in its metadata"
    if writer is None and _looks_like_snntorch(nodes):
        writer, how = "snnTorch", "its node pattern"
    reset_given = "given" if reset is not None else None
    recorded = (getattr(graph, "metadata", None) or {}).get("reset")
    recorded = recorded.decode() if isinstance(recorded, bytes) else recorded
    if reset is None and recorded in ("zero", "subtract"):
        # spikegen.save_nir records the reset mechanism, which NIR's nodes cannot
        reset, reset_given = recorded, "the graph's metadata"
    if reset is None:
        reset = "subtract" if writer == "snnTorch" else "zero"
    notes = _conventions(writer, how, dt, dt_given, reset, reset_given, reset_delay)
    order, seen = _chain(path, nodes, edges)
    stray = sorted(set(nodes) - seen - set(loops.values()))
    if stray:
        raise SpikegenError(f"{path}: nodes not on the input-to-output chain: "
                            f"{', '.join(map(repr, stray))}")
    from . import nir_maps
    if nir_maps.reads_maps(nodes, order, input_shape):
        # convolutions, pooling, maps: read into spikegen.fold's operations (nir_maps.py)
        neuron_layer = functools.partial(_neuron_layer, dt=dt, reset=reset,
                                         reset_delay=reset_delay)
        layers, integrator = nir_maps.map_layers(path, nodes, order, loops, input_shape,
                                                 neuron_layer)
        return _network(path, layers, integrator, name=name, readout=readout,
                        writer=writer, notes=notes)

    layers = []
    weight = bias = None
    in_scale = None
    integrator = None       # the name of an LI/CubaLI node whose output is a membrane
    for node_name in order:
        node = nodes[node_name]
        kind = type(node).__name__
        if kind in ("Input", "Output", "Flatten"):
            continue
        if integrator is not None and kind != "Threshold":
            raise SpikegenError(f"{path}: node {integrator!r} ({type(nodes[integrator]).__name__}"
                                f") feeds node {node_name!r}; a leaky integrator has no "
                                "spikes, so it must be the last layer (or feed a Threshold)")
        if kind in _WEIGHTS:
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
        if kind == "Threshold":
            if integrator is not None:
                last = layers[-1]
                count = last.outputs
                threshold = _param(path, node_name, "threshold", node.threshold, count)
                cls = type(last.neuron)
                params = {"alpha": last.neuron.alpha} if cls is CubaLIF else {}
                layers[-1] = DenseLayer(last.weight, last.bias, cls(
                    beta=last.neuron.beta, threshold=threshold, reset="none",
                    reset_delay=bool(reset_delay), **params), last.recurrent)
                integrator = None
                continue
            if weight is None:
                raise SpikegenError(f"{path}: node {node_name!r} (Threshold) follows neither "
                                    "a weight node nor an LI/CubaLI node")
            threshold = _param(path, node_name, "threshold", node.threshold, weight.shape[0])
            layers.append(DenseLayer(weight, bias, LIF(beta=0.0, threshold=threshold,
                                                       reset="none",
                                                       reset_delay=bool(reset_delay))))
            weight = bias = None
            continue
        if kind not in _NEURONS:
            raise SpikegenError(f"{path}: node {node_name!r} is a {kind}, which spikegen does "
                                f"not support (supported: {_SUPPORTED})")
        if weight is None:
            raise SpikegenError(f"{path}: node {node_name!r} ({kind}) has no Affine or "
                                "Linear node before it")
        layers.append(_neuron_layer(path, node_name, node, kind, weight, bias,
                                    nodes.get(loops.get(node_name)), loops.get(node_name),
                                    dt, reset, reset_delay))
        if kind in ("LI", "CubaLI"):
            integrator = node_name
        weight = bias = None
    if weight is not None:
        raise SpikegenError(f"{path}: the last weight node has no neuron node after it")
    return _network(path, layers, integrator, name=name, readout=readout, writer=writer,
                    notes=notes)


def _network(path, layers, integrator, *, name, readout, writer, notes):
    """The :class:`Network` of the layers read; ``integrator`` names a last LI/CubaLI node."""
    if not layers:
        raise SpikegenError(f"{path}: the graph holds no layers")
    for before, after in zip(layers, layers[1:]):
        if after.inputs != before.outputs:
            raise SpikegenError(f"{path}: shape mismatch: a layer with {after.inputs} inputs "
                                f"follows one with {before.outputs} neurons")
    if integrator is not None:
        if readout == "spikes":
            raise SpikegenError(f"{path}: the network ends in {integrator!r}, a leaky "
                                "integrator without spikes; read it as a membrane")
        readout = "membrane"
    if name is None:
        name = os.path.splitext(os.path.basename(os.fspath(path)))[0] or "net"
    source = "NIR graph" + (f" ({writer} export)" if writer else "")
    return Network(tuple(layers), name=name, readout=readout or "spikes", source=source,
                   notes=notes)


def _read_graph(nir, path):
    """``nir.read``, or where it fails spikegen's own reading of the HDF5 tree: ``nir`` 1.0.4
    (which Sinabs and Rockpool pin) cannot build nodes with fields added later (``LIF``'s
    ``v_reset``, ``CubaLI``), so it fails on files that newer releases write."""
    try:
        return nir.read(path)
    except Exception as exc:     # h5py and nir raise many types for a damaged file
        try:
            return _read_hdf5(path)
        except Exception:
            raise exc from None


_NODE_CLASSES = {}


def _read_hdf5(path):
    """The graph in NIR's HDF5 layout (``node/type``, ``node/nodes/<name>/...``,
    ``node/edges``) as plain objects whose class is named after the node type."""
    import h5py

    def tree(group):
        values = {}
        for key, item in group.items():
            if isinstance(item, h5py.Group):
                values[key] = tree(item)
            else:
                value = item[()]
                values[key] = value.decode("utf-8") if isinstance(value, bytes) else value
        return values

    def build(values):
        kind = values.get("type")
        if not isinstance(kind, str):
            raise ValueError("a node without a type")
        fields = {k: v for k, v in values.items() if k not in ("type", "nodes", "edges")}
        if kind == "NIRGraph":
            fields["nodes"] = {name: build(v) for name, v in values["nodes"].items()}
            fields["edges"] = [tuple(e.decode("utf-8") if isinstance(e, bytes) else str(e)
                                     for e in pair) for pair in values.get("edges", [])]
        cls = _NODE_CLASSES.setdefault(kind, type(kind, (SimpleNamespace,), {}))
        return cls(**fields)

    with h5py.File(path, "r") as f:
        graph = build(tree(f["node"]))
    if type(graph).__name__ != "NIRGraph":
        raise ValueError(f"the top node is a {type(graph).__name__}, not a NIRGraph")
    return graph


def _neuron_layer(path, node_name, node, kind, weight, bias, rec_node, rec_name, dt, reset,
                  reset_delay):
    count = weight.shape[0]

    def param(label, default=None):
        value = getattr(node, label, default)
        return _param(path, node_name, label, default if value is None else value, count)

    def positive(label):
        values = param(label)
        if not np.all(values > 0):
            raise SpikegenError(f"{path}: node {node_name!r}: {label} must be positive")
        return values

    spiking = kind in ("LIF", "IF", "CubaLIF")
    cuba = kind in ("CubaLIF", "CubaLI")
    threshold = param("v_threshold") if spiking else 0.0
    if spiking:
        v_reset = param("v_reset", 0.0)
        if reset == "zero" and np.any(v_reset != 0.0):
            raise SpikegenError(f"{path}: node {node_name!r} resets to v_reset="
                                f"{float(v_reset[v_reset != 0][0]):g}; spikegen resets to 0 "
                                "(or use `reset` subtract)")
    alpha = None
    constant = 0.0
    if kind == "IF":
        beta, gain = np.ones(count), param("r")
    else:
        tau = positive("tau_mem" if cuba else "tau")
        beta = 1.0 - dt / tau
        gain = dt * param("r") / tau
        v_leak = param("v_leak")
        if cuba:
            if np.any(v_leak != 0.0):
                raise SpikegenError(f"{path}: node {node_name!r} ({kind}) has a nonzero v_leak, "
                                    "which spikegen does not support for a synaptic current")
            tau_syn = positive("tau_syn")
            alpha = _snap(1.0 - dt / tau_syn, np.round(1.0 - dt / tau_syn, 6))
            gain = _snap(dt * param("w_in", 1.0) / tau_syn, 1.0) * _snap(gain, 1.0)
        constant = dt / tau * v_leak
    beta = _snap(beta, np.round(beta, 6))
    gain = _snap(gain, 1.0)
    for label, values in (("beta", beta), ("alpha", alpha)):
        if values is not None and not np.all((0.0 <= values) & (values <= 1.0)):
            raise SpikegenError(f"{path}: node {node_name!r}: dt={dt:g} gives {label} "
                                f"{float(values.min()):g}, outside [0, 1]; check `dt`")
    w = weight * gain[:, None]
    b = None if bias is None else bias * gain
    if np.any(constant != 0.0):
        b = (np.zeros(count) if b is None else b) + constant
    recurrent = None
    if rec_node is not None:
        matrix = np.asarray(rec_node.weight, dtype=np.float64)
        if matrix.shape != (count, count):
            raise SpikegenError(f"{path}: node {rec_name!r}: recurrent weights of shape "
                                f"{matrix.shape}, expected ({count}, {count})")
        recurrent = matrix * gain[:, None]
        if type(rec_node).__name__ == "Affine":
            extra = np.asarray(rec_node.bias, dtype=np.float64).reshape(-1) * gain
            b = extra if b is None else b + extra
    if not spiking:
        mode = "none"
    elif reset == "zero" and (cuba or recurrent is not None):
        mode = "zero_all"
    else:
        mode = reset
    if cuba:
        neuron = CubaLIF(alpha=alpha, beta=beta, threshold=threshold, reset=mode,
                         reset_delay=bool(reset_delay))
    else:
        neuron = LIF(beta=beta, threshold=threshold, reset=mode, reset_delay=bool(reset_delay))
    return DenseLayer(w, b, neuron, recurrent)
