"""spikegen's intermediate representation: small frozen dataclasses.

Two families:

* the **float** network as it was trained (:class:`Network` of :class:`DenseLayer`, neuron
  parameters in :class:`LIF` or :class:`CubaLIF`), produced by the loaders;
* the **quantized** network that hardware and reference model compute
  (:class:`QNetwork` of :class:`QDenseLayer`, formats in :class:`FixedFormat`, neuron
  arithmetic in :class:`QLIF` or :class:`QCubaLIF`), produced by
  :func:`spikegen.quantize.quantize`.

Neuron parameters (``threshold``, ``beta``, ``alpha`` and their quantized ``threshold``,
``decay``, ``syn_decay``) are each either one value for the whole layer or an array of shape
``(outputs,)``, one value per neuron. The IR keeps them canonical: a per-neuron array whose
values are all equal is stored as that one value, so equal networks have equal JSON.

**Inputs of a layer.** A layer's input at step ``t`` is the concatenation ``[x_t, spk_{t-1}]``
of the previous layer's spikes and, for a recurrent layer only, its own spikes of the
previous step (``spk_{-1} = 0``), with the weight matrix ``[W, V]``: ``weight`` (outputs,
inputs) then ``recurrent`` (outputs, outputs). Index ``i < inputs`` is input ``i``, index
``inputs + j`` is the layer's own neuron ``j``. A one-to-one recurrence (snnTorch
``all_to_all=False``) is a diagonal ``V``.

**Event grouping.** The active inputs of a step (``x_t[i] = 1`` or ``spk_{t-1}[j] = 1``) are
taken in ascending concatenated index and split into consecutive groups of
``E = HardwareConfig.events_per_cycle`` events (the last group of a step may be smaller). The
weights of a group are summed exactly, and the sum is added to the accumulating state with a
single saturating add, ``acc = sat(acc + sum(w[:, i] << shift for i in group))``. ``E = 1``
adds one event at a time. Saturating adds do not commute, so order and grouping are part of
the definition; the groups depend on each sample's own active set.

**Integer arithmetic of one quantized layer**, in the order the hardware implements it (all
integers; ``sat_m`` clamps to ``mem_format``, ``sat_s`` to ``syn_format``; ``>>`` floors;
``r`` and every neuron parameter are per neuron)::

    leak(x, d) = x - ((x * d + 2**(decay_bits - 1)) >> decay_bits)     (d = decay or syn_decay)
    r          = mem[t-1] > theta                                        (mem[-1] = 0)
    R(x)       = 0 if (reset == "zero" and r) else x

  QLIF (the events accumulate into the membrane):
    start of step:  m = sat_m(leak(R(mem[t-1]), decay) + bias - (r * theta if subtract))
    each group:     m = sat_m(m + sum(group))
    end of step:    m = 0 if (reset == "zero_all" and r)

  QCubaLIF (the events accumulate into the synaptic current, then the membrane takes it):
    start of step:  s = sat_s(leak(syn[t-1], syn_decay) + bias)            (syn[-1] = 0)
    each group:     s = sat_s(s + sum(group))
    end of step:    m = sat_m(leak(R(mem[t-1]), decay) + s - (r * theta if subtract))
                    m = 0 if (reset == "zero_all" and r)
                    syn[t] = s

  then, both models, end of step:
                    spike = m > theta
                    without reset delay:  subtract:        m = sat_m(m - (spike - r) * theta)
                                          zero, zero_all:  m = 0 if spike and not r,
                                                               sat_m(2 m) if r and not spike
                    mem[t] = m

``bias`` is replaced by the ``direct`` coding's input current (:func:`spikegen.reference.
direct_current`) in a first layer fed with pixel values. ``m`` and ``s`` are the only state
besides ``r``, ``mem`` and the previous spikes; the sums inside one ``sat`` are exact (the
hardware needs ``log2(E)`` guard bits in the group adder and two in the end-of-step adder).

This is snnTorch 1.0's arithmetic, with ``beta = 1 - decay / 2**decay_bits`` and ``alpha = 1
- syn_decay / 2**decay_bits``: ``Leaky`` (``mem = beta mem + I - r theta``), ``Synaptic``
(``syn = alpha syn + I``, ``mem = beta mem + syn - r theta``), ``RLeaky`` and ``RSynaptic``
(``I`` includes ``V spk[t-1]``, plus the recurrent ``nn.Linear``'s bias folded into
``bias``); spikes are strict (``mem > threshold``) and ``r`` is taken from the previous
membrane. The reset modes:

* ``subtract``: subtract the threshold in the step after a spike (snnTorch's default);
* ``zero``: the carried membrane is zeroed in the step after a spike, the step's input still
  counts (snnTorch ``Leaky(reset_mechanism="zero")``);
* ``zero_all``: the membrane is 0 for the whole step after a spike, its input ignored (how
  snnTorch's ``Synaptic``, ``RLeaky`` and ``RSynaptic`` implement ``reset_mechanism="zero"``;
  the synaptic current is not reset);
* ``none``: no reset.

**Readout.** ``readout="spikes"``: the class is the output neuron with the most spikes over
the inference. ``readout="membrane"``: the class is the output neuron with the largest
membrane ``mem[T-1]`` at the last step (a leaky-integrator output layer, NIR ``LI`` or
``CubaLI``, or a last snnTorch layer whose membrane is read); ties go to the lowest index in
both cases. A leaky integrator is an LIF (or CubaLIF) with ``reset="none"``: its spikes do not
change its state and nothing reads them.

**Layer kinds.** Every layer class names its ``kind`` (``"dense"`` for :class:`DenseLayer` and
:class:`QDenseLayer`, ``"conv2d"`` for :class:`ConvLayer` and :class:`QConvLayer`), and
tells what it consumes and produces: ``input_shape`` and
``output_shape`` (tuples; a spike event's index is the flat, C-order index into them),
``inputs`` and ``outputs`` (their sizes), ``event_rows`` (the event indices it integrates:
its inputs, then for a recurrent layer its own neurons) and its ``neuron`` parameters. The
compiler stages look a layer's kind up in their registries (:mod:`spikegen.registry`); a new
kind registers its dataclasses here with :func:`register_node` for JSON.
"""
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from rtl_lib.conv_geometry import ConvGeometry


