"""The membrane readout: the class is the output neuron with the largest final membrane.

:func:`membrane_argmax` is the output layer's part (it sees the lanes' membranes group by
group); :class:`MembraneAccelerator` puts its class into the accelerator's result.
"""
from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring

from .accelerator import Accelerator


__all__ = ["MembraneAccelerator", "membrane_argmax"]


def membrane_argmax(m, plan, membranes, classes, closing, group, final):
    """The last step's largest membrane, group after group: a comparison chain over the
    lanes, then against the best of the earlier groups; strict comparisons keep the lowest
    index on a tie.

    ``plan`` is the layer's :class:`~rtl_lib.fc_plan.FCPlan`; ``membranes`` the lanes'
    membranes of the group in the execute stage, ``group`` its number; on ``closing`` (the
    end-of-step update of the inference's last step) each group is compared, and with
    ``final`` (its last group) the winner is written into the ``classes`` FIFO.
    """
    P, G, outputs = plan.lanes, plan.groups, plan.outputs
    mb = plan.params.mem_bits
    pad = plan.pad
    best_v, best_i = membranes[0], Const(0, range(outputs))
    for j in range(1, P):
        better = membranes[j] > best_v
        if j >= P - pad:
            better = better & (group != G - 1)      # no neuron behind this lane
        v, i = Signal(signed(mb), name=f"best_mem{j}"), Signal(range(P), name=f"best{j}")
        m.d.comb += [v.eq(Mux(better, membranes[j], best_v)), i.eq(Mux(better, j, best_i))]
        best_v, best_i = v, i
    index = Signal(range(outputs))
    m.d.comb += index.eq(group * P + best_i)
    run_v, run_i = Signal(signed(mb)), Signal(range(outputs))
    take = (group == 0) | (best_v > run_v)
    winner = Signal(range(outputs))
    m.d.comb += winner.eq(Mux(take, index, run_i))
    with m.If(closing):
        with m.If(take):
            m.d.sync += [run_v.eq(best_v), run_i.eq(index)]
    m.d.comb += [classes.w_data.eq(winner), classes.w_en.eq(closing & final)]


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
