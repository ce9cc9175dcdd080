"""The bit-exact reference model: integer numpy, vectorised over a batch.

This module *defines* the arithmetic the hardware implements (see :mod:`spikegen.ir` for the
equations). Every width, rounding and saturation step here has a counterpart in
:mod:`rtl_lib.lif`, and the tests compare the two spike for spike and membrane for membrane.

Input spikes within a time step are integrated one at a time in ascending input index, each
addition saturating. Saturating additions do not commute, so the order is part of the
definition; the fast path below adds the whole step at once only when it can prove that no
intermediate sum leaves the membrane range, which gives the same result.
"""
from dataclasses import dataclass

import numpy as np

from .ir import QDenseLayer, QNetwork


__all__ = ["LayerTrace", "SimResult", "leak", "layer_initial_state", "simulate", "step_layer"]


def leak(mem, decay, decay_bits):
    """``mem - round(mem * (1 - beta))``, rounding half up, with ``1 - beta = decay/2**bits``."""
    if decay == 0:
        return mem
    return mem - ((mem * decay + (1 << (decay_bits - 1))) >> decay_bits)


def _sat(x, fmt):
    return np.clip(x, fmt.min, fmt.max)


def layer_initial_state(layer: QDenseLayer, batch=1):
    """Membrane at the start of step 0 and the reset flag ``r`` used in step 0."""
    zero = np.zeros((batch, layer.outputs), dtype=np.int64)
    return _start_of_step(layer, zero)


def _start_of_step(layer, mem):
    n = layer.neuron
    r = mem > n.threshold
    if n.reset == "zero":
        base = np.where(r, 0, mem)
    else:
        base = mem
    m = leak(base, n.decay, n.decay_bits)
    if layer.bias is not None:
        m = m + layer.bias[None, :]
    if n.reset == "subtract":
        m = m - r * n.threshold
    return _sat(m, layer.mem_format), r


def _integrate(layer, m, spikes_t, w_shifted, w_pos, w_neg):
    """Add the weights of the active inputs in ascending input order, saturating each time."""
    fmt = layer.mem_format
    s = spikes_t.astype(np.int64)
    up = m + s @ w_pos.T
    down = m + s @ w_neg.T
    safe = np.all((up <= fmt.max) & (down >= fmt.min), axis=1)
    out = m + s @ w_shifted.T
    unsafe_rows = np.flatnonzero(~safe)
    saturations = 0
    if unsafe_rows.size:
        mm = m[unsafe_rows].copy()
        active = spikes_t[unsafe_rows].astype(bool)
        for i in np.flatnonzero(active.any(axis=0)):
            rows = active[:, i]
            total = mm[rows] + w_shifted[:, i][None, :]
            saturations += int(np.count_nonzero((total > fmt.max) | (total < fmt.min)))
            mm[rows] = _sat(total, fmt)
        out[unsafe_rows] = mm
    return out, saturations


def step_layer(layer: QDenseLayer, state, spikes_t):
    """Advance one layer by one time step.

    Parameters
    ----------
    state : tuple ``(m, r)``
        Membrane at the start of the step (after leak, bias and delayed reset) and the reset
        flags of the step, each of shape (batch, outputs).
    spikes_t : array (batch, inputs) of 0/1

    Returns
    -------
    spikes, mem, next_state, saturations
        Output spikes and membrane of the step (snnTorch's ``spk``, ``mem``), the state for
        the next step and the number of saturated additions.
    """
    n = layer.neuron
    fmt = layer.mem_format
    w_shifted = layer.weight.astype(np.int64) << layer.shift
    m, r = state
    m, saturations = _integrate(layer, m, spikes_t, w_shifted,
                                np.maximum(w_shifted, 0), np.minimum(w_shifted, 0))
    spk = m > n.threshold
    if not n.reset_delay:
        if n.reset == "subtract":
            m = _sat(m - (spk.astype(np.int64) - r) * n.threshold, fmt)
        elif n.reset == "zero":
            m = np.where(spk & ~r, 0, np.where(r & ~spk, _sat(2 * m, fmt), m))
    return spk.astype(np.uint8), m, _start_of_step(layer, m), saturations


@dataclass(frozen=True, eq=False)
class LayerTrace:
    """Per-layer record of a simulation: spikes and membranes of shape (batch, steps, n)."""
    spikes: np.ndarray
    mem: np.ndarray
    saturations: int


@dataclass(frozen=True, eq=False)
class SimResult:
    """Output of :func:`simulate`.

    ``spikes`` (batch, steps, outputs) are the last layer's spikes, ``counts`` their sums over
    time, ``predicted`` the class (largest count, lowest index on a tie); ``layers`` holds a
    :class:`LayerTrace` per layer when recorded.
    """
    spikes: np.ndarray
    counts: np.ndarray
    predicted: np.ndarray
    layers: tuple = ()

    @property
    def saturations(self):
        return sum(trace.saturations for trace in self.layers)


def simulate(net: QNetwork, spikes, *, record=False):
    """Run the quantized network on input spikes of shape (batch, steps, inputs).

    With ``record=True`` every layer's spikes and membranes are kept in ``result.layers``.
    """
    spikes = np.asarray(spikes)
    if spikes.ndim == 2:
        spikes = spikes[None]
    if spikes.ndim != 3 or spikes.shape[2] != net.inputs:
        raise ValueError(f"Input spikes must have shape (batch, steps, {net.inputs}), "
                         f"not {spikes.shape}")
    if not np.isin(spikes, (0, 1)).all():
        raise ValueError("Input spikes must be 0 or 1")
    batch, steps, _ = spikes.shape
    x = spikes.astype(np.uint8)
    traces = []
    for layer in net.layers:
        state = layer_initial_state(layer, batch)
        out = np.zeros((batch, steps, layer.outputs), dtype=np.uint8)
        mem = np.zeros((batch, steps, layer.outputs), dtype=np.int64) if record else None
        saturations = 0
        for t in range(steps):
            spk, m, state, sat = step_layer(layer, state, x[:, t])
            out[:, t] = spk
            saturations += sat
            if record:
                mem[:, t] = m
        traces.append(LayerTrace(out, mem, saturations))
        x = out
    counts = x.sum(axis=1, dtype=np.int64)
    predicted = np.argmax(counts, axis=1)
    return SimResult(x, counts, predicted, tuple(traces) if record else ())
