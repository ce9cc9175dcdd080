"""The hardware plan of an event-driven convolution layer: pure Python, nothing built.

:class:`ConvPlan` holds every hardware fact of a :class:`~rtl_lib.conv_layer.ConvLayer` that
does not depend on the weight values: lanes and groups, the order of the neuron state in its
memory, the tap tables, the event decoder's reciprocals, its memories and its cycle model.
The layer builds itself from one, and the compiler's fit check, report and metrics read the
same object.
"""
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.utils import ceil_log2

from .conv_geometry import ConvGeometry
from .cuba_lif import CubaLIFParams
from .fc_plan import DISTRIBUTED_BITS
from .lif import LIFParams, tabulates
from .memory_plan import MemoryPlan
from .spike_serializer import SpikeWordLayout


__all__ = ["ConvPlan", "reciprocal", "DECODER_STAGES", "LATENCY"]


#: Pipeline stages of the event decoder (token, products, back-products, remainders, tap
#: counts).
DECODER_STAGES = 5

#: Cycles from a step's first token offered to the layer (idle, output ready) to its
#: end-of-step token out, beyond the sequencer's busy cycles (:meth:`ConvPlan.step_cycles`)
#: when no output spike is left for the serializer at the end: the decoder, then the
#: sequencer's last op through tap tables, address sums, memory reads, their registers,
#: execute, the spike-word register, the queue and its two output registers, and the
#: serializer's picker, chunk queue, beat maker and output register.
LATENCY = DECODER_STAGES + 13


