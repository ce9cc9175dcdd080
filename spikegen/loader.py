"""Reading trained networks safely: snnTorch state_dicts and spikegen checkpoints.

Files are always opened with ``torch.load(..., weights_only=True)``: tensors, numbers,
strings and containers only, never code. Two contents are accepted:

(a) the ``state_dict`` of a network alternating ``nn.Linear`` (with or without bias) and
    snnTorch neuron layers, e.g. ``nn.Sequential(Linear, Leaky, Linear, Synaptic)``. snnTorch
    keeps ``beta``, ``threshold``, ``reset_mechanism_val`` and ``graded_spikes_factor`` as
    buffers (or parameters, with ``learn_beta``...), so topology and neuron parameters come
    from the keys (in the state_dict's order) and the shapes:

    ============================  ==========================================================
    keys of the neuron module     layer
    ============================  ==========================================================
    beta, threshold, ...          ``Leaky`` -> ``LIF``
    + alpha                       ``Synaptic`` -> ``CubaLIF``
    + recurrent.weight/.bias      ``RLeaky(all_to_all=True)`` -> ``LIF``, ``recurrent`` the
                                  ``nn.Linear(N, N)``'s weight, its bias added to the bias
    + V (and recurrent.V)         ``RLeaky(all_to_all=False)`` -> ``LIF``, ``recurrent =
                                  diag(V)``
    + alpha + recurrent...        ``RSynaptic`` -> ``CubaLIF`` with ``recurrent`` as above
    ============================  ==========================================================

    ``beta``, ``alpha`` and ``threshold`` may be scalars or per-neuron tensors. snnTorch's
    ``zero`` reset becomes ``zero`` for ``Leaky`` and ``zero_all`` for the others (see
    :mod:`spikegen.ir`). The reset delay is not in a state_dict: it is an option (snnTorch's
    default, on), and so is the readout (a last layer read as a membrane looks the same as
    one read as spikes).
(b) spikegen's own self-describing checkpoint, written by :func:`save`.
"""
import math
import os
import pickle
import warnings
import zipfile

import numpy as np

from .ann import ANN, is_ann_checkpoint, is_ann_module, save_ann
from .errors import SpikegenError
from .ir import READOUTS, LIF, ConvGeometry, ConvLayer, CubaLIF, DenseLayer, InputCoding, Network
from .snntorch_model import RESET_NAMES


__all__ = ["load", "save", "ACCEPTED"]


ACCEPTED = ("a state_dict of nn.Linear + snnTorch Leaky/Synaptic/RLeaky/RSynaptic layers "
            "(torch.save(model.state_dict(), path)), a spikegen.save() checkpoint, "
            "or a NIR graph (nir.write)")

CHECKPOINT_FORMAT = "spikegen"
CHECKPOINT_VERSION = 1

_LINEAR_KEYS = {"weight", "bias"}
_RECURRENT_CHILD = {"weight", "bias", "V"}
_NEURON_KEYS = {"beta", "threshold", "reset_mechanism_val", "graded_spikes_factor", "alpha",
                "V", "recurrent.weight", "recurrent.bias", "recurrent.V"}
_STATE_BUFFERS = {"mem", "syn", "spk"}   # older snnTorch releases kept the (empty) state


def _fail(path, message):
    raise SpikegenError(f"{path}: {message}; spikegen accepts {ACCEPTED}")


def _read(path):
    import torch

    if not os.path.exists(path):
        raise SpikegenError(f"{path}: no such file")
    if os.path.isdir(path):
        raise SpikegenError(f"{path}: is a directory, not a network file")
    if os.path.getsize(path) == 0:
        _fail(path, "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it may not support; the errors below say more
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text or "Unsupported global" in text:
            found = _unsupported_global(text)
            _fail(path, f"it holds pickled Python objects{found}, which spikegen never "
                        "unpickles (a whole nn.Module, for instance)")
        _fail(path, "it is not a PyTorch file (unreadable pickle data)")
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError,
            KeyError, AttributeError, IndexError, TypeError) as exc:
        kind = "truncated" if isinstance(exc, EOFError) else "not a PyTorch file"
        _fail(path, f"it is {kind} ({type(exc).__name__})")


def _unsupported_global(text):
    marker = "Unsupported global: GLOBAL "
    if marker in text:
        name = text.split(marker, 1)[1].split()[0]
        return f" ({name})"
    return ""


