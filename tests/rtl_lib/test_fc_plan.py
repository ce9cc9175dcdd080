"""FCPlan, the hardware plan of a dense layer (pure Python): geometry, state words, the
weight memory's style, the memories it lists, the cycle model and every constructor error;
and MemoryPlan's defaults."""
import numpy as np
import pytest

from rtl_lib.cuba_lif import CubaLIFParams
from rtl_lib.fc_plan import DISTRIBUTED_BITS, FCPlan
from rtl_lib.lif import LIFParams
from rtl_lib.memory_plan import MEMORY_KINDS, MemoryPlan
from rtl_lib.spike_serializer import SpikeWordLayout


LIF = LIFParams(mem_bits=10, threshold=100, decay=3, decay_bits=4)
NARROW = LIFParams(mem_bits=8, threshold=40, decay=3, decay_bits=4)          # 8 bits
NARROW_R = LIFParams(mem_bits=8, threshold=40, decay=3, decay_bits=4, reset="zero_all")
CUBA = CubaLIFParams(mem_bits=7, syn_bits=9, threshold=20, decay=3, syn_decay=5,
                     decay_bits=4)


def plan(**kwargs):
    args = dict(inputs=10, outputs=7, lanes=7, weight_bits=4, params=LIF)
    args.update(kwargs)
    return FCPlan(**args)


@pytest.mark.parametrize("outputs,lanes,groups,pad", [(7, 7, 1, 0), (7, 1, 7, 0),
                                                       (7, 3, 3, 2), (8, 4, 2, 0),
                                                       (9, 4, 3, 3), (1, 1, 1, 0)])
def test_groups_and_pad(outputs, lanes, groups, pad):
    p = plan(outputs=outputs, lanes=lanes)
    assert (p.groups, p.pad) == (groups, pad)
    assert p.groups * p.lanes - p.pad == outputs
    assert p.state_in_registers == (groups == 1)
    assert p.word_layout == SpikeWordLayout(lanes, groups)
    assert p.words_depth == groups + 2


@pytest.mark.parametrize("recurrent", [False, True])
def test_rows_and_weight_memory(recurrent):
    p = plan(inputs=10, outputs=7, lanes=3, weight_bits=5, recurrent=recurrent)
    rows = 10 + 7 * recurrent
    assert p.rows == rows
    assert p.weight_depth == rows * 3
    assert p.weight_width == 3 * 5


def test_state_fields():
    assert plan().state_fields() == (("mem", 10), ("r", 1))
    assert plan(params=CUBA).state_fields() == (("mem", 7), ("syn", 9))
    # a direct layer's exact accumulator: weight + value bits, a sign bit, log2(inputs)
    direct = plan(inputs=10, weight_bits=6, value_bits=8)
    assert direct.acc_bits == 6 + 8 + 1 + 4
    assert direct.state_fields() == (("mem", 10), ("acc", 19))
    assert plan(inputs=1, value_bits=8).acc_bits == 4 + 8 + 1 + 1
    assert plan(inputs=2, value_bits=8).acc_bits == 4 + 8 + 1 + 1
    assert plan(inputs=3, value_bits=8).acc_bits == 4 + 8 + 1 + 2
    assert plan().acc_bits == 0
    assert plan().lane_state_bits == 11
    assert plan(params=CUBA).lane_state_bits == 16
    assert direct.lane_state_bits == 29


def test_kind_flags():
    assert plan(params=CUBA).cuba and not plan().cuba
    assert plan(value_bits=8).direct and not plan().direct
    assert not plan(uniform=False).variable_params                # one group: lane constants
    assert plan(lanes=3, uniform=False).variable_params
    assert not plan(lanes=3).variable_params
    assert plan().param_lane_bits == 10 + 4 + 1                   # threshold, decay 0..16
    assert plan(events=1).adder_bits == 4
    assert plan(events=2).adder_bits == 5                         # a guard bit per extra event


