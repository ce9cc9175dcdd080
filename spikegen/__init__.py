"""spikegen: bit-exact, event-driven FPGA accelerators for spiking neural networks.

Python API::

    import spikegen
    net = spikegen.load("net.pt")              # float IR, read with weights_only=True
    out = spikegen.simulate(net, spikes)       # (batch, steps, inputs) -> output spikes
    trace = spikegen.simulate(net, spikes, record=True)   # every layer's spikes and membranes
    spikegen.save(model, "net.pt")             # a self-describing spikegen checkpoint
    spikegen.save_nir(model, "net.nir")        # its NIR graph (scalar beta too)
    conv = spikegen.convert_ann(relu_model, x, steps=16, input_shape=(1, 28, 28))
    spikegen.save(conv.network, "net.pt")      # a ReLU network (or "ann.onnx") converted
"""
__version__ = "0.1.0"

from .errors import SpikegenError
from .ir import Network, QNetwork
from .loader import load, save
from .nir_export import save_nir
from .quantize import quantize


__all__ = ["__version__", "SpikegenError", "Network", "QNetwork", "load", "save", "save_nir",
           "quantize",
           "simulate", "build", "verify", "convert_ann"]


def simulate(net, spikes, *, record=False, **quantize_options):
    """Run the bit-exact reference model.

    Parameters
    ----------
    net : Network or QNetwork
        A float network is first quantized with ``quantize_options`` (those of
        :func:`spikegen.quantize.quantize`: ``weight_bits``, ``beta_bits``, ...).
    spikes : array (batch, steps, inputs) of 0/1
    record : bool
        Return a :class:`spikegen.reference.SimResult` with every layer's spikes and
        membranes instead of the output spikes alone.

    Returns
    -------
    numpy.ndarray (batch, steps, outputs) of 0/1, or SimResult
    """
    from .reference import simulate as _simulate

    if isinstance(net, Network):
        net = quantize(net, **quantize_options)
    elif quantize_options:
        raise TypeError("Quantization options apply to a float Network only")
    result = _simulate(net, spikes, record=record)
    return result if record else result.spikes


def build(source, **options):
    """Run the compiler (see :class:`spikegen.compiler.BuildOptions` for the options)."""
    from .compiler import BuildOptions, build as _build

    return _build(BuildOptions(source=str(source), **options))


def verify(build_dir, **options):
    """Simulate a build's HDL against the reference (see :func:`spikegen.verify.verify`)."""
    from .verify import verify as _verify

    return _verify(build_dir, **options)


def convert_ann(model, x, *, steps, input_shape=None, **options):
    """Convert a trained ReLU network to integrate-and-fire neurons (see
    :mod:`spikegen.convert`).

    Parameters
    ----------
    model : torch.nn.Module, spikegen.ann.ANN, str or os.PathLike
        A PyTorch ReLU network (with ``input_shape`` (C, H, W) or (features,)), or a file:
        an ONNX graph or a ReLU-network checkpoint :func:`save` wrote.
    x : array (samples, features)
        Calibration intensities in [0, 1], features in the model's input order.
    steps : int
        Time steps per inference the network is converted for.
    options
        ``percentile`` and ``shift`` of :func:`spikegen.convert.convert`.

    Returns
    -------
    spikegen.convert.Conversion
        ``network`` is the spiking :class:`Network` (save it, build it).
    """
    import os

    from .ann import ANN, ann_from_module
    from .convert import convert, read_ann

    if isinstance(model, (str, os.PathLike)):
        ann = read_ann(model)
        if ann is None:
            raise SpikegenError(f"{model}: not a ReLU network (an ONNX file or a ReLU "
                                "checkpoint)")
    elif isinstance(model, ANN):
        ann = model
    else:
        ann = ann_from_module(model, input_shape)
    return convert(ann, x, steps=steps, **options)
