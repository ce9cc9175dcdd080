"""Training convolutional LIF networks: float training, then post-training calibration.

The network comes from an architecture string (:mod:`spikegen.arch`, for instance
``12C5-AP2-32C5-AP2-10``) and the data set's image shape. Training runs the model's own
``nn.Conv2d``/``nn.Linear`` weights through a lean LIF forward pass (:func:`forward`) that
computes exactly what snnTorch's ``Leaky`` (reset by subtraction, reset delay) computes, spike
for spike, with fewer tensor operations per step: on a CPU the element-wise work of the
neuron maps, not the convolutions, dominates a conv SNN's training time. The first layer's
linear map is applied to every step at once. Training runs on one torch thread, as the dense
trainer does: on this project's shared two-core machine one thread trained
``12C5-AP2-32C5-AP2-10`` three times faster than two (0.54 against 1.6 s per batch of 100
at 10 steps), the element-wise work being too small to gain from a busy second core.

After float training, :func:`spikegen.ptq.calibrate` chooses each layer's weight scale on
training images with the bit-exact reference, and the calibrated network is returned. There is
no quantization-aware fine-tuning of convolutions yet (:class:`spikegen.qat.QATNetwork` runs
dense layers); with 8-bit weights calibration keeps the bit-exact accuracy close to the
float one (see ``benchmarks/mnist_conv.py``).

The input codings are those a convolution's first layer takes: ``events`` (the host sends
spikes; with ``binarize`` the pixels at or above the threshold spike in every step, else they
are rate coded) and ``rate`` (the on-chip coder; training draws Bernoulli spikes of
probability ``value / 256``, as the dense trainer does).
"""
import math
import time

import numpy as np

from .arch import parse_arch
from .errors import SpikegenError
from .ir import LIF, InputCoding


__all__ = ["image_shape", "forward", "train_conv"]


def image_shape(features):
    """(C, H, W) of a data set's flat images: one channel, square."""
    side = math.isqrt(features)
    if side * side != features:
        raise SpikegenError(f"a convolutional network needs square images; {features} "
                            "features are not a square number of pixels")
    return (1, side, side)


def _layers(model):
    """The model's modules grouped per neuron layer: (modules before the neurons, the neuron
    module, modules after it)."""
    from torch import nn

    layers, before, neuron, after = [], [], None, []
    for module in model:
        if isinstance(module, (nn.Conv2d, nn.Linear)) and neuron is not None:
            layers.append((before, neuron, after))
            before, neuron, after = [], None, []
        if hasattr(module, "reset_mem"):
            neuron = module
        elif neuron is None:
            before.append(module)
        else:
            after.append(module)
    layers.append((before, neuron, after))
    return layers


def _apply(modules, x):
    for module in modules:
        x = module(x)
    return x


def _spike_function():
    import torch

    class FastSigmoidSpike(torch.autograd.Function):
        """``mem > 0`` with snnTorch's fast-sigmoid surrogate gradient."""

        @staticmethod
        def forward(ctx, x, slope):
            ctx.save_for_backward(x)
            ctx.slope = slope
            return (x > 0).to(x.dtype)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad / (ctx.slope * x.abs() + 1.0) ** 2, None

    return FastSigmoidSpike.apply


_SPIKE = None


def forward(model, spikes, input_shape, *, slope=25.0):
    """Output spikes (batch, steps, outputs) of an :func:`spikegen.arch.arch_model` model.

    ``spikes`` (batch, steps, features) are flat channels-last maps (spikegen's input
    layout). Every neuron layer is an snnTorch ``Leaky`` with reset by subtraction and reset
    delay: ``mem = beta * mem + I - (mem_prev > threshold) * threshold`` (the reset flag
    carries no gradient), spikes ``mem > threshold`` with the fast-sigmoid surrogate of
    ``slope``; the result equals running the model step by step with snnTorch.
    """
    import torch

    global _SPIKE
    if _SPIKE is None:
        _SPIKE = _spike_function()
    batch, steps, _ = spikes.shape
    c, h, w = input_shape
    layers = _layers(model)
    for index, (_, neuron, _) in enumerate(layers):
        if neuron is None or neuron.reset_mechanism_val.item() != 0 or not neuron.reset_delay:
            raise SpikegenError(f"layer {index}: the convolutional trainer runs Leaky layers "
                                "with reset by subtraction and reset delay")
    maps = spikes.reshape(batch * steps, h, w, c).permute(0, 3, 1, 2)
    first = _apply(layers[0][0], maps)
    first = first.reshape(batch, steps, *first.shape[1:])
    params = [(float(n.beta.clamp(0, 1)), float(n.threshold)) for _, n, _ in layers]
    mems = [None] * len(layers)
    out = []
    for t in range(steps):
        x = first[:, t]
        for k, (before, _, after) in enumerate(layers):
            if k:
                x = _apply(before, x)
            beta, threshold = params[k]
            mem = mems[k]
            if mem is None:
                mem = x                           # from zero: no leak, no reset
            else:
                reset = (mem.detach() > threshold).to(mem.dtype)
                mem = beta * mem + x - reset * threshold
            mems[k] = mem
            x = _apply(after, _SPIKE(mem - threshold, slope))
        out.append(x)
    return torch.stack(out, dim=1)