__all__ = [
    "RESETS", "READOUTS", "LIF", "CubaLIF", "DenseLayer", "ConvLayer", "ConvGeometry",
    "Network", "FixedFormat", "QLIF", "QCubaLIF", "QDenseLayer", "QConvLayer", "QNetwork",
    "HardwareConfig",
    "InputCoding", "CODINGS", "per_neuron", "is_uniform",
    "to_json", "from_json", "plain", "register_node",
]


RESETS = ("subtract", "zero", "zero_all", "none")
READOUTS = ("spikes", "membrane")


def _check_reset(reset):
    if reset not in RESETS:
        raise ValueError(f"Reset mechanism must be one of {', '.join(RESETS)}, not {reset!r}")


def _check_readout(readout):
    if readout not in READOUTS:
        raise ValueError(f"Readout must be one of {', '.join(READOUTS)}, not {readout!r}")


def per_neuron(value, *, integer=False, label="parameter"):
    """The canonical form of a neuron parameter: a Python scalar, or a read-only 1-D array
    whose values are not all equal."""
    array = np.asarray(value)
    if array.dtype.kind not in "iubf":
        raise TypeError(f"{label} must be a number or an array of numbers, not {value!r}")
    if array.ndim > 1 or array.size == 0:
        raise ValueError(f"{label} must be a scalar or a 1-D array, not shape {array.shape}")
    flat = array.reshape(-1)
    if integer:
        if flat.dtype.kind == "f" and not np.all(flat == np.rint(flat)):
            raise ValueError(f"{label} must be integers, not {value!r}")
        flat = flat.astype(np.int64)
    else:
        flat = flat.astype(np.float64)
    if array.ndim == 0 or np.all(flat == flat[0]):
        return int(flat[0]) if integer else float(flat[0])
    flat = flat.copy()
    flat.setflags(write=False)
    return flat


def is_uniform(*values):
    """True when every parameter given is one value for the whole layer."""
    return all(not isinstance(v, np.ndarray) for v in values)


def _count(value):
    return None if not isinstance(value, np.ndarray) else value.shape[0]


