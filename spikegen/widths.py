"""How wide the neuron state is: every decision on membrane and synaptic-current widths.

Two analyses, both in LSBs of the state, per neuron, then the widest neuron of a layer:

**Bound over the run** (:func:`state_bounds`, no data needed). One step adds at most ``hi``
and at least ``lo`` (the sums of the positive and of the negative weights, each with the
bias). Over ``T`` steps a leaky state with ``beta = 1 - decay/2**k`` is bounded by the
geometric sum, ``S = min(T, ceil(2**k / decay))`` steps' worth of input (``S = T`` for
``beta = 1``: an integrate-and-fire neuron never leaks); the leak's rounding adds at most one
LSB per step::

    below          (lo - 1) S - |theta| - 1
    above, reset   none:      (hi + 1) S
                   zero:      |theta| + 2 hi + 2      (the spike empties the membrane)
                   subtract:  |theta| + hi + 1        when hi <= |theta| (each spike removes
                              + (hi - |theta| + 1)(S - 1)   what one step can add), else it
                                                      climbs by hi - |theta| a step

A current-based neuron's synaptic current takes ``[(lo - 1) S_alpha, (hi + 1) S_alpha]``; its
membrane then follows the rules above with that current as the step's input. ``T`` is the
steps the build serves: the on-chip coder's steps (``rate``, ``direct``), else
``max_steps`` (the host may send that many).

**Calibration** (:func:`calibrate`, on the evaluation data). The bit-exact reference runs at
:data:`MAX_STATE_BITS` wide states and records the extremes every state reaches; the width
then holds ``CALIBRATION_MARGIN_BITS`` more (twice the largest magnitude seen), unless the
bound over the run is narrower. The result is checked by running the reference once more at
the chosen widths: a layer that still saturates (a partial sum within a step) gets a bit
more until none does. ``mem_bits`` (``--mem-bits``) fixes the width instead; the calibration
then only reports what width would avoid the saturations seen.

The hardware builds states of at most :data:`MAX_STATE_BITS` bits (the reference's 64-bit
integers hold a state times a 17-bit decay); :func:`check_widths` refuses wider ones.
"""
from dataclasses import dataclass, replace

import numpy as np

from .errors import SpikegenError
from .ir import FixedFormat


__all__ = ["MAX_STATE_BITS", "CALIBRATION_MARGIN_BITS", "LayerWidths", "bits_for",
           "served_steps", "state_bounds", "decisions", "calibrate", "check_widths"]


#: The widest membrane or synaptic current the hardware (and the reference) builds.
MAX_STATE_BITS = 40
#: Headroom of a calibrated width over the largest magnitude seen on the evaluation data.
CALIBRATION_MARGIN_BITS = 1


def bits_for(lo, hi):
    """Bits of the smallest signed integer type holding ``[lo, hi]``."""
    lo, hi = int(min(lo, 0)), int(max(hi, 0))
    return max(2, max((-lo - 1).bit_length(), hi.bit_length()) + 1)


def served_steps(hardware, coding):
    """The time steps a build must run without saturating: the on-chip coder's, or the
    spike counters' ``max_steps`` when the host sends events."""
    if coding is not None and coding.kind != "events" and coding.steps:
        return int(coding.steps)
    return int(hardware.max_steps)


def _span(decay, decay_bits, steps):
    """Per neuron, the steps' worth of input a leaky state accumulates at most."""
    decay = np.asarray(decay, dtype=np.int64)
    leaky = np.ceil((1 << decay_bits) / np.maximum(decay, 1)).astype(np.int64)
    return np.where(decay > 0, np.minimum(steps, leaky), steps)


def _membrane(lo, hi, threshold, span, reset):
    th = np.abs(np.asarray(threshold, dtype=np.int64))
    below = (lo - 1) * span - th - 1
    if reset == "none":
        above = (hi + 1) * span
    elif reset == "subtract":
        above = th + hi + 1 + np.where(hi > th, (hi - th + 1) * (span - 1), 0)
    else:                                           # zero, zero_all
        above = th + 2 * np.maximum(hi, th) + 2
    return below, np.maximum(above, th + 1)


