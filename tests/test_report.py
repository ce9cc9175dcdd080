"""The report reads the hardware plan: memory rows, the resource estimate and the cycle
model come from the same object the components are built from."""
import numpy as np

from spikegen.compiler import BuildOptions
from spikegen.fit import core_logic
from spikegen.ir import HardwareConfig, InputCoding
from spikegen.plan import plan_network
from spikegen.quantize import quantize
from spikegen.report import memory_estimate, options_tree, resource_estimate, summary

from helpers.networks import random_network


def _plan(**hardware):
    rng = np.random.default_rng(3)
    qnet = quantize(random_network(rng, (300, 40, 10)), hardware=HardwareConfig(**hardware),
                    coding=InputCoding("rate", steps=4))
    return plan_network(qnet)


def test_memory_rows_are_the_plans_memories():
    plan = _plan(parallelism=8, events_per_cycle=2, fifo_depth=16)
    found = memory_estimate(plan)
    memories = {m.name: m.depth * m.width for m in plan.memories()}
    first, last = found["layers"]
    assert first["weights"] == memories["layer0.weights"] == 300 * 5 * 8 * 8
    assert first["weight_memory"] == "block" and last["weight_memory"] == "logic"
    assert first["state"] == memories["layer0.state"]
    assert first["bias"] == memories["layer0.bias"] and last["bias"] == memories["layer1.bias"]
    assert first["spike_queue"] == memories["layer0.words"]
    assert first["event_fifo"] == memories["fifo0"] and last["event_fifo"] == 0
    assert found["total_bits"] == sum(memories.values()) - memories["rate_coder"]
    # 1,500 words of 64 bits through two ports: RAMB18s of 1,024 x 18, 2 deep, 4 wide
    assert first["weight_ramb36"] == 2 * 4 / 2 == found["bram36_estimate"]
    parallel = memory_estimate(_plan(parallelism=0))["layers"]
    assert [row["bias"] for row in parallel] == [0, 0]    # biases are constants of the lanes


def test_resource_estimate_is_the_fit_checks_model():
    plan = _plan(parallelism=4)
    estimate = resource_estimate(plan)
    assert (estimate["lut"], estimate["ff"]) == core_logic(plan, host_link=False)
    luts, ffs = core_logic(plan)
    assert luts > estimate["lut"] and ffs > estimate["ff"]        # plus the host link


def test_options_tree_keeps_what_the_build_was_told():
    tree = options_tree(BuildOptions(source="/somewhere/net.pt", out="/tmp/build", board=None))
    assert tree["source"] == "net.pt" and "out" not in tree and tree["board"] is None


def test_summary_names_every_layer():
    tree = {
        "spikegen": "0", "network": {"name": "n", "shape": [4, 3], "layers": [{
            "kind": "dense", "model": "QLIF", "inputs": 4, "outputs": 3,
            "weight_format": "s8.7", "mem_format": "s10.9", "threshold_built": 1.0,
            "beta": 0.5, "beta_built": 0.5, "leak": "shift", "reset": "subtract",
            "reset_delay": True, "lanes": 3}]},
        "coding": {"kind": "events"}, "quantization_notes": [],
        "memory": {"total_bits": 100, "bram36_estimate": 0},
        "resources_estimate": {"lut": 10, "ff": 20, "bram36": 0},
    }
    text = summary(tree)
    assert "layer 0: 4->3  weights s8.7  membrane s10.9" in text
    assert "P=3" in text
    assert "core estimate (7-series, without the host link): ~10 LUT6, ~20 FF" in text
    assert "formats sB.F: signed B-bit integers with F fraction bits" in text
    # a board's fit in its family's own units, and no 7-series units for it
    fitted = summary({**tree, "fit_estimate": {
        "board": "icebreaker", "family": "ice40", "luts": 3000, "ffs": 900, "bram": 12,
        "lut_name": "LUT4", "bram_name": "EBR", "shares": {"luts": 0.57, "bram": 0.4}}})
    assert "fit on the icebreaker (estimate, with the host link): ~3,000 LUT4, ~900 FF, " \
        "~12 EBR; 57% of the part at most" in fitted
    assert "RAMB36" not in fitted and "LUT6" not in fitted
    zero_all = summary({**tree, "network": {**tree["network"], "layers": [
        {**tree["network"]["layers"][0], "reset": "zero_all"}]}})
    assert "reset zero (the whole step after a spike" in zero_all and "zero_all" not in zero_all


def test_summary_says_which_conventions_a_graph_was_read_with():
    tree = {
        "spikegen": "0", "network": {"name": "n", "shape": [4, 3], "layers": [],
                                     "source": "NIR graph (snnTorch export)",
                                     "conventions": ["dt 0.0001, reset subtract"]},
        "coding": {"kind": "events"}, "quantization_notes": [],
        "memory": {"total_bits": 100, "bram36_estimate": 0},
        "resources_estimate": {"lut": 10, "ff": 20, "bram36": 0},
    }
    assert "  read as: dt 0.0001, reset subtract" in summary(tree)
