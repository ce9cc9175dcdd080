"""The bit-exact reference model: integer numpy, vectorised over a batch.

This module *defines* the arithmetic the hardware implements; the equations, the order of
the updates, the event grouping and the reset modes are in :mod:`spikegen.ir`'s docstring.
Every width, rounding and saturation step here has a counterpart in :mod:`rtl_lib`, and the
tests compare the two spike for spike and membrane for membrane.

Input events within a time step (the previous layer's spikes, then a recurrent layer's own
spikes of the previous step) are integrated in ascending concatenated index, in groups of
``events_per_cycle``, each group's sum added with one saturating add. Saturating additions do
not commute, so order and grouping are part of the definition; the fast path below adds the
whole step at once only when it can prove that no partial sum leaves the range (then neither
order nor grouping matter), and the slow path follows each sample's own groups.

:func:`simulate` returns a :class:`SimResult`: the last layer's spikes, their counts, its
membranes at the last step and the predicted class (by spike count, or by the final membrane
for ``readout="membrane"``).
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .ir import QConvLayer, QDenseLayer, QNetwork
from .registry import Registry


__all__ = ["LayerState", "LayerTrace", "SimResult", "LayerModel", "MODELS", "leak",
           "layer_initial_state", "direct_current", "input_spikes", "simulate", "step_layer"]


class LayerModel(NamedTuple):
    """The reference model of one layer kind.

    ``initial_state(layer, batch, current)``: the state at the start of step 0;
    ``step(layer, state, spikes_t, current, events_per_cycle)``: one time step, returning
    ``(spikes, mem, syn or None, next_state, saturations)``; ``current`` is the input
    current of a first layer fed pixel values (``direct`` coding), else ``None``.
    """
    initial_state: object
    step: object


#: The reference model of each layer kind (:class:`LayerModel`).
MODELS = Registry("reference model")


def leak(mem, decay, decay_bits):
    """``mem - round(mem * (1 - beta))``, rounding half up, with ``1 - beta = decay/2**bits``.

    ``decay`` is an integer or a per-neuron array broadcast along the last axis.
    """
    if np.all(np.asarray(decay) == 0):
        return mem
    return mem - ((mem * decay + (1 << (decay_bits - 1))) >> decay_bits)


def _sat(x, fmt):
    return np.clip(x, fmt.min, fmt.max)


class LayerState(NamedTuple):
    """A layer's state at the start of a step, after the start-of-step update.

    ``acc``: the value the step's events accumulate into (the membrane of a ``QLIF`` layer,
    the synaptic current of a ``QCubaLIF`` layer); ``r``: the reset flags of the step;
    ``mem``: the previous step's membrane (``QCubaLIF`` only); ``spk``: the previous step's
    spikes (recurrent layers only). Each is (batch, outputs).
    """
    acc: np.ndarray
    r: np.ndarray
    mem: "np.ndarray | None" = None
    spk: "np.ndarray | None" = None


def layer_initial_state(layer, batch=1, current=None):
    """The state at the start of step 0 (every membrane, current and spike zero)."""
    return MODELS.lookup(layer).initial_state(layer, batch, current)


def _dense_initial_state(layer: QDenseLayer, batch=1, current=None):
    zero = np.zeros((batch, layer.outputs), dtype=np.int64)
    spk = None if layer.recurrent is None else zero.astype(np.uint8)
    return _start_of_step(layer, zero, zero, spk, current)


def _neuron_bias(layer):
    """The bias of each neuron of the layer's state (a convolution repeats its channels'
    biases at every position), or ``None``."""
    if layer.bias is None or layer.kind != "conv2d":
        return layer.bias
    return np.tile(layer.bias, _conv_positions(layer))


def direct_current(layer: QDenseLayer, pixels, value_bits=8):
    """Input current of a first layer fed directly with pixel values (``direct`` coding).

    ``x = value / 2**value_bits``; in LSBs of the accumulating state (membrane, or synaptic
    current for ``QCubaLIF``), rounding half up, plus the bias, saturated to that state's
    range: ``sat(((value @ W.T) << shift + 2**(value_bits-1)) >> value_bits + bias)``. It is
    added in every step, in place of the bias.
    """
    acc = np.asarray(pixels, dtype=np.int64) @ layer.weight.T.astype(np.int64)
    current = ((acc << layer.shift) + (1 << (value_bits - 1))) >> value_bits
    if layer.bias is not None:
        current = current + layer.bias[None, :]
    return _sat(current, layer.acc_format)


def _start_of_step(layer, mem, syn, spk, current=None):
    n = layer.neuron
    r = mem > n.threshold
    drive = current if current is not None else _neuron_bias(layer)
    if n.current_based:
        s = leak(syn, n.syn_decay, n.decay_bits)
        if drive is not None:
            s = s + drive
        return LayerState(_sat(s, layer.syn_format), r, mem, spk)
    base = np.where(r, 0, mem) if n.reset == "zero" else mem
    m = leak(base, n.decay, n.decay_bits)
    if drive is not None:
        m = m + drive
    if n.reset == "subtract":
        m = m - r * n.threshold
    return LayerState(_sat(m, layer.mem_format), r, None, spk)


def _integrate(fmt, acc, events, w_shifted, events_per_cycle):
    """Add the weights of the active events in ascending index, ``events_per_cycle`` at a
    time, each group with one saturating add. Returns the sums and the saturated adds."""
    s = events.astype(np.int64)
    up = acc + s @ np.maximum(w_shifted, 0).T
    down = acc + s @ np.minimum(w_shifted, 0).T
    safe = np.all((up <= fmt.max) & (down >= fmt.min), axis=1)
    out = acc + s @ w_shifted.T
    rows = np.flatnonzero(~safe)
    if not rows.size:
        return out, 0
    active = events[rows].astype(bool)
    counts = active.sum(axis=1)
    e = events_per_cycle
    slots = -(-int(counts.max()) // e) * e
    # per row, the active indices in ascending order, padded with a zero column
    order = np.argsort(~active, axis=1, kind="stable")[:, :slots]
    if order.shape[1] < slots:
        order = np.pad(order, ((0, 0), (0, slots - order.shape[1])))
    order = np.where(np.arange(slots)[None, :] < counts[:, None], order, active.shape[1])
    columns = np.vstack([w_shifted.T, np.zeros((1, w_shifted.shape[0]), dtype=np.int64)])
    mm = acc[rows].copy()
    saturations = 0
    for start in range(0, slots, e):
        total = mm + columns[order[:, start:start + e]].sum(axis=1)
        busy = (start < counts)[:, None]
        saturations += int(np.count_nonzero(busy & ((total > fmt.max) | (total < fmt.min))))
        mm = _sat(total, fmt)
    out[rows] = mm
    return out, saturations


def _step(layer, state, spikes_t, current, events_per_cycle):
    batch = state.acc.shape[0]
    weight = layer.weight.astype(np.int64)
    if layer.recurrent is not None:
        if spikes_t is None:
            spikes_t = np.zeros((batch, layer.inputs), dtype=np.uint8)
        spikes_t = np.concatenate([spikes_t, state.spk], axis=1)
        weight = np.concatenate([weight, layer.recurrent.astype(np.int64)], axis=1)
    acc, saturations = state.acc, 0
    if spikes_t is not None:
        acc, saturations = _integrate(layer.acc_format, acc, spikes_t,
                                      weight << layer.shift, events_per_cycle)
    spk, m, syn = _fire(layer, state, acc)
    following = _start_of_step(layer, m, syn, spk if layer.recurrent is not None else None,
                               current)
    return spk, m, syn, following, saturations


def _fire(layer, state, acc):
    """The end of a step, after the events: the membrane takes the current (``QCubaLIF``),
    the neurons fire and reset. Returns ``(spikes, mem, syn or None)``."""
    n = layer.neuron
    fmt = layer.mem_format
    r = state.r
    syn = None
    if n.current_based:
        syn = acc
        base = np.where(r, 0, state.mem) if n.reset == "zero" else state.mem
        m = leak(base, n.decay, n.decay_bits) + syn
        if n.reset == "subtract":
            m = m - r * n.threshold
        m = _sat(m, fmt)
    else:
        m = acc
    if n.reset == "zero_all":
        m = np.where(r, 0, m)
    spk = m > n.threshold
    if not n.reset_delay:
        if n.reset == "subtract":
            m = _sat(m - (spk.astype(np.int64) - r) * n.threshold, fmt)
        elif n.reset in ("zero", "zero_all"):
            m = np.where(spk & ~r, 0, np.where(r & ~spk, _sat(2 * m, fmt), m))
    return spk.astype(np.uint8), m, syn


def step_layer(layer, state, spikes_t, current=None, events_per_cycle=1):
    """Advance one layer by one time step.

    Parameters
    ----------
    state : LayerState
        From :func:`layer_initial_state` or the previous call.
    spikes_t : array (batch, inputs) of 0/1, or None (no input events: ``direct`` coding)
    current : array (batch, outputs) or None
        Added every step in place of the bias (``direct`` coding, :func:`direct_current`).
    events_per_cycle : int
        The event grouping ``E`` (:class:`spikegen.ir.HardwareConfig`).

    Returns
    -------
    spikes, mem, next_state, saturations
        Output spikes and membrane of the step (snnTorch's ``spk``, ``mem``), the state for
        the next step and the number of saturated additions.
    """
    spk, m, _, following, saturations = MODELS.lookup(layer).step(
        layer, state, spikes_t, current, events_per_cycle)
    return spk, m, following, saturations


MODELS.register("dense")(LayerModel(_dense_initial_state, _step))


# -- convolution -------------------------------------------------------------------------------

def _conv_positions(layer):
    return layer.geometry.neuron_hw[0] * layer.geometry.neuron_hw[1]


def _conv_initial_state(layer: QConvLayer, batch=1, current=None):
    if current is not None:
        raise ValueError("A convolution layer takes spike events, not pixel currents")
    zero = np.zeros((batch, _conv_positions(layer) * layer.geometry.out_channels),
                    dtype=np.int64)
    return _start_of_step(layer, zero, zero, None)


def _conv_source(g, spikes_t):
    """The input spikes as (batch, H, W, C), and the pooled counts as (batch, Hp, Wp, C)."""
    batch = spikes_t.shape[0]
    x = spikes_t.reshape(batch, *g.in_hw, g.in_channels).astype(np.int64)
    (hp, wp), k = g.pooled_hw, g.pool
    pooled = x[:, :hp * k, :wp * k].reshape(batch, hp, k, wp, k, g.in_channels).sum(axis=(2, 4))
    return x, pooled


def _tap_slices(g, axis, k):
    """For kernel index ``k`` along ``axis``: the output positions with a tap there and the
    (pooled) input positions they read, as two index arrays."""
    out = np.arange(g.out_hw[axis])
    src = out * g.stride[axis] - g.padding[axis] + k * g.dilation[axis]
    keep = (src >= 0) & (src < g.pooled_hw[axis])
    return out[keep], src[keep]


def _conv_sum(g, pooled, weight):
    """``sum over taps of weight[o, c, ky, kx] * pooled[y, x, c]`` at every output neuron,
    as (batch, H', W', C_out).

    Computed in float64 (BLAS, many times faster than int64 products) when every partial sum
    is an integer below 2**53 in magnitude, so float64 holds it exactly; else in int64.
    """
    peak = int(np.max(np.abs(weight), initial=0)) * int(np.max(pooled, initial=0))
    exact = peak * g.in_channels * g.kernel[0] * g.kernel[1] < (1 << 53)
    kind = np.float64 if exact else np.int64
    pooled, weight = pooled.astype(kind), weight.astype(kind)
    out = np.zeros((pooled.shape[0], *g.out_hw, g.out_channels), dtype=kind)
    for ky in range(g.kernel[0]):
        oy, sy = _tap_slices(g, 0, ky)
        if not oy.size:
            continue
        rows = pooled[:, _as_slice(sy)]
        for kx in range(g.kernel[1]):
            ox, sx = _tap_slices(g, 1, kx)
            if ox.size:
                source = rows[:, :, _as_slice(sx)]
                # one 2-D product: numpy loops over the leading axes of a stacked one
                product = source.reshape(-1, g.in_channels) @ weight[:, :, ky, kx].T
                out[:, _as_slice(oy), _as_slice(ox)] += product.reshape(
                    *source.shape[:3], g.out_channels)
    return out.astype(np.int64)


def _as_slice(index):
    """An ascending, evenly spaced index array (as :func:`_tap_slices` gives) as a slice:
    basic indexing takes views where an index array would copy."""
    step = int(index[1] - index[0]) if index.size > 1 else 1
    return slice(int(index[0]), int(index[-1]) + 1, step)


def _conv_integrate(layer, acc, spikes_t):
    """Add the step's events, one at a time in ascending index, each tap with one saturating
    add. Returns the sums (batch, neurons) and the saturated adds."""
    g, fmt = layer.geometry, layer.acc_format
    batch = acc.shape[0]
    w = layer.weight.astype(np.int64) << layer.shift
    x, pooled = _conv_source(g, spikes_t)
    acc4 = acc.reshape(batch, *g.out_hw, g.out_channels)
    up = acc4 + _conv_sum(g, pooled, np.maximum(w, 0))
    down = acc4 + _conv_sum(g, pooled, np.minimum(w, 0))
    safe = np.all((up <= fmt.max) & (down >= fmt.min), axis=(1, 2, 3))
    out = acc4 + _conv_sum(g, pooled, w)
    rows = np.flatnonzero(~safe)
    saturations = 0
    if rows.size:
        # every neuron sees its inputs in ascending (y, x, c): kernel row, then the row within
        # the pooling window, then kernel column, column in the window, input channel
        mm = acc4[rows].copy()
        xs = x[rows]
        k = g.pool
        for ky in range(g.kernel[0]):
            oy, sy = _tap_slices(g, 0, ky)
            for a in range(k):
                for kx in range(g.kernel[1]):
                    ox, sx = _tap_slices(g, 1, kx)
                    if not (oy.size and ox.size):
                        continue
                    for b in range(k):
                        window = xs[:, (sy * k + a)[:, None], (sx * k + b)[None, :]]
                        for c in range(g.in_channels):
                            hit = window[..., c][..., None].astype(bool)
                            if not hit.any():
                                continue
                            part = mm[:, oy[:, None], ox[None, :]]
                            total = part + np.where(hit, w[:, c, ky, kx], 0)
                            saturations += int(np.count_nonzero(
                                hit & ((total > fmt.max) | (total < fmt.min))))
                            mm[:, oy[:, None], ox[None, :]] = _sat(total, fmt)
        out[rows] = mm
    return out.reshape(batch, -1), saturations


def _max_pool_spikes(g, spk):
    """The output spike map after the max pooling of spikes (OR within each window)."""
    if g.out_pool == 1:
        return spk
    k, (h, w), c = g.out_pool, g.neuron_hw, g.out_channels
    return spk.reshape(-1, h // k, k, w // k, k, c).max(axis=(2, 4)).reshape(spk.shape[0], -1)


def _max_pooled_currents(layer, state, spikes_t):
    """A max pooling of currents: the step's events summed into a map of the convolution's
    size (from zero, each tap one saturating add), the largest of each window added to the
    neuron's state with one saturating add. Returns the state and the saturated adds."""
    g, fmt = layer.geometry, layer.acc_format
    batch = state.acc.shape[0]
    (h, w), k, c = g.out_hw, g.current_pool, g.out_channels
    zero = np.zeros((batch, h * w * c), dtype=np.int64)
    sums, saturations = _conv_integrate(layer, zero, spikes_t)
    pooled = sums.reshape(batch, h // k, k, w // k, k, c).max(axis=(2, 4)).reshape(batch, -1)
    total = state.acc + pooled
    saturations += int(np.count_nonzero((total > fmt.max) | (total < fmt.min)))
    return _sat(total, fmt), saturations


def _conv_step(layer, state, spikes_t, current, events_per_cycle):
    acc, saturations = state.acc, 0
    if spikes_t is not None and layer.geometry.current_pool > 1:
        acc, saturations = _max_pooled_currents(layer, state, spikes_t)
    elif spikes_t is not None:
        acc, saturations = _conv_integrate(layer, acc, spikes_t)
    spk, m, syn = _fire(layer, state, acc)
    following = _start_of_step(layer, m, syn, None)
    return _max_pool_spikes(layer.geometry, spk), m, syn, following, saturations


MODELS.register("conv2d")(LayerModel(_conv_initial_state, _conv_step))


@dataclass(frozen=True, eq=False)
class LayerTrace:
    """Per-layer record of a simulation: spikes and membranes of shape (batch, steps, n), and
    the synaptic currents of a ``QCubaLIF`` layer (else ``None``)."""
    spikes: np.ndarray
    mem: np.ndarray
    saturations: int
    syn: "np.ndarray | None" = None


@dataclass(frozen=True, eq=False)
class SimResult:
    """Output of :func:`simulate`.

    ``spikes`` (batch, steps, outputs) are the last layer's spikes, ``counts`` their sums over
    time, ``membrane`` (batch, outputs) the last layer's membranes after the last step, and
    ``predicted`` the class: the largest count (``readout="spikes"``) or the largest final
    membrane (``readout="membrane"``), the lowest index on a tie. ``layers`` holds a
    :class:`LayerTrace` per layer when recorded.
    """
    spikes: np.ndarray
    counts: np.ndarray
    predicted: np.ndarray
    layers: tuple = ()
    membrane: "np.ndarray | None" = None

    @property
    def saturations(self):
        return sum(trace.saturations for trace in self.layers)


def input_spikes(net: QNetwork, inputs):
    """The first layer's input spikes (``events`` and ``rate`` coding), checked."""
    coding = net.coding
    inputs = np.asarray(inputs)
    if coding.kind == "events":
        inputs = channels_last(net, inputs)
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


def channels_last(net, inputs):
    """Spike maps (batch, steps, C, H, W), or (steps, C, H, W) for one sample, as flat
    channels-last events (batch, steps, H * W * C) when the first layer takes an (H, W, C)
    map; anything else unchanged."""
    shape = net.layers[0].input_shape
    if len(shape) != 3 or inputs.ndim not in (4, 5):
        return inputs
    if inputs.ndim == 4:
        inputs = inputs[None]
    h, w, c = shape
    if inputs.shape[2:] != (c, h, w):
        raise ValueError(f"Input spike maps must have shape (batch, steps, {c}, {h}, {w}), "
                         f"not {inputs.shape}")
    return inputs.transpose(0, 1, 3, 4, 2).reshape(*inputs.shape[:2], -1)


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

    ``inputs`` are spike trains (batch, steps, inputs) of 0/1 for ``events`` coding (flat in
    the first layer's event order: channels last for a convolution, see
    :mod:`rtl_lib.conv_geometry`; spike maps (batch, steps, C, H, W) are permuted), and
    pixel values (batch, inputs) of 0..255 for ``rate`` and ``direct`` coding (see
    :class:`spikegen.ir.InputCoding`). With ``record=True`` every layer's spikes, membranes
    (and synaptic currents) are kept in ``result.layers``.
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
    grouping = net.hardware.events_per_cycle
    traces = []
    for k, layer in enumerate(net.layers):
        model = MODELS.lookup(layer)
        layer_current = current if k == 0 else None
        state = model.initial_state(layer, batch, layer_current)
        out = np.zeros((batch, steps, layer.outputs), dtype=np.uint8)
        neurons = state.acc.shape[1]
        mem = np.zeros((batch, steps, neurons), dtype=np.int64) if record else None
        syn = (np.zeros((batch, steps, neurons), dtype=np.int64)
               if record and layer.neuron.current_based else None)
        last = np.zeros((batch, neurons), dtype=np.int64)
        saturations = 0
        for t in range(steps):
            spk, last, s, state, sat = model.step(layer, state,
                                                  None if x is None else x[:, t],
                                                  layer_current, grouping)
            out[:, t] = spk
            saturations += sat
            if record:
                mem[:, t] = last
                if syn is not None:
                    syn[:, t] = s
        traces.append(LayerTrace(out, mem, saturations, syn))
        x = out
    counts = x.sum(axis=1, dtype=np.int64)
    predicted = np.argmax(last if net.readout == "membrane" else counts, axis=1)
    return SimResult(x, counts, predicted, tuple(traces) if record else (), membrane=last)
