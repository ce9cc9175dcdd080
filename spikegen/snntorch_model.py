"""snnTorch models of spikegen networks, both ways: building one, and reading one back.

An snnTorch model here is an ``nn.Sequential`` alternating ``nn.Linear`` and snnTorch neuron
layers (``Leaky``, ``Synaptic``, ``RLeaky``, ``RSynaptic``). :func:`to_snntorch` builds one
holding a float :class:`~spikegen.ir.Network`'s values, :func:`untrained` one to train from
torch's initial weights, and :func:`network_from_module` reads an ``nn.Linear`` +
``snntorch.Leaky`` model back into a :class:`~spikegen.ir.Network` (what
:func:`spikegen.save` writes for a module and what :mod:`spikegen.qat` starts from).

Weights cross over as float32, which is what :func:`spikegen.save` stores, so a model built,
saved and loaded again holds the same values.
"""
import numpy as np

from .errors import SpikegenError
from .ir import LIF, DenseLayer, Network


__all__ = ["to_snntorch", "untrained", "snntorch_layer", "network_from_module",
           "reset_state", "RESET_NAMES"]


#: snnTorch's ``reset_mechanism_val`` -> spikegen's reset name.
RESET_NAMES = {0: "subtract", 1: "zero", 2: "none"}


def _tensor(value):
    import torch

    return torch.as_tensor(np.asarray(value, dtype=np.float32))


def _neuron_module(neuron, recurrent, *, spike_grad, init_hidden):
    import snntorch
    import torch

    cuba = neuron.current_based
    is_recurrent = recurrent is not None
    # snnTorch's Leaky resets the carried membrane; its other layers the whole step
    native = "zero_all" if (cuba or is_recurrent) else "zero"
    other = "zero" if native == "zero_all" else "zero_all"
    if neuron.reset == other:
        kind = ("RSynaptic" if is_recurrent else "Synaptic") if cuba else \
            ("RLeaky" if is_recurrent else "Leaky")
        raise SpikegenError(f"snnTorch's {kind} has no reset mode {other!r} (its zero reset "
                            f"is {native!r})")
    mechanism = "zero" if neuron.reset == native else neuron.reset
    common = dict(beta=_tensor(neuron.beta), threshold=_tensor(neuron.threshold),
                  reset_mechanism=mechanism, init_hidden=init_hidden, spike_grad=spike_grad)
    if cuba:
        common["alpha"] = _tensor(neuron.alpha)
    if not is_recurrent:
        cls = snntorch.Synaptic if cuba else snntorch.Leaky
        return cls(reset_delay=neuron.reset_delay, **common)
    if cuba and not neuron.reset_delay:
        raise SpikegenError("snnTorch 1.0's RSynaptic does not implement reset_delay=False")
    cls = snntorch.RSynaptic if cuba else snntorch.RLeaky
    module = cls(linear_features=recurrent.shape[0], reset_delay=neuron.reset_delay,
                 **common)
    with torch.no_grad():
        module.recurrent.weight.copy_(_tensor(recurrent))
        module.recurrent.bias.zero_()
    return module


def snntorch_layer(layer, *, spike_grad=None, init_hidden=True):
    """The snnTorch neuron layer computing ``layer``'s neurons: ``Leaky``, ``Synaptic``,
    ``RLeaky`` or ``RSynaptic`` (recurrent weights as an all-to-all ``nn.Linear`` without
    bias, since the IR folds that bias into the layer's)."""
    return _neuron_module(layer.neuron, layer.recurrent, spike_grad=spike_grad,
                          init_hidden=init_hidden)


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
            linear.weight.copy_(_tensor(layer.weight))
            if layer.bias is not None:
                linear.bias.copy_(_tensor(layer.bias))
        modules += [linear, snntorch_layer(layer, spike_grad=spike_grad)]
    return nn.Sequential(*modules)


def untrained(sizes, neuron, *, spike_grad=None):
    """An ``nn.Sequential`` to train: ``nn.Linear`` layers (with bias) in torch's initial
    state, each followed by the snnTorch layer of ``neuron``.

    Parameters
    ----------
    sizes : sequence of int
        Inputs, then the neurons of each layer.
    neuron : LIF or CubaLIF
        Every layer's neuron parameters.
    spike_grad : callable or None
        The surrogate gradient (snnTorch's default when ``None``).

    The linear layers draw their initial weights from torch's global generator in order, so
    ``torch.manual_seed`` before the call makes the model reproducible.
    """
    from torch import nn

    modules = []
    for inputs, outputs in zip(sizes, sizes[1:]):
        modules += [nn.Linear(inputs, outputs),
                    _neuron_module(neuron, None, spike_grad=spike_grad, init_hidden=True)]
    return nn.Sequential(*modules)


def reset_state(model):
    """Clear the membranes (and synaptic currents) of every snnTorch layer in ``model``,
    before a new batch of samples."""
    from snntorch._neurons.neurons import SpikingNeuron

    for module in model.modules():
        if isinstance(module, SpikingNeuron):
            module.reset_mem()


def _leaky_pairs(model):
    """``(nn.Linear, snntorch.Leaky)`` pairs of ``model`` in registration order."""
    import snntorch
    from torch import nn

    pairs, pending = [], None
    for child in model.modules():
        if isinstance(child, nn.Linear):
            if pending is not None:
                raise SpikegenError("two nn.Linear in a row; expected nn.Linear and "
                                    "snntorch.Leaky alternating")
            pending = child
        elif type(child) is snntorch.Leaky:
            if pending is None:
                raise SpikegenError("snntorch.Leaky without an nn.Linear before it")
            pairs.append((pending, child))
            pending = None
    if pending is not None or not pairs:
        raise SpikegenError("expected nn.Linear and snntorch.Leaky layers alternating, "
                            "ending with a Leaky")
    return pairs


def _one_value(label, value):
    value = value.detach().float().reshape(-1)
    if not bool((value == value[0]).all()):
        raise SpikegenError(f"per-neuron {label} values differ; one value per layer is "
                            "supported")
    return float(value[0])


def _array(tensor):
    return tensor.detach().float().double().cpu().numpy().copy()


def network_from_module(model, *, reset_delay=None, name="net"):
    """The float :class:`~spikegen.ir.Network` of an ``nn.Linear`` + ``snntorch.Leaky`` model.

    Values are exactly those :func:`spikegen.save` writes and :func:`spikegen.load` reads back
    (float32 weights, beta and threshold as stored), so quantizing the result gives the
    network ``spikegen build`` builds from the saved file.

    Parameters
    ----------
    model : torch.nn.Module
        ``nn.Linear`` and ``snntorch.Leaky`` layers alternating (in registration order),
        one beta and one threshold per Leaky layer.
    reset_delay : bool or None
        Every layer's reset delay; ``None`` takes each Leaky's own.
    name : str
        The network's name.

    Raises
    ------
    SpikegenError
        For any other arrangement of modules, or per-neuron values that differ.
    """
    layers = []
    for linear, leaky in _leaky_pairs(model):
        bias = None if linear.bias is None else _array(linear.bias)
        delay = bool(leaky.reset_delay) if reset_delay is None else bool(reset_delay)
        neuron = LIF(beta=_one_value("beta", leaky.beta),
                     threshold=_one_value("threshold", leaky.threshold),
                     reset=RESET_NAMES[int(leaky.reset_mechanism_val)], reset_delay=delay)
        layers.append(DenseLayer(_array(linear.weight), bias, neuron))
    return Network(tuple(layers), name=name)