def _as_array(path, key, value):
    import torch

    if not isinstance(value, torch.Tensor):
        _fail(path, f"entry {key!r} is a {type(value).__name__}, not a tensor")
    array = value.detach().to(torch.float64).numpy() if value.is_floating_point() \
        else value.detach().numpy()
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        _fail(path, f"entry {key!r} contains NaN or Inf")
    return array


def _scalar(path, key, array, outputs):
    """One value per layer: a scalar, or a per-neuron tensor whose values are all equal."""
    if array.size == 1:
        return float(array.reshape(()))
    if array.shape != (outputs,):
        _fail(path, f"entry {key!r} has shape {tuple(array.shape)}, expected a scalar or "
                    f"({outputs},)")
    if not np.all(array == array.flat[0]):
        raise SpikegenError(
            f"{path}: entry {key!r} has {len(np.unique(array))} different per-neuron values; "
            f"spikegen needs one value per layer for {key.rsplit('.', 1)[-1]}")
    return float(array.flat[0])


def _param(path, key, array, outputs):
    """A neuron parameter: a scalar, or one value per neuron (shape (outputs,))."""
    if array.size == 1:
        return float(array.reshape(()))
    if array.shape != (outputs,):
        _fail(path, f"entry {key!r} has shape {tuple(array.shape)}, expected a scalar or "
                    f"({outputs},)")
    return array.astype(np.float64)


def _group(path, state):
    """``[(prefix, {leaf: key})]`` in the state_dict's order; an RLeaky's or RSynaptic's
    ``recurrent`` child is merged into its parent as leaves ``recurrent.weight`` etc."""
    groups = []
    for key in state:
        if not isinstance(key, str):
            _fail(path, f"it has a non-string key {key!r}")
        prefix, _, leaf = key.rpartition(".")
        if groups and prefix == _join(groups[-1][0], "recurrent") \
                and leaf in _RECURRENT_CHILD:
            groups[-1][1][f"recurrent.{leaf}"] = key
        elif groups and groups[-1][0] == prefix:
            groups[-1][1][leaf] = key
        else:
            groups.append((prefix, {leaf: key}))
    return groups


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _kind(names):
    cuba = "alpha" in names
    recurrent = "V" in names or any(n.startswith("recurrent.") for n in names)
    return {(False, False): "Leaky", (True, False): "Synaptic",
            (False, True): "RLeaky", (True, True): "RSynaptic"}[cuba, recurrent]


def _recurrent(path, where, kind, leaves, arrays, outputs):
    """The (outputs, outputs) feedback matrix and the bias it adds (or ``None``)."""
    if "V" in leaves:                                        # all_to_all=False: x * V
        if any(n in leaves for n in ("recurrent.weight", "recurrent.bias")):
            _fail(path, f"{where} ({kind}) has both V and a recurrent nn.Linear")
        v = arrays["V"]
        if v.size != 1 and v.shape != (outputs,):
            _fail(path, f"{leaves['V']!r} has shape {tuple(v.shape)}, expected a scalar or "
                        f"({outputs},)")
        return np.diag(np.broadcast_to(v.reshape(-1), (outputs,)).astype(np.float64)), None
    if "recurrent.weight" not in leaves:
        _fail(path, f"{where} ({kind}) has a recurrent.bias without a recurrent.weight")
    weight = arrays["recurrent.weight"]
    if weight.shape != (outputs, outputs):
        raise SpikegenError(
            f"{path}: {leaves['recurrent.weight']!r} has shape {tuple(weight.shape)}; "
            f"spikegen reads all-to-all recurrence as nn.Linear({outputs}, {outputs}) "
            "(a convolutional RLeaky/RSynaptic is not supported)")
    bias = arrays.get("recurrent.bias")
    if bias is not None and bias.shape != (outputs,):
        _fail(path, f"{leaves['recurrent.bias']!r} has shape {tuple(bias.shape)}, expected "
                    f"({outputs},)")
    return weight.astype(np.float64), bias


