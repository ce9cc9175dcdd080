"""Writing NIR graphs of spikegen-loadable networks, scalar parameters included.

snnTorch 1.0's ``export_to_nir`` fails on a network whose ``beta`` or ``threshold`` is a
scalar (a type-inference error), and such is the README's example. :func:`save_nir` writes the
graph with the ``nir`` package itself, in snnTorch's conventions, so that :func:`spikegen.load`
and snnTorch's ``import_from_nir`` read it back as the same network:

=========================  ================================================================
spikegen layer             NIR nodes (``dt = 1e-4``, parameters per neuron)
=========================  ================================================================
``LIF``                    ``Affine`` (or ``Linear``) then ``LIF(tau = dt/(1-beta), r =
                           tau/dt, v_leak = 0, v_threshold)``; ``IF(r = 1)`` when
                           ``beta = 1``
``CubaLIF``                ``Affine`` then ``CubaLIF(tau_syn = dt/(1-alpha), tau_mem,
                           r = tau_mem/dt, w_in = tau_syn/dt)``
``recurrent``              a ``Linear`` node from the neuron node back to it
``ConvLayer``              ``SumPool2d`` (its input pooling, if any), ``Conv2d`` (groups
                           written as the full weight with its zeros; padding as numbers,
                           or ``"same"`` where only PyTorch's uneven 'same' fits), the
                           neuron node with parameters of the map's shape (C, H, W), and
                           ``SumPool2d`` + ``Threshold(0)`` for a max pooling of its spikes
dense after a convolution  ``Flatten`` of the (C, H, W) map, then the weights permuted from
                           spikegen's channels-last order to NIR's (C, H, W) order
=========================  ================================================================

NIR 1.0.8 has no max pooling node: a max pooling of a convolution's spikes (the OR of each
window) is written as ``SumPool2d`` then ``Threshold(0)`` (spike count above 0), which
:mod:`spikegen.nir_maps` reads back as max pooling. A convolution after a dense layer has no
NIR form (no reshape node) and is refused.

NIR records no reset mechanism: the graph's metadata says who wrote it (``source``
``snnTorch``, snnTorch's conventions) and the reset (``reset``), which the reader takes as
its default.
"""
import os

import numpy as np

from .errors import SpikegenError
from .nir_frontend import DEFAULT_DT


__all__ = ["save_nir"]


def _per_neuron(value, shape):
    """One value per neuron of a layer of ``shape`` ((N,), or a map's (C, H, W))."""
    value = np.asarray(value, dtype=np.float32)
    if value.size == 1:
        return np.full(shape, value.reshape(-1)[0], dtype=np.float32)
    return value.reshape(shape).copy()


def _tau(label, index, decay, shape):
    decay = _per_neuron(decay, shape).astype(np.float64)
    if np.any(decay >= 1.0):
        raise SpikegenError(f"layer {index}: {label} 1 has no NIR time constant (only a whole "
                            f"layer of beta 1 has one: an IF node)")
    return (DEFAULT_DT / (1.0 - decay)).astype(np.float32)


def _neuron_node(nir, index, neuron, shape):
    threshold = _per_neuron(neuron.threshold, shape)
    zeros = np.zeros(shape, dtype=np.float32)
    # nir 1.0.4 (pinned by sinabs and rockpool) has no v_reset: name it only where it exists
    extra = {"v_reset": zeros} if "v_reset" in nir.LIF.__dataclass_fields__ else {}
    if neuron.current_based:
        tau_syn = _tau("alpha", index, neuron.alpha, shape)
        tau_mem = _tau("beta", index, neuron.beta, shape)
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / np.float32(DEFAULT_DT),
                           v_leak=zeros, v_threshold=threshold,
                           w_in=tau_syn / np.float32(DEFAULT_DT), **extra)
    if np.all(np.asarray(neuron.beta) == 1.0):
        return nir.IF(r=np.ones(shape, dtype=np.float32), v_threshold=threshold, **extra)
    tau = _tau("beta", index, neuron.beta, shape)
    return nir.LIF(tau=tau, r=tau / np.float32(DEFAULT_DT), v_leak=zeros, v_threshold=threshold,
                   **extra)


def _dense_nodes(nir, k, layer, shape):
    """The nodes of a dense layer reading ``shape`` (NIR's terms), and the shape it gives."""
    weight = np.asarray(layer.weight)
    chain = []
    if len(shape) == 3:
        # after a convolution: NIR flattens the (C, H, W) map, spikegen's weights read it
        # channels last
        c, h, w = shape
        chain.append((f"{2 * k}_flatten", nir.Flatten(input_type={"input": np.array(shape)},
                                                      start_dim=0, end_dim=-1)))
        weight = weight.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(weight.shape[0], -1)
    weight = np.asarray(weight, dtype=np.float32)
    chain.append((f"{2 * k}", nir.Linear(weight=weight) if layer.bias is None else
                  nir.Affine(weight=weight, bias=np.asarray(layer.bias, dtype=np.float32))))
    chain.append((f"{2 * k + 1}", _neuron_node(nir, k, layer.neuron, (layer.outputs,))))
    return chain, (layer.outputs,)


