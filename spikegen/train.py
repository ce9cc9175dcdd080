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
import math
import time

import numpy as np

from .encode import pixels_u8, rate
from .errors import SpikegenError
from .ir import CODINGS, InputCoding


__all__ = ["train", "train_network", "save_network", "augment_images"]


def train(dataset, *, hidden=(32,), steps=16, beta=0.9, epochs=30, batch=64, lr=2e-3, seed=0,
          progress=None):
    """Train on ``dataset`` (a :class:`spikegen.data.Dataset`); returns the torch model.

    The loss is cross-entropy on the output spike counts; inputs are rate coded with a fresh
    seed per epoch (``seed + epoch``), so the network does not learn one particular spike train.
    """
    import snntorch
    import torch
    from snntorch import surrogate
    from torch import nn

    torch.manual_seed(seed)
    sizes = (dataset.x_train.shape[1], *hidden, int(dataset.y_train.max()) + 1)
    modules = []
    for a, b in zip(sizes, sizes[1:]):
        modules += [nn.Linear(a, b), snntorch.Leaky(beta=beta, init_hidden=True,
                                                   spike_grad=surrogate.fast_sigmoid(25))]
    model = nn.Sequential(*modules)
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
            for module in model.modules():
                if isinstance(module, snntorch.Leaky):
                    module.reset_mem()
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


# -- augmentation -----------------------------------------------------------------------------


def augment_images(x, generator, *, rotate=10.0, scale=0.1, shift=2.0):
    """Random affine distortions of square images, one per sample.

    Parameters
    ----------
    x : torch.Tensor (samples, side * side), intensities in [0, 1]
    generator : torch.Generator
        Source of the random draws (seeded by the caller, for reproducibility).
    rotate, scale, shift : float
        Largest rotation in degrees, relative change of size, and translation in pixels.
    """
    import torch
    from torch.nn import functional as F

    side = _image_side(x.shape[1])
    n = x.shape[0]
    draw = torch.rand((n, 4), generator=generator, dtype=torch.float64) * 2 - 1
    angle = draw[:, 0] * math.radians(rotate)
    factor = 1.0 + draw[:, 1] * scale
    # affine_grid maps output to input coordinates in [-1, 1]: one pixel is 2 / side
    tx, ty = draw[:, 2] * shift * 2 / side, draw[:, 3] * shift * 2 / side
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    images = x.reshape(n, 1, side, side).to(torch.float64)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out.reshape(n, side * side).clamp(0.0, 1.0)


def _image_side(features):
    side = math.isqrt(features)
    if side * side != features:
        raise SpikegenError(f"augmentation needs square images; {features} features are not "
                            "a square number of pixels")
    return side


# -- the full training path -------------------------------------------------------------------


def _check_options(coding, steps, hidden, epochs, qat_epochs):
    if coding not in CODINGS:
        raise SpikegenError(f"--coding must be one of {', '.join(CODINGS)}, not {coding!r}")
    if not isinstance(steps, int) or steps < 1:
        raise SpikegenError(f"--steps must be a positive integer, not {steps!r}")
    if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
        raise SpikegenError(f"--hidden must be one or more positive layer sizes, "
                            f"not {hidden!r}")
    for label, value in (("--epochs", epochs), ("--qat-epochs", qat_epochs)):
        if not isinstance(value, int) or value < 0:
            raise SpikegenError(f"{label} must be a non-negative integer, not {value!r}")


def _float_model(sizes, beta, threshold, slope):
    import snntorch
    from snntorch import surrogate
    from torch import nn

    modules = []
    for a, b in zip(sizes, sizes[1:]):
        modules += [nn.Linear(a, b),
                    snntorch.Leaky(beta=beta, threshold=threshold, init_hidden=True,
                                   spike_grad=surrogate.fast_sigmoid(slope))]
    return nn.Sequential(*modules)


def _float_forward(model, inputs, kind, steps):
    """Output spikes (batch, steps, outputs) of the float model.

    ``inputs``: spikes (batch, steps, features) for ``events``/``rate``, the constant input
    (batch, features) for ``direct``; its first product is computed once, not every step.
    """
    import snntorch
    import torch

    modules = list(model)
    for module in modules:
        if isinstance(module, snntorch.Leaky):
            module.reset_mem()
    first = modules[0](inputs) if kind == "direct" else None
    out = []
    for t in range(steps):
        h = first if kind == "direct" else modules[0](inputs[:, t])
        for module in modules[1:]:
            h = module(h)
        out.append(h)
    return torch.stack(out, dim=1)


