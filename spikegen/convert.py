"""ANN-to-SNN conversion: a trained ReLU network (:mod:`spikegen.ann`) becomes an ordinary
float :class:`~spikegen.ir.Network` of integrate-and-fire neurons, which spikegen quantizes,
builds and verifies like any trained SNN.

The method (see ``docs/conversion.md`` for its sources):

* every ReLU becomes integrate-and-fire neurons (LIF with ``beta = 1``), reset by
  subtraction, threshold 1: a neuron driven by a constant current ``I`` fires at the rate
  ``min(I, 1)``, the clipped ReLU of its current (Rueckauer et al. 2017);
* **threshold balancing**: each activation's range ``lambda`` is its clip value for a
  clipped ReLU (``nn.ReLU6``, ``nn.Hardtanh(0, m)``, ``Clip``; exact), else a robust
  ``percentile`` (default 99.9) of the layer's positive activations on calibration data.
  A layer's weights become ``W * lambda_prev / lambda`` and its bias ``b / lambda``, so
  firing rates are activations divided by ``lambda``; the inputs' ``lambda`` is 1 (an input
  of intensity ``x`` spikes at rate ``x``);
* **threshold shift**: a bias of ``shift / T`` (default ``shift = 0.5``) is added to every
  spiking layer: over ``T`` steps it adds half a threshold, which is what an initial membrane
  of ``threshold / 2`` would do (Deng & Gu 2021; Bu et al. 2022, the clip-floor-shift
  activation): spike counts round ``T * rate`` instead of flooring it. The hardware has no
  initial membrane, a bias it has;
* pooling: average pooling (before or after the ReLU) is linear and folds exactly (see
  :mod:`spikegen.fold`); a max pooling after a ReLU is moved before it (they commute) and
  becomes a max pooling of currents, which the hardware builds;
* **readout**: the last linear layer (the logits) integrates without firing (IF,
  ``reset="none"``) and the class is its largest final membrane (``readout="membrane"``,
  :mod:`rtl_lib.membrane_readout`): ``T`` times the logits of the spike rates.

The converted network is built for ``T`` steps (the shift depends on it) and records
``events`` coding with ``T`` steps: the host sends the input spikes.
"""
import os
from dataclasses import dataclass, replace

import numpy as np

from .ann import Activation, forward, is_ann_checkpoint, load_ann, prepare
from . import plots
from .errors import SpikegenError
from .fold import Conv, Linear, Neuron, fold
from .ir import LIF, InputCoding, Network


__all__ = ["Conversion", "balance", "to_network", "convert", "snn_inputs", "accuracy_sweep",
           "format_sweep", "plot_sweep", "read_ann", "calibration_data", "convert_file",
           "network_for_build", "BUILD_SWEEP_SAMPLES", "DEFAULT_PERCENTILE", "DEFAULT_SHIFT"]


DEFAULT_PERCENTILE = 99.9
DEFAULT_SHIFT = 0.5


@dataclass(frozen=True, eq=False)
class Conversion:
    """Result of :func:`convert`: the spiking ``network``; ``thresholds`` the activation
    range ``lambda`` of each ReLU layer and ``clipped`` whether it was the ReLU's clip value
    (else the ``percentile`` of the ``samples`` calibration activations); ``levels`` the
    levels of each quantized ReLU (``None`` for the others); ``steps`` and ``shift``."""
    network: Network
    thresholds: tuple
    clipped: tuple
    percentile: float
    steps: int
    shift: float
    levels: tuple = ()
    samples: int = 0

    def ranges(self):
        """One line per ReLU layer: its activation range and where it came from."""
        lines = []
        for k, (lam, clip) in enumerate(zip(self.thresholds, self.clipped)):
            levels = self.levels[k] if k < len(self.levels) else None
            how = (f"the ReLU's clip value, {levels} levels: exact at T = {levels}" if levels
                   else "the ReLU's clip value" if clip else
                   f"the {self.percentile:g}th percentile of its activations on "
                   f"{self.samples} calibration samples")
            lines.append(f"layer {k}: activation range {lam:.6g} ({how})")
        return lines

    def summary(self):
        """A few lines for the user."""
        return "\n".join([f"converted to integrate-and-fire neurons (subtract reset) for "
                          f"{self.steps} steps, bias shift {self.shift:g}/T, membrane readout "
                          "of the last layer"] + ["  " + line for line in self.ranges()])