def _neuron_layer(path, prefix, leaves, state, pending, reset_delay):
    names = set(leaves)
    where = f"module {prefix!r}" if prefix else "the top module"
    kind = _kind(names)
    if pending is None:
        _fail(path, f"{where} is an snntorch.{kind} without an nn.Linear before it")
    missing = {"beta", "threshold", "reset_mechanism_val"} - names
    if missing:
        _fail(path, f"{where} lacks {', '.join(sorted(missing))}")
    weight, bias = pending
    outputs = weight.shape[0]
    arrays = {leaf: _as_array(path, key, state[key]) for leaf, key in leaves.items()
              if leaf not in _STATE_BUFFERS}
    beta = _param(path, leaves["beta"], arrays["beta"], outputs)
    threshold = _param(path, leaves["threshold"], arrays["threshold"], outputs)
    mechanism = int(_scalar(path, leaves["reset_mechanism_val"],
                            arrays["reset_mechanism_val"], outputs))
    if mechanism not in RESET_NAMES:
        _fail(path, f"{leaves['reset_mechanism_val']!r} is {mechanism}, "
                    "expected 0 (subtract), 1 (zero) or 2 (none)")
    if "graded_spikes_factor" in arrays:
        graded = _scalar(path, leaves["graded_spikes_factor"],
                         arrays["graded_spikes_factor"], outputs)
        if graded != 1.0:
            raise SpikegenError(
                f"{path}: {leaves['graded_spikes_factor']!r} is {graded}; spikegen "
                "builds binary spikes (graded_spikes_factor=1.0)")
    reset = RESET_NAMES[mechanism]
    if reset == "zero" and kind != "Leaky":
        reset = "zero_all"          # Synaptic, RLeaky, RSynaptic zero the whole step
    if kind == "RSynaptic" and reset_delay is False:
        raise SpikegenError(
            f"{path}: {where} is an RSynaptic, which ignores reset_delay=False in snnTorch "
            "1.0 (it behaves as reset_delay=True); load it without `no_reset_delay`")
    delay = True if reset_delay is None else bool(reset_delay)
    recurrent = None
    if kind.startswith("R"):
        recurrent, extra = _recurrent(path, where, kind, leaves, arrays, outputs)
        if extra is not None:
            bias = extra if bias is None else bias + extra
    if "alpha" in arrays:
        alpha = _param(path, leaves["alpha"], arrays["alpha"], outputs)
        neuron = CubaLIF(alpha=alpha, beta=beta, threshold=threshold, reset=reset,
                         reset_delay=delay)
    else:
        neuron = LIF(beta=beta, threshold=threshold, reset=reset, reset_delay=delay)
    return DenseLayer(weight, bias, neuron, recurrent)


def _from_state_dict(path, state, reset_delay):
    layers = []
    pending = None
    for prefix, leaves in _group(path, state):
        names = set(leaves)
        where = f"module {prefix!r}" if prefix else "the top module"
        if names <= _LINEAR_KEYS and "weight" in names:
            if pending is not None:
                _fail(path, f"{where} is a second nn.Linear without an snnTorch neuron layer "
                            "in between")
            weight = _as_array(path, leaves["weight"], state[leaves["weight"]])
            if weight.ndim == 4:
                raise SpikegenError(f"{path}: {leaves['weight']!r} is a convolution's weight; "
                                    "a state_dict does not record strides, padding, pooling "
                                    "or the input size: write the model with "
                                    "spikegen.save(model, path, input_shape=(C, H, W)) or "
                                    "as a NIR graph")
            if weight.ndim != 2 or weight.dtype.kind != "f":
                _fail(path, f"{leaves['weight']!r} has shape {tuple(weight.shape)}, "
                            "expected a 2-D float matrix (outputs, inputs)")
            if layers and weight.shape[1] != layers[-1].outputs:
                raise SpikegenError(
                    f"{path}: shape mismatch: {leaves['weight']!r} takes {weight.shape[1]} "
                    f"inputs but the layer before it has {layers[-1].outputs} neurons")
            bias = None
            if "bias" in leaves:
                bias = _as_array(path, leaves["bias"], state[leaves["bias"]])
                if bias.shape != (weight.shape[0],):
                    raise SpikegenError(
                        f"{path}: shape mismatch: {leaves['bias']!r} has shape "
                        f"{tuple(bias.shape)}, expected ({weight.shape[0]},)")
            pending = (weight, bias)
        elif names & _NEURON_KEYS and names <= _NEURON_KEYS | _STATE_BUFFERS:
            layers.append(_neuron_layer(path, prefix, leaves, state, pending, reset_delay))
            pending = None
        else:
            keys = ", ".join(repr(leaves[leaf]) for leaf in sorted(leaves))
            _fail(path, f"unknown keys {keys} (neither nn.Linear nor an snnTorch Leaky, "
                        "Synaptic, RLeaky or RSynaptic)")
    if pending is not None:
        _fail(path, "the last nn.Linear has no snnTorch neuron layer after it")
    if not layers:
        _fail(path, "it holds no layers")
    return layers


