"""What a build measures on its evaluation data: the float model against the bit-exact
reference, and the activity the cycle model and the plots read.

:func:`evaluate` runs both models on the same inputs and returns an :class:`Evaluation`:
``metrics`` (plain JSON: accuracies, agreement, saturations, activity; the report's
``evaluation``), and the arrays behind the cycle estimate and the raster plot.
"""
from dataclasses import dataclass

import numpy as np

from rtl_lib.spike_serializer import serializer_beats

from . import floatmodel, reference
from .errors import SpikegenError
from .metrics import neurobench_metrics


__all__ = ["Evaluation", "evaluate", "float_output", "input_events", "diagnose"]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A build's evaluation.

    ``metrics``: plain JSON figures; ``events``: per layer, the spike events *into* it
    (samples, steps), then the output layer's spikes; ``loads``: per layer, what its plan's
    ``step_cycles`` takes for each step (its ``step_load`` of the input spikes); ``beats``: per layer, the beats its
    serializer sends (samples, steps); ``coder``: an on-chip rate coder's cycles per step
    (or ``None``); ``raster``: the spike trains of the first sample, input then each layer;
    ``neurobench``: NeuroBench's metrics counted in the reference (:mod:`spikegen.metrics`).
    """
    metrics: dict
    events: tuple
    loads: tuple
    beats: tuple
    coder: "np.ndarray | None"
    raster: tuple
    neurobench: "dict | None" = None


def float_output(network, coding, inputs, *, layers=False):
    """Output spikes of the float (snnTorch) network on the same inputs as the hardware,
    and its last layer's final membrane: ``(spikes, membrane)``; with ``layers``, every
    layer's spikes too: ``(spikes, membrane, per-layer spikes)``."""
    if coding.kind == "events":
        return floatmodel.run_float(network, inputs, membrane=True, layers=layers)
    if coding.kind == "rate":
        from .encode import rate_onchip
        return floatmodel.run_float(network, rate_onchip(inputs, coding.steps,
                                                         seed=coding.seed), membrane=True,
                                    layers=layers)
    x = np.asarray(inputs, dtype=np.float64) / (1 << coding.value_bits)
    return floatmodel.run_float(network, x, steps=coding.steps, membrane=True, layers=layers)


def input_events(qnet, inputs):
    """Per sample and step, the tokens the first layer (or the coder) works through:
    ``(events into layer 0 or None, coder work or None)``, each (samples, steps)."""
    coding = qnet.coding
    if coding.kind == "events":
        return np.asarray(inputs).sum(axis=2), None
    nonzero = (np.asarray(inputs) > 0).sum(axis=1)
    if coding.kind == "rate":
        spikes = reference.input_spikes(qnet, inputs)
        return spikes.sum(axis=2), np.repeat(nonzero[:, None] + 1, coding.steps, axis=1)
    # direct: every pixel once, in the first step; then no events
    first = np.zeros((len(nonzero), coding.steps), dtype=np.int64)
    first[:, 0] = nonzero
    return first, None


def evaluate(network, qnet, plan, evaluation, *, requantize=None, options=None):
    """Run the float ``network`` and the quantized ``qnet`` (planned as ``plan``) on the
    :class:`~spikegen.data.EvalData` ``evaluation``: accuracies, how often their spikes
    agree (overall and per layer, with each layer's saturated additions), and the activity.
    With a membrane readout, both classify by the last layer's final membrane. Given
    ``requantize`` and the quantizer's ``options``, :func:`diagnose` says why the output
    spikes differ (``metrics["diagnosis"]``)."""
    float_spikes, float_membrane, float_layers = float_output(network, qnet.coding,
                                                              evaluation.inputs, layers=True)
    result = reference.simulate(qnet, evaluation.inputs, record=True)
    labels = evaluation.labels
    if qnet.readout == "membrane":
        float_pred = np.argmax(float_membrane, axis=1)
    else:
        float_pred = np.argmax(float_spikes.sum(axis=1), axis=1)
    samples = int(evaluation.inputs.shape[0])
    events, coder = input_events(qnet, evaluation.inputs)
    metrics = {
        "source": evaluation.source,
        "samples": samples,
        "steps": int(result.spikes.shape[1]),
        "input_events_per_sample": float(events.sum() / samples),
        "host_tokens_per_sample": float(
            events.sum() / samples + result.spikes.shape[1] if qnet.coding.kind == "events"
            else np.maximum((np.asarray(evaluation.inputs) > 0).sum(axis=1), 1).mean()),
        "output_spike_agreement": float(np.mean(float_spikes == result.spikes)),
        "class_agreement": float(np.mean(float_pred == result.predicted)),
        "saturated_additions": int(result.saturations),
        "layer_spikes_per_sample": [float(t.spikes.sum() / samples) for t in result.layers],
        "layers": [{"saturated_additions": int(t.saturations),
                    "spike_agreement": float(np.mean(f == t.spikes))}
                   for t, f in zip(result.layers, float_layers)],
    }
    if requantize is not None:
        metrics["diagnosis"] = diagnose(qnet, evaluation.inputs, float_spikes, requantize,
                                        options)
    if labels is not None:
        metrics["float_accuracy"] = float(np.mean(float_pred == labels))
        metrics["reference_accuracy"] = float(np.mean(result.predicted == labels))
    beats = tuple(serializer_beats(t.spikes, layer.lanes, layer.out_events)
                  for t, layer in zip(result.layers, plan.layers))
    spikes_in = reference.input_spikes(qnet, evaluation.inputs)
    loads = tuple(events if spikes is None else layer.step_load(spikes)
                  for layer, spikes in zip(plan.layers, (spikes_in,) + tuple(
                      t.spikes for t in result.layers[:-1])))
    first = reference.input_spikes(qnet, evaluation.inputs[:1])
    if first is None:                       # direct input: show the pixels as one "step"
        first = (np.asarray(evaluation.inputs[:1]) > 0)[:, None, :].astype(np.uint8)
    return Evaluation(
        metrics=metrics,
        events=(events,) + tuple(t.spikes.sum(axis=2) for t in result.layers),
        loads=loads, beats=beats, coder=coder,
        raster=(first[0],) + tuple(t.spikes[0] for t in result.layers),
        neurobench=neurobench_metrics(qnet, network, plan, evaluation.inputs, result))