def _check_chain(ops):
    """One activation after every linear map but the last, none after the last."""
    linear, activation = None, 0
    for op in ops:
        if isinstance(op, (Conv, Linear)):
            if linear is not None and not activation:
                raise SpikegenError(f"{op.name}: two linear layers without a ReLU between "
                                    "them; spikegen converts linear maps separated by ReLUs")
            linear, activation = op, 0
        elif isinstance(op, Activation):
            if linear is None or activation:
                raise SpikegenError(f"{op.name}: a ReLU must follow a Conv2d or Linear layer "
                                    "(one ReLU per layer)")
            activation = 1
    if linear is None:
        raise SpikegenError("the network has no Conv2d or Linear layer")
    if activation:
        raise SpikegenError("the network must end with a Linear layer (its logits, read as "
                            "the last layer's membrane), not with a ReLU")


def _check_percentile(percentile):
    if not isinstance(percentile, (int, float)) or isinstance(percentile, bool) \
            or not 50.0 <= percentile <= 100.0:
        raise SpikegenError(f"percentile must be a number from 50 to 100, not {percentile!r}")


def balance(ann, x, *, percentile=DEFAULT_PERCENTILE):
    """The activation range ``lambda`` of every ReLU on calibration inputs ``x`` (samples,
    features in the ANN's input order): its clip value, else the ``percentile`` of its
    positive activations. Returns ``(thresholds, clipped)``."""
    _check_percentile(percentile)
    prepared = prepare(ann)
    _check_chain(prepared.ops)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise SpikegenError(f"calibration data must have shape (samples, {ann.inputs}) with "
                            f"at least one sample, not {x.shape}")
    _, acts = forward(prepared, x, record=True)
    activations = [op for op in prepared.ops if isinstance(op, Activation)]
    thresholds, clipped = [], []
    for op, values in zip(activations, acts):
        if op.max is not None:
            thresholds.append(float(op.max))
            clipped.append(True)
            continue
        positive = values[values > 0]
        if positive.size == 0:
            raise SpikegenError(f"{op.name}: no positive activation on the calibration data; "
                                "the layer never fires (give other calibration data)")
        thresholds.append(float(np.percentile(positive, percentile)))
        clipped.append(False)
    return tuple(thresholds), tuple(clipped)