def train_conv(dataset, *, arch, coding="events", steps=25, beta=0.9, threshold=1.0,
               epochs=30, weight_bits=8, beta_bits=8, mem_frac_bits=2, batch=100, lr=2e-3,
               augment=False, binarize=None, calibrate=True, calibration_samples=1000,
               slope=25.0, seed=0, progress=None):
    """Float training and calibration of a convolutional network; see
    :func:`spikegen.train.train_network`, whose parameters these are.

    Returns
    -------
    model, metrics
        ``model`` is the calibrated network as snnTorch modules on flat channels-last maps
        (see :func:`spikegen.snntorch_model.to_snntorch`), ready for :func:`spikegen.save`;
        ``metrics`` as :func:`spikegen.train.train_network`'s, with ``arch`` and
        ``binarize`` in place of ``hidden``.
    """
    import torch
    from snntorch import surrogate

    from . import ptq
    from .arch import arch_model, format_arch
    from .quantize import quantize
    from .snntorch_model import network_from_module, to_snntorch
    from .training_loop import _epochs, _Inputs, _single_thread, _training_data, evaluate

    started = time.perf_counter()
    specs = parse_arch(arch)
    if coding == "direct":
        raise SpikegenError("a convolution's first layer takes spike events: use --coding "
                            "events or rate, not direct")
    x, y = _training_data(dataset, augment)
    shape = image_shape(x.shape[1])
    classes = int(y.max()) + 1
    if specs[-1].outputs != classes:
        raise SpikegenError(f"architecture {format_arch(specs)} ends with {specs[-1].outputs} "
                            f"outputs but the data set has {classes} classes")
    coding_ = InputCoding(coding, steps=steps)
    x_val, y_val = _binarized(dataset.x_test, binarize), np.asarray(dataset.y_test)
    say = progress or (lambda line: None)
    quant = dict(weight_bits=weight_bits, beta_bits=beta_bits, mem_frac_bits=mem_frac_bits)
    neuron = LIF(beta=beta, threshold=threshold, reset="subtract", reset_delay=True)
    metrics = {"coding": coding, "steps": steps, "weight_bits": weight_bits,
               "arch": format_arch(specs), "epochs": epochs, "qat_epochs": 0,
               "binarize": binarize, "float_accuracy": None}
    with _single_thread():
        torch.manual_seed(seed)
        model = arch_model(specs, shape, neuron, spike_grad=surrogate.fast_sigmoid(slope))
        inputs = _Inputs(x, coding, steps, augment, torch.Generator().manual_seed(seed),
                         binarize=binarize)

        def validate():
            net = network_from_module(model, input_shape=shape)
            return f", validation {evaluate(net, x_val, y_val, coding_, seed=seed):.4f}"

        _epochs(model, model.parameters(),
                lambda index: forward(model, inputs(index)[0], shape, slope=slope), x, y,
                epochs=epochs, batch=batch, lr=lr, rng=np.random.default_rng(seed),
                label="float", validate=validate if len(y_val) else None, say=say)
        net = network_from_module(model, input_shape=shape)
        if len(y_val):
            metrics["float_accuracy"] = evaluate(net, x_val, y_val, coding_, seed=seed)
        if calibrate and calibration_samples:
            # training images only: the validation data stays unseen
            pick = np.random.default_rng(seed + 1).permutation(len(y))[:calibration_samples]
            pick = np.sort(pick)
            cal = ptq.calibrate(net, _binarized(x[pick], binarize), y[pick], coding=coding_,
                                seed=seed, engine="reference", **quant)
            say(cal.summary())
            net = cal.network
        qnet = quantize(net, coding=coding_, **quant)
        metrics["exponents"] = [layer.weight_format.frac for layer in qnet.layers]
        if len(y_val):
            metrics["reference_accuracy"] = evaluate(qnet, x_val, y_val, coding_, seed=seed)
    metrics["train_seconds"] = time.perf_counter() - started
    return to_snntorch(net, spike_grad=surrogate.fast_sigmoid(slope)), metrics


def _binarized(x, threshold):
    """Intensities at or above ``threshold`` become 1, the others 0 (``None``: unchanged)."""
    x = np.asarray(x, dtype=np.float64)
    return x if threshold is None else (x >= threshold).astype(np.float64)
