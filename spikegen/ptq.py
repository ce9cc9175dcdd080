"""Post-training quantization with calibration, for networks trained elsewhere.

:func:`spikegen.quantize.quantize` gives every layer the largest power-of-two scale at which
its largest weight still fits. That wastes the narrow codes of 2- to 5-bit weights on a few
outliers. :func:`calibrate` instead tries, layer by layer, that exponent ``e`` and ``e + 1``,
``e + 2``, ... (finer steps, the largest weights clipped) and keeps the one with which the
bit-exact reference is most accurate on calibration data (or, without labels, agrees most
with the float network's predictions).

The chosen scale is baked into the float weights: a layer calibrated at exponent ``e`` has its
weights clipped to ``[-top, top] * 2**-e`` (``top = 2**(bits-1) - 1``), for which the default
``quantize`` picks exactly ``e`` again. So the calibrated network saved with
:func:`spikegen.save` builds as calibrated with a plain ``spikegen build``; no option
has to travel with it. (The only code given up is ``-top - 1``.)

:func:`accuracy_table` sweeps weight widths and time steps; :func:`format_table` and
:func:`plot_table` print and plot it.
"""
from dataclasses import dataclass, replace

import numpy as np

from .encode import pixels_u8, rate, rate_onchip
from . import plots
from .errors import SpikegenError
from .ir import InputCoding, Network
from .quantize import quantization_error, quantize, weight_exponent


__all__ = ["coded_inputs", "float_outputs", "reference_outputs", "predict", "clip_weights",
           "Calibration", "calibrate", "accuracy_table", "format_table", "plot_table"]


# -- evaluation helpers -----------------------------------------------------------------------


def coded_inputs(x, coding, *, seed=0):
    """Intensities ``x`` (samples, features) in [0, 1] → what the reference takes.

    ``events``: host rate coding (:func:`spikegen.encode.rate`) over ``coding.steps`` steps
    with ``seed``; ``rate`` and ``direct``: 8-bit pixel values (:func:`spikegen.encode.
    pixels_u8`), coded on chip.
    """
    if coding.kind == "events":
        if coding.steps < 1:
            raise SpikegenError("events coding needs a number of steps to rate code the data")
        return rate(x, coding.steps, seed=seed)
    return pixels_u8(x)


def float_outputs(net, inputs, coding, *, batch=500):
    """Output spikes (samples, steps, outputs) of the float network run by snnTorch.

    ``inputs`` as from :func:`coded_inputs`. ``rate`` pixels are coded with the on-chip coder's
    spikes and ``direct`` pixels enter as the constant current ``x = value / 2**value_bits``
    every step, so the float and the bit-exact network see the same inputs.
    """
    from .floatmodel import run_float

    if coding.kind == "events":
        return run_float(net, inputs, batch=batch)
    if coding.kind == "rate":
        return run_float(net, rate_onchip(inputs, coding.steps, seed=coding.seed), batch=batch)
    x = np.asarray(inputs, dtype=np.float64) / (1 << coding.value_bits)
    return run_float(net, x, batch=batch, steps=coding.steps)


def reference_outputs(qnet, inputs, *, engine="reference", batch=1000):
    """Output spikes of the bit-exact network, in batches.

    ``engine="reference"`` runs :func:`spikegen.reference.simulate`; ``"torch"`` runs
    :func:`spikegen.qat.simulate`, which gives the same spikes faster (tested equal).
    """
    if engine == "reference":
        from .reference import simulate

        def run(chunk):
            return simulate(qnet, chunk).spikes
    elif engine == "torch":
        from .qat import simulate as run_torch

        def run(chunk):
            return run_torch(qnet, chunk)
    else:
        raise ValueError(f"Engine must be 'reference' or 'torch', not {engine!r}")
    inputs = np.asarray(inputs)
    return np.concatenate([run(inputs[start:start + batch])
                           for start in range(0, inputs.shape[0], batch)])


def predict(spikes):
    """Classes from output spikes: the largest count, the lowest index on a tie."""
    return np.argmax(np.asarray(spikes).sum(axis=1, dtype=np.int64), axis=1)


# -- calibration ------------------------------------------------------------------------------


