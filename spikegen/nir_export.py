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
=========================  ================================================================

NIR records no reset mechanism: the graph's metadata says who wrote it (``source``
``snnTorch``, snnTorch's conventions) and the reset (``reset``), which the reader takes as
its default.
"""
import os

import numpy as np

from .errors import SpikegenError
from .nir_frontend import DEFAULT_DT


__all__ = ["save_nir"]


def _per_neuron(value, count):
    return np.broadcast_to(np.asarray(value, dtype=np.float32).reshape(-1), (count,)).copy()


def _tau(label, index, decay, count):
    decay = _per_neuron(decay, count).astype(np.float64)
    if np.any(decay >= 1.0):
        raise SpikegenError(f"layer {index}: {label} 1 has no NIR time constant (only a whole "
                            f"layer of beta 1 has one: an IF node)")
    return (DEFAULT_DT / (1.0 - decay)).astype(np.float32)


def _neuron_node(nir, index, neuron, count):
    threshold = _per_neuron(neuron.threshold, count)
    zeros = np.zeros(count, dtype=np.float32)
    # nir 1.0.4 (pinned by sinabs and rockpool) has no v_reset: name it only where it exists
    extra = {"v_reset": zeros} if "v_reset" in nir.LIF.__dataclass_fields__ else {}
    if neuron.current_based:
        tau_syn = _tau("alpha", index, neuron.alpha, count)
        tau_mem = _tau("beta", index, neuron.beta, count)
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / np.float32(DEFAULT_DT),
                           v_leak=zeros, v_threshold=threshold,
                           w_in=tau_syn / np.float32(DEFAULT_DT), **extra)
    if np.all(np.asarray(neuron.beta) == 1.0):
        return nir.IF(r=np.ones(count, dtype=np.float32), v_threshold=threshold, **extra)
    tau = _tau("beta", index, neuron.beta, count)
    return nir.LIF(tau=tau, r=tau / np.float32(DEFAULT_DT), v_leak=zeros, v_threshold=threshold,
                   **extra)


def save_nir(model, path, *, name=None):
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

    model = as_network(model, name, "spikegen.save_nir")
    if model.readout != "spikes":
        raise SpikegenError(f"`readout` {model.readout} has no NIR form in a LIF graph; "
                            "save_nir writes networks read by their spikes")
    resets = {"zero" if layer.neuron.reset == "zero_all" else layer.neuron.reset
              for layer in model.layers}
    if "none" in resets or len(resets) != 1:
        raise SpikegenError(f"`reset` {', '.join(sorted(resets))}: save_nir writes networks "
                            "whose layers all reset by zero or all by subtract (NIR records "
                            "one in the graph's metadata)")
    nodes = {"input": nir.Input(input_type=np.array([model.inputs]))}
    edges, last = [], "input"
    for k, layer in enumerate(model.layers):
        weight = np.asarray(layer.weight, dtype=np.float32)
        nodes[f"{2 * k}"] = (nir.Linear(weight=weight) if layer.bias is None else
                             nir.Affine(weight=weight,
                                        bias=np.asarray(layer.bias, dtype=np.float32)))
        nodes[f"{2 * k + 1}"] = _neuron_node(nir, k, layer.neuron, layer.outputs)
        edges += [(last, f"{2 * k}"), (f"{2 * k}", f"{2 * k + 1}")]
        last = f"{2 * k + 1}"
        if layer.recurrent is not None:
            nodes[f"{2 * k + 1}_rec"] = nir.Linear(
                weight=np.asarray(layer.recurrent, dtype=np.float32))
            edges += [(last, f"{2 * k + 1}_rec"), (f"{2 * k + 1}_rec", last)]
    nodes["output"] = nir.Output(output_type=np.array([model.outputs]))
    edges.append((last, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges,
                         metadata={"source": "snnTorch", "exporter": "spikegen.save_nir",
                                   "reset": resets.pop()})
    nir.write(os.fspath(path), graph)
