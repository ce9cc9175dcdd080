"""The accelerator top: layers chained through event FIFOs, and the readout."""
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out

from .event import EventLayout, ResultLayout, connect_events
from .event_fifo import EventFIFO
from .readout import SpikeCounter
from .stream_register import StreamRegister


__all__ = ["Accelerator"]


def _check_layer(layer):
    """Any layer component fits in the chain: an ``i_events`` stream in and an ``o_events``
    stream of spike events out, with ``inputs``, ``outputs`` and ``out_events``."""
    members = getattr(getattr(layer, "signature", None), "members", {})
    if not isinstance(layer, wiring.Component) or "i_events" not in members \
            or "o_events" not in members:
        raise TypeError(f"Layers must be components with i_events and o_events streams, "
                        f"not {layer!r}")
    for name in ("inputs", "outputs", "out_events"):
        if not isinstance(getattr(layer, name, None), int):
            raise TypeError(f"Layer {layer!r} must tell its {name} (an integer)")


class Accelerator(wiring.Component):
    """A spiking network accelerator: layer → ``EventFIFO`` → ... → ``SpikeCounter``.

    Feed each inference as its time steps in order: a step's input spike events (ascending
    index) then an end-of-step token, the final step's with ``last`` set. Consecutive layers
    work on consecutive time steps at once, decoupled by the FIFOs. Inferences may follow each
    other back to back.

    Parameters
    ----------
    layers : list of wiring.Component
        Layer components (:class:`~rtl_lib.fc_layer.FCLayer` or any other with an
        ``i_events`` stream in and an ``o_events`` stream of spike events out, and
        ``inputs``, ``outputs`` and ``out_events``); each layer's ``inputs`` equal to the
        previous layer's ``outputs``.
    count_bits : int
        Width of the per-class spike counters.
    fifo_depth : int
        Tokens buffered between consecutive layers.
    frontend : wiring.Component or None
        An input coder (:class:`~rtl_lib.rate_coder.RateCoder`,
        :class:`~rtl_lib.rate_coder.DirectCoder`) with an ``i_pixels`` stream and an
        ``o_events`` stream into the first layer; its ``i_pixels`` replaces ``i_events``.

    Members
    -------
    i_events : In(stream.Signature(EventLayout(inputs)))
        Input spike events and end-of-step tokens (``i_pixels`` instead with a frontend);
        beats of :class:`~rtl_lib.event.EventGroupLayout` when the first layer takes two
        events per cycle.
    o_spikes : Out(stream.Signature(EventLayout(classes)))
        The output layer's spike events and end-of-step tokens (tie ``ready`` high if unused).
    o_result : Out(stream.Signature(ResultLayout(classes, count_bits)))
        One result per inference: class and spike counts.
    """
    def __init__(self, layers, *, count_bits=8, fifo_depth=64, frontend=None):
        layers = list(layers)
        if not layers:
            raise TypeError("Layers must be a non-empty list of layer components")
        for layer in layers:
            _check_layer(layer)
        for before, after in zip(layers, layers[1:]):
            if after.inputs != before.outputs:
                raise ValueError(f"A layer with {after.inputs} inputs cannot follow a layer "
                                 f"with {before.outputs} neurons")
        if layers[-1].out_events != 1:
            raise ValueError("The output layer must emit one event per beat (the readout "
                             "counts one spike per cycle)")
        self.layers, self.count_bits, self.fifo_depth = layers, count_bits, fifo_depth
        self.frontend = frontend
        classes = layers[-1].outputs
        if frontend is None:
            first = ("i_events", layers[0].signature.members["i_events"])
        else:
            first = ("i_pixels", frontend.signature.members["i_pixels"])
        super().__init__({
            first[0]: first[1],
            "o_spikes": Out(stream.Signature(EventLayout(classes))),
            "o_result": Out(stream.Signature(ResultLayout(classes, count_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        for k, layer in enumerate(self.layers):
            m.submodules[f"layer{k}"] = layer
        if self.frontend is None:
            wiring.connect(m, wiring.flipped(self.i_events), self.layers[0].i_events)
        else:
            m.submodules.frontend = self.frontend
            wiring.connect(m, wiring.flipped(self.i_pixels), self.frontend.i_pixels)
            connect_events(m, self.frontend.o_events, self.layers[0].i_events)
        for k, (before, after) in enumerate(zip(self.layers, self.layers[1:])):
            queue = EventFIFO(before.outputs, self.fifo_depth, before.out_events)
            m.submodules[f"fifo{k}"] = queue
            wiring.connect(m, before.o_events, queue.i)
            connect_events(m, queue.o, after.i_events)
        m.submodules.readout = readout = SpikeCounter(self.layers[-1].outputs, self.count_bits)
        # the readout's count-and-compare starts from flip-flops, not the serializer's search
        readout_reg = StreamRegister(EventLayout(self.layers[-1].outputs))
        m.submodules.readout_reg = readout_reg
        wiring.connect(m, self.layers[-1].o_events, readout_reg.i)
        wiring.connect(m, readout_reg.o, readout.i_events)
        wiring.connect(m, readout.o_spikes, wiring.flipped(self.o_spikes))
        wiring.connect(m, readout.o_result, wiring.flipped(self.o_result))
        return m