def _trials(options):
    """What the diagnosis tries, each on its own: ``(cause, the option that removes it, the
    quantizer's options changed)``."""
    beta_bits = min(16, options["beta_bits"] + 8)
    weight_bits = min(16, options["weight_bits"] + 8)
    frac_bits = min(16, options["mem_frac_bits"] + 6)
    trials = []
    if options.get("mem_bits") is not None:
        trials.append(("saturation", "drop --mem-bits (calibrated widths never saturate "
                                     "on the evaluation data)", {"mem_bits": None}))
    trials += [
        ("beta rounding", f"--beta-bits {beta_bits}", {"beta_bits": beta_bits}),
        ("weight rounding", f"--weight-bits {weight_bits} (or train on the fixed-point grid: "
                            "spikegen train fine-tunes with it)",
         {"weight_bits": weight_bits}),
        ("the membrane's fraction bits", f"--mem-frac-bits {frac_bits}",
         {"mem_frac_bits": frac_bits}),
    ]
    return trials


def diagnose(qnet, inputs, float_spikes, requantize, options, *, samples=500):
    """Why the bit-exact output spikes differ from the float model's, in plain words.

    Each cause is tried on its own (``requantize(**changes)`` quantizes the float network
    with ``options`` changed) on the first ``samples`` samples; the cause whose removal
    brings the outputs closest to the float model's is named, with the option that removes
    it. Returns plain JSON: ``{"agreement", "trials": [{cause, option, agreement}], "text"}``.
    """
    x = np.asarray(inputs)[:samples]
    wanted = np.asarray(float_spikes)[:samples]
    base = float(np.mean(reference.simulate(qnet, x).spikes == wanted))
    found = {"samples": int(len(x)), "agreement": base, "trials": []}
    if base == 1.0:
        found["text"] = "the output spikes equal the float model's"
        return found
    for cause, option, changes in _trials(options):
        try:
            trial = requantize(**{**options, **changes})
        except SpikegenError:           # e.g. a given --mem-bits cannot hold the threshold
            continue
        agreement = float(np.mean(reference.simulate(trial, x).spikes == wanted))
        found["trials"].append({"cause": cause, "option": option, "agreement": agreement})
    ranked = sorted(found["trials"], key=lambda t: -t["agreement"])
    if not ranked or ranked[0]["agreement"] <= base:
        found["text"] = (f"{100 * (1 - base):.2f} % of output spikes differ from the float "
                         "model's; no single setting tried (" + ", ".join(
                             t["option"].split(" (")[0] for t in ranked) + ") brings them "
                         "closer")
        return found
    best = ranked[0]
    found["cause"] = best["cause"]
    found["text"] = (f"{100 * (1 - base):.2f} % of output spikes differ from the float "
                     f"model's, mostly from {best['cause']}: {best['option']} gives "
                     f"{100 * best['agreement']:.2f} % equal" + "".join(
                         f"; {t['cause']}: {t['option'].split(' (')[0]} gives "
                         f"{100 * t['agreement']:.2f} %" for t in ranked[1:]
                         if t["agreement"] > base))
    return found
