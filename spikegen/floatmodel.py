"""The float network as snnTorch runs it: the accuracy the user trained for."""
import numpy as np

from .errors import SpikegenError
from .ir import CubaLIF


__all__ = ["to_snntorch", "run_float", "snntorch_layer"]


def _tensor(value):
    import torch

    return torch.as_tensor(np.asarray(value, dtype=np.float32))


def snntorch_layer(layer, *, spike_grad=None, init_hidden=True):
    """The snnTorch neuron layer computing ``layer``'s neurons: ``Leaky``, ``Synaptic``,
    ``RLeaky`` or ``RSynaptic`` (recurrent weights as an all-to-all ``nn.Linear`` without
    bias, since the IR folds that bias into the layer's)."""
    import snntorch
    import torch

    n = layer.neuron
    cuba = isinstance(n, CubaLIF)
    recurrent = layer.recurrent is not None
    # snnTorch's Leaky resets the carried membrane; its other layers the whole step
    native = "zero_all" if (cuba or recurrent) else "zero"
    other = "zero" if native == "zero_all" else "zero_all"
    if n.reset == other:
        kind = ("RSynaptic" if recurrent else "Synaptic") if cuba else \
            ("RLeaky" if recurrent else "Leaky")
        raise SpikegenError(f"snnTorch's {kind} has no reset mode {other!r} (its zero reset "
                            f"is {native!r})")
    mechanism = "zero" if n.reset == native else n.reset
    common = dict(beta=_tensor(n.beta), threshold=_tensor(n.threshold),
                  reset_mechanism=mechanism, init_hidden=init_hidden, spike_grad=spike_grad)
    if cuba:
        common["alpha"] = _tensor(n.alpha)
    if not recurrent:
        cls = snntorch.Synaptic if cuba else snntorch.Leaky
        return cls(reset_delay=n.reset_delay, **common)
    if cuba and not n.reset_delay:
        raise SpikegenError("snnTorch 1.0's RSynaptic does not implement reset_delay=False")
    cls = snntorch.RSynaptic if cuba else snntorch.RLeaky
    module = cls(linear_features=layer.outputs, reset_delay=n.reset_delay, **common)
    with torch.no_grad():
        module.recurrent.weight.copy_(_tensor(layer.recurrent))
        module.recurrent.bias.zero_()
    return module


def to_snntorch(net, *, spike_grad=None):
    """An ``nn.Sequential`` of ``nn.Linear`` and snnTorch neuron layers equal to ``net``.

    Weights are stored as float32 (what :func:`spikegen.save` writes); ``spike_grad`` is the
    neuron layers' surrogate gradient (snnTorch's default when ``None``), for further training.
    """
    import torch
    from torch import nn

    modules = []
    for layer in net.layers:
        linear = nn.Linear(layer.inputs, layer.outputs, bias=layer.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.asarray(layer.weight, dtype=np.float32)))
            if layer.bias is not None:
                linear.bias.copy_(torch.from_numpy(np.asarray(layer.bias, dtype=np.float32)))
        modules += [linear, snntorch_layer(layer, spike_grad=spike_grad)]
    return nn.Sequential(*modules)


def run_float(net, spikes, *, batch=512, steps=None, membrane=False):
    """Output spikes (samples, steps, outputs) of snnTorch's forward pass on ``spikes``.

    With ``steps`` given, ``spikes`` is instead a constant input (samples, inputs) of floats
    applied at every one of ``steps`` time steps (direct, or "current", input). With
    ``membrane``, also the last layer's membrane after the last step (samples, outputs):
    ``(spikes, membrane)``.
    """
    import torch
    from snntorch._neurons.neurons import SpikingNeuron

    model = to_snntorch(net).eval()
    spikes = np.asarray(spikes)
    direct = steps is not None
    steps = steps if direct else spikes.shape[1]
    out = np.zeros((spikes.shape[0], steps, net.outputs), dtype=np.uint8)
    final = np.zeros((spikes.shape[0], net.outputs))
    neurons = [module for module in model.modules() if isinstance(module, SpikingNeuron)]
    with torch.no_grad():
        for start in range(0, spikes.shape[0], batch):
            chunk = torch.from_numpy(spikes[start:start + batch].astype(np.float32))
            for module in neurons:
                module.reset_mem()
            for t in range(steps):
                x = chunk if direct else chunk[:, t]
                out[start:start + batch, t] = model(x).numpy() > 0
            final[start:start + batch] = neurons[-1].mem.numpy()
    return (out, final) if membrane else out