def _conv_padding(k, g):
    """NIR's ``padding`` for ``g``'s taps: numbers (both sides alike) or PyTorch's 'same'."""
    from rtl_lib.conv_geometry import conv_output_size

    from .fold import same_padding

    symmetric = tuple(conv_output_size(*args) for args in zip(
        g.pooled_hw, g.kernel, g.stride, g.padding, g.dilation))
    if symmetric == tuple(g.out_hw):
        return np.array(g.padding)
    if (g.stride == (1, 1) and tuple(g.out_hw) == tuple(g.pooled_hw)
            and same_padding(g.kernel, g.dilation)[:2] == tuple(g.padding)):
        return "same"
    raise SpikegenError(f"layer {k}: padding {g.padding} (top, left) with a {g.out_hw[0]}x"
                        f"{g.out_hw[1]} output pads the bottom or right differently; NIR's "
                        "Conv2d pads both sides alike")


def _conv_nodes(nir, k, layer, shape):
    """The nodes of a convolution layer reading the (C, H, W) map ``shape``."""
    g = layer.geometry
    if len(shape) != 3:
        raise SpikegenError(f"layer {k}: a convolution after a dense layer has no NIR form "
                            "(NIR has no node that reshapes a vector into a map)")
    if g.current_pool > 1:
        raise SpikegenError(f"layer {k}: max pooling of currents has no NIR form (NIR 1.0 has "
                            "no max pooling node); save the network with spikegen.save")
    chain = []
    if g.pool > 1:
        window = np.array([g.pool, g.pool])
        chain.append((f"{2 * k}_pool", nir.SumPool2d(kernel_size=window, stride=window,
                                                      padding=np.array([0, 0]))))
    bias = np.zeros(g.out_channels) if layer.bias is None else layer.bias
    chain.append((f"{2 * k}", nir.Conv2d(
        input_shape=tuple(g.pooled_hw), weight=np.asarray(layer.weight, dtype=np.float32),
        stride=np.array(g.stride), padding=_conv_padding(k, g), dilation=np.array(g.dilation),
        groups=1, bias=np.asarray(bias, dtype=np.float32))))
    out = (g.out_channels, *g.out_hw)
    chain.append((f"{2 * k + 1}", _neuron_node(nir, k, layer.neuron, out)))
    if g.out_pool > 1:
        # NIR has no max pooling: the OR of a window of spikes is their sum above 0
        window = np.array([g.out_pool, g.out_pool])
        out = (g.out_channels, *g.output_hw)
        chain += [(f"{2 * k + 1}_pool", nir.SumPool2d(kernel_size=window, stride=window,
                                                       padding=np.array([0, 0]))),
                  (f"{2 * k + 1}_max", nir.Threshold(threshold=np.zeros(out, np.float32)))]
    return chain, out


#: The NIR nodes of each layer kind: ``(nodes, shape) = _LAYER_NODES[kind](nir, index,
#: layer, shape)``, shapes in NIR's terms ((C, H, W) maps, (N,) vectors).
_LAYER_NODES = {"dense": _dense_nodes, "conv2d": _conv_nodes}


def save_nir(model, path, *, name=None, input_shape=None):
    """Write the NIR graph (``nir.write``, HDF5) of a network spikegen can load.

    Parameters
    ----------
    model : Network or torch.nn.Module
        A float :class:`~spikegen.ir.Network`, or a module of ``nn.Linear`` and snnTorch
        layers as :func:`spikegen.save` takes it; scalar ``beta``, ``alpha`` and
        ``threshold`` are written per neuron, which snnTorch's own exporter cannot do.
    path : str or os.PathLike
    name : str or None
        The network's name when ``model`` is a module.
    input_shape : (int, int, int) or None
        The (C, H, W) map a convolutional module takes (a module does not record it).

    Raises
    ------
    SpikegenError
        For a network NIR cannot describe: no ``reset`` none, one reset mechanism for all
        layers, a readout by spikes.
    """
    try:
        import nir
    except ImportError:
        raise SpikegenError("writing NIR needs the 'nir' package: pip install nir") from None
    from .loader import as_network

    model = as_network(model, name, "spikegen.save_nir", input_shape=input_shape)
    if model.readout != "spikes":
        raise SpikegenError(f"`readout` {model.readout} has no NIR form in a LIF graph; "
                            "save_nir writes networks read by their spikes")
    resets = {"zero" if layer.neuron.reset == "zero_all" else layer.neuron.reset
              for layer in model.layers}
    if "none" in resets or len(resets) != 1:
        raise SpikegenError(f"`reset` {', '.join(sorted(resets))}: save_nir writes networks "
                            "whose layers all reset by zero or all by subtract (NIR records "
                            "one in the graph's metadata)")
    first = model.layers[0].input_shape
    shape = (first[2], first[0], first[1]) if len(first) == 3 else (model.inputs,)
    nodes = {"input": nir.Input(input_type=np.array(shape))}
    edges, last = [], "input"
    for k, layer in enumerate(model.layers):
        chain, shape = _LAYER_NODES[layer.kind](nir, k, layer, shape)
        for name, node in chain:
            nodes[name] = node
            edges.append((last, name))
            last = name
        if getattr(layer, "recurrent", None) is not None:
            nodes[f"{last}_rec"] = nir.Linear(
                weight=np.asarray(layer.recurrent, dtype=np.float32))
            edges += [(last, f"{last}_rec"), (f"{last}_rec", last)]
    nodes["output"] = nir.Output(output_type=np.array(shape))
    edges.append((last, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges,
                         metadata={"source": "snnTorch", "exporter": "spikegen.save_nir",
                                   "reset": resets.pop()})
    nir.write(os.fspath(path), graph)