class _ArrayFields:
    """Equality of dataclasses whose fields may be numpy arrays (per-neuron parameters)."""

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                        and np.array_equal(a, b)):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None

    def _normalise(self, names, integer):
        for name in names:
            object.__setattr__(self, name, per_neuron(getattr(self, name), integer=integer,
                                                      label=name.capitalize()))

    def neuron_count(self):
        """Neurons implied by the per-neuron parameters (``None`` if all are scalars)."""
        counts = {_count(getattr(self, f.name)) for f in fields(self)} - {None}
        if len(counts) > 1:
            raise ValueError(f"Per-neuron parameters have different lengths {sorted(counts)}")
        return counts.pop() if counts else None


# ---------------------------------------------------------------------------------- float IR


@dataclass(frozen=True, eq=False)
class LIF(_ArrayFields):
    """Leaky integrate-and-fire neuron parameters of a layer, as trained (floats).

    ``mem[t] = beta * mem[t-1] + I[t] - r[t] * threshold``; ``spike = mem > threshold``
    (snnTorch ``Leaky``; ``RLeaky`` when the layer is recurrent). ``beta`` and ``threshold``
    are scalars or per-neuron arrays. ``beta = 1`` is integrate-and-fire.
    """
    #: Whether input events accumulate into a synaptic current (else into the membrane).
    current_based: ClassVar[bool] = False
    beta: "float | np.ndarray"
    threshold: "float | np.ndarray" = 1.0
    reset: str = "subtract"
    reset_delay: bool = True

    def __post_init__(self):
        _check_reset(self.reset)
        self._normalise(("beta", "threshold"), integer=False)


@dataclass(frozen=True, eq=False)
class CubaLIF(_ArrayFields):
    """Current-based LIF neuron parameters (snnTorch ``Synaptic``/``RSynaptic``, NIR
    ``CubaLIF``), as trained.

    ``syn[t] = alpha * syn[t-1] + I[t]``; ``mem[t] = beta * mem[t-1] + syn[t] - r[t] *
    threshold``; ``spike = mem > threshold``.
    """
    #: Whether input events accumulate into a synaptic current (else into the membrane).
    current_based: ClassVar[bool] = True
    alpha: "float | np.ndarray"
    beta: "float | np.ndarray"
    threshold: "float | np.ndarray" = 1.0
    reset: str = "subtract"
    reset_delay: bool = True

    def __post_init__(self):
        _check_reset(self.reset)
        self._normalise(("alpha", "beta", "threshold"), integer=False)


class _DenseShape:
    """The layer protocol of a dense layer (see "Layer kinds" in the module docstring)."""

    @property
    def inputs(self):
        return self.weight.shape[1]

    @property
    def outputs(self):
        return self.weight.shape[0]

    @property
    def input_shape(self):
        return (self.inputs,)

    @property
    def output_shape(self):
        return (self.outputs,)

    @property
    def event_rows(self):
        """Event indices the layer integrates: its inputs, then its own neurons if
        recurrent."""
        return self.inputs + (self.outputs if self.recurrent is not None else 0)


def _check_layer(layer, kind):
    if layer.weight.ndim != 2:
        raise ValueError(f"Weight must be 2-D (outputs, inputs), not shape {layer.weight.shape}")
    outputs = layer.weight.shape[0]
    if layer.bias is not None and np.shape(layer.bias) != (outputs,):
        raise ValueError(f"Bias must have shape ({outputs},), not {np.shape(layer.bias)}")
    if layer.recurrent is not None and np.shape(layer.recurrent) != (outputs, outputs):
        raise ValueError(f"Recurrent weights must have shape ({outputs}, {outputs}), "
                         f"not {np.shape(layer.recurrent)}")
    if not isinstance(layer.neuron, kind):
        raise TypeError(f"Neuron must be one of {', '.join(k.__name__ for k in kind)}, "
                        f"not {type(layer.neuron).__name__}")
    count = layer.neuron.neuron_count()
    if count is not None and count != outputs:
        raise ValueError(f"Per-neuron parameters have {count} values for {outputs} neurons")


