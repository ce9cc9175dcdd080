"""Training fully connected LIF networks with snnTorch, then quantization-aware fine-tuning.

Two entry points:

* :func:`train`: the demo's small float trainer (host rate coding, a few seconds on digits);
* :func:`train_network`: the full path. Float training with snnTorch's surrogate gradients,
  then (optionally) per-layer scale calibration (:func:`spikegen.ptq.calibrate`), then
  quantization-aware fine-tuning (:class:`spikegen.qat.QATNetwork`) with the exact
  arithmetic of the reference, for one of the three input codings:

  ``events``
      the host rate codes the intensities (:func:`spikegen.encode.rate`, probability ``x``);
      training draws fresh spikes every epoch so the network learns the rates, not one
      particular spike train.
  ``rate``
      the on-chip coder spikes with probability ``value / 256`` for the 8-bit pixel value.
      Training draws fresh Bernoulli spikes with exactly that probability rather than the
      coder's own sequence: the on-chip sequence is one fixed draw per sample (it restarts
      from the same seed), and a network fitted to it would learn its accidents, while the
      distribution is what every sample, seen or not, shares.
  ``direct``
      ``x = value / 256`` enters the first layer as a constant current every step; the
      pixels are rounded to 8 bits (:func:`spikegen.encode.pixels_u8`) in training too.

  Both phases are seeded (torch and numpy) and reproducible on the CPU. Optional
  augmentation (random small rotations, scalings and shifts of square images) helps on
  small data sets such as the 5,000 MNIST images.

:func:`save_network` writes the ``net.pt`` that ``spikegen build`` reads.
"""
import time

import numpy as np

from .encode import rate
from .errors import SpikegenError
from .ir import CODINGS, LIF, InputCoding
from .snntorch_model import network_from_module, reset_state, untrained
from .training_loop import (_epochs, _Inputs, _single_thread, _training_data, augment_images,
                            evaluate)


__all__ = ["train", "on_grid", "train_network", "train_float", "finetune", "evaluate",
           "save_network", "augment_images"]


def train(dataset, *, hidden=(32,), steps=16, beta=0.9, epochs=30, batch=64, lr=2e-3, seed=0,
          progress=None):
    """Train on ``dataset`` (a :class:`spikegen.datasets.Dataset`); returns the torch model.

    The loss is cross-entropy on the output spike counts; inputs are rate coded with a fresh
    seed per epoch (``seed + epoch``), so the network does not learn one particular spike train.
    Runs on one CPU thread (see :func:`train_network`).
    """
    with _single_thread():
        return _train_demo(dataset, hidden, steps, beta, epochs, batch, lr, seed, progress)


