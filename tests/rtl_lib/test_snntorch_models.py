"""snnTorch models, loaded and quantized as users do, through the accelerator in Amaranth's
simulator: spike for spike and class for class against the reference (the reference is
checked against snnTorch itself in tests/test_models.py)."""
import numpy as np
import pytest

pytest.importorskip("snntorch")

from spikegen.ir import HardwareConfig                          # noqa: E402
from spikegen.quantize import quantize                          # noqa: E402
from helpers.accelerator import check                           # noqa: E402
from helpers.snntorch_models import KINDS, load_state_dict, model  # noqa: E402


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reset,delay", [("subtract", True), ("zero", False)])
def test_snntorch_model_on_the_accelerator(tmp_path, rng, kind, reset, delay):
    if kind.startswith("rsynaptic") and not delay:
        delay = True                         # RSynaptic ignores reset_delay=False: refused
    net = load_state_dict(tmp_path, model(kind, rng, reset, delay,
                                          per_neuron=kind in ("synaptic", "rleaky_one")))
    e = 1 + (reset == "zero")
    qnet = quantize(net, hardware=HardwareConfig(max_steps=15, events_per_cycle=e))
    spikes = (rng.random((4, 8, net.inputs)) < 0.5).astype(np.uint8)
    check(qnet, spikes, overlap=True)


@pytest.mark.parametrize("kind", ["leaky", "synaptic"])
def test_snntorch_membrane_readout_on_the_accelerator(tmp_path, rng, kind):
    net = load_state_dict(tmp_path, model(kind, rng, "none"), readout="membrane")
    qnet = quantize(net, hardware=HardwareConfig(parallelism=2, max_steps=15))
    spikes = (rng.random((4, 8, net.inputs)) < 0.5).astype(np.uint8)
    check(qnet, spikes)
