"""Reading trained networks safely: snnTorch state_dicts and spikegen checkpoints.

Files are always opened with ``torch.load(..., weights_only=True)``: tensors, numbers,
strings and containers only, never code. Two contents are accepted:

(a) the ``state_dict`` of a network alternating ``nn.Linear`` (with or without bias) and
    ``snntorch.Leaky``, e.g. ``nn.Sequential(Linear, Leaky, Linear, Leaky)``. snnTorch keeps
    ``beta``, ``threshold``, ``reset_mechanism_val`` and ``graded_spikes_factor`` as buffers,
    so topology and neuron parameters come from the keys (in the state_dict's order) and the
    shapes. The reset delay is not in a state_dict: it is an option (snnTorch's default, on).
(b) spikegen's own self-describing checkpoint, written by :func:`save`.
"""
import math
import os
import pickle
import warnings
import zipfile

import numpy as np

from .errors import SpikegenError
from .ir import LIF, DenseLayer, Network


__all__ = ["load", "save", "ACCEPTED"]


ACCEPTED = ("a state_dict of nn.Linear + snntorch.Leaky layers "
            "(torch.save(model.state_dict(), path)), a spikegen.save() checkpoint, "
            "or a NIR graph (nir.write)")

CHECKPOINT_FORMAT = "spikegen"
CHECKPOINT_VERSION = 1

_RESET_NAMES = {0: "subtract", 1: "zero", 2: "none"}
_LINEAR_KEYS = {"weight", "bias"}
_LEAKY_KEYS = {"beta", "threshold", "reset_mechanism_val", "graded_spikes_factor"}
_LEAKY_OPTIONAL = {"mem"}   # older snnTorch releases kept the (empty) state as a buffer


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
            "this version of spikegen needs one value per layer (retrain with a scalar "
            f"{key.rsplit('.', 1)[-1]})")
    return float(array.flat[0])


def _group(path, state):
    groups = []
    for key in state:
        if not isinstance(key, str):
            _fail(path, f"it has a non-string key {key!r}")
        prefix, _, leaf = key.rpartition(".")
        if groups and groups[-1][0] == prefix:
            groups[-1][1][leaf] = key
        else:
            groups.append((prefix, {leaf: key}))
    return groups


def _from_state_dict(path, state, reset_delay):
    layers = []
    pending = None
    for prefix, leaves in _group(path, state):
        names = set(leaves)
        where = f"module {prefix!r}" if prefix else "the top module"
        if names <= _LINEAR_KEYS and "weight" in names:
            if pending is not None:
                _fail(path, f"{where} is a second nn.Linear without an snntorch.Leaky "
                            "in between")
            weight = _as_array(path, leaves["weight"], state[leaves["weight"]])
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
        elif names & _LEAKY_KEYS and names <= _LEAKY_KEYS | _LEAKY_OPTIONAL:
            if pending is None:
                _fail(path, f"{where} is an snntorch.Leaky without an nn.Linear before it")
            missing = {"beta", "threshold", "reset_mechanism_val"} - names
            if missing:
                _fail(path, f"{where} lacks {', '.join(sorted(missing))}")
            weight, bias = pending
            outputs = weight.shape[0]
            arrays = {leaf: _as_array(path, key, state[key]) for leaf, key in leaves.items()
                      if leaf != "mem"}
            beta = _scalar(path, leaves["beta"], arrays["beta"], outputs)
            threshold = _scalar(path, leaves["threshold"], arrays["threshold"], outputs)
            mechanism = int(_scalar(path, leaves["reset_mechanism_val"],
                                    arrays["reset_mechanism_val"], outputs))
            if mechanism not in _RESET_NAMES:
                _fail(path, f"{leaves['reset_mechanism_val']!r} is {mechanism}, "
                            "expected 0 (subtract), 1 (zero) or 2 (none)")
            if "graded_spikes_factor" in arrays:
                graded = _scalar(path, leaves["graded_spikes_factor"],
                                 arrays["graded_spikes_factor"], outputs)
                if graded != 1.0:
                    raise SpikegenError(
                        f"{path}: {leaves['graded_spikes_factor']!r} is {graded}; spikegen "
                        "builds binary spikes (graded_spikes_factor=1.0)")
            neuron = LIF(beta=beta, threshold=threshold, reset=_RESET_NAMES[mechanism],
                         reset_delay=True if reset_delay is None else bool(reset_delay))
            layers.append(DenseLayer(weight, bias, neuron))
            pending = None
        else:
            keys = ", ".join(repr(leaves[leaf]) for leaf in sorted(leaves))
            _fail(path, f"unknown keys {keys} (neither nn.Linear nor snntorch.Leaky)")
    if pending is not None:
        _fail(path, "the last nn.Linear has no snntorch.Leaky after it")
    if not layers:
        _fail(path, "it holds no layers")
    return layers


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
        try:
            weight = _as_array(path, f"layers[{index}].weight", entry["weight"])
            bias = entry.get("bias")
            if bias is not None:
                bias = _as_array(path, f"layers[{index}].bias", bias)
            values = [entry["beta"], entry["threshold"]]
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
                _fail(path, f"{where} has a non-finite or non-numeric beta/threshold")
            delay = entry["reset_delay"] if reset_delay is None else bool(reset_delay)
            neuron = LIF(beta=float(entry["beta"]), threshold=float(entry["threshold"]),
                         reset=entry["reset"], reset_delay=bool(delay))
        except (KeyError, TypeError, AttributeError) as exc:
            _fail(path, f"{where} is malformed ({type(exc).__name__}: {exc})")
        except ValueError as exc:
            _fail(path, f"{where}: {exc}")
        if weight.ndim != 2:
            _fail(path, f"{where} weight has shape {tuple(weight.shape)}, expected 2-D")
        if layers and weight.shape[1] != layers[-1].outputs:
            raise SpikegenError(f"{path}: shape mismatch: {where} takes {weight.shape[1]} "
                                f"inputs but the layer before it has {layers[-1].outputs}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise SpikegenError(f"{path}: shape mismatch: {where} bias has shape "
                                f"{tuple(bias.shape)}, expected ({weight.shape[0]},)")
        layers.append(DenseLayer(weight, bias, neuron))
    return layers