def _checkpoint_param(path, label, value, outputs):
    import torch

    if isinstance(value, torch.Tensor):
        return _param(path, label, _as_array(path, label, value), outputs)
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not math.isfinite(value):
        _fail(path, f"{label} is not a finite number or tensor")
    return float(value)


def _from_checkpoint(path, obj, reset_delay):
    if obj.get("version") != CHECKPOINT_VERSION:
        raise SpikegenError(f"{path}: spikegen checkpoint version {obj.get('version')!r} is "
                            f"not supported (this spikegen reads version {CHECKPOINT_VERSION})")
    entries = obj.get("layers")
    if not isinstance(entries, (list, tuple)) or not entries:
        _fail(path, "the spikegen checkpoint has no layers")
    layers = []
    for index, entry in enumerate(entries):
        where = f"checkpoint layer {index}"
        if isinstance(entry, dict) and entry.get("kind") == "conv2d":
            layer = _conv_entry(path, index, entry, reset_delay)
            if layers and layer.inputs != layers[-1].outputs:
                raise SpikegenError(f"{path}: shape mismatch: {where} takes {layer.inputs} "
                                    f"inputs but the layer before it has {layers[-1].outputs}")
            layers.append(layer)
            continue
        try:
            weight = _as_array(path, f"layers[{index}].weight", entry["weight"])
            if weight.ndim != 2:
                _fail(path, f"{where} weight has shape {tuple(weight.shape)}, expected 2-D")
            outputs = weight.shape[0]
            bias = entry.get("bias")
            if bias is not None:
                bias = _as_array(path, f"layers[{index}].bias", bias)
            recurrent = entry.get("recurrent")
            if recurrent is not None:
                recurrent = _as_array(path, f"layers[{index}].recurrent", recurrent)
            params = {label: _checkpoint_param(path, f"{where} {label}", entry[label], outputs)
                      for label in ("beta", "threshold")}
            if entry.get("alpha") is not None:
                params["alpha"] = _checkpoint_param(path, f"{where} alpha", entry["alpha"],
                                                    outputs)
            delay = entry["reset_delay"] if reset_delay is None else bool(reset_delay)
            kind = CubaLIF if "alpha" in params else LIF
            neuron = kind(reset=entry["reset"], reset_delay=bool(delay), **params)
        except (KeyError, TypeError, AttributeError) as exc:
            _fail(path, f"{where} is malformed ({type(exc).__name__}: {exc})")
        except ValueError as exc:
            _fail(path, f"{where}: {exc}")
        if layers and weight.shape[1] != layers[-1].outputs:
            raise SpikegenError(f"{path}: shape mismatch: {where} takes {weight.shape[1]} "
                                f"inputs but the layer before it has {layers[-1].outputs}")
        if bias is not None and bias.shape != (outputs,):
            raise SpikegenError(f"{path}: shape mismatch: {where} bias has shape "
                                f"{tuple(bias.shape)}, expected ({outputs},)")
        if recurrent is not None and recurrent.shape != (outputs, outputs):
            raise SpikegenError(f"{path}: shape mismatch: {where} recurrent weights have "
                                f"shape {tuple(recurrent.shape)}, expected ({outputs}, "
                                f"{outputs})")
        layers.append(DenseLayer(weight, bias, neuron, recurrent))
    return layers


_GEOMETRY = ("in_hw", "in_channels", "out_channels", "kernel", "out_hw", "stride", "padding",
             "dilation", "pool", "out_pool", "current_pool")


def _neuron_entry(path, where, entry, reset_delay, outputs):
    params = {label: _checkpoint_param(path, f"{where} {label}", entry[label], outputs)
              for label in ("beta", "threshold")}
    if entry.get("alpha") is not None:
        params["alpha"] = _checkpoint_param(path, f"{where} alpha", entry["alpha"], outputs)
    delay = entry["reset_delay"] if reset_delay is None else bool(reset_delay)
    kind = CubaLIF if "alpha" in params else LIF
    return kind(reset=entry["reset"], reset_delay=bool(delay), **params)


