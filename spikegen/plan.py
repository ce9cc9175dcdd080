"""The hardware plan: every layer's plan, computed once from the quantized network.

A layer's plan (:class:`rtl_lib.fc_plan.FCPlan` for a dense layer,
:class:`rtl_lib.conv_plan.ConvPlan` for a convolution) holds its lanes and
groups, the events it takes per cycle and sends per beat, its memories with shape and kind,
its state fields, whether its lanes are tabulated, and its cycle model. The assembler builds
the components from it (:mod:`spikegen.assemble`), and the fit check (:mod:`spikegen.fit`), the
report and the compiler's metrics read it: none keeps a model of its own. The tests hold the
plan against the elaborated components.

:data:`PLANNERS` maps a layer kind to the function that plans it, given the layer and its
:class:`LayerContext` (its place in the network and the hardware options).
"""
from dataclasses import dataclass, replace

import numpy as np

from rtl_lib.conv_plan import ConvPlan
from rtl_lib.cuba_lif import CubaLIFParams
from rtl_lib.event import EventGroupLayout, EventLayout
from rtl_lib.fc_plan import FCPlan
from rtl_lib.lif import LIFParams
from rtl_lib.memory_plan import MemoryPlan
from rtl_lib.rate_coder import PixelLayout

from .errors import SpikegenError
from .ir import QNetwork
from .registry import Registry


__all__ = ["LayerContext", "NetworkPlan", "PLANNERS", "plan_network", "neuron_params",
           "dense_plan", "conv_plan", "conv_lanes", "count_bits"]


@dataclass(frozen=True)
class LayerContext:
    """Where a layer sits and what the hardware options ask of it.

    ``index`` of ``count`` layers; ``hardware`` (:class:`~spikegen.ir.HardwareConfig`),
    ``coding`` (:class:`~spikegen.ir.InputCoding`) and ``readout`` of the network.
    """
    index: int
    count: int
    hardware: object
    coding: object
    readout: str
    #: Whether the next layer takes ``E`` events per beat (a dense layer), or one (a
    #: convolution, or the readout after the last layer).
    next_groups: bool = False

    @property
    def first(self):
        return self.index == 0

    @property
    def last(self):
        return self.index == self.count - 1

    @property
    def value_bits(self):
        """Width of the input values a first layer takes with ``direct`` coding, else
        ``None`` (spike events)."""
        return self.coding.value_bits if self.first and self.coding.kind == "direct" else None

    @property
    def events(self):
        """Input events per cycle: a first layer fed values takes one per cycle, spike-event
        layers take ``E``."""
        return 1 if self.value_bits is not None else self.hardware.events_per_cycle

    @property
    def out_events(self):
        """Output events per beat: ``E`` to a next layer that groups its events, else
        one (a convolution, the readout)."""
        return self.hardware.events_per_cycle if self.next_groups else 1

    @property
    def membrane_class(self):
        return self.last and self.readout == "membrane"


PLANNERS = Registry("hardware plan")


def _at(value, k):
    return int(value[k]) if isinstance(value, np.ndarray) else int(value)


def neuron_params(layer):
    """The layer's :class:`~rtl_lib.lif.LIFParams` (:class:`~rtl_lib.cuba_lif.CubaLIFParams`
    for current-based neurons): one for the layer, or a list of one per neuron when the
    thresholds or decays differ."""
    n = layer.neuron
    common = dict(mem_bits=layer.mem_format.bits, decay_bits=n.decay_bits, reset=n.reset,
                  reset_delay=n.reset_delay, weight_shift=layer.shift)
    if n.current_based:
        params = [CubaLIFParams(syn_bits=layer.syn_format.bits, threshold=_at(n.threshold, k),
                                decay=_at(n.decay, k), syn_decay=_at(n.syn_decay, k),
                                **common)
                  for k in range(1 if n.uniform else layer.outputs)]
    else:
        params = [LIFParams(threshold=_at(n.threshold, k), decay=_at(n.decay, k), **common)
                  for k in range(1 if n.uniform else layer.outputs)]
    return params[0] if n.uniform else params


