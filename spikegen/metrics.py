"""NeuroBench's metrics of a build, counted in the bit-exact reference model.

The figures the neuromorphic community compares (Yik et al., "The neurobench framework for
benchmarking neuromorphic computing algorithms and systems", Nature Communications 2025),
with NeuroBench's own definitions (``neurobench.metrics.static`` and ``.workload``):

footprint
    the bits the accelerator actually stores (every memory of the hardware plan: weights,
    state, biases, spike queues, FIFOs), and NeuroBench's figure for the same snnTorch model
    in float32: four bytes per weight and bias, and per neuron layer its ``beta`` and
    ``threshold`` (one or one per neuron) and the two scalars snnTorch keeps beside them
    (``graded_spikes_factor``, ``reset_mechanism_val``; ``alpha`` too for ``Synaptic``).
connection sparsity
    zero weights over all weights (the quantized weights: a weight rounded to zero is a
    connection the hardware does not have; recurrent weights included).
activation sparsity
    zero outputs over all outputs of every spiking layer, over samples and steps.
synaptic operations
    effective accumulates per inference: each input event times the nonzero weights it
    reaches (its fan-out), summed over steps and layers, biases not counted; a recurrent
    layer's own spikes are events of the next step. With ``direct`` coding the first layer
    multiplies each nonzero pixel by its weights once per inference: those are multiply-
    accumulates (``effective_macs``). ``dense`` counts every weight of every step, as
    NeuroBench's ``Dense``.

:data:`FANOUT` gives, per layer kind, the :class:`Connections` of a quantized layer (a new
layer kind registers its own).
"""
from typing import NamedTuple

import numpy as np

from .registry import Registry


__all__ = ["Connections", "FANOUT", "connections", "footprint", "static_metrics", "workload",
           "counted", "neurobench_metrics"]


class Connections(NamedTuple):
    """The synapses of one layer.

    ``fanout[i]``: nonzero weights input ``i`` reaches; ``recurrent_fanout[j]`` (or
    ``None``): nonzero weights the layer's own neuron ``j`` reaches in the next step;
    ``dense``: the weights one step uses when every input is active (inputs × outputs);
    ``weights``, ``zeros``: weights stored and how many of them are zero.
    """
    fanout: np.ndarray
    recurrent_fanout: "np.ndarray | None"
    dense: int
    weights: int
    zeros: int


FANOUT = Registry("synaptic fan-out")


@FANOUT.register("dense")
def _dense_connections(layer):
    matrices = [np.asarray(layer.weight)]
    recurrent = None
    if layer.recurrent is not None:
        matrices.append(np.asarray(layer.recurrent))
        recurrent = np.count_nonzero(matrices[1], axis=0).astype(np.int64)
    size = sum(m.size for m in matrices)
    zeros = sum(int(np.count_nonzero(m == 0)) for m in matrices)
    return Connections(np.count_nonzero(matrices[0], axis=0).astype(np.int64), recurrent,
                       layer.inputs * layer.outputs, size, zeros)


@FANOUT.register("conv2d")
def _conv_connections(layer):
    """An input event at ``(y, x, c)`` (channels last) reaches, at each of its taps
    ``(ky, kx)``, the output channels whose ``weight[:, c, ky, kx]`` is nonzero."""
    g = layer.geometry
    weight = np.asarray(layer.weight)                         # (C_out, C_in, kh, kw)
    rows = np.zeros((g.in_hw[0], g.kernel[0]), dtype=np.int64)
    cols = np.zeros((g.in_hw[1], g.kernel[1]), dtype=np.int64)
    for y in range(g.in_hw[0]):
        for ky, _ in g.row_taps(y):
            rows[y, ky] += 1
    for x in range(g.in_hw[1]):
        for kx, _ in g.col_taps(x):
            cols[x, kx] += 1
    nonzero = np.count_nonzero(weight, axis=0)                # (C_in, kh, kw)
    fanout = np.einsum("yk,xl,ckl->yxc", rows, cols, nonzero).reshape(-1)
    taps = np.einsum("yk,xl->yx", rows, cols).reshape(-1, 1)
    dense = int((taps * g.out_channels).sum() * g.in_channels)
    return Connections(fanout.astype(np.int64), None, dense, int(weight.size),
                       int(np.count_nonzero(weight == 0)))


