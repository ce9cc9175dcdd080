"""Float network -> fixed-point network.

Per layer, one power-of-two scale ``2**-e`` is shared by weights, bias, threshold and
membrane (the membrane has ``mem_frac_bits`` more fractional bits than the weights, so the
leak keeps precision below the weight LSB):

* weights: signed ``weight_bits`` integers, ``e`` the largest exponent at which the largest
  weight still fits (round to nearest, ties to even);
* threshold and bias: rounded to the membrane grid ``2**-(e + mem_frac_bits)``;
* recurrent weights share the feed-forward weights' format (``e`` is chosen from both);
* beta (and a CubaLIF's alpha): ``1 - decay / 2**beta_bits`` with ``decay`` an integer, so
  ``beta = 1 - 2**-k`` is a shift in hardware;
* per-neuron thresholds, betas and alphas are rounded neuron by neuron. Any value that
  changes is recorded in ``QNetwork.notes`` (one note per rounded value);
* membrane and synaptic current (CubaLIF, the membrane's fraction bits): wide enough for the
  whole run, by the bound over the steps the build serves (:mod:`spikegen.widths`, which
  holds every width decision; the compiler then tightens it on evaluation data);
  ``mem_bits`` (and ``syn_bits``, default ``mem_bits``) override it, and saturation (defined
  in the reference) handles whatever a given width does not cover.
"""
import math
from dataclasses import dataclass

import numpy as np

from .errors import SpikegenError
from .ir import (FixedFormat, HardwareConfig, InputCoding, QConvLayer, QCubaLIF, QDenseLayer,
                 QLIF, QNetwork, plain)
from .registry import Registry
from .widths import MAX_STATE_BITS, bits_for, served_steps, state_bounds


__all__ = ["quantize", "QUANTIZERS", "QuantOptions", "quantize_dense", "quantize_conv",
           "weight_exponent",
           "membrane_bits", "quantization_error", "layer_error"]


def weight_exponent(weight, weight_bits):
    """Largest ``e`` with ``round(max|w| * 2**e) <= 2**(weight_bits-1) - 1``."""
    top = (1 << (weight_bits - 1)) - 1
    peak = float(np.max(np.abs(weight))) if weight.size else 0.0
    if peak == 0.0:
        return weight_bits - 1
    e = math.floor(math.log2(top / peak))
    while np.rint(peak * 2.0 ** e) > top:
        e -= 1
    while np.rint(peak * 2.0 ** (e + 1)) <= top:
        e += 1
    return e


def membrane_bits(weight_shifted, bias, threshold):
    """Width for which one time step starting at or below the threshold cannot saturate
    (the analysis of a single step; builds use the bound over the run, :mod:`.widths`).

    ``threshold`` is a scalar or per-neuron array; ``weight_shifted`` holds every weight of
    the layer (feed-forward and recurrent) in membrane LSBs.
    """
    lo, hi = _step_range(weight_shifted, bias)
    return _membrane_bits_from(lo, hi, threshold)


def _step_range(weight_shifted, bias):
    """Per neuron, the lowest and highest sum of one step's inputs and bias."""
    pos = np.maximum(weight_shifted, 0).sum(axis=1)
    neg = np.minimum(weight_shifted, 0).sum(axis=1)
    b = np.zeros(weight_shifted.shape[0], dtype=np.int64) if bias is None else bias
    return neg + np.minimum(b, 0), pos + np.maximum(b, 0)


def _membrane_bits_from(lo, hi, threshold):
    threshold = np.broadcast_to(np.asarray(threshold, dtype=np.int64), np.shape(hi))
    top = int(np.max(np.maximum(threshold, 0) + hi)) if np.size(hi) else 0
    bottom = int(np.min(lo - np.abs(threshold))) if np.size(lo) else 0
    peak = int(np.max(np.abs(threshold))) if threshold.size else 0
    return bits_for(min(bottom, -peak - 1), max(top, peak + 1))


def neuron_threshold(layer):
    """The largest threshold magnitude of a layer (float IR)."""
    return float(np.max(np.abs(layer.neuron.threshold)))


