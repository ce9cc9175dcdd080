"""The build report: ``report.json`` and the summary printed on the terminal."""
import math

import numpy as np
from amaranth.hdl import Shape

from . import __version__
from .ir import plain
from .quantize import membrane_bits, quantization_error


__all__ = ["make_report", "memory_estimate", "cycle_estimate", "summary"]


# 7-series RAMB18 aspect ratios (depth, width); a RAMB36 is two of them
_RAMB18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def _ramb18(depth, width, ports=1):
    # true dual port (two read ports) has no 36-bit-wide shape
    shapes = _RAMB18_SHAPES if ports == 1 else _RAMB18_SHAPES[:-1]
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in shapes)


def _components(qnet):
    from .assemble import accelerator

    return accelerator(qnet).layers


def memory_estimate(qnet, layers=None):
    """Bits of every memory, and the weight memories in RAMB36 equivalents (7-series), read
    from the layer components themselves (``layers``: the built ``FCLayer`` objects)."""
    hw = qnet.hardware
    layers = _components(qnet) if layers is None else layers
    rows, total, ramb18 = [], 0, 0
    for k, (layer, comp) in enumerate(zip(qnet.layers, layers)):
        groups, lanes = comp.groups, comp.lanes
        width = Shape.cast(comp.weights.shape).width
        weights = comp.weights.depth * width
        state = groups * lanes * comp.lane_state_bits
        bias = 0 if layer.bias is None else groups * lanes * layer.mem_format.bits
        words = (groups + 2) * (lanes + max(1, math.ceil(math.log2(max(groups, 2)))) + 2)
        fifo = 0
        if k + 1 < len(qnet.layers):
            fifo = hw.fifo_depth * comp.out_events * (
                max(1, math.ceil(math.log2(layer.outputs))) + 2)
        block = comp.weights.attrs.get("ram_style") == "block"
        blocks = _ramb18(comp.weights.depth, width, comp.events) if block else 0
        ramb18 += blocks
        rows.append({"weights": weights, "weight_memory": "block" if block else "logic",
                     "state": state, "bias": bias, "spike_queue": words, "event_fifo": fifo,
                     "weight_ramb36": blocks / 2})
        total += weights + state + bias + words + fifo
    return {"layers": rows, "total_bits": total, "bram36_estimate": ramb18 / 2}


def resource_estimate(qnet, layers=None):
    """A fast analytical estimate of the core's logic (7-series LUT6 / flip-flops, without a
    board's host link; see :func:`spikegen.fit.core_logic`) and block RAM. ``build --synth``
    shows how close it is."""
    from .fit import core_logic

    luts, ffs = core_logic(qnet, host_link=False)
    return {"lut": luts, "ff": ffs, "bram36": memory_estimate(qnet, layers)["bram36_estimate"]}