def _conv_entry(path, index, entry, reset_delay):
    where = f"checkpoint layer {index}"
    try:
        geometry = entry["geometry"]
        geometry = ConvGeometry(**{name: (tuple(int(v) for v in geometry[name])
                                          if isinstance(geometry[name], (list, tuple))
                                          else int(geometry[name]))
                                   for name in _GEOMETRY if name in geometry})
        weight = _as_array(path, f"layers[{index}].weight", entry["weight"])
        bias = entry.get("bias")
        if bias is not None:
            bias = _as_array(path, f"layers[{index}].bias", bias)
        neuron = _neuron_entry(path, where, entry, reset_delay, geometry.out_channels)
        return ConvLayer(weight, bias, neuron, geometry)
    except (KeyError, TypeError, AttributeError) as exc:
        _fail(path, f"{where} is malformed ({type(exc).__name__}: {exc})")
    except ValueError as exc:
        _fail(path, f"{where}: {exc}")


def load(path, *, reset_delay=None, name=None, dt=None, reset=None, readout=None):
    """Load a trained network as a float :class:`~spikegen.ir.Network`.

    Parameters
    ----------
    path : str or os.PathLike
        A ``torch.save`` file: an snnTorch state_dict or a :func:`save` checkpoint.
    reset_delay : bool or None
        snnTorch's ``reset_delay`` of every layer; ``None`` means snnTorch's default (``True``)
        for a state_dict and the recorded value for a spikegen checkpoint.
    dt, reset : float, str or None
        For a NIR file (``nir.write``; see :mod:`spikegen.nir_frontend`): the time step of the
        discretisation (default snnTorch's 1e-4) and the reset mechanism (default ``subtract``,
        snnTorch's own, for a graph snnTorch exported, else ``zero``, NIR's reset to
        ``v_reset``). The network's ``notes`` say which were assumed.
    readout : str or None
        ``"spikes"`` (the class is the output with the most spikes) or ``"membrane"`` (the
        largest final membrane of the last layer, for a network whose last snnTorch layer is
        read as a membrane). A state_dict does not record it: ``None`` means ``"spikes"``. A
        NIR graph ending in ``LI``/``CubaLI`` is read as ``"membrane"``; a checkpoint records
        it.

    Raises
    ------
    SpikegenError
        With a one-line message naming what was found and what is accepted.
    """
    path = os.fspath(path)
    from .nir_frontend import is_nir_file, load_nir

    # the real problem first: options that do not apply to a missing file are not the news
    if not os.path.exists(path):
        raise SpikegenError(f"{path}: no such file")
    if readout is not None and readout not in READOUTS:
        raise SpikegenError(f"readout must be one of {', '.join(READOUTS)}, not {readout!r}")
    if is_nir_file(path):
        return load_nir(path, dt=dt, reset=reset, reset_delay=reset_delay, name=name,
                        readout=readout)
    if path.lower().endswith(".onnx"):
        _not_spiking(path)
    if dt is not None or reset is not None:
        raise SpikegenError(f"{path}: `dt` and `reset` apply to NIR files only; a state_dict "
                            "records its own reset mechanism")
    obj = _read(path)
    if not isinstance(obj, dict):
        _fail(path, f"it holds a {type(obj).__name__}, not a dictionary of tensors")
    coding = None
    if is_ann_checkpoint(obj):
        _not_spiking(path)
    if obj.get("format") == CHECKPOINT_FORMAT:
        layers = _from_checkpoint(path, obj, reset_delay)
        coding = _checkpoint_coding(path, obj)
        name = name or obj.get("name") or "net"
        readout = readout or obj.get("readout") or "spikes"
        if readout not in READOUTS:
            _fail(path, f"the checkpoint's readout {readout!r} is not one of "
                        f"{', '.join(READOUTS)}")
    else:
        layers = _from_state_dict(path, obj, reset_delay)
    if name is None:
        name = os.path.splitext(os.path.basename(path))[0] or "net"
    return Network(tuple(layers), name=str(name), readout=readout or "spikes", coding=coding)


