"""The hardware plan against the elaborated accelerator: every memory the plan names is
built with its depth, width, read ports and kind, and nothing else is, for every layer kind
and option combination; and the plan's cycle model and facts are the ones the rest of the
compiler reads."""
import itertools

import numpy as np
import pytest
from amaranth.hdl import Fragment, Shape

from spikegen.assemble import ASSEMBLERS, accelerator
from spikegen.errors import SpikegenError
from spikegen.fit import LOGIC
from spikegen.ir import (LIF, CubaLIF, DenseLayer, HardwareConfig, InputCoding, Network)
from spikegen.plan import PLANNERS, plan_network
from spikegen.quantize import QUANTIZERS, quantize
from spikegen.reference import MODELS
from spikegen.energy import WORK
from spikegen.metrics import FANOUT
from spikegen.report import LAYER_ROWS


def network(rng, *, cuba=False, recurrent=False, per_neuron=False, bias=True,
            readout="spikes", sizes=(12, 9, 5)):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        beta = rng.uniform(0.5, 0.95, b) if per_neuron and not cuba else 0.875
        neuron = CubaLIF(alpha=0.75, beta=beta) if cuba else LIF(beta=beta)
        layers.append(DenseLayer(rng.normal(0.2, 0.6, (b, a)),
                                 rng.normal(0, 0.1, b) if bias else None, neuron,
                                 rng.normal(0, 0.3, (b, b)) if recurrent else None))
    return Network(tuple(layers), readout=readout)


def _walk(fragment, path=()):
    for sub, name, _ in fragment.subfragments:
        here = path + (str(name),)
        if type(sub).__name__ == "MemoryInstance":
            yield ".".join(here), sub
        yield from _walk(sub, here)


def built_memories(top):
    """``name -> (depth, width, read ports, kind)`` of every memory of the elaborated
    accelerator, named as the plan names them."""
    layers = top.layers
    registers = {f"layer{k}.state": (1, len(layer.state_reg), 1, "reg")
                 for k, layer in enumerate(layers) if layer.state_reg is not None}
    found = dict(registers)
    for path, memory in _walk(Fragment.get(top, None)):
        parts = path.split(".")
        if parts[0] == "accelerator":               # inside a MembraneAccelerator
            parts = parts[1:]
        depth, width = memory._data.depth, Shape.cast(memory._data.shape).width
        ports = len(memory._read_ports)
        style = memory._attrs.get("ram_style") if memory._attrs else None
        head = parts[0]
        if head.startswith("layer"):
            role = parts[1]
            if role == "serializer":
                continue                             # the serializer's two-entry queue
            name, kind = {
                "weights": ("weights", "block" if style == "block" else "lut"),
                "state": ("state", "ram"), "biases": ("bias", "rom"),
                "params": ("params", "rom"), "words": ("words", "async"),
                "classes": ("classes", "async"),
            }[role]
            found[f"{head}.{name}"] = (depth, width, ports, kind)
        elif head.startswith("fifo"):
            found[head] = (depth, width, ports, "ram")
        elif head == "frontend" and parts[1] == "buffer":
            found["rate_coder"] = (depth, width, ports, "ram")
    return found


CASES = list(itertools.product(
    (0, 1, 4),                                    # parallelism
    (1, 2),                                       # events per cycle
    ("events", "rate", "direct"),                 # coding
    ("lif", "cuba", "recurrent", "per_neuron", "membrane", "no_bias"),
))


@pytest.mark.parametrize("parallelism,events,coding,variant", CASES)
def test_plan_matches_the_elaborated_accelerator(parallelism, events, coding, variant):
    rng = np.random.default_rng(parallelism * 100 + events * 10 + len(variant))
    net = network(rng, cuba=variant == "cuba", recurrent=variant == "recurrent",
                  per_neuron=variant == "per_neuron", bias=variant != "no_bias",
                  readout="membrane" if variant == "membrane" else "spikes")
    qnet = quantize(net, weight_bits=6, beta_bits=6,
                    hardware=HardwareConfig(parallelism=parallelism, events_per_cycle=events,
                                            fifo_depth=8),
                    coding=InputCoding(coding, steps=0 if coding == "events" else 4))
    try:
        plan = plan_network(qnet)
    except SpikegenError as exc:
        # what the hardware cannot build is refused by the plan, before anything is built
        assert (coding == "direct" and variant in ("cuba", "recurrent", "per_neuron")), exc
        return
    top = accelerator(qnet, plan)
    for component, layer_plan in zip(top.layers, plan.layers):
        assert component.plan == layer_plan
    planned = {m.name: (m.depth, m.width, m.read_ports, m.kind) for m in plan.memories()}
    assert built_memories(top) == planned


def test_plan_facts(rng):
    qnet = quantize(network(rng, sizes=(20, 10, 3)),
                    hardware=HardwareConfig(parallelism=4, events_per_cycle=2))
    plan = plan_network(qnet)
    first, last = plan.layers
    assert (first.lanes, first.groups, first.pad) == (4, 3, 2)
    assert (first.events, first.out_events, last.out_events) == (2, 2, 1)
    assert (last.lanes, last.groups) == (3, 1) and last.state_in_registers
    # 3 cycles of event pairs and 2 of the split end-of-step update, for each of 3 groups
    assert first.split_end_of_step and not last.tabulated
    assert first.step_cycles(5) == (3 + 1 + 1) * 3
    assert plan.kinds == ("dense", "dense")
    assert {m.width for m in plan.with_weight_bits(3).memories()
            if m.name.endswith(".weights")} == {4 * 3, 3 * 3}


def test_cycle_model_of_the_plan(rng):
    qnet = quantize(network(rng, sizes=(20, 10, 3)),
                    hardware=HardwareConfig(parallelism=5, events_per_cycle=2))
    plan = plan_network(qnet)
    events = [np.array([[4, 0]]), np.array([[3, 1]]), np.array([[2, 0]])]
    cycles = plan.cycle_estimate(events)
    # layer 0: (ceil(4/2) + 1 + 1) * 2 groups = 8 and (0 + 1 + 1) * 2 = 4 (a split
    # end-of-step update); layer 1's serializer input: 3 + 1 and 1 + 1; layer 1:
    # (2 + 1 + 1) * 1 and (1 + 1 + 1) * 1
    assert [layer.split_end_of_step for layer in plan.layers] == [True, True]
    assert cycles["per_step_mean"] == (8 + 4) / 2
    assert cycles["groups"] == [2, 1]
    # drain: the later stages of the last step (2 + 3), its output spikes (0), 5 per layer
    assert cycles["per_inference_mean"] == 8 + 4 + 5 + 0 + 10


def test_every_stage_knows_every_layer_kind():
    kinds = set(PLANNERS.kinds)
    for registry in (QUANTIZERS, MODELS, ASSEMBLERS, LOGIC, LAYER_ROWS, FANOUT, WORK):
        assert set(registry.kinds) == kinds, registry.stage


def test_an_unknown_layer_kind_is_named():
    class Odd:
        kind = "odd"

    with pytest.raises(SpikegenError, match=r"no hardware plan for odd layers \(supported: "
                                            r"conv2d, dense\)"):
        PLANNERS.lookup(Odd())
