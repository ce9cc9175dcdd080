"""The accelerator top: layers chained through event FIFOs, and the readout."""
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .event import EventLayout, ResultLayout
from .event_fifo import EventFIFO
from .fc_layer import FCLayer
from .readout import SpikeCounter


__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """A spiking network accelerator: ``FCLayer`` → ``EventFIFO`` → ... → ``SpikeCounter``.

    Feed each inference as its time steps in order: a step's input spike events (ascending
    index) then an end-of-step token, the final step's with ``last`` set. Consecutive layers
    work on consecutive time steps at once, decoupled by the FIFOs. Inferences may follow each
    other back to back.

    Parameters
    ----------
    layers : list of FCLayer
        Each layer's ``inputs`` equal to the previous layer's ``outputs``.
    count_bits : int
        Width of the per-class spike counters.
    fifo_depth : int
        Tokens buffered between consecutive layers.

    Members
    -------
    i_events : In(stream.Signature(EventLayout(inputs)))
        Input spike events and end-of-step tokens.
    o_spikes : Out(stream.Signature(EventLayout(classes)))
        The output layer's spike events and end-of-step tokens (tie ``ready`` high if unused).
    o_result : Out(stream.Signature(ResultLayout(classes, count_bits)))
        One result per inference: class and spike counts.
    """
    def __init__(self, layers, *, count_bits=8, fifo_depth=64):
        layers = list(layers)
        if not layers or not all(isinstance(layer, FCLayer) for layer in layers):
            raise TypeError("Layers must be a non-empty list of FCLayer")
        for before, after in zip(layers, layers[1:]):
            if after.inputs != before.outputs:
                raise ValueError(f"A layer with {after.inputs} inputs cannot follow a layer "
                                 f"with {before.outputs} neurons")
        self.layers, self.count_bits, self.fifo_depth = layers, count_bits, fifo_depth
        classes = layers[-1].outputs
        super().__init__({
            "i_events": In(stream.Signature(EventLayout(layers[0].inputs))),
            "o_spikes": Out(stream.Signature(EventLayout(classes))),
            "o_result": Out(stream.Signature(ResultLayout(classes, count_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        for k, layer in enumerate(self.layers):
            m.submodules[f"layer{k}"] = layer
        wiring.connect(m, wiring.flipped(self.i_events), self.layers[0].i_events)
        for k, (before, after) in enumerate(zip(self.layers, self.layers[1:])):
            queue = EventFIFO(before.outputs, self.fifo_depth)
            m.submodules[f"fifo{k}"] = queue
            wiring.connect(m, before.o_events, queue.i)
            wiring.connect(m, queue.o, after.i_events)
        m.submodules.readout = readout = SpikeCounter(self.layers[-1].outputs, self.count_bits)
        wiring.connect(m, self.layers[-1].o_events, readout.i_events)
        wiring.connect(m, readout.o_spikes, wiring.flipped(self.o_spikes))
        wiring.connect(m, readout.o_result, wiring.flipped(self.o_result))
        return m
