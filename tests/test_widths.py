"""State widths that hold for the whole run (:mod:`spikegen.widths`): the bound over the steps
a build serves, its calibration on evaluation data, and what the report says about both."""
import numpy as np
import pytest
import snntorch
import torch
from torch import nn

from spikegen.compiler import BuildOptions, build
from spikegen.errors import SpikegenError
from spikegen.ir import HardwareConfig, InputCoding
from spikegen.quantize import membrane_bits, quantize
from spikegen.reference import simulate
from spikegen.report import summary
from spikegen.widths import MAX_STATE_BITS, bits_for, served_steps, state_bounds

from helpers.networks import random_qlayer


def grid(rng, shape, lo=-6, hi=8):
    """Multiples of 1/8: exact in float32 and in fixed point."""
    return torch.tensor(rng.integers(lo, hi, shape) / 8.0, dtype=torch.float32)


def if_model(rng, *, recurrent=False, sizes=(24, 16, 6)):
    """Integrate-and-fire (beta = 1) layers with subtract reset, threshold 1, as ANN-to-SNN
    conversion makes them; the hidden layer recurrent (RLeaky, all to all) if asked."""
    modules = []
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(a, b)
        with torch.no_grad():
            linear.weight.copy_(grid(rng, (b, a)))
            linear.bias.copy_(grid(rng, b, -1, 2))
        common = dict(beta=1.0, threshold=1.0, reset_mechanism="subtract", init_hidden=True)
        if recurrent and k == 0:
            neuron = snntorch.RLeaky(linear_features=b, **common)
            with torch.no_grad():
                neuron.recurrent.weight.copy_(grid(rng, (b, b), -3, 3))
                neuron.recurrent.bias.copy_(grid(rng, b, -1, 1))
        else:
            neuron = snntorch.Leaky(**common)
        modules += [linear, neuron]
    return nn.Sequential(*modules)


def if_build(tmp_path, recurrent, **options):
    rng = np.random.default_rng(3 if recurrent else 2)
    torch.save(if_model(rng, recurrent=recurrent).state_dict(), tmp_path / "net.pt")
    spikes = (rng.random((40, 64, 24)) < 0.35).astype(np.uint8)
    np.savez(tmp_path / "eval.npz", spikes=spikes, labels=np.zeros(40, np.int64))
    return build(BuildOptions(source=str(tmp_path / "net.pt"), out=str(tmp_path / "build"),
                              board=None, eval=str(tmp_path / "eval.npz"), hdl="verilog",
                              **options))


@pytest.mark.parametrize("recurrent", [False, True], ids=["dense", "recurrent"])
def test_integrate_and_fire_equals_snntorch_at_default_options(tmp_path, recurrent):
    built = if_build(tmp_path, recurrent)
    ev = built.report["evaluation"]
    assert ev["output_spike_agreement"] == 1.0
    assert ev["saturated_additions"] == 0
    layers = built.report["network"]["layers"]
    assert all(layer["fidelity"] == {"saturated_additions": 0, "spike_agreement": 1.0}
               for layer in layers)
    assert all(layer["widths"]["chosen_by"] == "calibration" for layer in layers)
    assert ev["diagnosis"]["text"] == "the output spikes equal the float model's"
    # the single-step analysis the widths came from before saturates on the same data
    layer = built.qnet.layers[0]
    one_step = membrane_bits(np.concatenate(
        [layer.weight] + ([layer.recurrent] if layer.recurrent is not None else []),
        axis=1) << layer.shift, layer.bias, layer.neuron.threshold)
    narrow = quantize(built.network, mem_bits=one_step, coding=built.qnet.coding)
    assert simulate(narrow, built.eval.inputs, record=True).saturations > 0


def test_a_given_width_that_saturates_says_so_per_layer(tmp_path):
    built = if_build(tmp_path, False, mem_bits=12)
    rows = built.report["network"]["layers"]
    assert rows[0]["widths"]["chosen_by"] == "mem_bits"
    saturating = [row for row in rows if row["fidelity"]["saturated_additions"]]
    assert saturating
    text = summary(built.report)
    needed = saturating[0]["widths"]["needed"]
    assert needed > 12
    assert f"--mem-bits {needed} avoids them on this data" in text
    diagnosis = built.report["evaluation"]["diagnosis"]
    assert diagnosis["cause"] == "saturation"
    assert "mostly from saturation: drop --mem-bits" in text


def test_the_bound_grows_with_the_steps_for_integrate_and_fire():
    qlayer = random_qlayer(np.random.default_rng(0), 8, 4)
    lo, hi = np.full(4, -100), np.full(4, 60)
    neuron = qlayer.neuron.__class__(threshold=200, decay=0, decay_bits=8, reset="subtract")
    (one_lo, one_hi), _ = state_bounds(lo, hi, neuron, 1)
    (many_lo, many_hi), _ = state_bounds(lo, hi, neuron, 255)
    assert many_lo <= -100 * 255 < one_lo
    # subtract reset: one step adds less than a threshold, so the top does not climb
    assert many_hi == one_hi == 200 + 60 + 1
    # a leak bounds it: beta = 1 - 32/256 sums at most 8 steps of input
    leaky = neuron.__class__(threshold=200, decay=32, decay_bits=8, reset="subtract")
    (leaky_lo, _), _ = state_bounds(lo, hi, leaky, 255)
    assert leaky_lo == (-100 - 1) * 8 - 200 - 1


def test_served_steps_are_the_coders_or_max_steps():
    assert served_steps(HardwareConfig(max_steps=100), InputCoding("events")) == 100
    assert served_steps(HardwareConfig(max_steps=100), InputCoding("direct", steps=25)) == 25
    assert bits_for(-128, 127) == 8 and bits_for(-129, 0) == 9 and bits_for(0, 128) == 9


def test_a_state_wider_than_the_hardware_is_refused(tmp_path):
    rng = np.random.default_rng(4)
    torch.save(if_model(rng, sizes=(64, 8)).state_dict(), tmp_path / "net.pt")
    options = BuildOptions(source=str(tmp_path / "net.pt"), out=str(tmp_path / "build"),
                           board=None, weight_bits=16, mem_frac_bits=8, max_steps=65535)
    with pytest.raises(SpikegenError, match=rf"layer 0's membrane needs \d+ bits; the "
                                            rf"hardware builds at most {MAX_STATE_BITS}: give "
                                            r"evaluation data \(eval\) to calibrate it"):
        build(options)
