"""Float network -> fixed-point network.

Per layer, one power-of-two scale ``2**-e`` is shared by weights, bias, threshold and
membrane (the membrane has ``mem_frac_bits`` more fractional bits than the weights, so the
leak keeps precision below the weight LSB):

* weights: signed ``weight_bits`` integers, ``e`` the largest exponent at which the largest
  weight still fits (round to nearest, ties to even);
* threshold and bias: rounded to the membrane grid ``2**-(e + mem_frac_bits)``;
* beta: ``1 - decay / 2**beta_bits`` with ``decay`` an integer, so ``beta = 1 - 2**-k`` is a
  shift in hardware. Any value that changes is recorded in ``QNetwork.notes``;
* membrane width: range analysis of one time step from the threshold (the largest sum of
  positive weights, bias and threshold above; negative weights, bias and one subtracted
  threshold below), so a single step never saturates; ``mem_bits`` overrides it, and
  saturation (defined in the reference) handles whatever the range does not cover.
"""
import math

import numpy as np

from .errors import SpikegenError
from .ir import FixedFormat, HardwareConfig, InputCoding, QDenseLayer, QLIF, QNetwork


__all__ = ["quantize", "weight_exponent", "membrane_bits"]


def _bits_for(lo, hi):
    """Bits of the smallest signed integer type holding ``[lo, hi]``."""
    bits = 2
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


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
    """Width for which one time step starting at or below the threshold cannot saturate."""
    pos = np.maximum(weight_shifted, 0).sum(axis=1)
    neg = np.minimum(weight_shifted, 0).sum(axis=1)
    b = np.zeros(weight_shifted.shape[0], dtype=np.int64) if bias is None else bias
    hi = int(np.max(max(threshold, 0) + pos + np.maximum(b, 0)))
    lo = int(np.min(neg + np.minimum(b, 0) - abs(threshold)))
    return _bits_for(min(lo, -abs(threshold) - 1), max(hi, abs(threshold) + 1))


def neuron_threshold(layer):
    return layer.neuron.threshold


