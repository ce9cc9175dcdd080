"""The training loop both trainers share (:mod:`spikegen.train` for dense networks,
:mod:`spikegen.train_conv` for convolutional ones): the training images and their
distortions, seeded coded inputs per batch, the loss, Adam over epochs with one progress line
each, one torch thread, and the accuracy of a float or quantized network."""
import math

import numpy as np

from .errors import SpikegenError


__all__ = ["augment_images", "evaluate"]


def augment_images(x, generator, *, rotate=10.0, scale=0.1, shift=None):
    """Random affine distortions of square images, one per sample.

    Parameters
    ----------
    x : torch.Tensor (samples, side * side), intensities in [0, 1]
    generator : torch.Generator
        Source of the random draws (seeded by the caller, for reproducibility).
    rotate, scale, shift : float
        Largest rotation in degrees, relative change of size, and translation in pixels
        (default: a fourteenth of the side, 2 pixels of a 28x28 MNIST image).
    """
    import torch
    from torch.nn import functional as F

    side = _image_side(x.shape[1])
    n = x.shape[0]
    shift = side / 14 if shift is None else shift
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


def _training_data(dataset, augment):
    x = np.asarray(dataset.x_train, dtype=np.float64)
    y = np.asarray(dataset.y_train, dtype=np.int64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise SpikegenError(f"data set {dataset.name!r} has no training images")
    if augment:
        _image_side(x.shape[1])
    return x, y


class _single_thread:
    """Run torch on one thread: these small tensors gain nothing from a second one (and lose
    much when the other core is busy), and results then do not depend on the core count."""

    def __enter__(self):
        import torch

        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.threads)


class _Inputs:
    """Seeded training inputs of a batch: intensities, optionally distorted, then coded."""

    def __init__(self, x, kind, steps, augment, generator, binarize=None):
        import torch

        self.x = torch.from_numpy(x)
        self.kind, self.steps, self.augment, self.generator = kind, steps, augment, generator
        self.binarize = binarize

    def __call__(self, index):
        """(float model input, QAT input) for the samples ``index``."""
        import torch

        x = self.x[index]
        if self.augment:
            x = augment_images(x, self.generator)
        if self.binarize is not None:
            x = (x >= self.binarize).to(x.dtype)
        if self.kind == "events":
            p = x.to(torch.float32)
        else:
            # the 8-bit pixel value the hardware receives; rate spikes with value / 256
            pixels = torch.round(x * 255.0).clamp(0, 255)
            p = (pixels / 256.0).to(torch.float32)
            if self.kind == "direct":
                return p, pixels.to(torch.uint8).numpy()
        draws = torch.rand((x.shape[0], self.steps, x.shape[1]), generator=self.generator)
        spikes = (draws < p[:, None, :]).to(torch.float32)
        return spikes, spikes.to(torch.float64)


def _loss(spikes, labels):
    """Cross-entropy of the output firing rates scaled to logits in [0, 10].

    Raw spike counts as logits (up to ``steps``) saturate the softmax as soon as the right
    class leads by a few spikes, and learning stalls; rates times 10 keep the gradient
    alive until the margin is clear, whatever the number of steps.
    """
    from torch.nn import functional as F

    return F.cross_entropy(spikes.mean(dim=1) * 10.0, labels)


def _epochs(model, parameters, step, x, y, *, epochs, batch, lr, rng, label, validate, say,
            after_step=None):
    """Adam with a cosine learning rate over ``epochs``; one progress line per epoch."""
    import torch

    if not epochs:
        return
    optimiser = torch.optim.Adam(parameters, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, epochs * math.ceil(len(y) / batch))
    labels = torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        total, correct = 0.0, 0
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch):
            index = order[start:start + batch]
            out = step(index)
            loss = _loss(out, labels[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            if after_step is not None:
                after_step()
            total += float(loss.detach()) * len(index)
            correct += int((out.detach().sum(1).argmax(1) == labels[index]).sum())
        line = (f"{label} epoch {epoch + 1}/{epochs}: loss {total / len(y):.3f}, "
                f"train accuracy {correct / len(y):.4f}")
        if validate is not None:
            line += validate()
        say(line)


def evaluate(net, x, y, coding, *, seed=0, engine="reference"):
    """Accuracy of a network on intensities ``x`` and labels ``y``.

    ``net`` is a float :class:`~spikegen.ir.Network` (run in float by snnTorch) or a
    :class:`~spikegen.ir.QNetwork` (run bit-exactly by ``engine``: ``"reference"`` or the
    equal but faster ``"torch"``); ``coding`` an :class:`~spikegen.ir.InputCoding` with its
    number of steps; ``seed`` the host rate coding's for ``events``.
    """
    from .ir import Network
    from .ptq import coded_inputs, float_outputs, predict, reference_outputs

    inputs = coded_inputs(x, coding, seed=seed)
    if isinstance(net, Network):
        spikes = float_outputs(net, inputs, coding)
    else:
        spikes = reference_outputs(net, inputs, engine=engine)
    return float(np.mean(predict(spikes) == np.asarray(y)))
