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


__all__ = ["LayerTrace", "SimResult", "leak", "layer_initial_state", "direct_current",
           "input_spikes", "simulate", "step_layer"]


def leak(mem, decay, decay_bits):
    """``mem - round(mem * (1 - beta))``, rounding half up, with ``1 - beta = decay/2**bits``."""
    if decay == 0:
        return mem
    return mem - ((mem * decay + (1 << (decay_bits - 1))) >> decay_bits)


def _sat(x, fmt):
    return np.clip(x, fmt.min, fmt.max)


def layer_initial_state(layer: QDenseLayer, batch=1, current=None):
    """Membrane at the start of step 0 and the reset flag ``r`` used in step 0."""
    zero = np.zeros((batch, layer.outputs), dtype=np.int64)
    return _start_of_step(layer, zero, current)


def direct_current(layer: QDenseLayer, pixels, value_bits=8):
    """Input current of a first layer fed directly with pixel values (``direct`` coding).

    ``x = value / 2**value_bits``; in membrane LSBs, rounding half up, plus the bias, saturated
    to the membrane range: ``sat(((value @ W.T) << shift + 2**(value_bits-1)) >> value_bits
    + bias)``. It is added to the membrane in every step, in place of the bias.
    """
    acc = np.asarray(pixels, dtype=np.int64) @ layer.weight.T.astype(np.int64)
    current = ((acc << layer.shift) + (1 << (value_bits - 1))) >> value_bits
    if layer.bias is not None:
        current = current + layer.bias[None, :]
    return _sat(current, layer.mem_format)


def _start_of_step(layer, mem, current=None):
    n = layer.neuron
    r = mem > n.threshold
    if n.reset == "zero":
        base = np.where(r, 0, mem)
    else:
        base = mem
    m = leak(base, n.decay, n.decay_bits)
    if current is not None:
        m = m + current
    elif layer.bias is not None:
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


def step_layer(layer: QDenseLayer, state, spikes_t, current=None):
    """Advance one layer by one time step.

    Parameters
    ----------
    state : tuple ``(m, r)``
        Membrane at the start of the step (after leak, bias and delayed reset) and the reset
        flags of the step, each of shape (batch, outputs).
    spikes_t : array (batch, inputs) of 0/1, or None (no input events: ``direct`` coding)
    current : array (batch, outputs) or None
        Added every step in place of the bias (``direct`` coding, :func:`direct_current`).

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
    saturations = 0
    if spikes_t is not None:
        m, saturations = _integrate(layer, m, spikes_t, w_shifted,
                                    np.maximum(w_shifted, 0), np.minimum(w_shifted, 0))
    spk = m > n.threshold
    if not n.reset_delay:
        if n.reset == "subtract":
            m = _sat(m - (spk.astype(np.int64) - r) * n.threshold, fmt)
        elif n.reset == "zero":
            m = np.where(spk & ~r, 0, np.where(r & ~spk, _sat(2 * m, fmt), m))
    return spk.astype(np.uint8), m, _start_of_step(layer, m, current), saturations


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


def input_spikes(net: QNetwork, inputs):
    """The first layer's input spikes (``events`` and ``rate`` coding), checked."""
    coding = net.coding
    inputs = np.asarray(inputs)
    if coding.kind == "events":
        if inputs.ndim == 2:
            inputs = inputs[None]
        if inputs.ndim != 3 or inputs.shape[2] != net.inputs:
            raise ValueError(f"Input spikes must have shape (batch, steps, {net.inputs}), "
                             f"not {inputs.shape}")
        if not np.isin(inputs, (0, 1)).all():
            raise ValueError("Input spikes must be 0 or 1")
        return inputs.astype(np.uint8)
    pixels = check_pixels(net, inputs)
    if coding.kind == "rate":
        from .encode import rate_onchip
        return rate_onchip(pixels, coding.steps, seed=coding.seed)
    return None


def check_pixels(net, pixels):
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.shape[1] != net.inputs:
        raise ValueError(f"Pixels must have shape (batch, {net.inputs}) for "
                         f"{net.coding.kind} coding, not {pixels.shape}")
    top = (1 << net.coding.value_bits) - 1
    if pixels.size and (pixels.min() < 0 or pixels.max() > top
                        or not np.issubdtype(pixels.dtype, np.integer)):
        raise ValueError(f"Pixels must be integers from 0 to {top}")
    return pixels.astype(np.int64)


def simulate(net: QNetwork, inputs, *, record=False):
    """Run the quantized network on a batch of inputs.

    ``inputs`` are spike trains (batch, steps, inputs) of 0/1 for ``events`` coding, and
    pixel values (batch, inputs) of 0..255 for ``rate`` and ``direct`` coding (see
    :class:`spikegen.ir.InputCoding`). With ``record=True`` every layer's spikes and
    membranes are kept in ``result.layers``.
    """
    coding = net.coding
    x = input_spikes(net, inputs)
    current = None
    if coding.kind == "direct":
        pixels = check_pixels(net, inputs)
        current = direct_current(net.layers[0], pixels, coding.value_bits)
        batch, steps = pixels.shape[0], coding.steps
    else:
        batch, steps = x.shape[0], x.shape[1]
    traces = []
    for k, layer in enumerate(net.layers):
        layer_current = current if k == 0 else None
        state = layer_initial_state(layer, batch, layer_current)
        out = np.zeros((batch, steps, layer.outputs), dtype=np.uint8)
        mem = np.zeros((batch, steps, layer.outputs), dtype=np.int64) if record else None
        saturations = 0
        for t in range(steps):
            spk, m, state, sat = step_layer(layer, state, None if x is None else x[:, t],
                                            layer_current)
            out[:, t] = spk
            saturations += sat
            if record:
                mem[:, t] = m
        traces.append(LayerTrace(out, mem, saturations))
        x = out
    counts = x.sum(axis=1, dtype=np.int64)
    predicted = np.argmax(counts, axis=1)
    return SimResult(x, counts, predicted, tuple(traces) if record else ())