def _check_bits(label, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise SpikegenError(f"{label} must be an integer from {lo} to {hi}, not {value!r}")


def quantize(net, *, weight_bits=8, beta_bits=8, mem_frac_bits=2, mem_bits=None,
             hardware=None, coding=None):
    """Quantize a float :class:`~spikegen.ir.Network` to a :class:`~spikegen.ir.QNetwork`."""
    _check_bits("--weight-bits", weight_bits, 2, 16)
    _check_bits("--beta-bits", beta_bits, 1, 16)
    _check_bits("--mem-frac-bits", mem_frac_bits, 0, 16)
    if mem_bits is not None:
        _check_bits("--mem-bits", mem_bits, 2, 40)
    hardware = hardware or HardwareConfig()
    notes = []
    layers = []
    for index, layer in enumerate(net.layers):
        e = weight_exponent(layer.weight, weight_bits)
        if mem_bits is not None:
            # a narrow membrane must still hold the threshold: coarsen the scale if needed
            top_mem = (1 << (mem_bits - 1)) - 1
            lowered = e
            while lowered > -64 and abs(neuron_threshold(layer)) * 2.0 ** (
                    lowered + mem_frac_bits) > top_mem - 0.5:
                lowered -= 1
            peak = float(np.max(np.abs(layer.weight))) if layer.weight.size else 0.0
            if lowered != e and np.rint(peak * 2.0 ** lowered) == 0:
                needed_bits = _bits_for(0, int(np.rint(abs(neuron_threshold(layer))
                                                       * 2.0 ** (e + mem_frac_bits))) + 1)
                raise SpikegenError(
                    f"--mem-bits {mem_bits} cannot hold layer {index}'s threshold without "
                    f"rounding every weight to zero; use --mem-bits {needed_bits} or more, "
                    "or fewer --mem-frac-bits")
            if lowered != e:
                notes.append(f"layer {index}: weight scale lowered from 2^-{e} to "
                             f"2^-{lowered} so the threshold fits --mem-bits {mem_bits}")
                e = lowered
        frac = e + mem_frac_bits
        top = (1 << (weight_bits - 1)) - 1
        weight = np.clip(np.rint(layer.weight * 2.0 ** e), -top - 1, top).astype(np.int64)

        neuron = layer.neuron
        threshold = int(np.rint(neuron.threshold * 2.0 ** frac))
        if threshold * 2.0 ** -frac != neuron.threshold:
            notes.append(f"layer {index}: threshold {neuron.threshold:g} -> "
                         f"{threshold * 2.0 ** -frac:g} ({threshold} LSB of 2^-{frac})")
        beta = neuron.beta
        if not 0.0 <= beta <= 1.0:
            clamped = min(max(beta, 0.0), 1.0)
            notes.append(f"layer {index}: beta {beta:g} clamped to {clamped:g} "
                         "(as snnTorch clamps it)")
            beta = clamped
        decay = (1 << beta_bits) - int(np.rint(beta * (1 << beta_bits)))
        qbeta = 1.0 - decay / (1 << beta_bits)
        if qbeta != beta:
            notes.append(f"layer {index}: beta {beta:.6g} -> {qbeta:.6g} "
                         f"({(1 << beta_bits) - decay}/2^{beta_bits}, error {qbeta - beta:+.2g})")

        bias = None
        if layer.bias is not None:
            bias = np.rint(layer.bias * 2.0 ** frac).astype(np.int64)

        shifted = weight << mem_frac_bits
        needed = membrane_bits(shifted, bias, threshold)
        bits = needed if mem_bits is None else mem_bits
        fmt = FixedFormat(bits=bits, frac=frac)
        if not fmt.min <= threshold <= fmt.max:
            raise SpikegenError(
                f"--mem-bits {bits} cannot hold layer {index}'s threshold ({threshold} LSB); "
                f"use --mem-bits {_bits_for(-abs(threshold), abs(threshold) + 1)} or more, "
                "or fewer --mem-frac-bits")
        if mem_bits is not None and mem_bits < needed:
            notes.append(f"layer {index}: membrane {mem_bits} bits (range analysis asks "
                         f"{needed}); sums beyond it saturate")
        if bias is not None:
            clipped = np.clip(bias, fmt.min, fmt.max)
            if np.any(clipped != bias):
                notes.append(f"layer {index}: {int(np.sum(clipped != bias))} biases saturated "
                             "to the membrane range")
            bias = clipped
        qneuron = QLIF(threshold=threshold, decay=decay, decay_bits=beta_bits,
                       reset=neuron.reset, reset_delay=neuron.reset_delay)
        layers.append(QDenseLayer(weight=weight, bias=bias,
                                  weight_format=FixedFormat(bits=weight_bits, frac=e),
                                  mem_format=fmt, neuron=qneuron))
    return QNetwork(layers=tuple(layers), name=net.name, hardware=hardware, notes=tuple(notes),
                    coding=coding or InputCoding())


def quantization_error(net, qnet):
    """Per layer: relative RMS and max weight error, threshold and beta as built."""
    rows = []
    for layer, qlayer in zip(net.layers, qnet.layers):
        lsb = qlayer.weight_format.lsb
        err = qlayer.weight * lsb - layer.weight
        peak = float(np.max(np.abs(layer.weight))) or 1.0
        rows.append({
            "weight_rms_error": float(np.sqrt(np.mean(err ** 2))),
            "weight_max_error": float(np.max(np.abs(err))),
            "weight_rms_error_relative": float(np.sqrt(np.mean(err ** 2)) / peak),
            "threshold": layer.neuron.threshold,
            "threshold_built": qlayer.neuron.threshold * qlayer.mem_format.lsb,
            "beta": layer.neuron.beta,
            "beta_built": qlayer.neuron.beta,
        })
    return rows
