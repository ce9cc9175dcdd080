"""ConvPlan: the reciprocals of the event decoder, the state and current buffer orders, the
tap tables, the cycle model's event costs and the refusals, in pure Python."""
import numpy as np
import pytest

from rtl_lib.conv_geometry import ConvGeometry
from rtl_lib.conv_plan import ConvPlan, reciprocal
from rtl_lib.cuba_lif import CubaLIFParams
from rtl_lib.lif import LIFParams


PARAMS = LIFParams(mem_bits=8, threshold=20, decay=2, decay_bits=4)

GEOMETRIES = [
    ConvGeometry(in_hw=(7, 6), in_channels=2, out_channels=6, kernel=3, out_hw=(4, 4),
                 stride=2, padding=2, out_pool=2),
    ConvGeometry(in_hw=(9, 8), in_channels=3, out_channels=4, kernel=(2, 3), out_hw=(2, 1),
                 dilation=(2, 1), pool=2, stride=(1, 2)),
    ConvGeometry(in_hw=(28, 28), in_channels=1, out_channels=12, kernel=5, out_hw=(24, 24),
                 out_pool=2),
    # max pooling of currents, with and without a pooling of spikes
    ConvGeometry(in_hw=(8, 8), in_channels=2, out_channels=4, kernel=3, out_hw=(8, 8),
                 padding=1, current_pool=2, out_pool=2),
    ConvGeometry(in_hw=(9, 7), in_channels=1, out_channels=6, kernel=(1, 2), out_hw=(9, 6),
                 current_pool=3),
]