def dense_plan(layer, lanes=None, value_bits=None, events=1, out_events=1,
               membrane_class=False):
    """The :class:`~rtl_lib.fc_plan.FCPlan` of a quantized dense layer with ``lanes`` lanes
    (``None``: all neurons); refuses, in the user's terms, what the hardware cannot build."""
    params = neuron_params(layer)
    lanes = layer.outputs if lanes is None else min(lanes, layer.outputs)
    cuba = layer.neuron.current_based
    if isinstance(params, list) and lanes < layer.outputs and (cuba or value_bits is not None):
        kind = "current-based neurons" if cuba else "a first layer fed input values"
        raise SpikegenError(f"per-neuron thresholds or betas that differ need one lane per "
                            f"neuron for {kind} ({layer.outputs}, not {lanes}): use `parallelism` 0 "
                            f"(fully parallel)")
    if value_bits is not None and layer.recurrent is not None:
        raise SpikegenError("the hardware cannot build a recurrent first layer with direct "
                            "coding yet; use rate or events coding, or spikegen simulate for "
                            "the reference model")
    if value_bits is not None and cuba:
        raise SpikegenError("the hardware cannot build a current-based (CubaLIF) first layer "
                            "with direct coding yet; use rate or events coding, or spikegen "
                            "simulate for the reference model")
    first = params[0] if isinstance(params, list) else params
    return FCPlan(inputs=layer.inputs, outputs=layer.outputs, lanes=lanes,
                  weight_bits=layer.weight_format.bits, params=first,
                  uniform=not isinstance(params, list), bias=layer.bias is not None,
                  recurrent=layer.recurrent is not None, value_bits=value_bits,
                  events=events, out_events=out_events, membrane_class=membrane_class)


@PLANNERS.register("dense")
def _plan_dense(layer, ctx):
    return dense_plan(layer, ctx.hardware.lanes(layer.outputs), ctx.value_bits, ctx.events,
                      ctx.out_events, ctx.membrane_class)


def conv_lanes(channels, requested):
    """Lanes of a convolution: the largest divisor of its output channels up to the
    requested parallelism (all channels for 0), so each state word is whole channels."""
    if requested <= 0 or requested >= channels:
        return channels
    return max(d for d in range(1, requested + 1) if channels % d == 0)


def conv_plan(layer, lanes=None, out_events=1):
    """The :class:`~rtl_lib.conv_plan.ConvPlan` of a quantized convolution layer with
    ``lanes`` lanes (``None``: all output channels; else the largest divisor of the channels
    up to it)."""
    channels = layer.geometry.out_channels
    lanes = channels if lanes is None else conv_lanes(channels, lanes)
    return ConvPlan(layer.geometry, lanes, layer.weight_format.bits, neuron_params(layer),
                    bias=layer.bias is not None, out_events=out_events)


@PLANNERS.register("conv2d")
def _plan_conv(layer, ctx):
    if ctx.value_bits is not None:
        raise SpikegenError("a convolution takes spike events: `coding` direct feeds pixel "
                            "values to a dense first layer only; use events or rate coding")
    if ctx.membrane_class:
        raise SpikegenError("a membrane readout needs a dense last layer; end the network "
                            "with a Linear layer, or use `readout` spikes")
    return conv_plan(layer, ctx.hardware.parallelism, ctx.out_events)


def count_bits(net: QNetwork):
    """Width of the readout's per-class spike counters: ``max_steps`` spikes each."""
    return max(1, net.hardware.max_steps.bit_length())


