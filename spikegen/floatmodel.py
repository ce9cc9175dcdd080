"""The float network as snnTorch runs it: the accuracy the user trained for."""
import numpy as np

from .snntorch_model import to_snntorch


__all__ = ["run_float"]


def run_float(net, spikes, *, batch=512, steps=None, membrane=False):
    """Output spikes (samples, steps, outputs) of snnTorch's forward pass on ``spikes``.

    With ``steps`` given, ``spikes`` is instead a constant input (samples, inputs) of floats
    applied at every one of ``steps`` time steps (direct, or "current", input). With
    ``membrane``, also the last layer's membrane after the last step (samples, outputs):
    ``(spikes, membrane)``.
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
    with torch.no_grad():
        for start in range(0, spikes.shape[0], batch):
            chunk = torch.from_numpy(spikes[start:start + batch].astype(np.float32))
            for module in neurons:
                module.reset_mem()
            for t in range(steps):
                x = chunk if direct else chunk[:, t]
                out[start:start + batch, t] = model(x).numpy() > 0
            mem = neurons[-1].mem
            if mem.ndim == 4:                  # a convolution's map, channels last
                mem = mem.permute(0, 2, 3, 1)
            mem = mem.reshape(mem.shape[0], -1).numpy()
            if final is None:
                final = np.zeros((spikes.shape[0], mem.shape[1]))
            final[start:start + batch] = mem
    return (out, final) if membrane else out
