"""Quantization-aware fine-tuning with the exact fixed-point semantics of the reference.

:class:`QATNetwork` is a torch module holding float weights. Its forward pass quantizes them
with :func:`spikegen.quantize.quantize` (the same per-layer exponent, weight rounding and
clipping, threshold, bias and beta rounding and membrane width that ``spikegen build`` will
choose from the same weights) and then runs the integer arithmetic of
:mod:`spikegen.reference` in float64 tensors, which hold these integers exactly: leak
``x - ((x * decay + 2**(bits-1)) >> bits)``, saturation after every addition, the reset modes
with and without reset delay, and the three input codings. Its output spikes are therefore
identical to ``reference.simulate(quantize(net, ...), inputs)`` (``tests/test_qat.py`` checks
this for every coding and reset mode), in training as in evaluation mode.

Gradients flow through straight-through estimators: every exact operation ``f`` is written
``exact + (g - g.detach())``, whose value is ``exact`` bit for bit (``g - g.detach()`` is
exactly zero) and whose gradient is that of a smooth stand-in ``g`` (the float weight for the
rounded weight, ``beta * x`` for the rounded leak, the identity for saturation). The spike
uses snnTorch's fast-sigmoid surrogate gradient on ``(mem - threshold)`` in float units (the
membrane divided by its LSB scale), so fine-tuning sees the same gradients as float training
with snnTorch.

Why these libraries: snnTorch's surrogate gradients are well kept and are what the float
training uses, so the two phases agree. brevitas is not used: its fake quantizers round and
scale in floating point with their own conventions (float scales, per-tensor statistics) and
know nothing of spikegen's integer leak, saturation or reset order; matching the reference bit
for bit means writing that arithmetic here anyway, after which brevitas would add nothing.
"""
import numpy as np
import torch
from snntorch import surrogate
from torch import nn

from .errors import SpikegenError
from .ir import LIF, DenseLayer, InputCoding, Network
from .quantize import quantize
from .snntorch_model import network_from_module, to_snntorch


__all__ = ["QATNetwork", "simulate", "module_from_network"]

# float64 holds integers exactly up to 2**53; the leak multiplies the membrane by the decay
_EXACT_BITS = 53


def module_from_network(net, *, slope=25.0):
    """An ``nn.Sequential`` of ``nn.Linear`` and ``snntorch.Leaky`` holding ``net``'s values.

    Weights are stored as float32 (what :func:`spikegen.save` writes); the Leaky layers use a
    fast-sigmoid surrogate so the module can be trained further.
    """
    return to_snntorch(net, spike_grad=surrogate.fast_sigmoid(slope))


def _ste(exact, stand_in):
    """``exact`` in the forward pass, the gradient of ``stand_in`` in the backward pass.

    ``stand_in - stand_in.detach()`` is exactly zero, so the value is ``exact`` bit for bit.
    Without a stand-in (no gradients wanted) it is ``exact`` itself.
    """
    if stand_in is None:
        return exact
    return exact.detach() + (stand_in - stand_in.detach())