@dataclass(frozen=True)
class NetworkPlan:
    """The plan of a whole accelerator (without a board's host link).

    ``layers``: one plan per layer (:class:`~rtl_lib.fc_plan.FCPlan` for dense layers);
    ``kinds``: their layer kinds; ``fifos``: the event FIFOs between consecutive layers;
    ``frontend``: the memories of the input coder; ``count_bits``, ``fifo_depth``: the
    readout's counters and the FIFOs' depth; ``coding`` and ``readout`` of the network.
    """
    layers: tuple
    kinds: tuple
    fifos: tuple
    frontend: tuple
    count_bits: int
    fifo_depth: int
    coding: object
    readout: str

    def memories(self):
        """Every memory of the accelerator, layer by layer, then the coder's."""
        out = []
        for k, layer in enumerate(self.layers):
            out.extend(layer.memories(f"layer{k}"))
            if k < len(self.fifos):
                out.append(self.fifos[k])
        return tuple(out) + self.frontend

    def with_weight_bits(self, bits):
        """The same plan with ``bits``-bit weights (what fewer bits would take)."""
        return replace(self, layers=tuple(replace(layer, weight_bits=bits)
                                          for layer in self.layers))

    def cycle_estimate(self, events, coder=None, beats=None, loads=None):
        """Estimated cycles per inference from per-step event counts.

        ``events[l]`` (samples, steps) counts the spike events *into* layer ``l`` (``l`` = 0:
        the input; the last entry: the output layer's spikes); ``coder`` (samples, steps),
        the cycles of an on-chip rate coder, which works as one more pipeline stage;
        ``beats[l]`` (samples, steps), the beats in which layer ``l``'s serializer sends its
        spikes (:func:`rtl_lib.spike_serializer.serializer_beats`; default: one per spike).
        ``loads[l]`` (samples, steps): what layer ``l``'s ``step_cycles`` takes, its
        ``step_load`` of the step's input spikes (default: ``events[l]``, a dense layer's).
        Layer ``l`` needs :meth:`rtl_lib.fc_plan.FCPlan.step_cycles` for a step, and the
        serializer feeding it (when it takes more than one event per cycle) one cycle per
        beat plus one; all these stages work on consecutive steps at once, so a step costs
        about as much as its slowest stage, plus the pipeline drain of the last step through
        the later stages.
        """
        events = [np.asarray(e, dtype=np.int64) for e in events]
        stages = []
        for k, layer in enumerate(self.layers):
            if k > 0 and layer.events > 1:
                sent = events[k] if beats is None else np.asarray(beats[k - 1],
                                                                  dtype=np.int64)
                stages.append(sent + 1)           # the previous layer's serializer
            stages.append(layer.step_cycles(events[k] if loads is None
                                            else np.asarray(loads[k], dtype=np.int64)))
        if coder is not None:
            stages.insert(0, coder)               # the on-chip coder: one cycle per pixel
        work = np.stack(stages)                                                 # (S, B, T)
        per_step = work.max(axis=0)                                             # (B, T)
        # the last step still has to pass the later stages, and the output layer's spikes of
        # that step leave one per cycle; a few cycles of latency per layer
        drain = work[1:, :, -1].sum(axis=0) + events[-1][:, -1] + 5 * len(self.layers)
        per_inference = per_step.sum(axis=1) + drain
        return {
            "formula": "sum over steps of max over stages of (ceil(events_in / E) + 1 "
                       "[+ 1 for a split end-of-step update]) * ceil(N/P) per dense layer, "
                       "a conv layer's own step cycles, and beats + 1 per serializer "
                       "feeding an E > 1 "
                       "layer (ceil(spikes / E) per 8-neuron chunk), plus the last step's "
                       "drain through later stages and its output spikes",
            "events_per_cycle": max(layer.events for layer in self.layers),
            "per_step_mean": float(per_step.mean()),
            "per_inference_mean": float(per_inference.mean()),
            "per_inference_max": int(per_inference.max()),
            "groups": [layer.groups for layer in self.layers],
        }


def _fifo(k, layer, depth):
    """The event FIFO after layer ``k``: ``depth - 1`` entries (the buffered FIFO's output
    register holds one more) of the events it sends per beat."""
    layout = EventLayout(layer.outputs) if layer.out_events == 1 else \
        EventGroupLayout(layer.outputs, layer.out_events)
    return MemoryPlan(f"fifo{k}", depth - 1, layout.size, "ram")


def _frontend(qnet):
    coding = qnet.coding
    if coding.kind == "rate":
        # the rate coder stores each sample's nonzero pixels
        return (MemoryPlan("rate_coder", qnet.inputs,
                           PixelLayout(qnet.inputs, coding.value_bits).size, "ram"),)
    return ()


def plan_network(qnet: QNetwork):
    """The :class:`NetworkPlan` of ``qnet``'s accelerator."""
    hw = qnet.hardware
    count = len(qnet.layers)
    following = tuple(layer.groups_events for layer in qnet.layers[1:]) + (False,)
    layers = tuple(PLANNERS(layer, LayerContext(k, count, hw, qnet.coding, qnet.readout,
                                                following[k]))
                   for k, layer in enumerate(qnet.layers))
    fifos = tuple(_fifo(k, layer, hw.fifo_depth) for k, layer in enumerate(layers[:-1]))
    return NetworkPlan(layers=layers, kinds=tuple(layer.kind for layer in qnet.layers),
                       fifos=fifos, frontend=_frontend(qnet), count_bits=count_bits(qnet),
                       fifo_depth=hw.fifo_depth, coding=qnet.coding, readout=qnet.readout)