def _draw(x, kind, steps, generator):
    """Training inputs for a batch of intensities: (float model input, QAT input)."""
    import torch

    if kind == "events":
        p = x.to(torch.float32)
    else:
        # the 8-bit pixel value the hardware receives; rate spikes with value / 256
        pixels = torch.round(x * 255.0).clamp(0, 255)
        p = (pixels / 256.0).to(torch.float32)
        if kind == "direct":
            return p, pixels.to(torch.uint8).numpy()
    spikes = (torch.rand((x.shape[0], steps, x.shape[1]), generator=generator) < p[:, None, :])
    spikes = spikes.to(torch.float32)
    return spikes, spikes.to(torch.float64)


def _loss(spikes, labels):
    import os
    import torch
    from torch.nn import functional as F

    kind = os.environ.get("SG_LOSS", "ce")
    counts = spikes.sum(dim=1)
    if kind == "ce":
        return F.cross_entropy(counts, labels)
    if kind.startswith("ces"):
        return F.cross_entropy(counts * float(kind[3:]), labels)
    if kind == "mse":
        steps = spikes.shape[1]
        target = torch.full_like(counts, 0.2 * steps)
        target[torch.arange(len(labels)), labels] = 0.8 * steps
        return F.mse_loss(counts / steps, target / steps)
    raise ValueError(kind)


def _batches(n, batch, rng):
    order = rng.permutation(n)
    return [order[start:start + batch] for start in range(0, n, batch)]


def _evaluate(net_or_qnet, x, y, coding, *, seed, which):
    """Accuracy of the float (``which="float"``) or bit-exact network on ``x``, ``y``."""
    from .ptq import coded_inputs, float_outputs, predict, reference_outputs

    inputs = coded_inputs(x, coding, seed=seed)
    if which == "float":
        spikes = float_outputs(net_or_qnet, inputs, coding)
    else:
        spikes = reference_outputs(net_or_qnet, inputs, engine=which)
    return float(np.mean(predict(spikes) == y))