@dataclass(frozen=True, eq=False)
class DenseLayer(_DenseShape):
    """A fully connected layer followed by LIF or CubaLIF neurons.

    ``I[t] = weight @ x[t] + recurrent @ spk[t-1] + bias``. ``weight`` has shape (outputs,
    inputs); ``bias`` is ``None`` or shape (outputs,); ``recurrent`` is ``None`` (feed-forward)
    or the (outputs, outputs) matrix of the layer's feedback (diagonal for one-to-one).
    """
    kind: ClassVar[str] = "dense"
    weight: np.ndarray
    bias: "np.ndarray | None"
    neuron: "LIF | CubaLIF"
    recurrent: "np.ndarray | None" = None

    def __post_init__(self):
        _check_layer(self, (LIF, CubaLIF))


class _ConvShape:
    """The layer protocol of a convolution layer: channels-last maps (see
    :mod:`rtl_lib.conv_geometry`); no recurrence."""
    recurrent = None

    @property
    def input_shape(self):
        return self.geometry.input_shape

    @property
    def output_shape(self):
        return self.geometry.output_shape

    @property
    def inputs(self):
        return int(np.prod(self.input_shape))

    @property
    def outputs(self):
        return int(np.prod(self.output_shape))

    @property
    def event_rows(self):
        return self.inputs


def _check_conv(layer, kind):
    g = layer.geometry
    if not isinstance(g, ConvGeometry):
        raise TypeError(f"Geometry must be a ConvGeometry, not {g!r}")
    shape = (g.out_channels, g.in_channels, *g.kernel)
    if layer.weight.shape != shape:
        raise ValueError(f"Weight must have shape {shape} (out channels, in channels, kernel "
                         f"rows, kernel columns), not {layer.weight.shape}")
    if layer.bias is not None and np.shape(layer.bias) != (g.out_channels,):
        raise ValueError(f"Bias must have shape ({g.out_channels},), not "
                         f"{np.shape(layer.bias)}")
    if not isinstance(layer.neuron, kind):
        raise TypeError(f"Neuron must be one of {', '.join(k.__name__ for k in kind)}, "
                        f"not {type(layer.neuron).__name__}")
    if layer.neuron.neuron_count() is not None:
        raise ValueError("A convolution layer's neurons share their parameters (one "
                         "threshold and decay per layer)")


@dataclass(frozen=True, eq=False)
class ConvLayer(_ConvShape):
    """A 2-D convolution followed by LIF or CubaLIF neurons, on channels-last spike maps.

    ``I[t][oy, ox, o] = sum over taps of weight[o, c, ky, kx] * x[t][y, x, c] + bias[o]``,
    the taps given by ``geometry`` (:class:`~rtl_lib.conv_geometry.ConvGeometry`: stride,
    padding, dilation, a sum pooling of the input folded in, a max pooling of the output
    spikes). ``weight`` has shape (out channels, in channels, kernel rows, kernel columns);
    ``bias`` is ``None`` or one value per output channel. Grouped convolutions are stored
    with the zero weights between groups.
    """
    kind: ClassVar[str] = "conv2d"
    weight: np.ndarray
    bias: "np.ndarray | None"
    neuron: "LIF | CubaLIF"
    geometry: ConvGeometry

    def __post_init__(self):
        _check_conv(self, (LIF, CubaLIF))


class _LayerChain:
    """What a network of layers tells about its shape (``layers`` is a tuple of layers)."""

    @property
    def inputs(self):
        return self.layers[0].inputs

    @property
    def outputs(self):
        return self.layers[-1].outputs

    @property
    def shape(self):
        return (self.inputs, *(layer.outputs for layer in self.layers))


@dataclass(frozen=True, eq=False)
class Network(_LayerChain):
    """A chain of dense layers; ``readout`` says how the class is read from the last one
    (see the module docstring).

    ``source`` names the float model the network is (``"snnTorch"``, or for a NIR file
    ``"NIR graph"`` and the framework that wrote it when that is known): the report labels
    the float accuracy with it. ``notes`` say which conventions were assumed in reading it
    (a NIR file records no time step, reset mechanism or spike model). ``coding`` is the
    :class:`InputCoding` the network was trained with, when its checkpoint records it
    (``spikegen train`` does): ``spikegen build`` uses it unless told otherwise.
    """
    layers: tuple
    name: str = "net"
    readout: str = "spikes"
    source: str = "snnTorch"
    notes: tuple = ()
    coding: "InputCoding | None" = None

    def __post_init__(self):
        _check_readout(self.readout)


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