def connections(qnet):
    """The :class:`Connections` of every layer of ``qnet``."""
    return tuple(FANOUT(layer) for layer in qnet.layers)


def _neuron_floats(neuron):
    """Floats snnTorch keeps for a neuron layer (see the module's docstring)."""
    names = ("alpha", "beta", "threshold") if neuron.current_based else ("beta", "threshold")
    return sum(int(np.size(getattr(neuron, name))) for name in names) + 2


def footprint(network, plan):
    """Bits stored by the accelerator (``plan``'s memories) and NeuroBench's float32 bytes of
    the float ``network``."""
    stored = sum(m.depth * m.width for m in plan.memories())
    floats = 0
    for layer in network.layers:
        floats += int(np.size(layer.weight)) + _neuron_floats(layer.neuron)
        floats += 0 if layer.bias is None else int(np.size(layer.bias))
        floats += 0 if getattr(layer, "recurrent", None) is None else int(np.size(
            layer.recurrent))
    return {"footprint_bits": int(stored), "footprint_float32_bytes": 4 * floats}


def static_metrics(qnet, network, plan):
    """Footprint and connection sparsity (no data needed)."""
    found = connections(qnet)
    weights = sum(c.weights for c in found)
    return {**footprint(network, plan),
            "connection_sparsity": sum(c.zeros for c in found) / weights if weights else 0.0}


def workload(qnet, inputs, result):
    """Activation sparsity and synaptic operations of ``qnet`` on ``inputs``, from the
    reference's record ``result`` (:func:`spikegen.reference.simulate` with ``record=True``):
    per-sample means, in total and per layer."""
    from .reference import input_spikes

    spikes_in = input_spikes(qnet, inputs)
    return counted(qnet, spikes_in, [t.spikes for t in result.layers],
                   pixels=inputs if spikes_in is None else None)


def counted(qnet, spikes_in, layer_spikes, pixels=None):
    """:func:`workload` from spike trains, wherever they were recorded (the reference, or
    the simulated RTL's streams): ``spikes_in`` (samples, steps, inputs) into the first
    layer, or ``None`` with ``pixels`` (samples, inputs) for ``direct`` coding;
    ``layer_spikes``: each layer's spikes (samples, steps, outputs)."""
    samples = len(layer_spikes[0])
    found = connections(qnet)
    macs = 0
    if spikes_in is None:                    # direct: every nonzero pixel once, multiplied
        macs = int(((np.asarray(pixels) != 0).astype(np.int64) @ found[0].fanout).sum())
    rows, total_acs, dense = [], 0, 0
    for k, (spikes, c) in enumerate(zip(layer_spikes, found)):
        events = spikes_in if k == 0 else layer_spikes[k - 1]
        acs = 0 if events is None else int((events.astype(np.int64) @ c.fanout).sum())
        if c.recurrent_fanout is not None:   # own spikes feed the next step
            acs += int((spikes[:, :-1].astype(np.int64) @ c.recurrent_fanout).sum())
        dense += c.dense * spikes.shape[1] * samples
        total_acs += acs
        rows.append({"input_events": 0.0 if events is None else float(events.sum() / samples),
                     "effective_acs": acs / samples,
                     "spikes": float(spikes.sum() / samples),
                     "activation_sparsity": float(1 - spikes.mean())})
    outputs = sum(s.size for s in layer_spikes)
    fired = sum(int(s.sum()) for s in layer_spikes)
    return {"activation_sparsity": 1 - fired / outputs if outputs else 0.0,
            "synaptic_operations": {"effective_acs": total_acs / samples,
                                    "effective_macs": macs / samples,
                                    "dense": dense / samples},
            "layers": rows}


def neurobench_metrics(qnet, network, plan, inputs, result):
    """Every metric of the module, as the report's ``neurobench`` tree."""
    return {**static_metrics(qnet, network, plan), **workload(qnet, inputs, result)}