def train_network(dataset, *, hidden=(128,), coding="direct", steps=25, beta=0.9,
                  threshold=1.0, epochs=30, qat_epochs=5, weight_bits=8, beta_bits=8,
                  mem_frac_bits=2, batch=100, lr=2e-3, qat_lr=2e-4, augment=False,
                  calibrate=True, slope=25.0, seed=0, progress=None):
    """Float training, scale calibration and quantization-aware fine-tuning.

    Parameters
    ----------
    dataset : spikegen.data.Dataset
        ``x_train``/``y_train`` are trained on; ``x_test``/``y_test`` (may be empty) are the
        validation data reported in the metrics.
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
        Epochs of float training and of quantization-aware fine-tuning (0 skips it).
    weight_bits, beta_bits, mem_frac_bits : int
        The quantization the network will be built with (``spikegen build`` options).
    lr, qat_lr : float
        Adam learning rates of the two phases, decayed along a cosine to 0.
    augment : bool
        Random affine distortions of square images (see :func:`augment_images`) in both
        phases.
    calibrate : bool
        Calibrate per-layer weight scales on (a part of) the training data before the
        fine-tuning (:func:`spikegen.ptq.calibrate`); the scale is then held by clipping.
    seed : int
    progress : callable or None
        Called with one line of text per epoch and phase.

    Returns
    -------
    model : torch.nn.Sequential
        ``nn.Linear`` and ``snntorch.Leaky`` layers holding the fine-tuned weights (float32,
        as :func:`save_network` stores them).
    metrics : dict
        ``coding``, ``steps``, ``weight_bits``, ``train_seconds``, and on the validation data
        (``None`` without it) ``float_accuracy`` (float model after float training),
        ``qat_float_accuracy`` (the fine-tuned weights run in float), ``reference_accuracy``
        (bit-exact), ``reference_accuracy_before_qat``; ``exponents`` per layer.
    """
    import torch

    from . import ptq
    from .qat import QATNetwork, network_from_module

    hidden = tuple(hidden)
    _check_options(coding, steps, hidden, epochs, qat_epochs)
    x_train = np.asarray(dataset.x_train, dtype=np.float64)
    y_train = np.asarray(dataset.y_train, dtype=np.int64)
    if x_train.shape[0] == 0:
        raise SpikegenError(f"data set {dataset.name!r} has no training images")
    if augment:
        _image_side(x_train.shape[1])
    x_val, y_val = np.asarray(dataset.x_test), np.asarray(dataset.y_test)
    validate = x_val.shape[0] > 0
    say = progress or (lambda line: None)
    qcoding = InputCoding(coding, steps=steps)
    quant = dict(weight_bits=weight_bits, beta_bits=beta_bits, mem_frac_bits=mem_frac_bits)
    started = time.perf_counter()

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_all = torch.from_numpy(x_train)
    y_all = torch.from_numpy(y_train)
    sizes = (x_train.shape[1], *hidden, int(y_train.max()) + 1)
    model = _float_model(sizes, beta, threshold, slope)

    def inputs(index):
        x = x_all[index]
        if augment:
            x = augment_images(x, generator)
        return _draw(x, coding, steps, generator)

    # phase 1: float training
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, max(1, epochs * math.ceil(len(y_train) / batch)))
    for epoch in range(epochs):
        model.train()
        total, correct = 0.0, 0
        for index in _batches(len(y_train), batch, rng):
            float_in, _ = inputs(index)
            out = _float_forward(model, float_in, coding, steps)
            loss = _loss(out, y_all[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
            correct += int((out.sum(1).argmax(1) == y_all[index]).sum())
        line = (f"float epoch {epoch + 1}/{epochs}: loss {total / len(y_train):.3f}, "
                f"train accuracy {correct / len(y_train):.4f}")
        if validate:
            accuracy = _evaluate(network_from_module(model), x_val, y_val, qcoding,
                                 seed=seed, which="float")
            line += f", validation {accuracy:.4f}"
        say(line)
    net = network_from_module(model)
    metrics = {"coding": coding, "steps": steps, "weight_bits": weight_bits,
               "hidden": list(hidden), "epochs": epochs, "qat_epochs": qat_epochs,
               "float_accuracy": None, "reference_accuracy_before_qat": None}
    if validate:
        metrics["float_accuracy"] = _evaluate(net, x_val, y_val, qcoding, seed=seed,
                                              which="float")
        metrics["reference_accuracy_before_qat"] = _evaluate(
            quantize_with(net, qcoding, quant), x_val, y_val, qcoding, seed=seed,
            which="torch")

    # phase 2: scale calibration on training images (never on the validation data)
    limits = None
    if calibrate:
        count = min(len(y_train), 1000)
        pick = np.sort(np.random.default_rng(seed + 1).permutation(len(y_train))[:count])
        cal = ptq.calibrate(net, x_train[pick], y_train[pick], coding=qcoding, seed=seed,
                            **quant)
        say(cal.summary())
        net = cal.network
        top = (1 << (weight_bits - 1)) - 1
        limits = [top * 2.0 ** -e if e != auto else None
                  for e, auto in zip(cal.exponents, cal.automatic)]

    # phase 3: quantization-aware fine-tuning with the reference's arithmetic
    qat = QATNetwork(net, coding=qcoding, slope=slope, weight_limits=limits, **quant)
    if qat_epochs:
        optimiser = torch.optim.Adam(qat.parameters(), lr=qat_lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimiser, max(1, qat_epochs * math.ceil(len(y_train) / batch)))
    for epoch in range(qat_epochs):
        qat.train()
        total, correct = 0.0, 0
        for index in _batches(len(y_train), batch, rng):
            _, qat_in = inputs(index)
            out = qat(qat_in)
            loss = _loss(out, y_all[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            qat.project_()
            total += float(loss.detach()) * len(index)
            correct += int((out.sum(1).argmax(1) == y_all[index]).sum())
        line = (f"QAT epoch {epoch + 1}/{qat_epochs}: loss {total / len(y_train):.3f}, "
                f"train accuracy {correct / len(y_train):.4f}")
        if validate:
            accuracy = _evaluate(qat.quantized(), x_val, y_val, qcoding, seed=seed,
                                 which="torch")
            line += f", bit-exact validation {accuracy:.4f}"
        say(line)

    final = qat.network()
    metrics["exponents"] = [layer.weight_format.frac for layer in qat.quantized().layers]
    metrics["qat_float_accuracy"] = metrics["reference_accuracy"] = None
    if validate:
        metrics["qat_float_accuracy"] = _evaluate(final, x_val, y_val, qcoding, seed=seed,
                                                  which="float")
        metrics["reference_accuracy"] = _evaluate(qat.quantized(), x_val, y_val, qcoding,
                                                  seed=seed, which="reference")
    metrics["train_seconds"] = time.perf_counter() - started
    return qat.to_module(slope=slope), metrics


def quantize_with(net, coding, options):
    from .quantize import quantize

    return quantize(net, coding=coding, **options)


def save_network(model, path, *, name="net"):
    """Write ``model`` as a spikegen checkpoint (with reset delays) for ``spikegen build``."""
    import os

    from .loader import save

    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(directory, exist_ok=True)
    save(model, path, name=name)
