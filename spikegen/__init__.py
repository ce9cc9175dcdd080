"""spikegen: bit-exact, event-driven FPGA accelerators for spiking neural networks.

Python API::

    import spikegen
    net = spikegen.load("net.pt")              # float IR, read with weights_only=True
    out = spikegen.simulate(net, spikes)       # (batch, steps, inputs) -> output spikes
    trace = spikegen.simulate(net, spikes, record=True)   # every layer's spikes and membranes
    spikegen.save(model, "net.pt")             # a self-describing spikegen checkpoint
    spikegen.save_nir(model, "net.nir")        # its NIR graph (scalar beta too)
"""
__version__ = "0.1.0"

from .errors import SpikegenError
from .ir import Network, QNetwork
from .loader import load, save
from .nir_export import save_nir
from .quantize import quantize


__all__ = ["__version__", "SpikegenError", "Network", "QNetwork", "load", "save", "save_nir",
           "quantize",
           "simulate", "build", "verify"]


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