def _not_spiking(path):
    raise SpikegenError(f"{path}: a ReLU network, not a spiking one: convert it with "
                        "`spikegen convert MODEL --calib DATA --steps T` (or give `spikegen "
                        "build` a --calib DATA)")


def save(model, path, *, name=None, coding=None, input_shape=None):
    """Write a self-describing spikegen checkpoint (readable with ``weights_only=True``).

    ``model`` is a float :class:`~spikegen.ir.Network` or a PyTorch module made of
    ``nn.Linear`` and ``snntorch.Leaky`` layers (in registration order, read by
    :func:`spikegen.snntorch_model.network_from_module`); unlike a state_dict the checkpoint
    records each layer's reset delay, and for a convolutional module (``nn.Conv2d``,
    pooling, ``nn.Flatten``, ``nn.Linear`` and snnTorch layers) its strides, padding, pooling
    and the ``input_shape`` (C, H, W) it takes, which a state_dict does not record.
    ``coding`` (an :class:`~spikegen.ir.InputCoding`, by
    default the network's own) records the input coding it was trained with, which
    ``spikegen build`` then uses by default.

    A conventional ReLU network (a module of ``nn.Conv2d``, ``nn.Linear``, ``nn.ReLU``...
    without snnTorch layers, or a :class:`spikegen.ann.ANN`) is written as the ReLU-network
    checkpoint ``spikegen convert`` reads (:func:`spikegen.ann.save_ann`).
    """
    import torch

    if isinstance(model, ANN) or (isinstance(model, torch.nn.Module) and is_ann_module(model)):
        return save_ann(model, path, name=name, input_shape=input_shape)
    model = as_network(model, name, "spikegen.save", input_shape=input_shape)
    coding = model.coding if coding is None else coding
    if coding is not None and not isinstance(coding, InputCoding):
        raise TypeError(f"Coding must be an InputCoding or None, not {coding!r}")
    layers = [_checkpoint_entry(layer) for layer in model.layers]
    tree = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "name": name or model.name or "net", "layers": layers, "readout": model.readout}
    if coding is not None:
        tree["coding"] = {"kind": coding.kind, "steps": int(coding.steps)}
    torch.save(tree, os.fspath(path))


def _checkpoint_coding(path, obj):
    """The input coding a checkpoint records, or ``None``."""
    entry = obj.get("coding")
    if entry is None:
        return None
    try:
        return InputCoding(kind=str(entry["kind"]), steps=int(entry["steps"]))
    except (KeyError, TypeError, ValueError) as exc:
        _fail(path, f"its recorded input coding {entry!r} is not valid ({exc})")


def as_network(model, name, caller, input_shape=None):
    """``model`` (a float :class:`~spikegen.ir.Network` or a module of ``nn.Linear`` and
    snnTorch layers) as a Network; errors are prefixed with ``caller``."""
    import torch

    from .snntorch_model import network_from_module

    if isinstance(model, torch.nn.Module):
        try:
            return network_from_module(model, name=name or "net", input_shape=input_shape)
        except SpikegenError as exc:
            raise SpikegenError(f"{caller}: {exc}") from None
    if not isinstance(model, Network):
        raise TypeError(f"Model must be a spikegen Network or a torch.nn.Module, "
                        f"not {type(model).__name__}")
    return model


def _checkpoint_entry(layer):
    import torch

    def value(x):
        if isinstance(x, np.ndarray):
            return torch.from_numpy(np.array(x, dtype=np.float32))
        return float(x)

    n = layer.neuron
    entry = {
        "kind": layer.kind,
        "weight": torch.from_numpy(np.array(layer.weight, dtype=np.float32)),
        "bias": None if layer.bias is None
                else torch.from_numpy(np.array(layer.bias, dtype=np.float32)),
        "beta": value(n.beta), "threshold": value(n.threshold),
        "reset": n.reset, "reset_delay": bool(n.reset_delay),
    }
    if n.current_based:
        entry["alpha"] = value(n.alpha)
    if layer.recurrent is not None:
        entry["recurrent"] = torch.from_numpy(np.array(layer.recurrent, dtype=np.float32))
    if layer.kind == "conv2d":
        g = layer.geometry
        entry["geometry"] = {name: list(getattr(g, name)) if isinstance(getattr(g, name), tuple)
                             else getattr(g, name) for name in _GEOMETRY}
    return entry
