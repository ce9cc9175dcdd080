"""The hardware plan of an event-driven fully connected layer: pure Python, nothing built.

:class:`FCPlan` holds every hardware fact of a :class:`~rtl_lib.fc_layer.FCLayer` that does
not depend on the weight values: lanes and groups, the events it takes per cycle and sends per
beat, its memories (shape and kind), the fields of a lane's state word, whether its lanes
tabulate the end-of-step update, and its cycle model. :class:`~rtl_lib.fc_layer.FCLayer`
builds itself from one, and the compiler's fit check, report and metrics read the same
object, so none of them keeps a model of its own.
"""
from dataclasses import dataclass

import numpy as np

from amaranth.utils import ceil_log2

from .cuba_lif import CubaLIFParams
from .lif import LIFParams, tabulates
from .memory_plan import MemoryPlan
from .spike_serializer import SpikeWordLayout


__all__ = ["FCPlan", "DISTRIBUTED_BITS"]


#: Weight memories smaller than this (half a 7-series RAMB18) are built from logic (LUTs).
DISTRIBUTED_BITS = 8192


@dataclass(frozen=True)
class FCPlan:
    """The shape of one :class:`~rtl_lib.fc_layer.FCLayer`.

    Parameters
    ----------
    inputs, outputs : int
        Input events it takes (indices ``0 .. inputs - 1``) and neurons.
    lanes : int
        Neurons updated per cycle, ``P`` (at most ``outputs``).
    weight_bits : int
    params : LIFParams or CubaLIFParams
        The neuron parameters the lanes share (the first neuron's when they differ).
    uniform : bool
        Whether every neuron has the same parameters.
    bias : bool
        Whether the layer has biases.
    recurrent : bool
        Whether the layer's own spikes of the previous step are events too.
    value_bits : int or None
        Width of input values (``direct`` coding), or ``None`` for spike events.
    events, out_events : int
        Input events integrated per cycle (``E``) and output events per beat.
    membrane_class : bool
        Whether the layer reports the largest final membrane (a membrane readout).
    """
    inputs: int
    outputs: int
    lanes: int
    weight_bits: int
    params: "LIFParams | CubaLIFParams"
    uniform: bool = True
    bias: bool = False
    recurrent: bool = False
    value_bits: "int | None" = None
    events: int = 1
    out_events: int = 1
    membrane_class: bool = False

    def __post_init__(self):
        for label, value in (("Input count", self.inputs), ("Output count", self.outputs),
                             ("Lane count", self.lanes), ("Weight width", self.weight_bits)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TypeError(f"{label} must be a positive integer, not {value!r}")
        if self.lanes > self.outputs:
            raise ValueError(f"Lane count {self.lanes} exceeds the {self.outputs} neurons")
        if not isinstance(self.params, (LIFParams, CubaLIFParams)):
            raise TypeError(f"Neuron parameters must be LIFParams or CubaLIFParams, "
                            f"not {self.params!r}")
        if self.value_bits is not None and (not isinstance(self.value_bits, int)
                                            or self.value_bits < 1):
            raise TypeError(f"Value width must be a positive integer or None, "
                            f"not {self.value_bits!r}")
        if self.events not in (1, 2):
            raise ValueError(f"Events per cycle must be 1 or 2 (the ports of a block RAM), "
                             f"not {self.events!r}")
        if self.out_events not in (1, 2):
            raise ValueError(f"Output events per beat must be 1 or 2, not {self.out_events!r}")
        if self.value_bits is not None:
            if self.recurrent:
                raise ValueError("A layer fed with input values cannot be recurrent")
            if self.cuba:
                raise ValueError("A current-based layer cannot take input values (direct "
                                 "coding)")
            if self.events > 1:
                raise ValueError("A layer fed with input values takes one value per cycle")
        if self.groups > 1 and not self.uniform and (self.cuba or self.direct):
            raise ValueError("Per-neuron thresholds or decays that differ need one lane per "
                             "neuron (a fully parallel layer) for current-based neurons and "
                             "for a layer fed input values")

    # -- geometry -----------------------------------------------------------------------------

    @property
    def cuba(self):
        """Whether the events accumulate into a synaptic current (current-based neurons)."""
        return isinstance(self.params, CubaLIFParams)

    @property
    def direct(self):
        """Whether the layer takes input values (``direct`` coding) instead of spikes."""
        return self.value_bits is not None

    @property
    def groups(self):
        """``G = ⌈N/P⌉``: the groups of ``lanes`` neurons an event is applied to in turn."""
        return -(-self.outputs // self.lanes)

    @property
    def rows(self):
        """Weight rows per group: one per input, and one per neuron in a recurrent layer."""
        return self.inputs + (self.outputs if self.recurrent else 0)

    @property
    def pad(self):
        """Lanes of the last group with no neuron behind them."""
        return self.groups * self.lanes - self.outputs

    @property
    def acc_bits(self):
        """Width of a direct layer's exact accumulator of ``value * weight`` over all inputs
        (0 for a spike layer)."""
        if not self.direct:
            return 0
        return self.weight_bits + self.value_bits + 1 + max(1, ceil_log2(self.inputs))

    def state_fields(self):
        """``(name, bits)`` of the fields of one lane's state word, LSB first:
        ``mem | r`` for spike input, ``mem | acc`` for direct input, ``mem | syn`` for a
        current-based layer (``r`` is then ``mem > threshold``)."""
        mb = self.params.mem_bits
        if self.direct:
            return (("mem", mb), ("acc", self.acc_bits))
        if self.cuba:
            return (("mem", mb), ("syn", self.params.syn_bits))
        return (("mem", mb), ("r", 1))

    @property
    def lane_state_bits(self):
        return sum(bits for _, bits in self.state_fields())

    @property
    def state_in_registers(self):
        """A fully parallel layer (one group) keeps its state in flip-flops and its biases
        as constants of the lanes."""
        return self.groups == 1

    @property
    def variable_params(self):
        """Per-neuron parameters on shared lanes: each group's thresholds and decays are read
        from a memory, like its biases, and the lanes leak with a multiplier."""
        return self.groups > 1 and not self.uniform

    @property
    def param_lane_bits(self):
        """Bits of one lane in the parameter memory: the threshold then the decay."""
        return self.params.mem_bits + self.params.decay_bits + 1

    @property
    def adder_bits(self):
        """Width of the weight sum a lane adds: one guard bit per extra event of a group."""
        return self.weight_bits + self.events - 1

    @property
    def tabulated(self):
        """Whether the lanes' end-of-step update is a lookup table
        (:func:`rtl_lib.lif.tabulates`): fully parallel spike-input LIF lanes, whose bias is
        a constant, with a narrow membrane."""
        return (self.state_in_registers and not self.cuba and not self.direct
                and tabulates(self.params, constant_bias=True))

    @property
    def split_end_of_step(self):
        """Whether the lanes take two cycles for the end-of-step update (see
        :class:`~rtl_lib.lif.LIFLane`'s ``split``): spike-input LIF lanes whose update is
        arithmetic, not a table. Its leak, bias and reset on a membrane of 16 to 24 bits
        are several carry chains in a row, the layer's longest path by far; the register
        between them costs one cycle per group and step (the layer issues nothing while a
        group's update completes) and about two membranes of flip-flops per lane."""
        return not (self.cuba or self.direct or self.tabulated)

    @property
    def pair_stage(self):
        """Whether the layer sums the weight rows of an event pair in a pipeline stage of its
        own (``E`` = 2, lanes that are not :attr:`tabulated`): the lanes then add one
        registered value to a wide membrane, instead of two weights straight out of the
        rows' registers in front of its saturating adder and the state write. One cycle of
        latency, no cycle per event, and ``lanes × (weight_bits + 1)`` flip-flops; a
        tabulated lane's narrow adder does without."""
        return self.events > 1 and not self.tabulated

    @property
    def weight_depth(self):
        return self.rows * self.groups

    @property
    def weight_width(self):
        return self.lanes * self.weight_bits

    @property
    def weight_style(self):
        """``"block"`` RAM for the weight ROM, or ``"logic"`` for a memory under
        :data:`DISTRIBUTED_BITS`, which would waste most of a block."""
        small = self.weight_depth * self.weight_width < DISTRIBUTED_BITS
        return "logic" if small else "block"

    @property
    def word_layout(self):
        """The layout of a group's output spike word (:class:`SpikeWordLayout`)."""
        return SpikeWordLayout(self.lanes, self.groups)

    @property
    def words_depth(self):
        """Spike words queued for the serializer: a step's groups, plus two so that the word
        at the head can stay while its last spikes are read out."""
        return self.groups + 2

    def memories(self, prefix="layer"):
        """Every memory the layer builds, as :class:`~rtl_lib.memory_plan.MemoryPlan`."""
        out = [MemoryPlan(f"{prefix}.weights", self.weight_depth, self.weight_width,
                          "block" if self.weight_style == "block" else "lut", self.events)]
        state = self.lanes * self.lane_state_bits
        if self.state_in_registers:
            out.append(MemoryPlan(f"{prefix}.state", 1, state, "reg"))
        else:
            out.append(MemoryPlan(f"{prefix}.state", self.groups, state, "ram"))
            if self.bias:
                out.append(MemoryPlan(f"{prefix}.bias", self.groups,
                                      self.lanes * self.params.acc_bits, "rom"))
            if self.variable_params:
                out.append(MemoryPlan(f"{prefix}.params", self.groups,
                                      self.lanes * self.param_lane_bits, "rom"))
        out.append(MemoryPlan(f"{prefix}.words", self.words_depth, self.word_layout.size,
                              "async"))
        if self.membrane_class:
            out.append(MemoryPlan(f"{prefix}.classes", 2, max(1, ceil_log2(self.outputs)),
                                  "async"))
        return tuple(out)

    # -- cycle model --------------------------------------------------------------------------

    def step_load(self, spikes):
        """What :meth:`step_cycles` takes, from the input spikes (..., inputs) of each step:
        the number of events."""
        return spikes.sum(axis=-1, dtype=np.int64)

    def step_cycles(self, events):
        """Cycles the layer takes for a step of ``events`` input events (an int or an array):
        each group of ``E`` events passes every group once, and the end-of-step token every
        group in one cycle, or two when the update is split."""
        return (-(-events // self.events) + 1 + self.split_end_of_step) * self.groups
