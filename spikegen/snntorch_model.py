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
from .ir import LIF, Network


__all__ = ["to_snntorch", "untrained", "snntorch_layer", "snntorch_neuron", "network_from_module",
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


def snntorch_neuron(neuron, *, spike_grad=None):
    """The feed-forward snnTorch layer (``Leaky`` or ``Synaptic``) of ``neuron``."""
    return _neuron_module(neuron, None, spike_grad=spike_grad, init_hidden=True)


def to_snntorch(net, *, spike_grad=None):
    """An ``nn.Sequential`` of ``nn.Linear`` and snnTorch neuron layers equal to ``net``.

    Weights are stored as float32 (what :func:`spikegen.save` writes); ``spike_grad`` is the
    neuron layers' surrogate gradient (snnTorch's default when ``None``), for further training.
    """
    import torch
    from torch import nn

    modules = []
    for layer in net.layers:
        if layer.kind == "conv2d":
            modules += _conv_modules(layer, spike_grad)
            continue
        linear = nn.Linear(layer.inputs, layer.outputs, bias=layer.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(_tensor(layer.weight))
            if layer.bias is not None:
                linear.bias.copy_(_tensor(layer.bias))
        modules += [linear, snntorch_layer(layer, spike_grad=spike_grad)]
    return nn.Sequential(*modules)


def _conv_modules(layer, spike_grad):
    """A convolution layer as torch modules on flat channels-last maps (see
    :mod:`spikegen.torch_modules`)."""
    import torch
    from torch import nn

    from .torch_modules import ChannelsFirst, ChannelsLast, SumPool2d

    g = layer.geometry
    modules = [ChannelsFirst(g.input_shape)]
    if g.pool > 1:
        modules.append(SumPool2d(g.pool))
    extent = [(k - 1) * d + 1 for k, d in zip(g.kernel, g.dilation)]
    end = [max(0, (o - 1) * s + e - i - p)
           for o, s, e, i, p in zip(g.out_hw, g.stride, extent, g.pooled_hw, g.padding)]
    if any(g.padding) or any(end):
        modules.append(nn.ZeroPad2d((g.padding[1], end[1], g.padding[0], end[0])))
    conv = nn.Conv2d(g.in_channels, g.out_channels, g.kernel, stride=g.stride,
                     dilation=g.dilation, bias=layer.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(_tensor(layer.weight))
        if layer.bias is not None:
            conv.bias.copy_(_tensor(layer.bias))
    modules.append(conv)
    if g.current_pool > 1:
        modules.append(nn.MaxPool2d(g.current_pool))
    modules.append(snntorch_layer(layer, spike_grad=spike_grad))
    if g.out_pool > 1:
        modules.append(nn.MaxPool2d(g.out_pool))
    return modules + [ChannelsLast()]


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


def _one_value(label, value):
    value = value.detach().float().reshape(-1)
    if not bool((value == value[0]).all()):
        raise SpikegenError(f"per-neuron {label} values differ; one value per layer is "
                            "supported")
    return float(value[0])


def _array(tensor):
    return tensor.detach().float().double().cpu().numpy().copy()


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _conv_op(module, pad=None):
    from .fold import Conv, same_padding

    if module.padding_mode != "zeros":
        raise SpikegenError(f"nn.Conv2d with padding_mode={module.padding_mode!r}; only zero "
                            "padding is supported")
    kernel, dilation = _pair(module.kernel_size), _pair(module.dilation)
    if module.padding == "same":
        padding = same_padding(kernel, dilation)
    elif module.padding == "valid":
        padding = (0, 0, 0, 0)
    else:
        rows, cols = _pair(module.padding)
        padding = (rows, cols, rows, cols)
    if pad is not None:
        padding = tuple(a + b for a, b in zip(padding, pad))
    return Conv(_array(module.weight), None if module.bias is None else _array(module.bias),
                stride=_pair(module.stride), padding=padding, dilation=dilation,
                groups=int(module.groups), name="Conv2d")


def _pool_op(module, kind):
    from .fold import Pool

    if getattr(module, "ceil_mode", False):
        raise SpikegenError(f"{type(module).__name__} with ceil_mode=True is not supported")
    kernel = _pair(module.kernel_size)
    stride = kernel if module.stride is None else _pair(module.stride)
    if kind == "max" and any(d != 1 for d in _pair(module.dilation)):
        raise SpikegenError("nn.MaxPool2d with dilation is not supported")
    if kind == "avg" and getattr(module, "divisor_override", None) is not None:
        raise SpikegenError("nn.AvgPool2d with divisor_override is not supported")
    return Pool(kind, kernel, stride, _pair(module.padding), name=type(module).__name__)


def _neuron_op(module, reset_delay):
    import snntorch

    from .fold import Neuron
    from .ir import CubaLIF

    if type(module) not in (snntorch.Leaky, snntorch.Synaptic):
        raise SpikegenError(f"snntorch.{type(module).__name__} in a module is not supported; "
                            "use Leaky or Synaptic (or save a state_dict for RLeaky and "
                            "RSynaptic networks)")
    delay = bool(module.reset_delay) if reset_delay is None else bool(reset_delay)
    reset = RESET_NAMES[int(module.reset_mechanism_val)]
    common = dict(beta=_one_value("beta", module.beta),
                  threshold=_one_value("threshold", module.threshold), reset_delay=delay)
    if type(module) is snntorch.Synaptic:
        neuron = CubaLIF(alpha=_one_value("alpha", module.alpha),
                         reset="zero_all" if reset == "zero" else reset, **common)
    else:
        neuron = LIF(reset=reset, **common)
    return Neuron(neuron, name=type(module).__name__)


def module_ops(model, *, reset_delay=None):
    """The operations of ``model`` (its leaf modules in registration order) for
    :func:`spikegen.fold.fold`: ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.AvgPool2d``,
    ``nn.Flatten``, ``nn.Linear``, snnTorch ``Leaky`` and ``Synaptic``; ``nn.Dropout`` and
    ``nn.Identity`` do nothing at inference."""
    import snntorch
    from torch import nn

    from .fold import Flatten, Linear, Unflatten
    from .torch_modules import ChannelsFirst, ChannelsLast, SumPool2d

    ops, pad = [], None
    for child in model.modules():
        if next(child.children(), None) is not None:
            continue                                  # containers: their leaves follow
        if pad is not None and not isinstance(child, nn.Conv2d):
            raise SpikegenError("nn.ZeroPad2d must come right before an nn.Conv2d")
        if isinstance(child, nn.ZeroPad2d):
            left, right, top, bottom = child.padding
            pad = (top, left, bottom, right)
        elif isinstance(child, nn.Conv2d):
            ops.append(_conv_op(child, pad))
            pad = None
        elif isinstance(child, nn.MaxPool2d):
            ops.append(_pool_op(child, "max"))
        elif isinstance(child, nn.AvgPool2d):
            ops.append(_pool_op(child, "avg"))
        elif isinstance(child, SumPool2d):
            ops.append(_pool_op(child, "sum"))
        elif isinstance(child, nn.Flatten):
            ops.append(Flatten(name="Flatten"))
        elif isinstance(child, nn.Linear):
            ops.append(Linear(_array(child.weight),
                              None if child.bias is None else _array(child.bias),
                              name="Linear"))
        elif isinstance(child, snntorch.SpikingNeuron):
            ops.append(_neuron_op(child, reset_delay))
        elif isinstance(child, ChannelsLast):
            ops.append(Flatten(channels_last=True, name="ChannelsLast"))
        elif isinstance(child, ChannelsFirst):
            ops.append(Unflatten(child.shape, name="ChannelsFirst"))
        elif isinstance(child, (nn.Dropout, nn.Identity)):
            continue
        else:
            raise SpikegenError(f"module {type(child).__name__} is not supported (spikegen "
                                "reads Conv2d, MaxPool2d, AvgPool2d, Flatten, Linear, "
                                "Dropout and snnTorch Leaky/Synaptic)")
    return ops


def network_from_module(model, *, reset_delay=None, name="net", input_shape=None):
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
    from .fold import Conv, Unflatten, fold

    ops = module_ops(model, reset_delay=reset_delay)
    if input_shape is None and ops and isinstance(ops[0], Unflatten):
        h, w, c = ops[0].shape                     # a model spikegen built (to_snntorch)
        input_shape = (h * w * c,)
    if input_shape is None:
        if any(isinstance(op, Conv) for op in ops):
            raise SpikegenError("a convolutional network needs its input shape: give "
                                "`input_shape` (C, H, W)")
        first = next((op for op in ops if hasattr(op, "weight")), None)
        if first is None:
            raise SpikegenError("the module has no Linear or Conv2d layer")
        input_shape = (first.weight.shape[1],)
    return Network(fold(ops, input_shape, where="module"), name=name)