def to_network(ann, thresholds, steps, *, shift=DEFAULT_SHIFT, name=None, notes=()):
    """The spiking :class:`~spikegen.ir.Network` of ``ann`` with activation ranges
    ``thresholds`` (from :func:`balance`) for ``steps`` time steps (see the module
    docstring)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise SpikegenError(f"steps must be a positive integer, not {steps!r}")
    if not isinstance(shift, (int, float)) or not 0.0 <= shift <= 1.0:
        raise SpikegenError(f"shift must be a number from 0 to 1, not {shift!r}")
    prepared = prepare(ann)
    _check_chain(prepared.ops)
    lambdas = list(thresholds)
    count = sum(isinstance(op, Activation) for op in prepared.ops)
    if len(lambdas) != count or not all(lam > 0 for lam in lambdas):
        raise SpikegenError(f"{count} positive activation ranges are needed, not {thresholds!r}")
    last = max(i for i, op in enumerate(prepared.ops) if isinstance(op, (Conv, Linear)))
    ops, previous, k = [], 1.0, 0
    for i, op in enumerate(prepared.ops):
        if isinstance(op, (Conv, Linear)):
            lam = 1.0 if i == last else lambdas[k]
            extra = 0.0 if i == last else shift / steps
            bias = op.bias
            if bias is not None or extra:
                bias = (np.zeros(op.weight.shape[0]) if bias is None else bias) / lam + extra
            ops.append(replace(op, weight=op.weight * (previous / lam), bias=bias))
            if i == last:
                ops.append(Neuron(LIF(beta=1.0, threshold=1.0, reset="none"),
                                  name=f"{op.name} (readout)"))
            previous = lam
        elif isinstance(op, Activation):
            ops.append(Neuron(LIF(beta=1.0, threshold=1.0, reset="subtract"), name=op.name))
            k += 1
        else:
            ops.append(op)
    layers = fold(ops, ann.input_shape, where=f"{ann.source} network")
    return Network(layers, name=name or ann.name, readout="membrane",
                   source=f"{ann.source} ReLU network, converted",
                   notes=tuple(notes), coding=InputCoding("events", steps=steps))


def convert(ann, x, *, steps, percentile=DEFAULT_PERCENTILE, shift=DEFAULT_SHIFT, name=None):
    """Convert ``ann`` with calibration inputs ``x`` (samples, features in the ANN's input
    order, intensities in [0, 1]) for ``steps`` time steps. Returns a :class:`Conversion`."""
    thresholds, clipped = balance(ann, x, percentile=percentile)
    levels = tuple(op.levels for op in prepare(ann).ops if isinstance(op, Activation))
    partial = Conversion(None, thresholds, clipped, float(percentile), steps, float(shift),
                         levels, int(x.shape[0]))
    notes = [f"converted from a {ann.source} ReLU network: IF neurons, subtract reset, "
             f"bias shift {shift:g}/T for T = {steps}, membrane readout"] + partial.ranges()
    network = to_network(ann, thresholds, steps, shift=shift, name=name, notes=notes)
    return replace(partial, network=network)


def snn_inputs(ann, x):
    """Inputs ``x`` in the ANN's order ((C, H, W) flattened) in the spiking network's
    (channels last, see :mod:`rtl_lib.conv_geometry`)."""
    x = np.asarray(x, dtype=np.float64)
    if len(ann.input_shape) != 3:
        return x
    c, h, w = ann.input_shape
    return x.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(x.shape[0], -1)


def accuracy_sweep(ann, thresholds, x, y, steps, *, weight_bits=8, shift=DEFAULT_SHIFT,
                   seed=0, batch=250, progress=None):
    """The ANN's accuracy and the converted network's bit-exact accuracy (quantized with
    ``weight_bits``, run by :func:`spikegen.reference.simulate`) for each number of
    ``steps``. Inputs are rate coded on the host with ``seed`` (binary inputs give the same
    spikes every step). Returns ``(ann_accuracy, rows)``, a row per ``steps``."""
    from .progress import Stage
    from .ptq import coded_inputs
    from .quantize import quantize
    from .reference import simulate

    y = np.asarray(y)
    ann_accuracy = float(np.mean(np.argmax(forward(prepare(ann), x), axis=1) == y))
    flat = snn_inputs(ann, x)
    rows = []
    for t in steps:
        network = to_network(ann, thresholds, t, shift=shift)
        coding = InputCoding("events", steps=t)
        qnet = quantize(network, weight_bits=weight_bits, coding=coding)
        spikes = coded_inputs(flat, coding, seed=seed)
        predicted = np.zeros(len(y), dtype=np.int64)
        # a bar on a terminal (the reference takes minutes for thousands of conv images)
        with Stage(f"[convert] bit-exact, T = {t}", total=len(y), unit="samples") as stage:
            for start in range(0, len(y), batch):
                predicted[start:start + batch] = simulate(
                    qnet, spikes[start:start + batch]).predicted
                stage.update(min(start + batch, len(y)))
        row = {"steps": int(t), "snn_accuracy": float(np.mean(predicted == y)),
               "images": int(len(y))}
        rows.append(row)
        if progress is not None:
            progress(f"T = {t}: bit-exact {100 * row['snn_accuracy']:.2f} % "
                     f"(ANN {100 * ann_accuracy:.2f} %)")
    return ann_accuracy, rows


def format_sweep(ann_accuracy, rows, weight_bits):
    """The sweep as a text table; a row may carry its own ``ann_accuracy`` and ``images``
    (when it was measured on fewer samples)."""
    lines = [f"{'steps':>5}  {'ANN %':>7}  {'SNN bit-exact %':>15}  {'loss (points)':>13}"
             f"  {'images':>6}",
             f"{'-' * 5}  {'-' * 7}  {'-' * 15}  {'-' * 13}  {'-' * 6}"]
    for row in rows:
        ann = row.get("ann_accuracy", ann_accuracy)
        lines.append(f"{row['steps']:>5}  {100 * ann:>7.2f}  "
                     f"{100 * row['snn_accuracy']:>15.2f}  "
                     f"{100 * (ann - row['snn_accuracy']):>+13.2f}  "
                     f"{row.get('images', ''):>6}")
    lines.append(f"({weight_bits}-bit weights)")
    return "\n".join(lines)


def plot_sweep(ann_accuracy, rows, path, *, title="ANN-to-SNN conversion"):
    """Plot bit-exact accuracy against time steps, the ANN's as a line, to a PNG (no
    version or timestamp in it: the same rows give the same file)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    steps = [row["steps"] for row in rows]
    ax.plot(steps, [100 * row["snn_accuracy"] for row in rows], "o-",
            label="converted SNN (bit-exact)")
    ax.axhline(100 * ann_accuracy, color="k", linestyle=":", label="ANN")
    ax.set_xscale("log", base=2)
    ax.set_xticks(steps, [str(t) for t in steps])
    ax.set_xlabel("time steps T")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    plots.save(fig, path)