def _check_decay(label, decay, decay_bits):
    if not np.all((0 <= np.asarray(decay)) & (np.asarray(decay) <= (1 << decay_bits))):
        raise ValueError(f"{label} must be in [0, 2**decay_bits], not {decay}")


def _shift_of(decay):
    if isinstance(decay, np.ndarray):
        return None
    if decay > 0 and decay & (decay - 1) == 0:
        return decay.bit_length() - 1
    return None


@dataclass(frozen=True, eq=False)
class QLIF(_ArrayFields):
    """Integer LIF arithmetic: threshold in membrane LSBs, ``beta = 1 - decay/2**decay_bits``.

    ``threshold`` and ``decay`` are integers or per-neuron integer arrays; one ``decay_bits``
    per layer. The update is in the module docstring.
    """
    #: Whether input events accumulate into a synaptic current (else into the membrane).
    current_based: ClassVar[bool] = False
    threshold: "int | np.ndarray"
    decay: "int | np.ndarray"
    decay_bits: int
    reset: str = "subtract"
    reset_delay: bool = True

    def __post_init__(self):
        _check_reset(self.reset)
        self._normalise(("threshold", "decay"), integer=True)
        _check_decay("Decay", self.decay, self.decay_bits)

    @property
    def beta(self):
        return 1.0 - self.decay / (1 << self.decay_bits)

    @property
    def decay_shift(self):
        """``k`` when ``decay == 2**k`` for the whole layer (the leak is a shift), else
        ``None``."""
        return _shift_of(self.decay)

    @property
    def uniform(self):
        return is_uniform(self.threshold, self.decay)


@dataclass(frozen=True, eq=False)
class QCubaLIF(_ArrayFields):
    """Integer current-based LIF: the synaptic current decays by ``alpha = 1 -
    syn_decay/2**decay_bits``, the membrane by ``beta = 1 - decay/2**decay_bits``.

    The current lives in the layer's ``syn_format``; the update is in the module docstring.
    """
    #: Whether input events accumulate into a synaptic current (else into the membrane).
    current_based: ClassVar[bool] = True
    threshold: "int | np.ndarray"
    decay: "int | np.ndarray"
    syn_decay: "int | np.ndarray"
    decay_bits: int
    reset: str = "subtract"
    reset_delay: bool = True

    def __post_init__(self):
        _check_reset(self.reset)
        self._normalise(("threshold", "decay", "syn_decay"), integer=True)
        _check_decay("Decay", self.decay, self.decay_bits)
        _check_decay("Synaptic decay", self.syn_decay, self.decay_bits)

    @property
    def beta(self):
        return 1.0 - self.decay / (1 << self.decay_bits)

    @property
    def alpha(self):
        return 1.0 - self.syn_decay / (1 << self.decay_bits)

    @property
    def decay_shift(self):
        return _shift_of(self.decay)

    @property
    def syn_decay_shift(self):
        return _shift_of(self.syn_decay)

    @property
    def uniform(self):
        return is_uniform(self.threshold, self.decay, self.syn_decay)


def _check_state_formats(layer):
    if layer.neuron.current_based:
        if layer.syn_format is None:
            raise ValueError("A QCubaLIF layer needs a syn_format")
        if layer.syn_format.frac != layer.mem_format.frac:
            raise ValueError(f"Synaptic current format {layer.syn_format} must have the "
                             f"membrane's fraction bits ({layer.mem_format.frac})")
    elif layer.syn_format is not None:
        raise ValueError("Only a QCubaLIF layer has a syn_format")


class _QuantizedState:
    """What a quantized layer's formats tell: the shift of its weights into the state's
    LSBs, and the state its events accumulate into."""

    @property
    def shift(self):
        return self.mem_format.frac - self.weight_format.frac

    @property
    def acc_format(self):
        """The format of the state the input events accumulate into."""
        return self.syn_format if self.syn_format is not None else self.mem_format