def _check_bits(label, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise SpikegenError(f"{label} must be an integer from {lo} to {hi}, not {value!r}")


def _where(index, neuron, per):
    return f"layer {index} neuron {neuron}" if per else f"layer {index}"


def _round_threshold(index, threshold, frac, notes):
    values = np.atleast_1d(np.asarray(threshold, dtype=np.float64))
    built = np.rint(values * 2.0 ** frac).astype(np.int64)
    per = values.size > 1
    for j in np.flatnonzero(built * 2.0 ** -frac != values):
        notes.append(f"{_where(index, j, per)}: threshold {values[j]:g} -> "
                     f"{built[j] * 2.0 ** -frac:g} ({built[j]} LSB of 2^-{frac})")
    return built if per else int(built[0])


def _round_decay(index, label, value, bits, notes):
    """``1 - value`` as ``decay / 2**bits``, per neuron; clamps to [0, 1] as snnTorch does."""
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    per = values.size > 1
    clamped = np.clip(values, 0.0, 1.0)
    for j in np.flatnonzero(clamped != values):
        notes.append(f"{_where(index, j, per)}: {label} {values[j]:g} clamped to "
                     f"{clamped[j]:g} (as snnTorch clamps it)")
    decay = (1 << bits) - np.rint(clamped * (1 << bits)).astype(np.int64)
    built = 1.0 - decay / (1 << bits)
    for j in np.flatnonzero(built != clamped):
        notes.append(f"{_where(index, j, per)}: {label} {clamped[j]:.6g} -> {built[j]:.6g} "
                     f"({(1 << bits) - decay[j]}/2^{bits}, error {built[j] - clamped[j]:+.2g})")
    return decay if per else int(decay[0])


@dataclass(frozen=True)
class QuantOptions:
    """The quantizer's options (see :func:`quantize`); ``syn_bits`` defaults to ``mem_bits``
    when that is given."""
    weight_bits: int = 8
    beta_bits: int = 8
    mem_frac_bits: int = 2
    mem_bits: "int | None" = None
    syn_bits: "int | None" = None
    #: the time steps the state widths must hold (:func:`spikegen.widths.served_steps`)
    steps: int = 255


#: The quantizer of each layer kind: ``quantize_layer(layer, index, options, notes)`` returns
#: the quantized layer and appends a note for every value it had to change.
QUANTIZERS = Registry("quantizer")


def quantize(net, *, weight_bits=8, beta_bits=8, mem_frac_bits=2, mem_bits=None,
             syn_bits=None, hardware=None, coding=None):
    """Quantize a float :class:`~spikegen.ir.Network` to a :class:`~spikegen.ir.QNetwork`.

    ``mem_bits`` fixes the membrane width (default: range analysis); ``syn_bits`` the
    synaptic current's width of :class:`~spikegen.ir.CubaLIF` layers (default ``mem_bits``
    when given, else range analysis). ``beta_bits`` is the ``decay_bits`` of both beta and
    alpha. The state widths hold the steps the build serves (``coding.steps``, else
    ``hardware.max_steps``). Each layer is quantized by its kind's entry in
    :data:`QUANTIZERS`.
    """
    _check_bits("`weight_bits`", weight_bits, 2, 16)
    _check_bits("`beta_bits`", beta_bits, 1, 16)
    _check_bits("`mem_frac_bits`", mem_frac_bits, 0, 16)
    if mem_bits is not None:
        _check_bits("`mem_bits`", mem_bits, 2, MAX_STATE_BITS)
    if syn_bits is not None:
        _check_bits("syn_bits", syn_bits, 2, MAX_STATE_BITS)
    elif mem_bits is not None:
        syn_bits = mem_bits
    hardware, coding = hardware or HardwareConfig(), coding or InputCoding()
    options = QuantOptions(weight_bits=weight_bits, beta_bits=beta_bits,
                           mem_frac_bits=mem_frac_bits, mem_bits=mem_bits, syn_bits=syn_bits,
                           steps=served_steps(hardware, coding))
    notes = []
    layers = tuple(QUANTIZERS(layer, index, options, notes)
                   for index, layer in enumerate(net.layers))
    return QNetwork(layers=layers, name=net.name, hardware=hardware,
                    notes=tuple(notes), coding=coding, readout=net.readout)


def _weight_scale(layer, index, every, o, notes):
    """The exponent ``e`` of the layer's weight scale ``2**-e``: the largest at which every
    weight fits, lowered when a fixed ``mem_bits`` could not hold the threshold."""
    e = weight_exponent(every, o.weight_bits)
    if o.mem_bits is None:
        return e
    # a narrow membrane must still hold the threshold: coarsen the scale if needed
    top_mem = (1 << (o.mem_bits - 1)) - 1
    lowered = e
    while lowered > -64 and neuron_threshold(layer) * 2.0 ** (
            lowered + o.mem_frac_bits) > top_mem - 0.5:
        lowered -= 1
    peak = float(np.max(np.abs(every))) if every.size else 0.0
    if lowered != e and np.rint(peak * 2.0 ** lowered) == 0:
        needed_bits = bits_for(0, int(np.rint(neuron_threshold(layer)
                                               * 2.0 ** (e + o.mem_frac_bits))) + 1)
        raise SpikegenError(
            f"`mem_bits` {o.mem_bits} cannot hold layer {index}'s threshold without "
            f"rounding every weight to zero; use `mem_bits` {needed_bits} or more, "
            "or fewer `mem_frac_bits`")
    if lowered != e:
        notes.append(f"layer {index}: weight scale lowered from 2^-{e} to "
                     f"2^-{lowered} so the threshold fits a {o.mem_bits}-bit membrane")
    return lowered


def _quantize_neuron(neuron, index, frac, o, notes):
    """The integer neuron parameters: thresholds on the membrane grid ``2**-frac``, betas
    (and alphas) as ``1 - decay / 2**beta_bits``."""
    threshold = _round_threshold(index, neuron.threshold, frac, notes)
    decay = _round_decay(index, "beta", neuron.beta, o.beta_bits, notes)
    if neuron.current_based:
        syn_decay = _round_decay(index, "alpha", neuron.alpha, o.beta_bits, notes)
        return QCubaLIF(threshold=threshold, decay=decay, syn_decay=syn_decay,
                        decay_bits=o.beta_bits, reset=neuron.reset,
                        reset_delay=neuron.reset_delay)
    return QLIF(threshold=threshold, decay=decay, decay_bits=o.beta_bits,
                reset=neuron.reset, reset_delay=neuron.reset_delay)


def _state_formats(index, lo, hi, qneuron, frac, o, notes):
    """The membrane's format (the bound over ``o.steps`` steps, or ``mem_bits``) and, for
    current-based neurons, the synaptic current's; refuses a membrane that cannot hold the
    threshold."""
    threshold = qneuron.threshold
    (mem_lo, mem_hi), syn = state_bounds(lo, hi, qneuron, o.steps)
    needed = bits_for(mem_lo, mem_hi)
    bits = needed if o.mem_bits is None else o.mem_bits
    fmt = FixedFormat(bits=bits, frac=frac)
    thresholds = np.atleast_1d(threshold)
    outside = (thresholds < fmt.min) | (thresholds > fmt.max)
    if np.any(outside):
        peak = int(np.max(np.abs(thresholds[outside])))
        raise SpikegenError(
            f"`mem_bits` {bits} cannot hold layer {index}'s threshold ({peak} LSB); "
            f"use `mem_bits` {bits_for(-peak, peak + 1)} or more, "
            "or fewer `mem_frac_bits`")
    if o.mem_bits is not None and o.mem_bits < needed:
        notes.append(f"layer {index}: membrane {o.mem_bits} bits (the bound over {o.steps} "
                     f"steps asks {needed}); sums beyond it saturate")
    if not qneuron.current_based:
        return fmt, None
    syn_needed = bits_for(*syn)
    syn_fmt = FixedFormat(bits=syn_needed if o.syn_bits is None else o.syn_bits, frac=frac)
    if o.syn_bits is not None and o.syn_bits < syn_needed:
        notes.append(f"layer {index}: synaptic current {o.syn_bits} bits (the bound over "
                     f"{o.steps} steps asks {syn_needed}); sums beyond it saturate")
    return fmt, syn_fmt


def _clip_bias(index, bias, fmt, syn_fmt, notes):
    """Biases saturated to the range of the state they are added to, with a note."""
    if bias is None:
        return None
    acc_fmt = syn_fmt or fmt
    clipped = np.clip(bias, acc_fmt.min, acc_fmt.max)
    if np.any(clipped != bias):
        what = "synaptic current" if syn_fmt is not None else "membrane"
        notes.append(f"layer {index}: {int(np.sum(clipped != bias))} biases saturated "
                     f"to the {what} range")
    return clipped


@QUANTIZERS.register("dense")
def quantize_dense(layer, index, o, notes):
    """A :class:`~spikegen.ir.DenseLayer` as a :class:`~spikegen.ir.QDenseLayer` (see the
    module docstring)."""
    every = layer.weight if layer.recurrent is None else np.concatenate(
        [layer.weight, layer.recurrent], axis=1)
    e = _weight_scale(layer, index, every, o, notes)
    frac = e + o.mem_frac_bits
    top = (1 << (o.weight_bits - 1)) - 1
    weight = np.clip(np.rint(layer.weight * 2.0 ** e), -top - 1, top).astype(np.int64)
    recurrent = None
    if layer.recurrent is not None:
        recurrent = np.clip(np.rint(layer.recurrent * 2.0 ** e), -top - 1,
                            top).astype(np.int64)
    qneuron = _quantize_neuron(layer.neuron, index, frac, o, notes)
    bias = None
    if layer.bias is not None:
        bias = np.rint(layer.bias * 2.0 ** frac).astype(np.int64)
    shifted = (weight if recurrent is None
               else np.concatenate([weight, recurrent], axis=1)) << o.mem_frac_bits
    lo, hi = _step_range(shifted, bias)
    fmt, syn_fmt = _state_formats(index, lo, hi, qneuron, frac, o, notes)
    bias = _clip_bias(index, bias, fmt, syn_fmt, notes)
    return QDenseLayer(weight=weight, bias=bias,
                       weight_format=FixedFormat(bits=o.weight_bits, frac=e),
                       mem_format=fmt, neuron=qneuron, recurrent=recurrent,
                       syn_format=syn_fmt)


@QUANTIZERS.register("conv2d")
def quantize_conv(layer, index, o, notes):
    """A :class:`~spikegen.ir.ConvLayer` as a :class:`~spikegen.ir.QConvLayer`: the dense
    layer's rules, the range analysis per output channel (a neuron takes each weight of its
    channel at most once per event of its window: ``pool**2`` times with an input pooling)."""
    e = _weight_scale(layer, index, layer.weight, o, notes)
    frac = e + o.mem_frac_bits
    top = (1 << (o.weight_bits - 1)) - 1
    weight = np.clip(np.rint(layer.weight * 2.0 ** e), -top - 1, top).astype(np.int64)
    qneuron = _quantize_neuron(layer.neuron, index, frac, o, notes)
    bias = None if layer.bias is None else np.rint(layer.bias * 2.0 ** frac).astype(np.int64)
    per_channel = (weight << o.mem_frac_bits).reshape(weight.shape[0], -1)
    window = layer.geometry.pool ** 2
    lo, hi = _step_range(np.repeat(per_channel, window, axis=1), bias)
    fmt, syn_fmt = _state_formats(index, lo, hi, qneuron, frac, o, notes)
    bias = _clip_bias(index, bias, fmt, syn_fmt, notes)
    return QConvLayer(weight=weight, bias=bias,
                      weight_format=FixedFormat(bits=o.weight_bits, frac=e), mem_format=fmt,
                      neuron=qneuron, geometry=layer.geometry, syn_format=syn_fmt)


def quantization_error(net, qnet):
    """Per layer: relative RMS and max weight error, threshold and beta as built."""
    return [layer_error(layer, qlayer) for layer, qlayer in zip(net.layers, qnet.layers)]


def layer_error(layer, qlayer):
    """A dense layer's relative RMS and max weight error, threshold and beta as built."""
    lsb = qlayer.weight_format.lsb
    err = qlayer.weight * lsb - layer.weight
    peak = float(np.max(np.abs(layer.weight))) or 1.0
    return {
        "weight_rms_error": float(np.sqrt(np.mean(err ** 2))),
        "weight_max_error": float(np.max(np.abs(err))),
        "weight_rms_error_relative": float(np.sqrt(np.mean(err ** 2)) / peak),
        "threshold": plain(layer.neuron.threshold),
        "threshold_built": plain(qlayer.neuron.threshold * qlayer.mem_format.lsb),
        "beta": plain(layer.neuron.beta),
        "beta_built": plain(qlayer.neuron.beta),
    }
