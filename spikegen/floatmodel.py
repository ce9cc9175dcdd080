"""The float network as snnTorch runs it: the accuracy the user trained for."""
import numpy as np

from .snntorch_model import to_snntorch


__all__ = ["run_float"]


def run_float(net, spikes, *, batch=512, steps=None, membrane=False, layers=False):
    """Output spikes (samples, steps, outputs) of snnTorch's forward pass on ``spikes``.

    With ``steps`` given, ``spikes`` is instead a constant input (samples, inputs) of floats
    applied at every one of ``steps`` time steps (direct, or "current", input). With
    ``membrane``, also the last layer's membrane after the last step (samples, outputs):
    ``(spikes, membrane)``. With ``layers``, every layer's spikes (a tuple of (samples, steps,
    neurons) arrays) come last.
    """
    import torch
    from snntorch._neurons.neurons import SpikingNeuron

    # snnTorch's layers as the user trained them, not spikegen's integer arithmetic
    model = to_snntorch(net).eval()
    spikes = np.asarray(spikes)
    direct = steps is not None
    steps = steps if direct else spikes.shape[1]
    out = np.zeros((spikes.shape[0], steps, net.outputs), dtype=np.uint8)
    final = None
    neurons = [module for module in model.modules() if isinstance(module, SpikingNeuron)]
    traces = [np.zeros((spikes.shape[0], steps, layer.outputs), dtype=np.uint8)
              for layer in net.layers] if layers else []
    seen = []
    for module in neurons if layers else ():
        # each neuron layer's spikes (its first output) as the step runs
        module.register_forward_hook(lambda mod, args, out: seen.append(
            (out[0] if isinstance(out, tuple) else out).numpy() > 0))
    with torch.no_grad():
        for start in range(0, spikes.shape[0], batch):
            chunk = torch.from_numpy(spikes[start:start + batch].astype(np.float32))
            for module in neurons:
                module.reset_mem()
            for t in range(steps):
                x = chunk if direct else chunk[:, t]
                out[start:start + batch, t] = model(x).numpy() > 0
                for k, (trace, spk) in enumerate(zip(traces, seen)):
                    trace[start:start + batch, t] = _layer_spikes(net.layers[k], spk)
                seen.clear()
            mem = neurons[-1].mem
            if mem.ndim == 4:                  # a convolution's map, channels last
                mem = mem.permute(0, 2, 3, 1)
            mem = mem.reshape(mem.shape[0], -1).numpy()
            if final is None:
                final = np.zeros((spikes.shape[0], mem.shape[1]))
            final[start:start + batch] = mem
    result = (out, final) if membrane else (out,)
    return result + (tuple(traces),) if layers else (result if membrane else out)


def _layer_spikes(layer, spikes):
    """A layer's output spikes as it sends them: a convolution's (batch, C, H, W) map
    max-pooled by its ``out_pool`` and flattened channels last."""
    if spikes.ndim != 4:
        return spikes
    k = layer.geometry.out_pool
    b, c, h, w = spikes.shape
    pooled = spikes.reshape(b, c, h // k, k, w // k, k).max(axis=(3, 5))
    return pooled.transpose(0, 2, 3, 1).reshape(b, -1)
