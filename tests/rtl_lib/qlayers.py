"""Random quantized layers built directly in the IR, for the hardware tests."""
import numpy as np


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