@pytest.mark.parametrize("divisor", [1, 2, 3, 5, 7, 12, 28, 84, 100, 336])
def test_reciprocal_divides_exactly(divisor):
    count = 5000
    multiplier, shift = reciprocal(divisor, count)
    i = np.arange(count)
    assert np.array_equal((i * multiplier) >> shift, i // divisor)
    assert multiplier.bit_length() <= shift + 1


def test_reciprocal_is_the_smallest_exact_shift():
    multiplier, shift = reciprocal(3, 100)
    i = np.arange(100)
    smaller = -(-(1 << (shift - 1)) // 3)
    assert not np.array_equal((i * smaller) >> (shift - 1), i // 3)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("lanes", [1, 2])
def test_state_words_are_window_ordered(geometry, lanes):
    plan = ConvPlan(geometry, lanes, 4, PARAMS)
    g, k = geometry, geometry.out_pool
    wp = g.output_hw[1]
    seen = set()
    for ny in range(g.neuron_hw[0]):
        for nx in range(g.neuron_hw[1]):
            for grp in range(plan.groups):
                w = plan.state_address(ny, nx, grp)
                seen.add(w)
                # the pooled word of a window holds the pooled neurons in output order
                assert w // plan.window == ((ny // k) * wp + nx // k) * plan.groups + grp
    assert seen == set(range(plan.state_depth))
    assert plan.out_words * plan.lanes == plan.outputs


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("lanes", [1, 2])
def test_current_buffer_words_follow_their_neurons(geometry, lanes):
    """Each state word's ``current_pool²`` buffer words are consecutive, in its order; without
    a pooling of currents, the events add into the state words themselves."""
    plan = ConvPlan(geometry, lanes, 4, PARAMS)
    g, q = geometry, geometry.current_pool
    seen = set()
    for oy in range(g.out_hw[0]):
        for ox in range(g.out_hw[1]):
            for grp in range(plan.groups):
                b = plan.target_address(oy, ox, grp)
                seen.add(b)
                assert b // (q * q) == plan.state_address(oy // q, ox // q, grp)
                assert b % (q * q) == (oy % q) * q + ox % q
    assert seen == set(range(plan.target_depth))
    assert plan.buffer_depth == (plan.target_depth if q > 1 else 0)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_tap_tables_sum_to_the_addresses(geometry):
    plan = ConvPlan(geometry, 2, 4, PARAMS)
    sab = plan.state_address_bits
    rows, cols = plan.row_table(), plan.column_table()
    for y in range(geometry.in_hw[0]):
        for t, (ky, oy) in enumerate(geometry.row_taps(y)):
            row = rows[y * plan.row_slots + t]
            for x in range(geometry.in_hw[1]):
                for u, (kx, ox) in enumerate(geometry.col_taps(x)):
                    col = cols[x * plan.column_slots + u]
                    for grp in range(plan.groups):
                        state = (row & ((1 << sab) - 1)) + (col & ((1 << sab) - 1)) \
                            + grp * plan.group_stride
                        assert state == plan.target_address(oy, ox, grp)
                        for c in range(geometry.in_channels):
                            weight = (row >> sab) + (col >> sab) + c * plan.groups + grp
                            assert weight == plan.weight_row(ky, kx, c, grp)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_event_cost_counts_taps_and_groups(geometry):
    plan = ConvPlan(geometry, 2, 4, PARAMS)
    cost = plan.event_cost
    assert cost.shape == (plan.inputs,)
    for index in range(plan.inputs):
        assert cost[index] == max(1, geometry.event_taps(index) * plan.groups)


def test_cycle_model_and_facts():
    g = GEOMETRIES[2]
    plan = ConvPlan(g, 12, 6, PARAMS, bias=True)
    assert (plan.inputs, plan.outputs, plan.groups, plan.events) == (784, 12 * 12 * 12, 1, 1)
    assert plan.kind == "conv2d" and plan.state_depth == 576 and plan.out_words == 144
    # the events, then a cycle per state word and an idle one
    assert plan.step_cycles(100) == 100 + 576 + 1
    np.testing.assert_array_equal(plan.step_cycles(np.array([0, 7])), [577, 584])
    # an interior pixel reaches 25 outputs, a corner one
    assert plan.event_cost[14 * 28 + 14] == 25 and plan.event_cost[0] == 1
    names = [m.name for m in plan.memories("layer0")]
    assert names == ["layer0.weights", "layer0.state", "layer0.rows", "layer0.columns",
                     "layer0.words"]
    cuba = CubaLIFParams(mem_bits=8, syn_bits=9, threshold=20, decay=2, syn_decay=3,
                         decay_bits=4)
    two = ConvPlan(g, 6, 6, cuba, bias=True)
    assert two.groups == 2 and two.lane_state_bits == 17
    assert [m.name for m in two.memories()][2] == "layer.bias"


def test_cycle_model_with_max_pooled_currents():
    """12C5 on 28×28, max pooling of currents 2: the state shrinks to the pooled map, the
    current buffer holds the convolution's map, and the pass reads every buffer word."""
    g = ConvGeometry(in_hw=(28, 28), in_channels=1, out_channels=12, kernel=5,
                     out_hw=(24, 24), current_pool=2)
    plan = ConvPlan(g, 6, 6, PARAMS, bias=True)
    assert (plan.outputs, plan.state_depth, plan.buffer_depth) == (12 * 12 * 12, 288, 1152)
    assert plan.out_words == 288 and plan.current_window == 4 and plan.group_stride == 4
    assert plan.step_cycles(100) == 100 + 1152 + 1
    assert plan.latency == ConvPlan(GEOMETRIES[2], 6, 6, PARAMS).latency + 1
    # the events cost what they cost without the pooling: the same taps into a bigger map
    np.testing.assert_array_equal(
        plan.event_cost, ConvPlan(GEOMETRIES[2], 6, 6, PARAMS).event_cost)
    memories = {m.name: m for m in plan.memories("layer0")}
    assert list(memories) == ["layer0.weights", "layer0.state", "layer0.currents",
                              "layer0.bias", "layer0.rows", "layer0.columns",
                              "layer0.words"]
    assert memories["layer0.state"][1:3] == (288, 6 * 9)
    assert memories["layer0.currents"][1:] == (1152, 6 * 8, "ram", 1)


def test_plan_errors():
    g = GEOMETRIES[0]
    with pytest.raises(ValueError, match="Lane count 4 does not divide the 6 output channels"):
        ConvPlan(g, 4, 4, PARAMS)
    with pytest.raises(TypeError, match="Lane count must be a positive integer"):
        ConvPlan(g, 0, 4, PARAMS)
    with pytest.raises(TypeError, match="Weight width must be a positive integer"):
        ConvPlan(g, 2, 0, PARAMS)
    with pytest.raises(TypeError, match="Geometry must be a ConvGeometry"):
        ConvPlan((7, 6), 2, 4, PARAMS)
    with pytest.raises(TypeError, match="Neuron parameters must be LIFParams"):
        ConvPlan(g, 2, 4, None)
    with pytest.raises(ValueError, match="Output events per beat must be 1 or 2"):
        ConvPlan(g, 2, 4, PARAMS, out_events=3)
