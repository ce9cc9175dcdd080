"""spikegen's intermediate representation: small frozen dataclasses.

Two families:

* the **float** network as it was trained (:class:`Network` of :class:`DenseLayer`, neuron
  parameters in :class:`LIF`), produced by the loaders;
* the **quantized** network that hardware and reference model compute
  (:class:`QNetwork` of :class:`QDenseLayer`, formats in :class:`FixedFormat`, neuron
  arithmetic in :class:`QLIF`), produced by :func:`spikegen.quantize.quantize`.

The arithmetic of a quantized layer (all integers, membrane saturating to ``mem_format``;
``sat`` clamps to the membrane range)::

    start of step t:  r     = mem[t-1] > theta                      (mem[-1] = 0)
                      m     = sat(leak(R(mem[t-1], r)) + bias - (r * theta if subtract))
                              with R(x, r) = 0 if (reset == "zero" and r) else x
    each input spike i of step t, in ascending i:
                      m     = sat(m + (w[:, i] << shift))
    end of step t:    spike = m > theta
                      without reset delay:  subtract: m = sat(m - (spike - r) * theta)
                                            zero:     m = 0 if spike and not r,
                                                          sat(2 m) if r and not spike
                      mem[t] = m

    leak(x) = x - ((x * decay + 2**(decay_bits - 1)) >> decay_bits)    (>> floors)

which is snnTorch's ``Leaky`` update (``mem = beta * mem + input - reset * threshold``, strict
``mem > threshold``, ``reset`` taken from the previous membrane) with
``beta = 1 - decay / 2**decay_bits``.
"""
from dataclasses import dataclass, field, fields

import numpy as np


__all__ = [
    "RESETS", "LIF", "DenseLayer", "Network",
    "FixedFormat", "QLIF", "QDenseLayer", "QNetwork", "HardwareConfig", "InputCoding",
    "CODINGS",
    "to_json", "from_json",
]


RESETS = ("subtract", "zero", "none")


def _check_reset(reset):
    if reset not in RESETS:
        raise ValueError(f"Reset mechanism must be one of {', '.join(RESETS)}, not {reset!r}")


# ---------------------------------------------------------------------------------- float IR


@dataclass(frozen=True)
class LIF:
    """Leaky integrate-and-fire neuron parameters of a layer, as trained (floats).

    ``mem[t] = beta * mem[t-1] + I[t] - reset[t] * threshold``; ``spike = mem > threshold``.
    """
    beta: float
    threshold: float = 1.0
    reset: str = "subtract"
    reset_delay: bool = True

    def __post_init__(self):
        _check_reset(self.reset)


@dataclass(frozen=True, eq=False)
class DenseLayer:
    """A fully connected layer followed by LIF neurons: ``I = weight @ s + bias``.

    ``weight`` has shape (outputs, inputs); ``bias`` is ``None`` or shape (outputs,).
    """
    weight: np.ndarray
    bias: "np.ndarray | None"
    neuron: LIF

    @property
    def inputs(self):
        return self.weight.shape[1]

    @property
    def outputs(self):
        return self.weight.shape[0]


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward chain of dense LIF layers; the last layer's spike counts give the class."""
    layers: tuple
    name: str = "net"

    @property
    def inputs(self):
        return self.layers[0].inputs

    @property
    def outputs(self):
        return self.layers[-1].outputs

    @property
    def shape(self):
        return (self.inputs, *(layer.outputs for layer in self.layers))


# ------------------------------------------------------------------------------ quantized IR


@dataclass(frozen=True)
class FixedFormat:
    """Signed two's complement fixed point: ``bits`` wide, value ``int * 2**-frac``."""
    bits: int
    frac: int

    @property
    def min(self):
        return -(1 << (self.bits - 1))

    @property
    def max(self):
        return (1 << (self.bits - 1)) - 1

    @property
    def lsb(self):
        return 2.0 ** -self.frac

    def __str__(self):
        return f"s{self.bits}.{self.frac}"


@dataclass(frozen=True)
class QLIF:
    """Integer LIF arithmetic: threshold in membrane LSBs, ``beta = 1 - decay/2**decay_bits``."""
    threshold: int
    decay: int
    decay_bits: int
    reset: str = "subtract"
    reset_delay: bool = True

    def __post_init__(self):
        _check_reset(self.reset)
        if not 0 <= self.decay <= (1 << self.decay_bits):
            raise ValueError(f"Decay must be in [0, 2**decay_bits], not {self.decay}")

    @property
    def beta(self):
        return 1.0 - self.decay / (1 << self.decay_bits)

    @property
    def decay_shift(self):
        """``k`` when ``decay == 2**k`` (the leak is a shift), else ``None``."""
        if self.decay > 0 and self.decay & (self.decay - 1) == 0:
            return self.decay.bit_length() - 1
        return None