def load(path, *, reset_delay=None, name=None, dt=None, reset=None):
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
        discretisation (default snnTorch's 1e-4) and the reset mechanism (default ``zero``,
        NIR's reset to ``v_reset``).

    Raises
    ------
    SpikegenError
        With a one-line message naming what was found and what is accepted.
    """
    path = os.fspath(path)
    from .nir_frontend import DEFAULT_DT, is_nir_file, load_nir

    if is_nir_file(path):
        return load_nir(path, dt=DEFAULT_DT if dt is None else dt,
                        reset=reset or "zero",
                        reset_delay=True if reset_delay is None else reset_delay, name=name)
    if dt is not None or reset is not None:
        raise SpikegenError(f"{path}: --dt and --reset apply to NIR files only; a state_dict "
                            "records its own reset mechanism")
    obj = _read(path)
    if not isinstance(obj, dict):
        _fail(path, f"it holds a {type(obj).__name__}, not a dictionary of tensors")
    if obj.get("format") == CHECKPOINT_FORMAT:
        layers = _from_checkpoint(path, obj, reset_delay)
        name = name or obj.get("name") or "net"
    else:
        layers = _from_state_dict(path, obj, reset_delay)
    if name is None:
        name = os.path.splitext(os.path.basename(path))[0] or "net"
    return Network(tuple(layers), name=str(name))


def _layers_of_module(module):
    import torch.nn as nn

    try:
        import snntorch
    except ImportError:  # pragma: no cover - snnTorch is a dependency
        snntorch = None
    layers, pending = [], None
    for child in module.modules():
        if isinstance(child, nn.Linear):
            if pending is not None:
                raise SpikegenError("spikegen.save: two nn.Linear in a row; expected "
                                    "nn.Linear and snntorch.Leaky alternating")
            pending = child
        elif snntorch is not None and type(child) is snntorch.Leaky:
            if pending is None:
                raise SpikegenError("spikegen.save: snntorch.Leaky without an nn.Linear "
                                    "before it")
            beta = child.beta.detach().reshape(-1)
            threshold = child.threshold.detach().reshape(-1)
            for label, value in (("beta", beta), ("threshold", threshold)):
                if not bool((value == value[0]).all()):
                    raise SpikegenError(f"spikegen.save: per-neuron {label} values differ; "
                                        "one value per layer is supported")
            layers.append({
                "weight": pending.weight.detach().cpu().clone(),
                "bias": None if pending.bias is None else pending.bias.detach().cpu().clone(),
                "beta": float(beta[0]), "threshold": float(threshold[0]),
                "reset": _RESET_NAMES[int(child.reset_mechanism_val)],
                "reset_delay": bool(child.reset_delay),
            })
            pending = None
    if pending is not None or not layers:
        raise SpikegenError("spikegen.save: expected nn.Linear and snntorch.Leaky layers "
                            "alternating, ending with a Leaky")
    return layers


def save(model, path, *, name=None):
    """Write a self-describing spikegen checkpoint (readable with ``weights_only=True``).

    ``model`` is a float :class:`~spikegen.ir.Network` or a PyTorch module made of
    ``nn.Linear`` and ``snntorch.Leaky`` layers (in registration order); unlike a state_dict
    the checkpoint records each layer's reset delay.
    """
    import torch

    if isinstance(model, Network):
        layers = [{
            "weight": torch.from_numpy(np.array(layer.weight, dtype=np.float32)),
            "bias": None if layer.bias is None
                    else torch.from_numpy(np.array(layer.bias, dtype=np.float32)),
            "beta": float(layer.neuron.beta), "threshold": float(layer.neuron.threshold),
            "reset": layer.neuron.reset, "reset_delay": bool(layer.neuron.reset_delay),
        } for layer in model.layers]
        name = name or model.name
    elif isinstance(model, torch.nn.Module):
        layers = _layers_of_module(model)
    else:
        raise TypeError(f"Model must be a spikegen Network or a torch.nn.Module, "
                        f"not {type(model).__name__}")
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                "name": name or "net", "layers": layers}, os.fspath(path))
