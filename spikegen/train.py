"""Training a small fully connected LIF network with snnTorch (surrogate gradients).

Used by the demo; seeded and reproducible on the CPU. The trained model is an
``nn.Sequential`` of ``nn.Linear`` and ``snntorch.Leaky``, so its ``state_dict`` is exactly
what ``spikegen build`` reads.
"""
import numpy as np

from .encode import rate


__all__ = ["train"]


def train(dataset, *, hidden=(32,), steps=16, beta=0.9, epochs=30, batch=64, lr=2e-3, seed=0,
          progress=None):
    """Train on ``dataset`` (a :class:`spikegen.data.Dataset`); returns the torch model.

    The loss is cross-entropy on the output spike counts; inputs are rate coded with a fresh
    seed per epoch (``seed + epoch``), so the network does not learn one particular spike train.
    """
    import snntorch
    import torch
    from snntorch import surrogate
    from torch import nn

    torch.manual_seed(seed)
    sizes = (dataset.x_train.shape[1], *hidden, int(dataset.y_train.max()) + 1)
    modules = []
    for a, b in zip(sizes, sizes[1:]):
        modules += [nn.Linear(a, b), snntorch.Leaky(beta=beta, init_hidden=True,
                                                   spike_grad=surrogate.fast_sigmoid(25))]
    model = nn.Sequential(*modules)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    y = torch.from_numpy(dataset.y_train)
    order_rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        spikes = torch.from_numpy(rate(dataset.x_train, steps, seed=seed + 1000 + epoch)
                                  .astype(np.float32))
        order = torch.from_numpy(order_rng.permutation(len(y)))
        total, correct = 0.0, 0
        for start in range(0, len(y), batch):
            index = order[start:start + batch]
            for module in model.modules():
                if isinstance(module, snntorch.Leaky):
                    module.reset_mem()
            counts = sum(model(spikes[index, t]) for t in range(steps))
            loss = nn.functional.cross_entropy(counts, y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
            correct += int((counts.argmax(1) == y[index]).sum())
        if progress is not None:
            progress(f"epoch {epoch + 1}/{epochs}: loss {total / len(y):.3f}, "
                     f"train accuracy {correct / len(y):.3f}")
    return model