@dataclass(frozen=True, eq=False)
class QDenseLayer:
    """A quantized dense LIF layer.

    ``weight`` (outputs, inputs) in LSBs of ``weight_format``; it is added to the membrane
    shifted left by ``shift = mem_format.frac - weight_format.frac``. ``bias`` (or ``None``)
    is in membrane LSBs.
    """
    weight: np.ndarray
    bias: "np.ndarray | None"
    weight_format: FixedFormat
    mem_format: FixedFormat
    neuron: QLIF

    @property
    def inputs(self):
        return self.weight.shape[1]

    @property
    def outputs(self):
        return self.weight.shape[0]

    @property
    def shift(self):
        return self.mem_format.frac - self.weight_format.frac


@dataclass(frozen=True)
class HardwareConfig:
    """Architecture choices that do not change the arithmetic.

    ``parallelism``: neurons updated per cycle in every layer (capped at the layer's size);
    ``max_steps``: time steps per inference the spike counters hold without saturating;
    ``fifo_depth``: spike-event tokens buffered between consecutive layers.
    """
    parallelism: int = 0
    max_steps: int = 255
    fifo_depth: int = 64

    def lanes(self, outputs):
        return outputs if self.parallelism <= 0 else min(self.parallelism, outputs)


CODINGS = ("events", "rate", "direct")


@dataclass(frozen=True)
class InputCoding:
    """How inputs reach the first layer.

    ``events``: the host sends spike events, step by step (any coding it likes).
    ``rate``: the host sends 8-bit pixel values once per sample; an on-chip xorshift32
    generator (restarted from ``seed`` for every sample) draws one byte per nonzero pixel per
    step and the pixel spikes when the byte is below its value (:func:`spikegen.encode.
    rate_onchip` is the exact model). ``direct``: the host sends 8-bit pixel values once; the
    first layer's input current ``I = W x`` with ``x = value / 256`` is computed once and
    added every step (see :mod:`spikegen.reference`). ``steps``: time steps per inference the
    hardware runs for ``rate`` and ``direct`` (the host sets them for ``events``).
    """
    kind: str = "events"
    steps: int = 0
    seed: int = 0x2545F491
    value_bits: int = 8

    def __post_init__(self):
        if self.kind not in CODINGS:
            raise ValueError(f"Input coding must be one of {', '.join(CODINGS)}, "
                             f"not {self.kind!r}")
        if self.kind != "events" and not self.steps >= 1:
            raise ValueError(f"{self.kind} coding needs a number of steps, not {self.steps!r}")


@dataclass(frozen=True, eq=False)
class QNetwork:
    """The quantized network: what the reference model and the hardware compute."""
    layers: tuple
    name: str = "net"
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    notes: tuple = ()
    coding: InputCoding = field(default_factory=InputCoding)

    @property
    def inputs(self):
        return self.layers[0].inputs

    @property
    def outputs(self):
        return self.layers[-1].outputs

    @property
    def shape(self):
        return (self.inputs, *(layer.outputs for layer in self.layers))


# ---------------------------------------------------------------------------- serialisation

_REGISTRY = {cls.__name__: cls for cls in (
    LIF, DenseLayer, Network, FixedFormat, QLIF, QDenseLayer, QNetwork, HardwareConfig,
    InputCoding)}


def to_json(obj):
    """A JSON-ready tree of an IR object (dataclasses tagged with ``"type"``)."""
    if type(obj).__name__ in _REGISTRY and type(obj) is _REGISTRY[type(obj).__name__]:
        tree = {"type": type(obj).__name__}
        for f in fields(obj):
            tree[f.name] = to_json(getattr(obj, f.name))
        return tree
    if isinstance(obj, np.ndarray):
        kind = "int" if obj.dtype.kind in "iub" else "float"
        return {"type": "ndarray", "dtype": kind, "shape": list(obj.shape),
                "data": obj.ravel().tolist()}
    if isinstance(obj, (tuple, list)):
        return [to_json(item) for item in obj]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    return obj


def from_json(tree):
    """Inverse of :func:`to_json`; raises ``ValueError`` on an unknown or malformed tree."""
    if isinstance(tree, list):
        return tuple(from_json(item) for item in tree)
    if not isinstance(tree, dict):
        return tree
    kind = tree.get("type")
    if kind == "ndarray":
        dtype = np.int64 if tree["dtype"] == "int" else np.float64
        return np.asarray(tree["data"], dtype=dtype).reshape(tree["shape"])
    if kind not in _REGISTRY:
        raise ValueError(f"Unknown IR node type {kind!r}")
    cls = _REGISTRY[kind]
    try:
        return cls(**{f.name: from_json(tree[f.name]) for f in fields(cls) if f.name in tree})
    except TypeError as exc:
        raise ValueError(f"Malformed {kind} node: {exc}") from None
