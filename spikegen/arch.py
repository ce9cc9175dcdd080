"""Architecture strings of convolutional spiking networks, as the literature spells them.

``12C5-MP2-32C5-MP2-10`` reads left to right from the input image:

``<n>C<k>``
    a convolution of ``n`` output channels and a ``k`` x ``k`` kernel (stride 1, no
    padding, with bias), followed by its LIF neurons;
``MP<k>``
    max pooling of the spikes of the convolution before it, ``k`` x ``k`` windows: the OR
    of the window in each step (``Leaky -> MaxPool2d``);
``AP<k>``
    average pooling of the currents of the convolution before it, before its neurons
    (``Conv2d -> AvgPool2d -> Leaky``): folded into the convolution (a wider kernel, a
    larger stride), so the neuron map is ``k * k`` times smaller, in training and in
    hardware;
``<n>``
    a dense layer of ``n`` LIF neurons; the last one is the output, one neuron per class.

Max pooling of currents (``Conv2d -> MaxPool2d -> Leaky``) is not linear and spikegen does
not build it, which is why ``MP`` pools spikes and ``AP`` pools currents.
:func:`parse_arch` reads a string into :class:`ConvSpec`, :class:`PoolSpec` and
:class:`DenseSpec` items, :func:`arch_model` builds the snnTorch model to train from them.
"""
import re
from dataclasses import dataclass

from .errors import SpikegenError


__all__ = ["ConvSpec", "PoolSpec", "DenseSpec", "parse_arch", "conv_output_shape", "arch_model",
           "format_arch"]


@dataclass(frozen=True)
class ConvSpec:
    """``<channels>C<kernel>``."""
    channels: int
    kernel: int

    def __str__(self):
        return f"{self.channels}C{self.kernel}"


@dataclass(frozen=True)
class PoolSpec:
    """``MP<size>`` (``kind="max"``, of spikes) or ``AP<size>`` (``kind="avg"``, of
    currents)."""
    kind: str
    size: int

    def __str__(self):
        return f"{'MP' if self.kind == 'max' else 'AP'}{self.size}"


@dataclass(frozen=True)
class DenseSpec:
    """``<outputs>``."""
    outputs: int

    def __str__(self):
        return str(self.outputs)


_TOKEN = re.compile(r"(?:(?P<channels>\d+)C(?P<kernel>\d+)|(?P<pool>[MA])P(?P<size>\d+)"
                    r"|(?P<outputs>\d+))", re.IGNORECASE)


def format_arch(specs):
    """The string of ``specs``, as :func:`parse_arch` reads it."""
    return "-".join(str(spec) for spec in specs)


def parse_arch(text):
    """The items of an architecture string such as ``12C5-MP2-32C5-MP2-10``.

    Raises
    ------
    SpikegenError
        A one-line message naming the item that is wrong and how to write it.
    """
    if not isinstance(text, str) or not text.strip():
        raise SpikegenError(f"architecture must be a string such as 12C5-MP2-32C5-MP2-10, "
                            f"not {text!r}")
    specs = []
    for token in text.strip().split("-"):
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            raise SpikegenError(f"architecture {text!r}: cannot read {token!r}; write "
                                "<n>C<k> (convolution), MP<k> or AP<k> (pooling) or <n> "
                                "(dense layer), joined by '-'")
        numbers = {k: int(v) for k, v in match.groupdict().items()
                   if v is not None and k != "pool"}
        if any(v < 1 for v in numbers.values()):
            raise SpikegenError(f"architecture {text!r}: {token!r} needs positive sizes")
        if "channels" in numbers:
            if specs and isinstance(specs[-1], DenseSpec):
                raise SpikegenError(f"architecture {text!r}: convolution {token!r} after a "
                                    "dense layer; put the convolutions first")
            specs.append(ConvSpec(numbers["channels"], numbers["kernel"]))
        elif "size" in numbers:
            if not specs or not isinstance(specs[-1], ConvSpec):
                raise SpikegenError(f"architecture {text!r}: pooling {token!r} must follow a "
                                    "convolution (one pooling per convolution)")
            kind = "max" if match.group("pool").upper() == "M" else "avg"
            specs.append(PoolSpec(kind, numbers["size"]))
        else:
            specs.append(DenseSpec(numbers["outputs"]))
    if not isinstance(specs[0], ConvSpec):
        raise SpikegenError(f"architecture {text!r} has no convolution first; train dense "
                            "networks with --hidden")
    if not isinstance(specs[-1], DenseSpec):
        raise SpikegenError(f"architecture {text!r} must end with the dense output layer "
                            "(one neuron per class), as in 12C5-MP2-32C5-MP2-10")
    return tuple(specs)


def conv_output_shape(specs, input_shape, *, where="architecture"):
    """The (C, H, W) map after the last convolution item (its pooling included); checks that
    every kernel fits and every pooling window tiles its map."""
    c, h, w = input_shape
    for spec in specs:
        if isinstance(spec, ConvSpec):
            if spec.kernel > min(h, w):
                raise SpikegenError(f"{where}: {spec} does not fit a {h}x{w} map; use a "
                                    "smaller kernel")
            c, h, w = spec.channels, h - spec.kernel + 1, w - spec.kernel + 1
        elif isinstance(spec, PoolSpec):
            if h % spec.size or w % spec.size:
                raise SpikegenError(f"{where}: {spec} does not tile a {h}x{w} map; pick a "
                                    "window that divides it")
            h, w = h // spec.size, w // spec.size
    return c, h, w


def _next(specs, index):
    return specs[index + 1] if index + 1 < len(specs) else None


def arch_model(specs, input_shape, neuron, *, spike_grad=None):
    """The ``nn.Sequential`` to train: ``Conv2d [AvgPool2d] Leaky [MaxPool2d]`` per
    convolution, ``Flatten``, then ``Linear Leaky`` per dense layer; it takes maps
    (batch, C, H, W). Torch's initial weights, drawn from its global generator in order."""
    from torch import nn

    from .snntorch_model import snntorch_neuron

    c, h, w = conv_output_shape(specs, input_shape)
    modules, channels, features = [], input_shape[0], None
    for index, spec in enumerate(specs):
        if isinstance(spec, ConvSpec):
            modules.append(nn.Conv2d(channels, spec.channels, spec.kernel))
            channels = spec.channels
            following = _next(specs, index)
            if isinstance(following, PoolSpec) and following.kind == "avg":
                modules.append(nn.AvgPool2d(following.size))
            modules.append(snntorch_neuron(neuron, spike_grad=spike_grad))
            if isinstance(following, PoolSpec) and following.kind == "max":
                modules.append(nn.MaxPool2d(following.size))
        elif isinstance(spec, DenseSpec):
            if features is None:
                modules.append(nn.Flatten())
                features = c * h * w
            modules += [nn.Linear(features, spec.outputs),
                        snntorch_neuron(neuron, spike_grad=spike_grad)]
            features = spec.outputs
    return nn.Sequential(*modules)