@pytest.mark.parametrize("kwargs,tabulated", [
    (dict(params=NARROW), True),                                  # 8-bit membrane
    (dict(params=NARROW_R), False),                               # 8 bits and the reset flag
    (dict(params=LIFParams(mem_bits=7, threshold=20, decay=3, decay_bits=4,
                           reset="zero_all")), True),             # 7 bits and the reset flag
    (dict(params=LIF), False),                                    # 10 bits
    (dict(params=NARROW, lanes=3), False),                        # bias from a memory
    (dict(params=NARROW, value_bits=8), False),                   # direct input
    (dict(params=CubaLIFParams(mem_bits=5, syn_bits=5, threshold=5, decay=3, syn_decay=5,
                               decay_bits=4)), False),            # current-based
])
def test_tabulated(kwargs, tabulated):
    assert plan(**kwargs).tabulated is tabulated


@pytest.mark.parametrize("kwargs,pair", [
    (dict(params=LIF, events=2), True),                  # a wide membrane: its own stage
    (dict(params=LIF, events=2, lanes=3), True),
    (dict(params=NARROW, events=2), False),              # a table's narrow adder
    (dict(params=NARROW, events=2, lanes=3), True),      # shared lanes: no table
    (dict(params=LIF, events=1), False),                 # one weight: nothing to sum
])
def test_pair_stage(kwargs, pair):
    """Two events' weights are summed in a stage of their own, except for tabulated lanes."""
    assert plan(**kwargs).pair_stage is pair