def _train_demo(dataset, hidden, steps, beta, epochs, batch, lr, seed, progress):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    sizes = (dataset.x_train.shape[1], *hidden, int(dataset.y_train.max()) + 1)
    model = _float_model(sizes, beta, 1.0, 25.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    y = torch.from_numpy(dataset.y_train)
    order_rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        spikes = torch.from_numpy(rate(dataset.x_train, steps, seed=seed + 1000 + epoch)
                                  .astype(np.float32))
        order = torch.from_numpy(order_rng.permutation(len(y)))
        total, correct = 0.0, 0
        for start in range(0, len(y), batch):
            index = order[start:start + batch]
            reset_state(model)
            counts = sum(model(spikes[index, t]) for t in range(steps))
            loss = nn.functional.cross_entropy(counts, y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
            correct += int((counts.argmax(1) == y[index]).sum())
        if progress is not None:
            progress(f"epoch {epoch + 1}/{epochs}: loss {total / len(y):.3f}, "
                     f"train accuracy {correct / len(y):.3f}")
    return model


def on_grid(model, *, weight_bits=8, mem_frac_bits=2):
    """``model`` with every weight and bias rounded to the fixed-point grid ``spikegen
    build`` quantizes it to (same ``weight_bits`` and ``mem_frac_bits``), as an
    ``nn.Sequential`` of ``nn.Linear`` + ``snntorch.Leaky``.

    The float model then computes with the weights the hardware holds, so the only
    differences left between the two are beta's rounding and the membrane's fraction bits
    (the demo's network is built this way). Quantizing the result again picks the same
    scales and the same integers.
    """
    from dataclasses import replace

    from .qat import module_from_network
    from .quantize import quantize

    net = network_from_module(model)
    qnet = quantize(net, weight_bits=weight_bits, mem_frac_bits=mem_frac_bits)
    layers = tuple(
        replace(layer, weight=q.weight * q.weight_format.lsb,
                bias=None if layer.bias is None else q.bias * q.acc_format.lsb)
        for layer, q in zip(net.layers, qnet.layers))
    return module_from_network(replace(net, layers=layers))


# -- augmentation -----------------------------------------------------------------------------


def _check_options(coding=None, steps=None, hidden=None, **counts):
    if coding is not None and coding not in CODINGS:
        raise SpikegenError(f"`coding` must be one of {', '.join(CODINGS)}, not {coding!r}")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise SpikegenError(f"`steps` must be a positive integer, not {steps!r}")
    if hidden is not None and (not hidden or any(not isinstance(h, int) or h < 1
                                                 for h in hidden)):
        raise SpikegenError(f"`hidden` must be one or more positive layer sizes, "
                            f"not {hidden!r}")
    for label, value in counts.items():
        least = 1 if label == "batch" else 0
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            kind = "positive" if least else "non-negative"
            raise SpikegenError(f"--{label.replace('_', '-')} must be a {kind} integer, "
                                f"not {value!r}")


def _float_model(sizes, beta, threshold, slope):
    """Layers of ``sizes`` to train in float: snnTorch's ``Leaky`` (reset by subtraction, with
    reset delay) after each ``nn.Linear``, with a fast-sigmoid surrogate gradient."""
    from snntorch import surrogate

    neuron = LIF(beta=beta, threshold=threshold, reset="subtract", reset_delay=True)
    return untrained(sizes, neuron, spike_grad=surrogate.fast_sigmoid(slope))


def _float_forward(model, inputs, kind, steps):
    """Output spikes (batch, steps, outputs) of the float model.

    ``inputs``: spikes (batch, steps, features) for ``events``/``rate``, the constant input
    (batch, features) for ``direct``; its first product is computed once, not every step.
    """
    import torch

    modules = list(model)
    reset_state(model)
    first = modules[0](inputs) if kind == "direct" else None
    out = []
    for t in range(steps):
        h = first if kind == "direct" else modules[0](inputs[:, t])
        for module in modules[1:]:
            h = module(h)
        out.append(h)
    return torch.stack(out, dim=1)


def train_float(dataset, *, hidden=(128,), coding="direct", steps=25, beta=0.9, threshold=1.0,
                epochs=30, batch=100, lr=2e-3, augment=False, slope=25.0, seed=0,
                progress=None):
    """Float training with snnTorch's surrogate gradients.

    Parameters are those of :func:`train_network`. Returns the ``nn.Sequential`` of
    ``nn.Linear`` and ``snntorch.Leaky`` layers (reset by subtraction, snnTorch's reset
    delay). Progress lines report the validation accuracy when ``dataset.x_test`` is not
    empty.
    """
    import torch

    hidden = tuple(hidden)
    _check_options(coding, steps, hidden, epochs=epochs, batch=batch)
    x, y = _training_data(dataset, augment)
    coding_ = InputCoding(coding, steps=steps)
    x_val, y_val = np.asarray(dataset.x_test), np.asarray(dataset.y_test)
    with _single_thread():
        torch.manual_seed(seed)
        sizes = (x.shape[1], *hidden, int(y.max()) + 1)
        model = _float_model(sizes, beta, threshold, slope)
        inputs = _Inputs(x, coding, steps, augment, torch.Generator().manual_seed(seed))

        def validate():
            accuracy = evaluate(network_from_module(model), x_val, y_val, coding_, seed=seed)
            return f", validation {accuracy:.4f}"

        _epochs(model, model.parameters(),
                lambda index: _float_forward(model, inputs(index)[0], coding, steps), x, y,
                epochs=epochs, batch=batch, lr=lr, rng=np.random.default_rng(seed),
                label="float", validate=validate if len(y_val) else None,
                say=progress or (lambda line: None))
    return model


def finetune(model, dataset, *, coding="direct", steps=25, weight_bits=8, beta_bits=8,
             mem_frac_bits=2, mem_bits=None, epochs=5, batch=100, lr=2e-4, augment=False,
             calibrate=True, calibration_samples=1000, slope=25.0, seed=0, progress=None):
    """Scale calibration and quantization-aware fine-tuning of a float-trained model.

    Parameters are those of :func:`train_network` (``epochs`` and ``lr`` are its
    ``qat_epochs`` and ``qat_lr``); ``calibration_samples`` training images (a seeded
    choice) score the calibration candidates; ``mem_bits`` fixes the membrane width (as
    ``spikegen build --mem-bits``: fine-tuning then learns its saturation), ``None`` takes
    the range analysis's.

    Returns
    -------
    model, metrics
        As :func:`train_network`, without the float-training entries.
    """
    import torch

    from . import ptq
    from .qat import QATNetwork

    _check_options(coding, steps, epochs=epochs, batch=batch,
                   calibration_samples=calibration_samples)
    x, y = _training_data(dataset, augment)
    coding_ = InputCoding(coding, steps=steps)
    quant = dict(weight_bits=weight_bits, beta_bits=beta_bits, mem_frac_bits=mem_frac_bits,
                 mem_bits=mem_bits)
    x_val, y_val = np.asarray(dataset.x_test), np.asarray(dataset.y_test)
    say = progress or (lambda line: None)
    metrics = {"coding": coding, "steps": steps, "weight_bits": weight_bits,
               "qat_epochs": epochs}
    with _single_thread():
        net = network_from_module(model)
        if len(y_val):
            metrics["reference_accuracy_before_qat"] = evaluate(
                QATNetwork(net, coding=coding_, **quant).quantized(), x_val, y_val, coding_,
                seed=seed, engine="torch")
        limits = None
        if calibrate and calibration_samples:
            # training images only: the validation data stays unseen
            pick = np.random.default_rng(seed + 1).permutation(len(y))[:calibration_samples]
            pick = np.sort(pick)
            cal = ptq.calibrate(net, x[pick], y[pick], coding=coding_, seed=seed, **quant)
            say(cal.summary())
            net = cal.network
            top = (1 << (weight_bits - 1)) - 1
            # hold a calibrated scale during fine-tuning by clipping to it
            limits = [top * 2.0 ** -e if e != auto else None
                      for e, auto in zip(cal.exponents, cal.automatic)]
        torch.manual_seed(seed)
        qat = QATNetwork(net, coding=coding_, slope=slope, weight_limits=limits, **quant)
        inputs = _Inputs(x, coding, steps, augment, torch.Generator().manual_seed(seed + 2))

        def validate():
            accuracy = evaluate(qat.quantized(), x_val, y_val, coding_, seed=seed,
                                engine="torch")
            return f", bit-exact validation {accuracy:.4f}"

        _epochs(qat, [p for p in qat.parameters() if p.requires_grad],
                lambda index: qat(inputs(index)[1]), x, y, epochs=epochs, batch=batch, lr=lr,
                rng=np.random.default_rng(seed + 3), label="QAT",
                validate=validate if len(y_val) else None, say=say, after_step=qat.project_)
        qnet = qat.quantized()
        metrics["exponents"] = [layer.weight_format.frac for layer in qnet.layers]
        if len(y_val):
            metrics["qat_float_accuracy"] = evaluate(qat.network(), x_val, y_val, coding_,
                                                     seed=seed)
            metrics["reference_accuracy"] = evaluate(qnet, x_val, y_val, coding_, seed=seed)
    return qat.to_module(slope=slope), metrics


def train_network(dataset, *, hidden=(128,), coding="direct", steps=25, beta=0.9,
                  threshold=1.0, epochs=30, qat_epochs=None, weight_bits=8, beta_bits=8,
                  mem_frac_bits=2, batch=100, lr=2e-3, qat_lr=2e-4, augment=False,
                  calibrate=True, slope=25.0, seed=0, progress=None, arch=None,
                  binarize=None):
    """Float training, scale calibration and quantization-aware fine-tuning.

    Parameters
    ----------
    dataset : spikegen.datasets.Dataset
        ``x_train``/``y_train`` are trained on; ``x_test``/``y_test`` (may be empty) are the
        validation data reported in the progress lines and the metrics, never trained on.
    hidden : tuple of int
        Hidden layer sizes; inputs and outputs come from the data.
    coding : str
        ``events``, ``rate`` or ``direct`` (see the module docstring).
    steps : int
        Time steps per inference.
    beta, threshold : float
        Every layer's LIF decay and threshold (fixed, not trained). Reset is by subtraction
        with snnTorch's reset delay.
    epochs, qat_epochs : int
        Epochs of float training and of quantization-aware fine-tuning (0 skips a phase;
        ``qat_epochs`` defaults to 5, and to 0 for a convolutional ``arch``, which has no
        quantization-aware fine-tuning yet).
    weight_bits, beta_bits, mem_frac_bits : int
        The quantization the network will be built with (``spikegen build`` options).
    batch : int
        Samples per optimiser step.
    lr, qat_lr : float
        Adam learning rates of the two phases, each decayed along a cosine to 0.
    augment : bool
        Random affine distortions of square images (:func:`augment_images`), both phases.
    calibrate : bool
        Calibrate per-layer weight scales on training images before fine-tuning
        (:func:`spikegen.ptq.calibrate`); the fine-tuning then holds them by clipping.
    slope : float
        Slope of the fast-sigmoid surrogate gradient.
    seed : int
        Seeds everything (initial weights, order, augmentation, spike draws); training runs
        on one CPU thread, so a seed gives the same network on any machine with the same
        torch build.
    progress : callable or None
        Called with one line of text per epoch.
    arch : str or None
        A convolutional network instead of ``hidden``: an architecture string such as
        ``12C5-MP2-32C5-MP2-10`` (:mod:`spikegen.arch`) on the data set's square images,
        trained by :func:`spikegen.train_conv.train_conv` (float training and
        calibration; codings ``events`` and ``rate``). The model returned is then the
        calibrated network as snnTorch modules on flat channels-last maps.
    binarize : float or None
        Intensities at or above this threshold become 1, the others 0 (after any
        augmentation, in training and validation), so ``events`` coding sends each bright
        pixel in every step.

    Returns
    -------
    model : torch.nn.Sequential
        ``nn.Linear`` and ``snntorch.Leaky`` layers holding the fine-tuned weights (float32,
        as :func:`save_network` stores them).
    metrics : dict
        ``coding``, ``steps``, ``weight_bits``, ``hidden``, ``epochs``, ``qat_epochs``,
        ``exponents`` (per layer), ``train_seconds``; with validation data also
        ``float_accuracy`` (after float training), ``reference_accuracy_before_qat``,
        ``qat_float_accuracy`` (the fine-tuned weights run in float) and
        ``reference_accuracy`` (bit-exact, :func:`spikegen.reference.simulate`).
    """
    if arch is not None:
        if qat_epochs:
            raise SpikegenError("quantization-aware fine-tuning of convolutional networks is "
                                "not implemented; use --qat-epochs 0 (calibration keeps "
                                "8-bit weights close to float)")
        _check_options(coding, steps, epochs=epochs, batch=batch)
        from .train_conv import train_conv

        return train_conv(dataset, arch=arch, coding=coding, steps=steps, beta=beta,
                          threshold=threshold, epochs=epochs, weight_bits=weight_bits,
                          beta_bits=beta_bits, mem_frac_bits=mem_frac_bits, batch=batch,
                          lr=lr, augment=augment, binarize=binarize, calibrate=calibrate,
                          slope=slope, seed=seed, progress=progress)
    if binarize is not None:
        raise SpikegenError("binarized inputs are implemented for convolutional networks "
                            "(--arch) only")
    qat_epochs = 5 if qat_epochs is None else qat_epochs
    started = time.perf_counter()
    hidden = tuple(hidden)
    _check_options(coding, steps, hidden, epochs=epochs, qat_epochs=qat_epochs, batch=batch)
    model = train_float(dataset, hidden=hidden, coding=coding, steps=steps, beta=beta,
                        threshold=threshold, epochs=epochs, batch=batch, lr=lr, augment=augment,
                        slope=slope, seed=seed, progress=progress)
    float_accuracy = None
    if len(dataset.y_test):
        float_accuracy = evaluate(network_from_module(model), dataset.x_test, dataset.y_test,
                                  InputCoding(coding, steps=steps), seed=seed)
    model, metrics = finetune(model, dataset, coding=coding, steps=steps,
                              weight_bits=weight_bits, beta_bits=beta_bits,
                              mem_frac_bits=mem_frac_bits, epochs=qat_epochs, batch=batch,
                              lr=qat_lr, augment=augment, calibrate=calibrate, slope=slope,
                              seed=seed, progress=progress)
    metrics.update(hidden=list(hidden), epochs=epochs, float_accuracy=float_accuracy,
                   train_seconds=time.perf_counter() - started)
    return model, metrics


def save_network(model, path, *, name="net", coding=None, input_shape=None):
    """Write ``model`` as a spikegen checkpoint (with reset delays) for ``spikegen build``.

    ``model`` is what :func:`train_network` returns (or a float
    :class:`~spikegen.ir.Network`); missing directories are created. ``coding`` (an
    :class:`~spikegen.ir.InputCoding`) records the input coding it was trained with;
    ``input_shape`` (C, H, W) is that of a convolutional module starting with ``nn.Conv2d``.
    """
    import os

    from .loader import save

    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(directory, exist_ok=True)
    save(model, path, name=name, coding=coding, input_shape=input_shape)