def state_bounds(lo, hi, neuron, steps):
    """The bound over ``steps`` steps (see the module docstring) of a quantized neuron
    (:class:`~spikegen.ir.QLIF` or :class:`~spikegen.ir.QCubaLIF`) whose step input lies in
    ``[lo, hi]`` per neuron: ``((mem_lo, mem_hi), (syn_lo, syn_hi) or None)`` over the
    layer."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    syn = None
    if neuron.current_based:
        s = _span(neuron.syn_decay, neuron.decay_bits, steps)
        lo, hi = (lo - 1) * s, (hi + 1) * s
        syn = (int(np.min(lo, initial=0)), int(np.max(hi, initial=0)))
    below, above = _membrane(lo, hi, neuron.threshold,
                             _span(neuron.decay, neuron.decay_bits, steps), neuron.reset)
    return (int(np.min(below, initial=0)), int(np.max(above, initial=0))), syn


@dataclass(frozen=True)
class LayerWidths:
    """One layer's width decision, for the report: ``bits`` (and ``syn_bits`` for a
    synaptic current), what is built; ``chosen_by``: ``bound`` (over ``steps`` steps),
    ``calibration`` (on the evaluation data, ``margin_bits`` of headroom) or ``mem_bits``
    (given); ``needed`` (``syn_needed``): the bits the evaluation data reaches, margin
    included (``None`` without data)."""
    bits: int
    chosen_by: str
    steps: int
    syn_bits: "int | None" = None
    needed: "int | None" = None
    syn_needed: "int | None" = None
    margin_bits: "int | None" = None

    def as_dict(self):
        return {k: v for k, v in self.__dict__.items() if v is not None}


def decisions(qnet, *, steps, fixed=False):
    """The :class:`LayerWidths` of ``qnet`` as quantized, before any calibration."""
    return tuple(LayerWidths(bits=layer.mem_format.bits, chosen_by="mem_bits" if fixed
                             else "bound", steps=steps,
                             syn_bits=None if layer.syn_format is None
                             else layer.syn_format.bits)
                 for layer in qnet.layers)


def _with_bits(layer, mem_bits, syn_bits):
    fmt = FixedFormat(bits=mem_bits, frac=layer.mem_format.frac)
    if layer.syn_format is None:
        return replace(layer, mem_format=fmt)
    return replace(layer, mem_format=fmt,
                   syn_format=FixedFormat(bits=syn_bits, frac=layer.syn_format.frac))


def _extremes(qnet, inputs):
    """Per layer, the lowest and highest membrane and synaptic current the reference reaches
    on ``inputs`` with every state :data:`MAX_STATE_BITS` wide: ``[(mem (lo, hi), syn (lo,
    hi) or None)]``."""
    from . import reference

    wide = replace(qnet, layers=tuple(_with_bits(layer, MAX_STATE_BITS, MAX_STATE_BITS)
                                      for layer in qnet.layers))
    x = reference.input_spikes(wide, inputs)
    current = None
    if wide.coding.kind == "direct":
        current = reference.direct_current(wide.layers[0],
                                           reference.check_pixels(wide, inputs),
                                           wide.coding.value_bits)
        batch, steps = current.shape[0], wide.coding.steps
    else:
        batch, steps = x.shape[0], x.shape[1]
    found = []
    for k, layer in enumerate(wide.layers):
        model = reference.MODELS.lookup(layer)
        drive = current if k == 0 else None
        state = model.initial_state(layer, batch, drive)
        out = np.zeros((batch, steps, layer.outputs), dtype=np.uint8)
        cuba = layer.syn_format is not None
        mem, syn = [0, 0], [0, 0]

        def widen(target, values):
            if values is not None and values.size:
                target[0] = min(target[0], int(values.min()))
                target[1] = max(target[1], int(values.max()))

        for t in range(steps):
            # the state after the start-of-step update, then after the step's events
            widen(syn if cuba else mem, state.acc)
            widen(mem, state.mem if cuba else None)
            spk, m, s, state, _ = model.step(layer, state, None if x is None else x[:, t],
                                             drive, wide.hardware.events_per_cycle)
            out[:, t] = spk
            widen(mem, m)
            widen(syn, s if cuba else None)
        found.append((tuple(mem), tuple(syn) if cuba else None))
        x = out
    return found


def _calibrated(lo_hi, threshold):
    threshold = np.atleast_1d(np.asarray(threshold, dtype=np.int64))
    peak = int(np.max(np.abs(threshold))) if threshold.size else 0
    return bits_for(min(lo_hi[0], -peak - 1), max(lo_hi[1], peak + 1)) + CALIBRATION_MARGIN_BITS


def calibrate(qnet, inputs, *, steps, fixed=False, source="the evaluation data"):
    """Tighten (or, with ``fixed``, only judge) the state widths of ``qnet`` on ``inputs``
    (the build's evaluation data, as :func:`spikegen.reference.simulate` takes it).

    ``qnet`` is as :func:`spikegen.quantize.quantize` made it: its widths are the bound over
    ``steps`` steps, or the given ``mem_bits`` (``fixed``). Returns ``(qnet, decisions)``:
    the network with calibrated widths (never wider than the bound) and a note per layer
    narrowed, and each layer's :class:`LayerWidths`.
    """
    from . import reference

    seen = _extremes(qnet, inputs)
    layers, decided = list(qnet.layers), list(decisions(qnet, steps=steps, fixed=fixed))
    for k, (layer, (mem, syn)) in enumerate(zip(qnet.layers, seen)):
        needed = _calibrated(mem, layer.neuron.threshold)
        syn_needed = None if syn is None else _calibrated(syn, 0)
        decided[k] = replace(decided[k], needed=needed, syn_needed=syn_needed,
                             margin_bits=CALIBRATION_MARGIN_BITS)
        if not fixed:
            layers[k] = _with_bits(layer, min(needed, layer.mem_format.bits),
                                   None if syn is None
                                   else min(syn_needed, layer.syn_format.bits))
    if fixed:
        return qnet, tuple(decided)
    # a partial sum within a step may reach beyond the states recorded: widen until none
    # saturates (never beyond the bound)
    for _ in range(8):
        result = reference.simulate(replace(qnet, layers=tuple(layers)), inputs, record=True)
        over = [k for k, trace in enumerate(result.layers) if trace.saturations]
        if not over:
            break
        for k in over:
            bound, layer = qnet.layers[k], layers[k]
            layers[k] = _with_bits(layer, min(layer.mem_format.bits + 1, bound.mem_format.bits),
                                   None if layer.syn_format is None
                                   else min(layer.syn_format.bits + 1, bound.syn_format.bits))
    notes = []
    for k, (layer, bound) in enumerate(zip(layers, qnet.layers)):
        syn_bits = None if layer.syn_format is None else layer.syn_format.bits
        decided[k] = replace(decided[k], bits=layer.mem_format.bits, syn_bits=syn_bits,
                             chosen_by="calibration")
        current = "" if syn_bits is None else (f", synaptic current {syn_bits} bits (bound "
                                               f"{bound.syn_format.bits})")
        notes.append(f"layer {k}: membrane {layer.mem_format.bits} bits (the bound over "
                     f"{steps} steps asks {bound.mem_format.bits}){current}: calibrated on "
                     f"{source}, {CALIBRATION_MARGIN_BITS} bit of margin over the largest "
                     "value reached")
    return replace(qnet, layers=tuple(layers), notes=qnet.notes + tuple(notes)), tuple(decided)


def check_widths(qnet, *, given=False):
    """Refuse a state wider than the hardware builds, naming the layer and the ways out."""
    for k, layer in enumerate(qnet.layers):
        for what, fmt in (("membrane", layer.mem_format), ("synaptic current",
                                                           layer.syn_format)):
            if fmt is not None and fmt.bits > MAX_STATE_BITS:
                ways = ("" if given else
                        "give evaluation data (`eval`) to calibrate it, lower `max_steps`, ")
                raise SpikegenError(
                    f"layer {k}'s {what} needs {fmt.bits} bits; the hardware builds at most "
                    f"{MAX_STATE_BITS}: {ways}set `mem_bits`, or use fewer `mem_frac_bits`")
