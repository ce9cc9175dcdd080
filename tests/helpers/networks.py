"""Random networks for the tests: float networks and cases through the quantizer, and
quantized layers built directly in the IR for the hardware tests."""
import numpy as np

from spikegen.ir import LIF, DenseLayer, HardwareConfig, Network
from spikegen.quantize import quantize


def random_network(rng, sizes, *, beta=0.9, threshold=1.0, reset="subtract", reset_delay=True,
                   bias=True, scale=0.5, mean=0.05):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        weight = rng.normal(mean, scale, (b, a))
        layers.append(DenseLayer(weight, rng.normal(0, 0.1, b) if bias else None,
                                 LIF(beta=beta, threshold=threshold, reset=reset,
                                     reset_delay=reset_delay)))
    return Network(tuple(layers), name="random")


def random_case(seed):
    """A random quantized network and input: shapes, widths, beta, reset, P, FIFO depth."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(3, 20)) for _ in range(depth + 1)]
    net = random_network(rng, sizes, beta=float(rng.choice([1.0, 0.9375, 0.9, 0.6, 0.0])),
                         reset=str(rng.choice(["subtract", "zero", "none"])),
                         reset_delay=bool(rng.integers(2)), bias=bool(rng.integers(2)),
                         scale=0.7, mean=0.2)
    hardware = HardwareConfig(parallelism=int(rng.choice([0, 1, 2, 3, 5])), max_steps=15,
                              fifo_depth=int(rng.choice([2, 4, 16])))
    options = dict(weight_bits=int(rng.integers(3, 9)), beta_bits=int(rng.integers(3, 9)),
                   mem_frac_bits=int(rng.integers(0, 3)), hardware=hardware)
    if rng.integers(2):
        # a narrow membrane that saturates: just wide enough for the thresholds
        widest = max(layer.neuron.threshold for layer in quantize(net, **options).layers)
        options["mem_bits"] = widest.bit_length() + 1 + int(rng.integers(0, 3))
    qnet = quantize(net, **options)
    spikes = (rng.random((4, int(rng.integers(3, 10)), sizes[0]))
              < rng.uniform(0.1, 0.6)).astype(np.uint8)
    return qnet, spikes


def random_qlayer(rng, n_in, n_out, *, cuba=False, reset="subtract", delay=True,
                  per_neuron=False, recurrent=None, bias=True, mem_bits=7, syn_bits=8,
                  weight_bits=5, shift=1, mean=1.0):
    """A quantized layer with random integer parameters, built directly in the IR."""
    from spikegen.ir import FixedFormat, QCubaLIF, QDenseLayer, QLIF

    wf, mf = FixedFormat(weight_bits, 2), FixedFormat(mem_bits, 2 + shift)
    sf = FixedFormat(syn_bits, 2 + shift) if cuba else None
    top = 1 << (weight_bits - 1)
    weight = np.clip(np.rint(rng.normal(mean, top / 2, (n_out, n_in))), -top, top - 1)
    size = n_out if per_neuron else None
    threshold = rng.integers(3, mf.max // 2, size)
    decay = rng.integers(0, 17, size)
    if per_neuron:
        decay[0] = 16                        # beta = 0 on one neuron, beta = 1 on another
        decay[-1] = 0
    acc = sf or mf
    b = rng.integers(acc.min // 8, acc.max // 4, n_out) if bias else None
    if cuba:
        neuron = QCubaLIF(threshold=threshold, decay=decay, syn_decay=rng.integers(0, 17, size),
                          decay_bits=4, reset=reset, reset_delay=delay)
    else:
        neuron = QLIF(threshold=threshold, decay=decay, decay_bits=4, reset=reset,
                      reset_delay=delay)
    v = None
    if recurrent == "all":
        v = np.clip(np.rint(rng.normal(-0.5, top / 2, (n_out, n_out))), -top, top - 1)
    elif recurrent == "one":
        v = np.diag(rng.integers(-top, top, n_out))
    return QDenseLayer(weight.astype(np.int64), b, wf, mf, neuron,
                       None if v is None else v.astype(np.int64), sf)


def saved_network_and_data(directory, samples, steps):
    """A small 12-9-4 network saved as ``net.pt`` in ``directory``, and evaluation data
    (``samples`` spike trains of ``steps`` steps, with labels) as ``eval.npz``: the paths."""
    import spikegen

    rng = np.random.default_rng(5)
    path = directory / "net.pt"
    spikegen.save(random_network(rng, (12, 9, 4), beta=0.875, scale=0.6, mean=0.2), path)
    data = directory / "eval.npz"
    np.savez(data, spikes=(rng.random((samples, steps, 12)) < 0.3).astype(np.uint8),
             labels=rng.integers(0, 4, samples))
    return path, data