def reciprocal(divisor, count):
    """``(multiplier, shift)`` with ``(i * multiplier) >> shift == i // divisor`` for every
    ``0 <= i < count``: the smallest shift for which the rounded-up reciprocal is exact over
    the whole range (so the fabric divides without a divider).

    With ``multiplier = ceil(2**shift / divisor) = (2**shift + e) / divisor``, ``0 <= e <
    divisor``, the product is ``i / divisor + i * e / (divisor * 2**shift)``, whose floor is
    ``i // divisor`` when ``i * e < 2**shift``; ``2**shift >= count * divisor`` is thus
    always exact, and the search stops there at the latest.
    """
    if divisor & (divisor - 1) == 0:
        return 1, divisor.bit_length() - 1
    i = np.arange(count, dtype=np.int64)
    bound = ceil_log2(count * divisor)
    for shift in range(1, bound):
        multiplier = -(-(1 << shift) // divisor)
        if np.array_equal((i * multiplier) >> shift, i // divisor):
            return multiplier, shift
    return -(-(1 << bound) // divisor), bound


@dataclass(frozen=True)
class ConvPlan:
    """The shape of one :class:`~rtl_lib.conv_layer.ConvLayer`.

    The state memory holds one word of ``P`` lanes per neuron position and group, in
    max-pooling window order: word ``((py * Wp + px) * G + g) * k² + wy * k + wx`` holds
    channels ``g * P .. g * P + P - 1`` of neuron ``(py * k + wy, px * k + wx)`` (``k`` =
    ``out_pool``, ``Wp`` = pooled columns; with ``k`` = 1 simply channels-last order). The
    end-of-step pass runs through the words in order, so every ``k²`` consecutive words OR
    into one pooled spike word, and pooled word ``v`` holds output neurons ``v * P + j`` in
    the layer's channels-last output order.

    With a max pooling of currents (``current_pool`` = ``q`` > 1) the events add into a
    current buffer of the convolution's size instead (``P`` lanes of ``acc_bits``, zero at
    the start of each step), in the same order one level down: buffer word ``n * q² + vy * q
    + vx`` holds the currents of convolution output ``(ny * q + vy, nx * q + vx)`` feeding
    the neurons of state word ``n`` at ``(ny, nx)``. The end-of-step pass reads (and clears)
    the ``q²`` buffer words of each state word in turn, and the largest of each lane joins
    the neuron's state. Without it, the events add into the state itself.

    Parameters
    ----------
    geometry : ConvGeometry
    lanes : int
        Output channels updated per cycle, ``P``; must divide the output channels.
    weight_bits : int
    params : LIFParams or CubaLIFParams
    bias : bool
        Whether the layer has biases (one per output channel).
    out_events : int
        Output events per beat (1 or 2).
    """
    kind: ClassVar[str] = "conv2d"
    #: Input events integrated per cycle: always one (one weight row per cycle).
    events: ClassVar[int] = 1
    #: What a dense layer's plan may say and a convolution never does.
    value_bits: ClassVar[None] = None
    direct: ClassVar[bool] = False
    membrane_class: ClassVar[bool] = False
    recurrent: ClassVar[bool] = False
    uniform: ClassVar[bool] = True
    variable_params: ClassVar[bool] = False
    state_in_registers: ClassVar[bool] = False

    geometry: ConvGeometry
    lanes: int
    weight_bits: int
    params: "LIFParams | CubaLIFParams"
    bias: bool = False
    out_events: int = 1

    def __post_init__(self):
        if not isinstance(self.geometry, ConvGeometry):
            raise TypeError(f"Geometry must be a ConvGeometry, not {self.geometry!r}")
        for label, value in (("Lane count", self.lanes), ("Weight width", self.weight_bits)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TypeError(f"{label} must be a positive integer, not {value!r}")
        c_out = self.geometry.out_channels
        if c_out % self.lanes:
            raise ValueError(f"Lane count {self.lanes} does not divide the {c_out} output "
                             f"channels")
        if not isinstance(self.params, (LIFParams, CubaLIFParams)):
            raise TypeError(f"Neuron parameters must be LIFParams or CubaLIFParams, "
                            f"not {self.params!r}")
        if self.out_events not in (1, 2):
            raise ValueError(f"Output events per beat must be 1 or 2, not {self.out_events!r}")

    # -- geometry -----------------------------------------------------------------------------

    @property
    def inputs(self):
        return int(np.prod(self.geometry.input_shape))

    @property
    def outputs(self):
        """Neurons of the output map after the max pooling (the events the layer sends)."""
        return int(np.prod(self.geometry.output_shape))

    @property
    def cuba(self):
        return isinstance(self.params, CubaLIFParams)

    @property
    def groups(self):
        """``G = C_out / P``: the groups of output channels an event tap updates in turn."""
        return self.geometry.out_channels // self.lanes

    @property
    def window(self):
        """State words per pooled spike word: ``out_pool²``."""
        return self.geometry.out_pool ** 2

    @property
    def current_window(self):
        """Buffer words per state word: ``current_pool²`` (1: no current buffer)."""
        return self.geometry.current_pool ** 2

    @property
    def pooled_currents(self):
        """Whether the events add into a current buffer (a max pooling of currents)."""
        return self.current_window > 1

    @property
    def state_depth(self):
        """State words: every neuron position's groups."""
        return self.geometry.neuron_hw[0] * self.geometry.neuron_hw[1] * self.groups

    @property
    def buffer_depth(self):
        """Current buffer words: every convolution output position's groups (0: none)."""
        return self.state_depth * self.current_window if self.pooled_currents else 0

    @property
    def target_depth(self):
        """Words of the memory the events add into: the current buffer, else the state."""
        return self.buffer_depth or self.state_depth

    @property
    def out_words(self):
        """Spike words a step sends (pooled positions times groups)."""
        return self.state_depth // self.window

    def state_fields(self):
        """``(name, bits)`` of the fields of one lane's state word, LSB first."""
        mb = self.params.mem_bits
        return (("mem", mb), ("syn", self.params.syn_bits)) if self.cuba else \
            (("mem", mb), ("r", 1))

    @property
    def lane_state_bits(self):
        return sum(bits for _, bits in self.state_fields())

    @property
    def tabulated(self):
        """Whether the lanes' end-of-step update is a lookup table: never on shared lanes
        whose bias is read per group; with one group the bias is a constant of each lane and
        :class:`~rtl_lib.lif.LIFLane` decides for itself."""
        return self.groups == 1 and not self.cuba and tabulates(self.params,
                                                                constant_bias=True)

    def state_address(self, ny, nx, group):
        """The state word of neuron ``(ny, nx)``'s channels ``group * P ..`` (see the class
        docstring)."""
        k, wp = self.geometry.out_pool, self.geometry.output_hw[1]
        return ((((ny // k) * wp + nx // k) * self.groups + group) * self.window
                + (ny % k) * k + nx % k)

    def target_address(self, oy, ox, group):
        """The word an event tap on convolution output ``(oy, ox)``, channels ``group * P
        ..``, adds into (the current buffer's, else the state's); the sum of a row part, a
        column part and a group part."""
        return self.row_part(oy) + self.column_part(ox) + group * self.group_stride

    @property
    def group_stride(self):
        """Distance between the target words of one position's consecutive groups."""
        return self.window * self.current_window

    def row_part(self, oy):
        k, wp = self.geometry.out_pool, self.geometry.output_hw[1]
        q = self.geometry.current_pool
        ny, vy = divmod(oy, q)
        return ((ny // k) * wp * self.groups * self.window + (ny % k) * k) * q * q + vy * q

    def column_part(self, ox):
        k, q = self.geometry.out_pool, self.geometry.current_pool
        nx, vx = divmod(ox, q)
        return ((nx // k) * self.groups * self.window + nx % k) * q * q + vx

    def weight_row(self, ky, kx, channel, group):
        """Weight ROM row of kernel position ``(ky, kx)``, input ``channel``, ``group``."""
        g = self.geometry
        return ((ky * g.kernel[1] + kx) * g.in_channels + channel) * self.groups + group

    # -- tap tables ---------------------------------------------------------------------------

    @property
    def row_slots(self):
        """Entries per input row in the row tap table (a power of two)."""
        return 1 << ceil_log2(max(1, self.geometry.max_row_taps))

    @property
    def column_slots(self):
        return 1 << ceil_log2(max(1, self.geometry.max_col_taps))

    @property
    def state_address_bits(self):
        """Bits of a target address (:meth:`target_address`), as the tap tables hold it."""
        return max(1, ceil_log2(self.target_depth))

    @property
    def weight_address_bits(self):
        return max(1, ceil_log2(self.weight_depth))

    @property
    def tap_entry_bits(self):
        """Bits of a tap table entry: the state address part, then the weight row part."""
        return self.state_address_bits + self.weight_address_bits

    def _tap_table(self, taps, slots, state_part, weight_unit, size):
        image = []
        for coord in range(size):
            found = taps(coord)
            for t in range(slots):
                if t < len(found):
                    k, o = found[t]
                    image.append(state_part(o)
                                 | (k * weight_unit) << self.state_address_bits)
                else:
                    image.append(0)
        return image

    def row_table(self):
        """Row tap table: entry ``y * row_slots + t`` holds the ``t``-th tap ``(ky, oy)`` of
        input row ``y`` as the parts of its addresses: :meth:`row_part` ``(oy)`` and the
        weight row offset of ``ky``."""
        g = self.geometry
        return self._tap_table(g.row_taps, self.row_slots, self.row_part,
                               g.kernel[1] * g.in_channels * self.groups, g.in_hw[0])

    def column_table(self):
        """Column tap table: entry ``x * column_slots + t``, like :meth:`row_table`."""
        g = self.geometry
        return self._tap_table(g.col_taps, self.column_slots, self.column_part,
                               g.in_channels * self.groups, g.in_hw[1])

    # -- event decoder ------------------------------------------------------------------------

    @property
    def row_divider(self):
        """``(multiplier, shift)``: input row ``y = index // (W * C)`` (:func:`reciprocal`)."""
        g = self.geometry
        return reciprocal(g.in_hw[1] * g.in_channels, self.inputs)

    @property
    def position_divider(self):
        """``(multiplier, shift)``: input position ``index // C``."""
        return reciprocal(self.geometry.in_channels, self.inputs)

    # -- memories -----------------------------------------------------------------------------

    @property
    def weight_depth(self):
        g = self.geometry
        return g.taps * g.in_channels * self.groups

    @property
    def weight_width(self):
        return self.lanes * self.weight_bits

    @property
    def weight_style(self):
        """``"block"`` RAM for the weight ROM, or ``"logic"`` for a small one."""
        small = self.weight_depth * self.weight_width < DISTRIBUTED_BITS
        return "logic" if small else "block"

    @property
    def word_layout(self):
        return SpikeWordLayout(self.lanes, self.out_words)

    @property
    def words_depth(self):
        """Spike words queued for the serializer: a whole step's, plus two (as a dense
        layer), so the end-of-step pass never waits for a serializer that keeps up."""
        return self.out_words + 2

    def memories(self, prefix="layer"):
        """Every memory the layer builds, as :class:`~rtl_lib.memory_plan.MemoryPlan`."""
        g = self.geometry
        out = [MemoryPlan(f"{prefix}.weights", self.weight_depth, self.weight_width,
                          "block" if self.weight_style == "block" else "lut"),
               MemoryPlan(f"{prefix}.state", self.state_depth,
                          self.lanes * self.lane_state_bits, "ram")]
        if self.pooled_currents:
            out.append(MemoryPlan(f"{prefix}.currents", self.buffer_depth,
                                  self.lanes * self.params.acc_bits, "ram"))
        if self.bias and self.groups > 1:
            out.append(MemoryPlan(f"{prefix}.bias", self.groups,
                                  self.lanes * self.params.acc_bits, "rom"))
        out += [MemoryPlan(f"{prefix}.rows", g.in_hw[0] * self.row_slots,
                           self.tap_entry_bits, "lut"),
                MemoryPlan(f"{prefix}.columns", g.in_hw[1] * self.column_slots,
                           self.tap_entry_bits, "lut"),
                MemoryPlan(f"{prefix}.words", self.words_depth, self.word_layout.size,
                           "async")]
        return tuple(out)

    # -- cycle model --------------------------------------------------------------------------

    @property
    def event_cost(self):
        """Cycles the sequencer spends on an input event, per input index (an array): one
        per tap and group, and one for an event without taps."""
        g = self.geometry
        rows = np.array([len(g.row_taps(y)) for y in range(g.in_hw[0])])
        cols = np.array([len(g.col_taps(x)) for x in range(g.in_hw[1])])
        taps = rows[:, None] * cols[None, :] * self.groups
        per_position = np.maximum(taps, 1)
        return np.repeat(per_position.reshape(-1), g.in_channels)

    @property
    def pass_idle(self):
        """Idle cycles that end the end-of-step pass: one, so that no op needs the result of
        an end-of-step update the cycle after it. With a max pooling of currents a state
        word's result is in its write-back register six cycles after the issue of its
        window's last buffer word, and the next pass takes the word four cycles after
        issuing its first: with a single state word the pass waits that out (``q² + 2 -
        buffer words`` cycles, at least one)."""
        if not self.pooled_currents:
            return 1
        return max(1, self.current_window + 2 - self.buffer_depth)

    @property
    def pass_cycles(self):
        """Cycles of the end-of-step pass: one per state word (with a max pooling of
        currents: per current buffer word, each read and cleared in turn), then
        :attr:`pass_idle`."""
        return self.target_depth + self.pass_idle

    @property
    def latency(self):
        """See :data:`LATENCY`; a max pooling of currents adds one stage (the largest current
        joins the state a cycle before the end-of-step update)."""
        return LATENCY + int(self.pooled_currents)

    def step_load(self, spikes):
        """What :meth:`step_cycles` takes, from the input spikes (..., inputs) of each step:
        the summed :attr:`event_cost` of its events."""
        return np.asarray(spikes, dtype=np.int64) @ self.event_cost

    def step_cycles(self, cost):
        """Cycles the layer is busy with a step whose events cost ``cost`` in total (an int
        or an array; ``spikes @ event_cost``): the events, then the end-of-step pass. Steps
        fed back to back follow each other at this rate; a step from an idle layer ends
        :attr:`latency` cycles later (plus the serializer's time for the spikes of its last
        words)."""
        return cost + self.pass_cycles