def clip_weights(net, exponents, weight_bits):
    """``net`` with layer ``k``'s weights clipped to ``[-top, top] * 2**-exponents[k]``.

    :func:`spikegen.quantize.quantize` then picks exactly ``exponents[k]``. A layer whose
    exponent is ``None`` or the automatic one is left as it is (clipping it would only cost
    the code ``-top - 1``).
    """
    top = (1 << (weight_bits - 1)) - 1
    layers = []
    for layer, e in zip(net.layers, exponents):
        weight = layer.weight
        if e is not None and e > weight_exponent(weight, weight_bits):
            limit = top * 2.0 ** -e
            weight = np.clip(weight, -limit, limit)
        layers.append(replace(layer, weight=weight))
    return Network(tuple(layers), name=net.name)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of :func:`calibrate`.

    ``network``: the float network with the calibrated clipping baked in (save it and build
    it); ``exponents``: the weight exponent of each layer, ``automatic`` the ones ``quantize``
    picks without calibration; ``clipped``: fraction of each layer's weights clipped;
    ``score``/``baseline``: accuracy (or agreement with the float network, see ``metric``) of
    the bit-exact network on the calibration data with and without calibration;
    ``float_score``: the float network's; ``errors``: :func:`spikegen.quantize.
    quantization_error` of the calibrated weights against the original ones.
    """
    network: Network
    exponents: tuple
    automatic: tuple
    clipped: tuple
    score: float
    baseline: float
    float_score: float
    metric: str
    errors: tuple

    def summary(self):
        """A few lines for the user."""
        lines = [f"calibration ({self.metric}): float {self.float_score:.4f}, bit-exact "
                 f"{self.baseline:.4f} with automatic scales -> {self.score:.4f} calibrated"]
        for k, (e, auto, clip, err) in enumerate(zip(self.exponents, self.automatic,
                                                     self.clipped, self.errors)):
            lines.append(f"  layer {k}: exponent {auto} -> {e} ({100 * clip:.2f} % of weights "
                         f"clipped), weight RMS error {err['weight_rms_error']:.3g} "
                         f"({100 * err['weight_rms_error_relative']:.2f} % of the largest)")
        return "\n".join(lines)


def calibrate(net, x, labels=None, *, coding, weight_bits=8, beta_bits=8, mem_frac_bits=2,
              mem_bits=None, candidates=4, seed=0, engine="torch", progress=None):
    """Choose each layer's weight scale on calibration data.

    Parameters
    ----------
    net : Network
        The float network (for instance from :func:`spikegen.load`).
    x : array (samples, features)
        Calibration intensities in [0, 1], coded with :func:`coded_inputs`.
    labels : array (samples,) or None
        With labels the score is the bit-exact accuracy, without it the fraction of samples on
        which the bit-exact and the float network predict the same class.
    coding : InputCoding
        The input coding and number of steps the network will run with.
    candidates : int
        Exponents ``e, e + 1, ..., e + candidates - 1`` are tried per layer, ``e`` being the
        automatic one. Layers are calibrated in order, each with the earlier ones fixed; a
        tie keeps the smaller exponent (less clipping).

    Returns
    -------
    Calibration
    """
    if not isinstance(candidates, int) or candidates < 1:
        raise SpikegenError(f"calibration candidates must be a positive integer, "
                            f"not {candidates!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != net.inputs or x.shape[0] == 0:
        raise SpikegenError(f"calibration data must have shape (samples, {net.inputs}) with "
                            f"at least one sample, not {x.shape}")
    options = dict(weight_bits=weight_bits, beta_bits=beta_bits, mem_frac_bits=mem_frac_bits,
                   mem_bits=mem_bits, coding=coding)
    inputs = coded_inputs(x, coding, seed=seed)
    float_predicted = predict(float_outputs(net, inputs, coding))
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (x.shape[0],):
            raise SpikegenError(f"calibration labels must have shape ({x.shape[0]},), "
                                f"not {labels.shape}")
        target, metric = labels, "accuracy"
    else:
        target, metric = float_predicted, "agreement"

    def score(exponents):
        qnet = quantize(clip_weights(net, exponents, weight_bits), **options)
        predicted = predict(reference_outputs(qnet, inputs, engine=engine))
        # agreement with the float network breaks ties between equally accurate scales
        return (float(np.mean(predicted == target)), float(np.mean(predicted == float_predicted)))

    automatic = tuple(weight_exponent(layer.weight, weight_bits) for layer in net.layers)
    chosen = list(automatic)
    baseline = best = score(chosen)
    for k in range(len(net.layers)):
        for e in range(automatic[k] + 1, automatic[k] + candidates):
            trial = chosen[:k] + [e] + chosen[k + 1:]
            result = score(trial)
            if progress is not None:
                progress(f"calibrate layer {k}: exponent {e}: {metric} {result[0]:.4f}")
            if result > best:
                best, chosen = result, trial
    calibrated = clip_weights(net, chosen, weight_bits)
    top = (1 << (weight_bits - 1)) - 1
    clipped = tuple(float(np.mean(np.abs(layer.weight) > top * 2.0 ** -e))
                    for layer, e in zip(net.layers, chosen))
    errors = quantization_error(net, quantize(calibrated, **options))
    return Calibration(network=calibrated, exponents=tuple(chosen), automatic=automatic,
                       clipped=clipped, score=best[0], baseline=baseline[0],
                       float_score=float(np.mean(float_predicted == target)), metric=metric,
                       errors=tuple(errors))


# -- accuracy across widths and steps ---------------------------------------------------------


def accuracy_table(net, x, labels, *, kind="direct", weight_bits=(2, 3, 4, 5, 6, 7, 8),
                   steps=(8, 16, 25), calibration=None, beta_bits=8, mem_frac_bits=2,
                   candidates=4, seed=0, engine="torch", progress=None):
    """Accuracy of the float and the bit-exact network across weight widths and time steps.

    Parameters
    ----------
    net : Network
    x, labels : arrays
        Evaluation intensities in [0, 1] (samples, features) and labels.
    kind : str
        Input coding: ``events``, ``rate`` or ``direct``.
    calibration : tuple (x, labels) or None
        Calibration data (labels may be None). Without it, scales are calibrated on the
        evaluation data itself, which flatters the calibrated figures; give held-out data.

    Returns
    -------
    list of dict
        One row per (weight_bits, steps): ``weight_bits``, ``steps``, ``float_accuracy``,
        ``reference_accuracy`` (automatic scales), ``calibrated_accuracy``, ``exponents``,
        ``automatic_exponents``.
    """
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    cal_x, cal_y = calibration if calibration is not None else (x, labels)
    rows = []
    for t in steps:
        coding = InputCoding(kind, steps=t)
        inputs = coded_inputs(x, coding, seed=seed)
        float_accuracy = float(np.mean(predict(float_outputs(net, inputs, coding)) == labels))
        for bits in weight_bits:
            options = dict(weight_bits=bits, beta_bits=beta_bits, mem_frac_bits=mem_frac_bits)
            plain = quantize(net, coding=coding, **options)
            plain_accuracy = float(np.mean(
                predict(reference_outputs(plain, inputs, engine=engine)) == labels))
            cal = calibrate(net, cal_x, cal_y, coding=coding, candidates=candidates, seed=seed,
                            engine=engine, **options)
            tuned = quantize(cal.network, coding=coding, **options)
            tuned_accuracy = float(np.mean(
                predict(reference_outputs(tuned, inputs, engine=engine)) == labels))
            rows.append({"weight_bits": bits, "steps": t, "float_accuracy": float_accuracy,
                         "reference_accuracy": plain_accuracy,
                         "calibrated_accuracy": tuned_accuracy,
                         "exponents": list(cal.exponents),
                         "automatic_exponents": list(cal.automatic)})
            if progress is not None:
                progress(f"{bits}-bit weights, {t} steps: float {float_accuracy:.4f}, "
                         f"bit-exact {plain_accuracy:.4f}, calibrated {tuned_accuracy:.4f}")
    return rows


def format_table(rows):
    """The rows of :func:`accuracy_table` as a text table (accuracies in %)."""
    header = (f"{'bits':>4} {'steps':>5} {'float %':>8} {'bit-exact %':>11} "
              f"{'calibrated %':>12}  exponents (automatic -> calibrated)")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row['weight_bits']:>4} {row['steps']:>5} "
                     f"{100 * row['float_accuracy']:>8.2f} "
                     f"{100 * row['reference_accuracy']:>11.2f} "
                     f"{100 * row['calibrated_accuracy']:>12.2f}  "
                     f"{row['automatic_exponents']} -> {row['exponents']}")
    return "\n".join(lines)


def plot_table(rows, path, *, title="Accuracy across weight widths and time steps"):
    """Plot :func:`accuracy_table` rows to a PNG: accuracy against weight bits, one line per
    number of steps (solid: calibrated, dashed: automatic scales, dotted: float).

    The PNG carries no software version or timestamp, so the same rows give the same file.
    """
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    steps = sorted({row["steps"] for row in rows})
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, t in enumerate(steps):
        sel = sorted((row for row in rows if row["steps"] == t), key=lambda r: r["weight_bits"])
        bits = [row["weight_bits"] for row in sel]
        colour = colours[index % len(colours)]
        ax.plot(bits, [100 * row["calibrated_accuracy"] for row in sel], "o-", color=colour,
                label=f"T={t} calibrated")
        ax.plot(bits, [100 * row["reference_accuracy"] for row in sel], "s--", color=colour,
                alpha=0.7, label=f"T={t} automatic scale")
        ax.axhline(100 * sel[0]["float_accuracy"], color=colour, linestyle=":", linewidth=1)
    ax.set_xlabel("weight bits")
    ax.set_ylabel("bit-exact accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    plots.save(fig, path)