def _tensor(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def _clamp(x, lo, hi):
    return torch.minimum(torch.maximum(x, lo), hi)


def _saturating_sum(m, spikes, w, lo, hi):
    """Exact membranes after adding the weights of the active inputs in ascending order,
    saturating to ``[lo, hi]`` after every addition.

    One membrane per row: ``m`` (pairs,), the input spikes ``spikes`` and the neuron's
    weights ``w`` both (pairs, inputs). A saturating addition ``x -> clamp(x + c, l, h)``
    composed with another is again of that form: ``(c1, l1, h1)`` then ``(c2, l2, h2)`` is
    ``(c1 + c2, clamp(l1 + c2, l2, h2), clamp(h1 + c2, l2, h2))``. The composition is
    associative, so the inputs are reduced pairwise in a tree of depth ``log2(inputs)``
    rather than one tensor operation per input. ``(0, lo, hi)`` (an inactive input) is
    neutral for a membrane already in range.
    """
    out = m.clone()
    chunk = max(1, (1 << 21) // max(1, spikes.shape[1]))
    for start in range(0, m.shape[0], chunk):
        s = spikes[start:start + chunk]
        cols = torch.nonzero(s.any(dim=0)).flatten()
        if cols.numel() == 0:
            continue
        c = s[:, cols] * w[start:start + chunk][:, cols]
        low = torch.full_like(c, lo)
        high = torch.full_like(c, hi)
        while c.shape[1] > 1:
            if c.shape[1] % 2:
                pad = (c.shape[0], 1)
                c = torch.cat([c, c.new_zeros(pad)], dim=1)
                low = torch.cat([low, low.new_full(pad, lo)], dim=1)
                high = torch.cat([high, high.new_full(pad, hi)], dim=1)
            c2, l2, h2 = c[:, 1::2], low[:, 1::2], high[:, 1::2]
            low = _clamp(low[:, 0::2] + c2, l2, h2)
            high = _clamp(high[:, 0::2] + c2, l2, h2)
            c = c[:, 0::2] + c2
        out[start:start + chunk] = _clamp(m[start:start + chunk] + c[:, 0], low[:, 0],
                                          high[:, 0])
    return out


class QATNetwork(nn.Module):
    """A fully connected LIF network computing exactly what the reference computes.

    Parameters
    ----------
    net : Network
        The float network to start from (for instance
        :func:`spikegen.snntorch_model.network_from_module` of a float-trained snnTorch
        model). Weights and biases become float32 parameters, as
        :func:`spikegen.save` stores them; beta, threshold and reset stay fixed.
    weight_bits, beta_bits, mem_frac_bits, mem_bits
        Passed to :func:`spikegen.quantize.quantize`.
    coding : InputCoding
        Input coding (``events``, ``rate`` or ``direct``) and, for ``rate`` and
        ``direct``, the number of steps.
    slope : float
        Slope of snnTorch's fast-sigmoid surrogate gradient of the spike.
    weight_limits : sequence of float or None
        Per layer, ``w`` is kept in ``[-limit, limit]`` by :meth:`project_` (call it after
        every optimiser step). A limit of ``top * 2**-e`` (``top = 2**(bits-1) - 1``)
        pins the layer's quantization exponent at ``e`` or above, which is how a scale
        calibrated by :mod:`spikegen.ptq` is kept during fine-tuning.

    Notes
    -----
    ``forward(inputs)`` takes what :func:`spikegen.reference.simulate` takes: spike
    trains (batch, steps, inputs) of 0/1 for ``events``; pixel values (batch, inputs) of
    0..255 for ``direct``; for ``rate`` either pixel values (coded exactly as on chip with
    :func:`spikegen.encode.rate_onchip`) or spike trains already drawn (training draws
    fresh Bernoulli spikes with probability ``value / 256``, the on-chip distribution).
    """

    def __init__(self, net, *, weight_bits=8, beta_bits=8, mem_frac_bits=2, mem_bits=None,
                 coding=None, slope=25.0, weight_limits=None):
        super().__init__()
        for index, layer in enumerate(net.layers):
            if (type(layer.neuron) is not LIF or layer.recurrent is not None
                    or isinstance(layer.neuron.beta, np.ndarray)
                    or isinstance(layer.neuron.threshold, np.ndarray)
                    or layer.neuron.reset == "zero_all" or net.readout != "spikes"):
                raise SpikegenError(
                    f"layer {index}: quantization-aware training supports feed-forward LIF "
                    "layers with one beta and threshold per layer and a spike-count readout")
        self.coding = coding or InputCoding()
        self.options = dict(weight_bits=weight_bits, beta_bits=beta_bits,
                            mem_frac_bits=mem_frac_bits, mem_bits=mem_bits)
        self.neurons = tuple(layer.neuron for layer in net.layers)
        self.name = net.name
        self.weights = nn.ParameterList(
            nn.Parameter(torch.from_numpy(np.asarray(layer.weight, dtype=np.float32)))
            for layer in net.layers)
        self.has_bias = tuple(layer.bias is not None for layer in net.layers)
        self.biases = nn.ParameterList(
            nn.Parameter(torch.from_numpy(np.asarray(
                layer.bias if layer.bias is not None else np.zeros(layer.outputs),
                dtype=np.float32)), requires_grad=layer.bias is not None)
            for layer in net.layers)
        if weight_limits is not None and len(weight_limits) != len(net.layers):
            raise ValueError(f"weight_limits needs one entry per layer "
                             f"({len(net.layers)}), not {len(weight_limits)}")
        self.weight_limits = tuple(weight_limits or (None,) * len(net.layers))
        self.spike = surrogate.fast_sigmoid(slope)
        self.quantized()     # fail early on options quantize() rejects

    @classmethod
    def from_module(cls, model, *, reset_delay=None, **options):
        """A :class:`QATNetwork` starting from an ``nn.Linear`` + ``snntorch.Leaky``
        model."""
        return cls(network_from_module(model, reset_delay=reset_delay), **options)

    # -- views of the parameters ----------------------------------------------------

    def network(self):
        """The float :class:`~spikegen.ir.Network` of the current parameters."""
        layers = []
        for weight, bias, has_bias, neuron in zip(self.weights, self.biases, self.has_bias,
                                                  self.neurons):
            layers.append(DenseLayer(
                weight.detach().double().numpy().copy(),
                bias.detach().double().numpy().copy() if has_bias else None, neuron))
        return Network(tuple(layers), name=self.name)

    def quantized(self):
        """``quantize(self.network(), ...)`` with this module's options and coding."""
        qnet = quantize(self.network(), coding=self.coding, **self.options)
        for index, layer in enumerate(qnet.layers):
            if layer.mem_format.bits + layer.neuron.decay_bits >= _EXACT_BITS:
                raise SpikegenError(
                    f"layer {index}: a {layer.mem_format.bits}-bit membrane with "
                    f"{layer.neuron.decay_bits}-bit beta exceeds float64's exact "
                    "integers in quantization-aware training; use fewer --mem-bits")
        return qnet

    def to_module(self, *, slope=25.0):
        """The trained network as an ``nn.Sequential`` of ``nn.Linear`` +
        ``snntorch.Leaky``."""
        return module_from_network(self.network(), slope=slope)

    @torch.no_grad()
    def project_(self):
        """Clip each weight to its layer's limit (see ``weight_limits``)."""
        for weight, limit in zip(self.weights, self.weight_limits):
            if limit is not None:
                weight.clamp_(-limit, limit)

    # -- the forward pass -----------------------------------------------------------------

    def forward(self, inputs, *, record=False):
        """Output spikes (batch, steps, outputs) as float64 0/1 with surrogate gradients.

        With ``record=True`` it also returns, per layer, the spikes (uint8) and membranes
        (int64) as numpy arrays of shape (batch, steps, neurons), like
        :func:`spikegen.reference.simulate` with ``record=True``.
        """
        qnet = self.quantized()
        weights = [w.double() for w in self.weights]
        biases = [b.double() for b in self.biases]
        return _run(qnet, inputs, self.spike, weights, biases, record=record)


def simulate(qnet, inputs, *, record=False, slope=25.0):
    """The reference model computed with torch float64 matrix products (BLAS).

    Gives exactly ``reference.simulate(qnet, inputs).spikes`` (and with ``record=True`` the
    per-layer spikes and membranes), several times faster on inputs with many spikes; used to
    score calibration candidates and during training. ``inputs`` as for
    :func:`spikegen.reference.simulate`.
    """
    with torch.no_grad():
        result = _run(qnet, inputs, surrogate.fast_sigmoid(slope), record=record)
    if record:
        spikes, traces = result
        return spikes.numpy().astype(np.uint8), traces
    return result.numpy().astype(np.uint8)


def _first_inputs(inputs, count, coding):
    """First-layer spikes (or None) and pixel values (or None) as float64 tensors."""
    from .encode import rate_onchip
    from .reference import check_pixels, input_spikes

    if isinstance(inputs, torch.Tensor):
        inputs = inputs.detach().cpu().numpy()
    array = np.asarray(inputs)
    if coding.kind == "direct":
        return None, _tensor(check_pixels(_Shape(count, coding), array))
    if coding.kind == "rate" and array.ndim == 2:
        pixels = check_pixels(_Shape(count, coding), array)
        return _tensor(rate_onchip(pixels, coding.steps, seed=coding.seed)), None
    return _tensor(input_spikes(_Shape(count, InputCoding()), array)), None


def _run(qnet, inputs, spike, weights=None, biases=None, *, record=False):
    """Run ``qnet``; ``weights``/``biases`` (float units, per layer) carry the gradients."""
    coding = qnet.coding
    x, pixels = _first_inputs(inputs, qnet.inputs, coding)
    batch = (pixels if x is None else x).shape[0]
    steps = coding.steps if x is None else x.shape[1]
    traces = []
    for k, qlayer in enumerate(qnet.layers):
        scale = 2.0 ** qlayer.mem_format.frac
        weight = None if weights is None else weights[k] * scale
        w = _ste(_tensor(qlayer.weight << qlayer.shift), weight)
        bias = None
        if qlayer.bias is not None:
            stand_in = None if biases is None else biases[k] * scale
            bias = _ste(_tensor(qlayer.bias), stand_in)[None, :]
        if pixels is not None and k == 0:
            bias = _direct_current(qlayer, pixels, coding.value_bits, weight, bias)
        out, mems = _Layer(qlayer, w, bias, spike).run(x, batch, steps)
        if record:
            traces.append((out.detach().numpy().astype(np.uint8),
                           mems.detach().numpy().astype(np.int64)))
        x = out
    return (x, traces) if record else x


def _direct_current(qlayer, pixels, bits, weight, bias):
    """``direct`` coding: the reference's ``direct_current`` with gradients."""
    fmt = qlayer.mem_format
    acc = pixels @ _tensor(qlayer.weight).T
    exact = torch.floor((acc * 2.0 ** qlayer.shift + 2.0 ** (bits - 1)) / 2.0 ** bits)
    stand_in = None if weight is None else (pixels / 2.0 ** bits) @ weight.T
    current = _ste(exact, stand_in)
    if bias is not None:
        current = current + bias
    return _ste(current.clamp(fmt.min, fmt.max), current)


class _Layer:
    """One quantized layer's state machine over the time steps (reference semantics)."""

    def __init__(self, qlayer, w, bias, spike):
        n = qlayer.neuron
        self.fmt = qlayer.mem_format
        self.scale = 2.0 ** self.fmt.frac
        self.theta = float(n.threshold)
        self.neuron = n
        self.w = w
        self.w_exact = w.detach()
        self.pos_total = self.w_exact.clamp(min=0).sum(dim=1)
        self.neg_total = self.w_exact.clamp(max=0).sum(dim=1)
        self.bias = bias
        self.spike = spike

    def sat(self, x):
        return _ste(x.clamp(self.fmt.min, self.fmt.max), x)

    def leak(self, x):
        n = self.neuron
        if n.decay == 0:
            return x
        exact = x - torch.floor((x * n.decay + 2.0 ** (n.decay_bits - 1))
                                / 2.0 ** n.decay_bits)
        return _ste(exact, x * n.beta)

    def start(self, mem):
        """Membrane at the start of a step and the reset flags (the reference's
        ``_start_of_step``)."""
        n = self.neuron
        r = (mem.detach() > self.theta).double()
        base = mem * (1.0 - r) if n.reset == "zero" else mem
        m = self.leak(base)
        if self.bias is not None:
            m = m + self.bias
        if n.reset == "subtract":
            m = m - r * self.theta
        return self.sat(m), r

    def integrate(self, m, s):
        """Add the weights of the active inputs, saturating exactly as the reference."""
        total = m + s @ self.w.T
        lo, hi = float(self.fmt.min), float(self.fmt.max)
        md = m.detach()
        # Only a membrane whose partial sums may leave the range needs the exact sequential
        # sum: first a bound with every input active, then with the actual inputs.
        maybe = (md + self.pos_total > hi) | (md + self.neg_total < lo)
        if not bool(maybe.any()):
            return total
        rows = torch.nonzero(maybe.any(dim=1)).flatten()
        sr = s[rows].detach()
        up = md[rows] + sr @ self.w_exact.clamp(min=0).T
        down = md[rows] + sr @ self.w_exact.clamp(max=0).T
        pick, neuron = torch.nonzero(maybe[rows] & ((up > hi) | (down < lo)), as_tuple=True)
        if pick.numel() == 0:
            return total
        row = rows[pick]
        exact = total.detach().clone()
        exact[row, neuron] = _saturating_sum(md[row, neuron], sr[pick], self.w_exact[neuron],
                                             lo, hi)
        return _ste(exact, total)

    def run(self, x, batch, steps):
        n = self.neuron
        mem = torch.zeros((batch, self.w.shape[0]), dtype=torch.float64)
        m, r = self.start(mem)
        spikes, mems = [], []
        for t in range(steps):
            if x is not None:
                m = self.integrate(m, x[:, t])
            spk = self.spike((m - self.theta) / self.scale).double()
            if not n.reset_delay:
                if n.reset == "subtract":
                    m = self.sat(m - (spk - r) * self.theta)
                elif n.reset == "zero":
                    m = self.sat(m - (spk - r) * m)
            spikes.append(spk)
            mems.append(m)
            m, r = self.start(m)
        return torch.stack(spikes, dim=1), torch.stack(mems, dim=1)


class _Shape:
    """What the reference's input checks read of a network: its inputs, its coding, and the
    first layer's input shape (flat: these dense layers take no maps)."""

    def __init__(self, inputs, coding):
        self.inputs = inputs
        self.coding = coding
        self.layers = (_FlatInput((inputs,)),)


class _FlatInput:
    def __init__(self, input_shape):
        self.input_shape = input_shape