@dataclass(frozen=True, eq=False)
class QDenseLayer(_QuantizedState, _DenseShape):
    """A quantized dense layer.

    ``weight`` (outputs, inputs) and ``recurrent`` (outputs, outputs, or ``None``) are in LSBs
    of ``weight_format``; they are added to the accumulating state (the membrane for
    :class:`QLIF`, the synaptic current for :class:`QCubaLIF`) shifted left by ``shift =
    mem_format.frac - weight_format.frac``. ``bias`` (or ``None``) is in LSBs of that state.
    ``syn_format`` is the synaptic current's format (:class:`QCubaLIF` only; same ``frac`` as
    the membrane).
    """
    kind: ClassVar[str] = "dense"
    #: Integrates its events ``events_per_cycle`` at a time (see "Event grouping").
    groups_events: ClassVar[bool] = True
    weight: np.ndarray
    bias: "np.ndarray | None"
    weight_format: FixedFormat
    mem_format: FixedFormat
    neuron: "QLIF | QCubaLIF"
    recurrent: "np.ndarray | None" = None
    syn_format: "FixedFormat | None" = None

    def __post_init__(self):
        _check_layer(self, (QLIF, QCubaLIF))
        _check_state_formats(self)


@dataclass(frozen=True, eq=False)
class QConvLayer(_QuantizedState, _ConvShape):
    """A quantized convolution layer: :class:`ConvLayer`'s geometry with
    :class:`QDenseLayer`'s formats (``weight`` in LSBs of ``weight_format``, added shifted
    left by ``shift``; ``bias`` in LSBs of the accumulating state).

    Its events are integrated one at a time (``E = 1`` whatever the network's
    ``events_per_cycle``): an input event adds ``weight[:, c, ky, kx] << shift`` to the
    neurons of each of its taps with one saturating add each, so every neuron sees its
    inputs in ascending input index. The rest of the arithmetic is the dense layer's.
    """
    kind: ClassVar[str] = "conv2d"
    #: Integrates its events one at a time, whatever ``events_per_cycle`` says.
    groups_events: ClassVar[bool] = False
    weight: np.ndarray
    bias: "np.ndarray | None"
    weight_format: FixedFormat
    mem_format: FixedFormat
    neuron: "QLIF | QCubaLIF"
    geometry: ConvGeometry
    syn_format: "FixedFormat | None" = None

    def __post_init__(self):
        _check_conv(self, (QLIF, QCubaLIF))
        _check_state_formats(self)


@dataclass(frozen=True)
class HardwareConfig:
    """Architecture choices that do not change the arithmetic, except ``events_per_cycle``.

    ``parallelism``: neurons updated per cycle in every layer (capped at the layer's size);
    ``max_steps``: time steps per inference the spike counters hold without saturating;
    ``fifo_depth``: spike-event tokens buffered between consecutive layers;
    ``events_per_cycle``: input events a layer takes per cycle, ``E``; each group of ``E``
    events is one saturating add (see "Event grouping" in the module docstring).
    """
    parallelism: int = 0
    max_steps: int = 255
    fifo_depth: int = 64
    events_per_cycle: int = 1

    def __post_init__(self):
        e = self.events_per_cycle
        if not isinstance(e, int) or isinstance(e, bool) or e < 1:
            raise ValueError(f"Events per cycle must be a positive integer, not {e!r}")

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
class QNetwork(_LayerChain):
    """The quantized network: what the reference model and the hardware compute.

    ``readout`` as for :class:`Network`.
    """
    layers: tuple
    name: str = "net"
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    notes: tuple = ()
    coding: InputCoding = field(default_factory=InputCoding)
    readout: str = "spikes"

    def __post_init__(self):
        _check_readout(self.readout)


# ---------------------------------------------------------------------------- serialisation

_REGISTRY = {}


def register_node(cls):
    """Make an IR dataclass (a new layer kind's, for instance) readable and writable as JSON,
    tagged with its class name. Usable as a class decorator."""
    name = cls.__name__
    if _REGISTRY.get(name, cls) is not cls:
        raise ValueError(f"Another IR node is registered as {name!r}")
    _REGISTRY[name] = cls
    return cls


for _cls in (LIF, CubaLIF, DenseLayer, Network, FixedFormat, QLIF, QCubaLIF, QDenseLayer,
             QNetwork, HardwareConfig, InputCoding, ConvGeometry, ConvLayer, QConvLayer):
    register_node(_cls)


def plain(value):
    """A parameter as plain JSON: arrays (per-neuron values) as lists, numpy scalars as
    Python numbers, anything else unchanged."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


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
