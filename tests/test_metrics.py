"""NeuroBench's metrics counted in the reference (spikegen.metrics) and the energy estimate
(spikegen.energy): hand-counted small cases, and NeuroBench's own metrics on the same
snnTorch model."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from spikegen.energy import FAMILIES, activity, estimate
from spikegen.ir import HardwareConfig, QNetwork
from spikegen.metrics import FANOUT, connections, footprint, neurobench_metrics, \
    static_metrics, workload
from spikegen.plan import plan_network
from spikegen.quantize import quantize
from spikegen.reference import simulate

from helpers.networks import random_network, random_qlayer
from helpers.snntorch_models import load_state_dict, model


def _qnet(layers, parallelism=0, events=1):
    return QNetwork(tuple(layers), hardware=HardwareConfig(parallelism=parallelism,
                                                           events_per_cycle=events))


def test_hand_counted_synaptic_operations(rng):
    """Input 0 reaches one nonzero weight, input 1 none, input 2 two; events 0 and 1 at
    step 0 and 2 at step 1 cost 1 + 0 + 2 accumulates."""
    layer = random_qlayer(rng, 3, 2, bias=False)
    layer = replace(layer, weight=np.array([[5, 0, 7], [0, 0, 7]]))
    qnet = _qnet([layer])
    spikes = np.array([[[1, 1, 0], [0, 0, 1]]], dtype=np.uint8)
    found = workload(qnet, spikes, simulate(qnet, spikes, record=True))
    assert found["synaptic_operations"] == {"effective_acs": 3.0, "effective_macs": 0.0,
                                            "dense": 12.0}
    assert found["layers"][0]["input_events"] == 3.0
    assert connections(qnet)[0].zeros == 3
    assert static_metrics(qnet, random_network(rng, (3, 2)), plan_network(qnet))[
        "connection_sparsity"] == 0.5


def test_recurrent_spikes_are_events_of_the_next_step(rng):
    layer = random_qlayer(rng, 2, 2, recurrent="all", bias=False)
    layer = replace(layer, weight=np.array([[1, 0], [0, 0]]),
                    recurrent=np.array([[1, 1], [0, 1]]))
    qnet = _qnet([layer])
    spikes = (rng.random((3, 6, 2)) < 0.5).astype(np.uint8)
    result = simulate(qnet, spikes, record=True)
    own = result.layers[0].spikes[:, :-1]
    # input 0 reaches one weight, input 1 none; neuron 0 reaches one, neuron 1 two
    want = spikes[..., 0].sum() + own[..., 0].sum() + 2 * own[..., 1].sum()
    got = workload(qnet, spikes, result)["synaptic_operations"]["effective_acs"]
    assert got == pytest.approx(want / 3)


def test_activation_sparsity_and_footprint(rng):
    net = random_network(rng, (12, 9, 4), beta=0.875, scale=0.6, mean=0.2)
    qnet = quantize(net, hardware=HardwareConfig(parallelism=3))
    spikes = (rng.random((10, 8, 12)) < 0.3).astype(np.uint8)
    result = simulate(qnet, spikes, record=True)
    fired = result.layers[0].spikes.sum() + result.layers[1].spikes.sum()
    found = neurobench_metrics(qnet, net, plan_network(qnet), spikes, result)
    assert found["activation_sparsity"] == pytest.approx(1 - fired / (10 * 8 * (9 + 4)))
    # 12*9 + 9*4 weights, 9 + 4 biases, per layer beta, threshold and snnTorch's two scalars
    assert found["footprint_float32_bytes"] == 4 * (108 + 36 + 13 + 2 * 4)
    plan = plan_network(qnet)
    assert found["footprint_bits"] == sum(m.depth * m.width for m in plan.memories())
    assert footprint(net, plan)["footprint_bits"] < 32 * (108 + 36 + 13)


def test_neurobench_counts_the_same_on_the_snntorch_model(tmp_path, rng):
    """NeuroBench's SynapticOperations and ActivationSparsity, run with its hooks on the
    snnTorch model, equal spikegen's counts in the bit-exact reference (exactly representable
    weights: the reference equals snnTorch spike for spike)."""
    workload_metrics = pytest.importorskip("neurobench.metrics.workload",
                                           reason="neurobench (the dev extra) is not installed")
    from neurobench.models import SNNTorchModel

    SynapticOperations = workload_metrics.SynapticOperations
    ActivationSparsity = workload_metrics.ActivationSparsity

    net = model("leaky", rng, sizes=(10, 7, 4))

    class Steps(torch.nn.Module):
        """Runs the snnTorch model over the steps: (batch, steps, in) -> (steps, batch,
        out), as NeuroBench's custom_forward expects."""
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, data):
            for layer in self.net[1::2]:
                layer.reset_mem()
            return torch.stack([self.net(data[:, t]) for t in range(data.shape[1])])

    spikes = (rng.random((12, 6, 10)) < 0.4).astype(np.uint8)
    wrapped = SNNTorchModel(Steps(net), custom_forward=True)
    wrapped.register_hooks()
    data = (torch.tensor(spikes, dtype=torch.float32), torch.zeros(12))
    with torch.no_grad():
        preds = wrapped(data[0])
    synops = SynapticOperations()(wrapped, preds, data)
    sparsity = ActivationSparsity()(wrapped, preds, data)

    qnet = quantize(load_state_dict(tmp_path, net), mem_frac_bits=12, mem_bits=40)
    result = simulate(qnet, spikes, record=True)
    ours = workload(qnet, spikes, result)
    assert synops["Effective_ACs"] > 0
    assert ours["synaptic_operations"]["effective_acs"] == pytest.approx(
        synops["Effective_ACs"])
    assert ours["synaptic_operations"]["dense"] == pytest.approx(synops["Dense"])
    assert ours["activation_sparsity"] == pytest.approx(sparsity)