def test_weight_style_threshold():
    """A weight memory of fewer than DISTRIBUTED_BITS bits is logic, from there on block
    RAM: 8 lanes of 8 bits are 64 bits a row."""
    assert DISTRIBUTED_BITS == 8192
    rows = DISTRIBUTED_BITS // 64
    below = plan(inputs=rows - 1, outputs=8, lanes=8, weight_bits=8)
    at = plan(inputs=rows, outputs=8, lanes=8, weight_bits=8)
    assert below.weight_depth * below.weight_width == DISTRIBUTED_BITS - 64
    assert (below.weight_style, at.weight_style) == ("logic", "block")
    # the depth counts the groups and the recurrent rows too
    assert plan(inputs=rows // 2, outputs=16, lanes=8, weight_bits=8).weight_style == "block"
    assert plan(inputs=rows // 2, outputs=8, lanes=8, weight_bits=8,
                recurrent=True).weight_style == "logic"
    assert plan(inputs=rows - 8, outputs=8, lanes=8, weight_bits=8,
                recurrent=True).weight_style == "block"


def test_memories_of_a_fully_parallel_layer():
    p = plan(inputs=10, outputs=7, lanes=7, weight_bits=4, bias=True, uniform=False)
    assert p.memories() == (
        MemoryPlan("layer.weights", 10, 28, "lut", 1),
        MemoryPlan("layer.state", 1, 7 * 11, "reg"),
        MemoryPlan("layer.words", 3, SpikeWordLayout(7, 1).size, "async"),
    )


def test_memories_of_a_layer_with_groups():
    p = plan(inputs=600, outputs=9, lanes=4, weight_bits=6, params=CUBA, bias=True,
             events=2, membrane_class=True, recurrent=True)
    assert p.memories("out") == (
        MemoryPlan("out.weights", (600 + 9) * 3, 24, "block", 2),
        MemoryPlan("out.state", 3, 4 * 16, "ram"),
        MemoryPlan("out.bias", 3, 4 * 9, "rom"),               # in synaptic current LSBs
        MemoryPlan("out.words", 5, SpikeWordLayout(4, 3).size, "async"),
        MemoryPlan("out.classes", 2, 4, "async"),              # an index into 9 neurons
    )
    lif = plan(inputs=10, outputs=7, lanes=3, uniform=False, membrane_class=True)
    names = [(m.name, m.depth, m.width, m.kind) for m in lif.memories()]
    assert names == [("layer.weights", 30, 12, "lut"), ("layer.state", 3, 33, "ram"),
                     ("layer.params", 3, 3 * 15, "rom"),
                     ("layer.words", 5, SpikeWordLayout(3, 3).size, "async"),
                     ("layer.classes", 2, 3, "async")]
    assert plan(outputs=1, lanes=1, membrane_class=True).memories()[-1].width == 1


def test_memory_kinds_are_known():
    for p in (plan(), plan(lanes=2, bias=True, uniform=False, membrane_class=True),
              plan(inputs=2000, params=CUBA, lanes=3, bias=True)):
        assert {m.kind for m in p.memories()} <= set(MEMORY_KINDS)


@pytest.mark.parametrize("params,split", [(LIF, True), (NARROW, False), (CUBA, False)])
@pytest.mark.parametrize("events", [1, 2])
@pytest.mark.parametrize("lanes", [7, 3, 1])
def test_step_cycles(events, lanes, params, split):
    """Each group of E events passes every group once, the end of step every group in one
    cycle, or in two when a LIF lane's arithmetic update is split (a narrow fully parallel
    lane's table is not)."""
    p = plan(outputs=7, lanes=lanes, events=events, params=params)
    groups = -(-7 // lanes)
    split = split or (params is NARROW and groups > 1)       # no table: the bias is a port
    assert p.split_end_of_step == split
    for n in range(8):
        assert p.step_cycles(n) == (-(-n // events) + 1 + split) * groups
    counts = np.array([0, 1, 2, 3, 10])
    np.testing.assert_array_equal(p.step_cycles(counts),
                                  [p.step_cycles(int(n)) for n in counts])


def test_memory_plan_defaults():
    m = MemoryPlan("x.weights", 16, 8, "block")
    assert m.read_ports == 1
    assert m._fields == ("name", "depth", "width", "kind", "read_ports")
    assert MemoryPlan("x", 1, 2, "lut", 2).read_ports == 2
    assert MEMORY_KINDS == ("block", "lut", "ram", "rom", "async", "reg")


def test_plan_is_frozen_and_comparable():
    assert plan() == plan()
    assert plan() != plan(lanes=3)
    with pytest.raises(AttributeError):
        plan().lanes = 2


@pytest.mark.parametrize("field,label", [("inputs", "Input count"), ("outputs", "Output count"),
                                         ("lanes", "Lane count"),
                                         ("weight_bits", "Weight width")])
@pytest.mark.parametrize("value", [0, -1, 2.0, True, "3"])
def test_counts_must_be_positive_integers(field, label, value):
    with pytest.raises(TypeError, match=rf"{label} must be a positive integer, "
                                        rf"not {value!r}".replace(".", r"\.")):
        plan(**{field: value})


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"Lane count 8 exceeds the 7 neurons"):
        plan(lanes=8)
    with pytest.raises(TypeError, match=r"Neuron parameters must be LIFParams or "
                                        r"CubaLIFParams, not 3"):
        plan(params=3)
    with pytest.raises(TypeError, match=r"Value width must be a positive integer or None, "
                                        r"not 0"):
        plan(value_bits=0)
    with pytest.raises(TypeError, match=r"Value width must be a positive integer or None, "
                                        r"not '8'"):
        plan(value_bits="8")
    with pytest.raises(ValueError, match=r"Events per cycle must be 1 or 2 \(the ports of a "
                                         r"block RAM\), not 3"):
        plan(events=3)
    with pytest.raises(ValueError, match=r"Output events per beat must be 1 or 2, not 0"):
        plan(out_events=0)
    with pytest.raises(ValueError, match=r"A layer fed with input values cannot be recurrent"):
        plan(value_bits=8, recurrent=True)
    with pytest.raises(ValueError, match=r"A current-based layer cannot take input values "
                                         r"\(direct coding\)"):
        plan(value_bits=8, params=CUBA)
    with pytest.raises(ValueError, match=r"A layer fed with input values takes one value "
                                         r"per cycle"):
        plan(value_bits=8, events=2)
    message = (r"Per-neuron thresholds or decays that differ need one lane per neuron \(a "
               r"fully parallel layer\) for current-based neurons and for a layer fed input "
               r"values")
    with pytest.raises(ValueError, match=message):
        plan(lanes=3, uniform=False, params=CUBA)
    with pytest.raises(ValueError, match=message):
        plan(lanes=3, uniform=False, value_bits=8)
    # what the same options are allowed with
    plan(uniform=False, params=CUBA)                              # one lane per neuron
    plan(lanes=3, uniform=False)                                  # LIF on shared lanes