def read_ann(path):
    """The :class:`~spikegen.ann.ANN` in ``path`` (an ONNX file or a ReLU-network
    checkpoint, read safely), or ``None`` when the file holds something else (a spiking
    network)."""
    from .loader import _read
    from .nir_frontend import is_nir_file
    from .onnx_frontend import is_onnx_file, load_onnx

    path = os.fspath(path)
    if is_onnx_file(path):
        return load_onnx(path)
    if not os.path.isfile(path) or is_nir_file(path):
        return None
    try:
        obj = _read(path)
    except SpikegenError:
        return None                  # not a torch file: the spiking loaders say what it is
    return load_ann(path, obj) if is_ann_checkpoint(obj) else None


def calibration_data(spec, ann, *, split="train", limit=None, binarize=None, log=None):
    """Intensities (samples, features in the ANN's input order) and labels (or ``None``) from
    a command-line ``spec``: a data set name (``digits``, ``mnist5k``, ``mnist-idx:DIR``; its
    ``split`` ``"train"`` or ``"test"``, the other when that one is empty) or an ``.npz``
    file with ``x`` (samples, features) in [0, 1] and optionally ``labels``. ``binarize``
    turns intensities at or above it into 1, the rest into 0. ``log`` is told when the
    other split is used."""
    from . import datasets

    if isinstance(spec, str) and spec.endswith(".npz"):
        if not os.path.isfile(spec):
            raise SpikegenError(f"{spec}: no such file")
        try:
            with np.load(spec, allow_pickle=False) as archive:
                if "x" not in archive.files:
                    raise SpikegenError(f"{spec}: no 'x' array of intensities (found: "
                                        f"{', '.join(archive.files) or 'nothing'})")
                x = archive["x"]
                y = archive["labels"] if "labels" in archive.files else None
        except SpikegenError:
            raise
        except (ValueError, OSError, EOFError) as exc:
            raise SpikegenError(f"{spec}: not a readable .npz file ({exc})") from None
        source = spec
    else:
        data = datasets.get(spec)
        pairs = {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test)}
        other = "test" if split == "train" else "train"
        x, y = pairs[split]
        if not len(x):
            x, y = pairs[other]
            if log is not None:
                log(f"{data.name} has no {split} split: using its {other} split")
        source = f"{data.name}"
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.ndim != 2 or x.shape[1] != ann.inputs or not len(x):
        raise SpikegenError(f"{source}: intensities of shape {x.shape}, the network takes "
                            f"(samples, {ann.inputs})")
    x = x.astype(np.float64)
    if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
        raise SpikegenError(f"{source}: intensities must be in [0, 1]")
    if y is not None and np.shape(y) != (x.shape[0],):
        raise SpikegenError(f"{source}: 'labels' has shape {np.shape(y)}, expected "
                            f"({x.shape[0]},)")
    if limit is not None:
        x, y = x[:limit], None if y is None else y[:limit]
    if binarize is not None:
        x = (x >= binarize).astype(np.float64)
    return x, None if y is None else np.asarray(y, dtype=np.int64)


