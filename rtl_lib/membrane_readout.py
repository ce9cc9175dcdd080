"""An accelerator whose class is read from the output layer's membranes."""
from amaranth.hdl import Module
from amaranth.lib import wiring

from .accelerator import Accelerator


__all__ = ["MembraneAccelerator"]


class MembraneAccelerator(wiring.Component):
    """:class:`~rtl_lib.accelerator.Accelerator` with a membrane readout.

    The class of an inference is the output neuron with the largest membrane after the last
    step (the lowest index on a tie; ``readout="membrane"`` in :mod:`spikegen.ir`), as the
    output layer (built with ``membrane_class=True``) reports it on its ``o_class`` stream;
    it replaces the spike-count winner in ``o_result.cls``. The counts stay the output
    spike counts (zero for a leaky-integrator layer that never fires). The signature is the
    accelerator's.

    Parameters
    ----------
    layers, **kwargs
        As for :class:`~rtl_lib.accelerator.Accelerator`; the last layer must have been built
        with ``membrane_class=True``.
    """
    def __init__(self, layers, **kwargs):
        layers = list(layers)
        if not layers or not getattr(layers[-1], "membrane_class", False):
            raise ValueError("The output layer of a membrane readout must be built with "
                             "membrane_class=True")
        self.inner = Accelerator(layers, **kwargs)
        self.layers = self.inner.layers
        super().__init__(dict(self.inner.signature.members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.accelerator = inner = self.inner
        classes = self.layers[-1].o_class
        for name in self.signature.members:
            if name != "o_result":
                wiring.connect(m, getattr(inner, name), wiring.flipped(getattr(self, name)))
        # one class per result, in the same order: they leave together
        result, out = inner.o_result, self.o_result
        both = result.valid & classes.valid
        m.d.comb += [
            out.valid.eq(both),
            out.payload.eq(result.payload),
            out.payload.cls.eq(classes.payload),
            result.ready.eq(out.ready & classes.valid),
            classes.ready.eq(out.ready & result.valid),
        ]
        return m