def cycle_estimate(qnet, events, coder=None, beats=None):
    """Estimated cycles per inference from per-step event counts.

    ``events[l]`` (samples, steps) counts the spike events *into* layer ``l`` (``l`` = 0: the
    input; the last entry: the output layer's spikes); ``coder`` (samples, steps), the cycles
    of an on-chip rate coder, which works as one more pipeline stage; ``beats[l]`` (samples,
    steps), the beats in which layer ``l``'s serializer sends its spikes (see
    :func:`rtl_lib.spike_serializer.serializer_beats`; default: one per spike). With ``E``
    events per cycle, layer ``l`` needs ``(ceil(events / E) + 1) * groups`` cycles for a
    step, and the serializer feeding it (layers after the first) one cycle per beat plus
    one; all these stages work on consecutive steps at once, so a step costs about as much
    as its slowest stage, plus the pipeline drain of the last step through the later
    stages.
    """
    hw = qnet.hardware
    e = hw.events_per_cycle
    direct = qnet.coding.kind == "direct"
    groups = [-(-layer.outputs // hw.lanes(layer.outputs)) for layer in qnet.layers]
    events = [np.asarray(e, dtype=np.int64) for e in events]
    stages = []
    for k in range(len(groups)):
        per_cycle = 1 if direct and k == 0 else e
        if k > 0 and per_cycle > 1:
            sent = events[k] if beats is None else np.asarray(beats[k - 1], dtype=np.int64)
            stages.append(sent + 1)           # the previous layer's serializer
        stages.append((-(-events[k] // per_cycle) + 1) * groups[k])
    if coder is not None:
        stages.insert(0, coder)               # the on-chip coder: one cycle per stored pixel
    work = np.stack(stages)                                                     # (S, B, T)
    per_step = work.max(axis=0)                                                 # (B, T)
    # the last step still has to pass the later stages, and the output layer's spikes of
    # that step leave one per cycle; a few cycles of latency per layer
    drain = work[1:, :, -1].sum(axis=0) + events[-1][:, -1] + 5 * len(groups)
    per_inference = per_step.sum(axis=1) + drain
    return {
        "formula": "sum over steps of max over stages of (ceil(events_in / E) + 1) * "
                   "ceil(N/P) per layer and beats + 1 per serializer feeding an E > 1 layer "
                   "(ceil(spikes / E) per 8-neuron chunk), plus the last step's drain through later stages and its output "
                   "spikes",
        "events_per_cycle": e,
        "per_step_mean": float(per_step.mean()),
        "per_inference_mean": float(per_inference.mean()),
        "per_inference_max": int(per_inference.max()),
        "groups": groups,
    }


def _leak_kind(decay):
    decay = np.atleast_1d(np.asarray(decay))
    if np.all(decay == 0):
        return "none"
    if np.all((decay > 0) & (decay & (decay - 1) == 0)):
        return "shift"
    return "multiply"


def _layer_rows(qnet, network):
    rows = []
    errors = quantization_error(network, qnet)
    hw = qnet.hardware
    for layer, error in zip(qnet.layers, errors):
        n = layer.neuron
        lanes = hw.lanes(layer.outputs)
        threshold = np.max(n.threshold)
        per_neuron = any(np.ndim(getattr(n, name, 0)) for name in
                         ("threshold", "decay", "syn_decay"))
        row = {
            "model": type(n).__name__, "per_neuron_parameters": bool(per_neuron),
            "inputs": layer.inputs, "outputs": layer.outputs, "bias": layer.bias is not None,
            "weight_format": str(layer.weight_format), "mem_format": str(layer.mem_format),
            "mem_bits_range_analysis": membrane_bits(layer.weight << layer.shift, layer.bias,
                                                     threshold),
            "threshold_lsb": n.threshold, "threshold": error["threshold"],
            "threshold_built": error["threshold_built"],
            "beta": error["beta"], "beta_built": n.beta,
            "beta_fixed_point": f"1 - {plain(n.decay)}/2^{n.decay_bits}",
            "leak": _leak_kind(n.decay),
            "reset": n.reset, "reset_delay": n.reset_delay,
            "lanes": lanes, "groups": -(-layer.outputs // lanes),
            "weight_rms_error": round(error["weight_rms_error"], 9),
            "weight_rms_error_relative": round(error["weight_rms_error_relative"], 9),
            "weight_max_error": round(error["weight_max_error"], 9),
        }
        if getattr(n, "syn_decay", None) is not None:
            row["alpha_fixed_point"] = f"1 - {plain(n.syn_decay)}/2^{n.decay_bits}"
            row["syn_format"] = str(layer.syn_format)
        if layer.recurrent is not None:
            diagonal = not np.any(layer.recurrent - np.diag(np.diag(layer.recurrent)))
            row["recurrent"] = "one_to_one" if diagonal else "all_to_all"
        rows.append({key: plain(value) for key, value in row.items()})
    return rows


def make_report(b):
    """The report tree of a build (see :mod:`spikegen.compiler`)."""
    from .compiler import TOP_NAME, options_tree

    qnet = b.qnet
    layers = getattr(b.component, "layers", None)
    tree = {
        "spikegen": __version__,
        "top": TOP_NAME,
        "options": options_tree(b.options),
        "network": {"name": qnet.name, "shape": list(qnet.shape),
                    "layers": _layer_rows(qnet, b.network)},
        "quantization_notes": list(qnet.notes),
        "coding": {"kind": qnet.coding.kind,
                   "steps": qnet.coding.steps or None,
                   "seed": qnet.coding.seed if qnet.coding.kind == "rate" else None,
                   "value_bits": qnet.coding.value_bits if qnet.coding.kind != "events"
                   else None},
        "memory": memory_estimate(qnet, layers),
        "resources_estimate": resource_estimate(qnet, layers),
        "files": sorted(b.files),
        "board": b.board,
    }
    if b.synthesis is not None:
        tree["synthesis"] = b.synthesis
    if b.metrics is not None:
        metrics = {k: v for k, v in b.metrics.items() if not k.startswith("_")}
        cycles = cycle_estimate(qnet, b.metrics["_events"], b.metrics["_coder"],
                                b.metrics.get("_beats"))
        tree["evaluation"] = metrics
        tree["cycles"] = cycles
        if b.board is not None:
            tree["latency_us_estimate"] = cycles["per_inference_mean"] / b.board["clock_hz"] * 1e6
    return tree


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _values(value):
    """A parameter for the summary: one number, or the range of per-neuron values."""
    if isinstance(value, list):
        return f"{min(value):g}..{max(value):g} (per neuron)"
    return f"{value:g}"


def summary(tree, verification=None):
    """The readable summary printed after a build (and after verification)."""
    net = tree["network"]
    lines = [f"spikegen {tree['spikegen']}: {net['name']} "
             f"{'-'.join(str(n) for n in net['shape'])}"]
    for k, layer in enumerate(net["layers"]):
        model = layer.get("model", "QLIF")
        kind = {"QCubaLIF": " current-based"}.get(model, "")
        if layer.get("recurrent"):
            kind += f" recurrent ({layer['recurrent'].replace('_', '-')})"
        lines.append(
            f"  layer {k}:{kind} {layer['inputs']}->{layer['outputs']}"
            f"  weights {layer['weight_format']}  membrane {layer['mem_format']}"
            f"  threshold {_values(layer['threshold_built'])}"
            f"  beta {_values(layer['beta'])}->{_values(layer['beta_built'])} ({layer['leak']})"
            f"  reset {layer['reset']}{'' if layer['reset_delay'] else ' (no delay)'}"
            f"  P={layer['lanes']}")
    coding = tree["coding"]
    events = tree.get("options", {}).get("events_per_cycle", 1)
    lines.append(f"  input coding: {coding['kind']}" + (
        "" if coding["kind"] == "events" else
        f", {coding['steps']} steps, {coding['value_bits']}-bit pixels")
        + f"; {events} input event{'s' if events > 1 else ''} per cycle per layer")
    for note in tree["quantization_notes"]:
        lines.append(f"  note: {note}")
    mem = tree["memory"]
    lines.append(f"  memory: {mem['total_bits']} bits, weights ~{mem['bram36_estimate']:g} RAMB36")
    if "evaluation" in tree:
        ev = tree["evaluation"]
        lines.append(f"  evaluation: {ev['samples']} samples of {ev['source']}")
        if "float_accuracy" in ev:
            lines.append(f"    accuracy: float (snnTorch) {_pct(ev['float_accuracy'])}, "
                         f"bit-exact reference {_pct(ev['reference_accuracy'])}")
        lines.append(f"    output spikes equal to snnTorch's: {_pct(ev['output_spike_agreement'])}"
                     f", classes equal: {_pct(ev['class_agreement'])}, "
                     f"saturated additions: {ev['saturated_additions']}")
        cyc = tree["cycles"]
        line = (f"    cycles: {cyc['per_step_mean']:.1f} per step, "
                f"{cyc['per_inference_mean']:.1f} per inference (estimate)")
        if "latency_us_estimate" in tree:
            clock = tree["board"]["clock_hz"] / 1e6
            line += f", {tree['latency_us_estimate']:.2f} us at {clock:g} MHz"
        lines.append(line)
    est = tree["resources_estimate"]
    lines.append(f"  logic estimate: ~{est['lut']} LUT, ~{est['ff']} FF, "
                 f"~{est['bram36']:g} RAMB36 (7-series)")
    synth = tree.get("synthesis")
    if synth:
        figures = synth["resources"]
        block = (f"{figures['bram36_equivalent']:g} RAMB36" if "bram36_equivalent" in figures
                 else f"{figures.get('bram', 0)} BRAM")
        lines.append(f"  synthesis ({figures['tool']}): {figures['lut']} LUT, {figures['ff']} FF,"
                     f" {block}, {figures['dsp']} DSP, {figures['carry']} carry")
        if synth.get("timing"):
            timing = synth["timing"]
            lines.append(f"  place and route ({timing['tool']}, {timing['device']}): "
                         f"{timing['achieved_mhz']} MHz achieved (target "
                         f"{timing['target_mhz']:g})")
    if tree.get("board"):
        from .boards import describe_build
        lines.append("  " + describe_build(tree["board"]))
    if verification is not None:
        v = verification
        lines.append(f"  verify ({v['simulator']}): {v['samples']} samples, "
                     f"{v['mismatched_samples']} mismatched samples, "
                     f"{v['mismatched_spikes']} mismatched spikes, "
                     f"{v['cycles_per_inference']:.1f} cycles per inference (simulated)")
    return "\n".join(lines)