def convert_file(model, *, calib, steps, out, eval=None, percentile=DEFAULT_PERCENTILE,
                 shift=DEFAULT_SHIFT, binarize=None, calib_samples=1000, eval_samples=None,
                 sweep=None, weight_bits=8, plot=None, seed=0, log=print):
    """``spikegen convert``: read the ReLU network in ``model`` (a checkpoint or an ONNX
    file), convert it on ``calib`` (see :func:`calibration_data`) for ``steps`` steps, write
    the spiking network to ``out`` (:func:`spikegen.save`, with ``events`` coding and
    ``steps``), and with ``eval`` data print the ANN's accuracy next to the converted
    network's bit-exact accuracy for each of ``sweep`` (default ``steps / 4 ... 2 * steps``)
    steps, plotted to ``plot`` (default beside ``out``). Returns the figures as a dict."""
    from .loader import save

    ann = read_ann(model)
    if ann is None:
        raise SpikegenError(f"{model}: not a ReLU network (spikegen convert reads an ONNX "
                            "file or a spikegen.save checkpoint of a PyTorch ReLU network)")
    x, _ = calibration_data(calib, ann, split="train", limit=calib_samples,
                            binarize=binarize, log=log)
    conversion = convert(ann, x, steps=steps, percentile=percentile, shift=shift)
    log(conversion.summary())
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    save(conversion.network, out, coding=conversion.network.coding)
    log(f"wrote {out} ({len(conversion.network.layers)} layers, events coding, {steps} steps)")
    figures = {"steps": steps, "thresholds": list(conversion.thresholds),
               "clipped": list(conversion.clipped), "percentile": conversion.percentile,
               "shift": conversion.shift}
    if eval is None:
        return figures
    x, y = calibration_data(eval, ann, split="test", limit=eval_samples, binarize=binarize,
                            log=log)
    if y is None:
        raise SpikegenError(f"{eval}: the evaluation data has no labels")
    sweep = sorted(set(sweep or [t for t in (steps // 4, steps // 2, steps, 2 * steps)
                                 if t >= 1]))
    ann_accuracy, rows = accuracy_sweep(ann, conversion.thresholds, x, y, sweep,
                                        weight_bits=weight_bits, shift=shift, seed=seed,
                                        progress=log)
    log(f"accuracy on {len(y)} samples of {eval}:")
    log(format_sweep(ann_accuracy, rows, weight_bits))
    plot = plot or os.path.splitext(out)[0] + "-accuracy.png"
    try:
        plot_sweep(ann_accuracy, rows, plot, title=f"{ann.name}: ANN-to-SNN conversion, "
                                                  f"{len(y)} samples")
        log(f"wrote {plot}")
    except ImportError:
        log("no plot: matplotlib is not installed (pip install spikegen[plot])")
    figures.update(ann_accuracy=ann_accuracy, sweep=rows, eval_samples=int(len(y)))
    return figures


#: Evaluation samples of the build's accuracy-against-steps sweep (each T runs the bit-exact
#: reference over them; the build's own evaluation at its T uses every sample).
BUILD_SWEEP_SAMPLES = 500


def network_for_build(source, calib, steps, *, eval=None, percentile=DEFAULT_PERCENTILE,
                      weight_bits=8, seed=0):
    """The converted network of the ReLU network in ``source`` for ``spikegen build``
    (``calib`` data, ``steps`` steps) and its sweep, or ``(None, None)`` when ``source`` is
    not a ReLU network.

    Its notes (the report's) say each layer's activation range and, for labelled data, the
    ReLU network's accuracy on the calibration samples and on the ``eval`` data (a data set's
    test split or an .npz with ``x``: the samples the build evaluates bit-exactly). With
    labelled ``eval`` intensities the sweep is ``{"ann_accuracy", "rows", "weight_bits"}``:
    the ReLU network's accuracy and the converted network's bit-exact accuracy at ``steps``
    / 4, / 2, 1 and 2 times ``steps`` (:func:`accuracy_sweep`), on the first
    :data:`BUILD_SWEEP_SAMPLES` samples; else ``None``."""
    ann = read_ann(source)
    if ann is None:
        return None, None
    if calib is None:
        raise SpikegenError(f"{source}: a ReLU network; give --calib DATA (calibration data "
                            "for its thresholds) to convert and build it")
    x, y = calibration_data(calib, ann, split="train", limit=1000)
    conversion = convert(ann, x, steps=steps, percentile=percentile)
    network = conversion.network
    notes = [_ann_accuracy_note(ann, x, y, f"the calibration data ({calib})")]
    sweep = None
    if eval is not None:
        try:
            x, y = calibration_data(eval, ann, split="test")
        except SpikegenError:
            x, y = None, None        # spike trains or recordings: no intensities to run it on
        if x is not None:
            notes.append(_ann_accuracy_note(ann, x, y, f"the evaluation data ({eval})"))
        if x is not None and y is not None:
            count = min(len(y), BUILD_SWEEP_SAMPLES)
            ann_accuracy, rows = accuracy_sweep(
                ann, conversion.thresholds, x[:count], y[:count],
                sorted({max(1, steps // 4), max(1, steps // 2), steps, 2 * steps}),
                weight_bits=weight_bits, seed=seed)
            sweep = {"ann_accuracy": ann_accuracy, "rows": rows, "weight_bits": weight_bits}
    return replace(network, notes=network.notes + tuple(n for n in notes if n)), sweep


def _ann_accuracy_note(ann, x, y, what):
    if y is None:
        return None
    accuracy = float(np.mean(np.argmax(forward(prepare(ann), x), axis=1) == y))
    return f"the ReLU network's accuracy on {len(y)} samples of {what}: {100 * accuracy:.2f} %"
