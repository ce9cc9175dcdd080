"""The float network as snnTorch runs it: the accuracy the user trained for."""
import numpy as np


__all__ = ["to_snntorch", "run_float"]


def to_snntorch(net, *, spike_grad=None):
    """An ``nn.Sequential`` of ``nn.Linear`` and ``snntorch.Leaky`` equal to ``net``.

    Weights are stored as float32 (what :func:`spikegen.save` writes); ``spike_grad`` is the
    Leaky layers' surrogate gradient (snnTorch's default when ``None``), for further training.
    """
    import snntorch
    import torch
    from torch import nn

    modules = []
    for layer in net.layers:
        linear = nn.Linear(layer.inputs, layer.outputs, bias=layer.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.asarray(layer.weight, dtype=np.float32)))
            if layer.bias is not None:
                linear.bias.copy_(torch.from_numpy(np.asarray(layer.bias, dtype=np.float32)))
        n = layer.neuron
        modules += [linear, snntorch.Leaky(beta=n.beta, threshold=n.threshold,
                                           reset_mechanism=n.reset, reset_delay=n.reset_delay,
                                           init_hidden=True, spike_grad=spike_grad)]
    return nn.Sequential(*modules)


def run_float(net, spikes, *, batch=512, steps=None):
    """Output spikes (samples, steps, outputs) of snnTorch's forward pass on ``spikes``.

    With ``steps`` given, ``spikes`` is instead a constant input (samples, inputs) of floats
    applied at every one of ``steps`` time steps (direct, or "current", input).
    """
    import snntorch
    import torch

    model = to_snntorch(net).eval()
    spikes = np.asarray(spikes)
    direct = steps is not None
    steps = steps if direct else spikes.shape[1]
    out = np.zeros((spikes.shape[0], steps, net.outputs), dtype=np.uint8)
    with torch.no_grad():
        for start in range(0, spikes.shape[0], batch):
            chunk = torch.from_numpy(spikes[start:start + batch].astype(np.float32))
            for module in model.modules():
                if isinstance(module, snntorch.Leaky):
                    module.reset_mem()
            for t in range(steps):
                x = chunk if direct else chunk[:, t]
                out[start:start + batch, t] = model(x).numpy() > 0
    return out