def test_direct_coding_counts_multiply_accumulates(rng):
    from spikegen.ir import InputCoding

    net = random_network(rng, (6, 3))
    qnet = quantize(net, coding=InputCoding("direct", steps=4))
    pixels = np.array([[0, 10, 0, 200, 0, 0], [1, 0, 0, 0, 0, 0]])
    found = workload(qnet, pixels, simulate(qnet, pixels, record=True))
    fanout = np.count_nonzero(qnet.layers[0].weight, axis=0)
    assert found["synaptic_operations"]["effective_macs"] == (fanout[1] + fanout[3]
                                                              + fanout[0]) / 2
    assert found["synaptic_operations"]["effective_acs"] == 0


def test_energy_activity_is_counted_from_the_plan(rng):
    """One layer of 4 neurons on 2 lanes (2 groups): each event reads a 2-lane weight row per
    group; each pass (per event, and one per step) touches both groups."""
    layer = random_qlayer(rng, 3, 4, bias=False, weight_bits=5)
    plan = plan_network(_qnet([layer], parallelism=2))
    events = [np.array([[2, 0, 1]]), np.array([[1, 1, 0]])]
    row, = activity(plan, events)
    assert row["weight_read_bits"] == 3 * 2 * 2 * 5
    assert row["additions"] == (3 + 1 + 2) * 2 * 2           # passes x groups x lanes
    assert row["state_bits"] == (3 + 1 + 2) * 2 * 2 * plan.layers[0].lane_state_bits
    assert row["spikes"] == 2


def test_energy_estimate_adds_static_power_over_the_latency(rng):
    layer = random_qlayer(rng, 3, 4, bias=False)
    plan = plan_network(_qnet([layer]))
    events = [np.array([[2, 0, 1]]), np.array([[1, 1, 0]])]
    slow = estimate(plan, events, family="xc7", part="xc7a35ticsg324-1L", clock_hz=10**6,
                    cycles=100, ffs=50)
    fast = estimate(plan, events, family="xc7", part="xc7a35ticsg324-1L", clock_hz=10**8,
                    cycles=100, ffs=50)
    assert slow["label"] == "estimate"
    assert slow["dynamic_uj"] == fast["dynamic_uj"]
    assert slow["static_uj"] == pytest.approx(100 * fast["static_uj"])
    assert slow["static_uj"] == pytest.approx(0.07 * 100e-6 * 1e6)
    low, high = slow["range_uj"]
    assert low < slow["energy_uj"] < high
    assert estimate(plan, events, family="xc7", part="unknown", clock_hz=1, cycles=1,
                    ffs=1) is None
    assert set(FAMILIES) == {"xc7", "ecp5", "ice40"}


def test_every_eval_report_has_neurobench_and_energy(tmp_path, rng):
    import spikegen
    from spikegen.compiler import BuildOptions, build
    from spikegen.report import summary

    net = tmp_path / "net.pt"
    spikegen.save(random_network(rng, (12, 9, 4), scale=0.6, mean=0.2), net)
    data = tmp_path / "eval.npz"
    np.savez(data, spikes=(rng.random((10, 8, 12)) < 0.3).astype(np.uint8),
             labels=rng.integers(0, 4, 10))
    b = build(BuildOptions(source=str(net), out=str(tmp_path / "b"), eval=str(data),
                           parallelism=3, hdl="verilog"))
    nb, energy = b.report["neurobench"], b.report["energy"]
    assert nb["footprint_bits"] == b.report["memory"]["total_bits"]
    assert nb["synaptic_operations"]["effective_acs"] > 0
    assert energy["label"] == "estimate" and energy["part"] == "xc7a35t"
    assert energy["activity"]["cycles"] == round(b.report["cycles"]["per_inference_mean"], 3)
    assert energy["static_uj"] == pytest.approx(
        0.07 * b.report["latency_us_estimate"], rel=1e-4)
    text = summary(b.report)
    assert "NeuroBench: footprint" in text and "synaptic ACs" in text
    assert "energy (estimate, xc7a35t)" in text
    # without a board there is no clock nor part: the metrics stay, the energy goes
    b = build(BuildOptions(source=str(net), out=str(tmp_path / "c"), eval=str(data),
                           board=None, hdl="verilog"))
    assert "neurobench" in b.report and "energy" not in b.report


def test_conv_fanout_by_taps(rng):
    """An event at (y, x, c) reaches, at each tap its row and column give, the output
    channels with a nonzero weight there (counted here tap by tap)."""
    from rtl_lib.conv_geometry import ConvGeometry
    from spikegen.ir import FixedFormat, QConvLayer, QLIF

    g = ConvGeometry(in_hw=(6, 5), in_channels=2, out_channels=3, kernel=(3, 2),
                     out_hw=(2, 2), stride=(2, 1), padding=(1, 0), pool=2)
    weight = rng.integers(-2, 3, (3, 2, 3, 2))
    layer = QConvLayer(weight, None, FixedFormat(4, 2), FixedFormat(8, 3),
                       QLIF(threshold=20, decay=0, decay_bits=4), g)
    found = FANOUT(layer)
    for i in range(layer.inputs):
        y, x, c = g.coordinates(i)
        want = sum(np.count_nonzero(weight[:, c, ky, kx])
                   for ky, _ in g.row_taps(y) for kx, _ in g.col_taps(x))
        assert found.fanout[i] == want, i
    assert found.zeros == np.count_nonzero(weight == 0) and found.weights == weight.size
    assert found.dense == sum(len(g.row_taps(g.coordinates(i)[0]))
                              * len(g.col_taps(g.coordinates(i)[1])) * 3
                              for i in range(layer.inputs))
