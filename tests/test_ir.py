"""The IR: JSON round trips, canonical parameters, checks, and the layer protocol."""
import numpy as np
import pytest

from spikegen.ir import (LIF, CubaLIF, DenseLayer, FixedFormat, HardwareConfig, Network, QCubaLIF,
                         QDenseLayer, QLIF, QNetwork, from_json, register_node, to_json)


def test_ir_json_round_trip_and_canonical_parameters():
    neuron = QCubaLIF(threshold=np.array([4, 4, 4]), decay=np.array([1, 2, 3]), syn_decay=8,
                      decay_bits=4, reset="zero_all")
    assert neuron.threshold == 4 and isinstance(neuron.decay, np.ndarray)
    assert neuron.beta.tolist() == [1 - 1 / 16, 1 - 2 / 16, 1 - 3 / 16] and neuron.alpha == 0.5
    layer = QDenseLayer(np.ones((3, 2), dtype=np.int64), None, FixedFormat(4, 2),
                        FixedFormat(8, 4), neuron, recurrent=np.eye(3, dtype=np.int64),
                        syn_format=FixedFormat(6, 4))
    net = QNetwork((layer,), hardware=HardwareConfig(events_per_cycle=2), readout="membrane")
    back = from_json(to_json(net))
    assert back.layers[0].neuron == neuron and back.readout == "membrane"
    assert back.hardware.events_per_cycle == 2 and back.layers[0].syn_format == FixedFormat(6, 4)
    np.testing.assert_array_equal(back.layers[0].recurrent, np.eye(3))
    old = to_json(QNetwork((QDenseLayer(np.ones((1, 1), dtype=np.int64), None,
                                        FixedFormat(4, 0), FixedFormat(6, 0),
                                        QLIF(1, 0, 4)),)))
    del old["readout"], old["hardware"]["events_per_cycle"]    # JSON written before them
    assert from_json(old).readout == "spikes"


@pytest.mark.parametrize("build,message", [
    (lambda: LIF(beta=np.ones((2, 2))), r"Beta must be a scalar or a 1-D array"),
    (lambda: LIF(beta=0.5, reset="hard"), "Reset mechanism must be one of"),
    (lambda: QLIF(threshold=1.5, decay=0, decay_bits=4), "Threshold must be integers"),
    (lambda: QCubaLIF(1, 0, 17, 4), r"Synaptic decay must be in \[0, 2\*\*decay_bits\]"),
    (lambda: DenseLayer(np.ones((2, 3)), None, LIF(beta=[0.5, 0.5, 0.25])),
     "Per-neuron parameters have 3 values for 2 neurons"),
    (lambda: DenseLayer(np.ones((2, 3)), None, LIF(beta=0.5), np.ones((3, 3))),
     r"Recurrent weights must have shape \(2, 2\)"),
    (lambda: QDenseLayer(np.ones((1, 1)), None, FixedFormat(4, 0), FixedFormat(6, 2),
                         QCubaLIF(1, 0, 0, 4), syn_format=FixedFormat(6, 1)),
     "must have the membrane's fraction bits"),
    (lambda: QDenseLayer(np.ones((1, 1)), None, FixedFormat(4, 0), FixedFormat(6, 2),
                         QCubaLIF(1, 0, 0, 4)), "A QCubaLIF layer needs a syn_format"),
    (lambda: HardwareConfig(events_per_cycle=0), "Events per cycle must be a positive integer"),
    (lambda: Network((), readout="votes"), "Readout must be one of spikes, membrane"),
])
def test_ir_checks(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()




def test_dense_layers_follow_the_layer_protocol():
    layer = DenseLayer(np.ones((3, 5)), None, CubaLIF(alpha=0.5, beta=0.5), np.eye(3))
    assert layer.kind == "dense" and DenseLayer.kind == QDenseLayer.kind == "dense"
    assert (layer.inputs, layer.outputs) == (5, 3)
    assert (layer.input_shape, layer.output_shape) == ((5,), (3,))
    assert layer.event_rows == 5 + 3              # the inputs, then its own neurons
    plain = DenseLayer(np.ones((3, 5)), None, LIF(beta=0.5))
    assert plain.event_rows == 5
    # the kind is a property of the class, not a field: it is not written to JSON
    assert "kind" not in to_json(plain)


def test_a_registered_node_round_trips_and_names_clash():
    from dataclasses import dataclass

    from spikegen import ir

    @register_node
    @dataclass(frozen=True)
    class Delay:
        steps: int

    try:
        assert from_json(to_json(Delay(3))) == Delay(3)
        with pytest.raises(ValueError, match="Another IR node is registered as 'Delay'"):
            @register_node
            @dataclass(frozen=True)
            class Delay:                         # noqa: F811
                steps: int
    finally:
        del ir._REGISTRY["Delay"]
    with pytest.raises(ValueError, match="Unknown IR node type 'Nope'"):
        from_json({"type": "Nope"})
