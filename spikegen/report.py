"""The build report: ``report.json`` and the summary printed on the terminal.

:data:`LAYER_ROWS` maps a layer kind to the function that describes one of its layers (the
quantized layer, the float one and its plan) as a row of plain JSON.
"""
import os
from dataclasses import asdict

import numpy as np

from . import __version__
from .build_dir import TOP_NAME
from .fit import block_rams, core_logic, memory_blocks
from .ir import plain
from .quantize import layer_error, membrane_bits
from .registry import Registry


__all__ = ["make_report", "memory_estimate", "resource_estimate", "summary", "options_tree",
           "LAYER_ROWS"]


LAYER_ROWS = Registry("report row")


def options_tree(options):
    """The build options as the report records them (no output folder, the source's file
    name only)."""
    tree = asdict(options)
    tree["source"] = os.path.basename(tree["source"])
    tree.pop("out")
    return tree


def _bits(memory):
    return memory.depth * memory.width


def memory_estimate(plan):
    """Bits of every memory, and the block RAMs in RAMB36 equivalents (7-series), from
    the hardware plan (:class:`~spikegen.plan.NetworkPlan`): the memories the components
    are built with."""
    rows, total, ramb36 = [], 0, 0.0
    fifos = {m.name: m for m in plan.fifos}
    for k, layer in enumerate(plan.layers):
        found = {m.name.split(".", 1)[1]: m for m in layer.memories(f"layer{k}")}
        weights = found["weights"]
        block = weights.kind == "block"
        blocks = block_rams(weights.depth, weights.width, "xc7", weights.read_ports) \
            if block else 0.0
        row = {"weights": _bits(weights), "weight_memory": "block" if block else "logic",
               "state": _bits(found["state"]),
               "bias": _bits(found["bias"]) if "bias" in found else 0,
               "spike_queue": _bits(found["words"]),
               "event_fifo": _bits(fifos[f"fifo{k}"]) if f"fifo{k}" in fifos else 0,
               "weight_ramb36": blocks}
        # every memory Yosys puts in block RAM (a convolution's state map, too)
        row["ramb36"] = sum(memory_blocks(m, "xc7") for m in found.values())
        rows.append(row)
        ramb36 += row["ramb36"]
        total += sum(_bits(m) for m in found.values()) + row["event_fifo"]
    return {"layers": rows, "total_bits": total, "bram36_estimate": ramb36}


def resource_estimate(plan):
    """A fast analytical estimate of the core's logic (7-series LUT6 / flip-flops, without a
    board's host link; see :func:`spikegen.fit.core_logic`) and block RAM. ``build --synth``
    shows how close it is."""
    luts, ffs = core_logic(plan, host_link=False)
    return {"lut": luts, "ff": ffs, "bram36": memory_estimate(plan)["bram36_estimate"]}


def _leak_kind(decay):
    decay = np.atleast_1d(np.asarray(decay))
    if np.all(decay == 0):
        return "none"
    if np.all((decay > 0) & (decay & (decay - 1) == 0)):
        return "shift"
    return "multiply"


def _format_rows(layer, plan, error, range_weights, threshold):
    """The rows every layer kind shares: formats, neuron parameters as built, lanes and the
    weight error."""
    n = layer.neuron
    row = {
        "weight_format": str(layer.weight_format), "mem_format": str(layer.mem_format),
        "mem_bits_one_step": membrane_bits(range_weights, layer.bias, threshold),
        "threshold_lsb": n.threshold, "threshold": error["threshold"],
        "threshold_built": error["threshold_built"],
        "beta": error["beta"], "beta_built": n.beta,
        "beta_fixed_point": f"1 - {plain(n.decay)}/2^{n.decay_bits}",
        "leak": _leak_kind(n.decay),
        "reset": n.reset, "reset_delay": n.reset_delay,
        "lanes": plan.lanes, "groups": plan.groups,
        "weight_rms_error": round(error["weight_rms_error"], 9),
        "weight_rms_error_relative": round(error["weight_rms_error_relative"], 9),
        "weight_max_error": round(error["weight_max_error"], 9),
    }
    if getattr(n, "syn_decay", None) is not None:
        row["alpha_fixed_point"] = f"1 - {plain(n.syn_decay)}/2^{n.decay_bits}"
        row["syn_format"] = str(layer.syn_format)
    return row


@LAYER_ROWS.register("dense")
def _dense_row(layer, plan, float_layer):
    n = layer.neuron
    per_neuron = any(np.ndim(getattr(n, name, 0)) for name in
                     ("threshold", "decay", "syn_decay"))
    row = {
        "model": type(n).__name__, "per_neuron_parameters": bool(per_neuron),
        "inputs": layer.inputs, "outputs": layer.outputs, "bias": layer.bias is not None,
        **_format_rows(layer, plan, layer_error(float_layer, layer),
                       layer.weight << layer.shift, np.max(n.threshold)),
    }
    if layer.recurrent is not None:
        diagonal = not np.any(layer.recurrent - np.diag(np.diag(layer.recurrent)))
        row["recurrent"] = "one_to_one" if diagonal else "all_to_all"
    return row


@LAYER_ROWS.register("conv2d")
def _conv_row(layer, plan, float_layer):
    g = layer.geometry
    # a neuron takes each weight of its channel once per event of its input window
    per_channel = np.repeat((layer.weight << layer.shift).reshape(g.out_channels, -1),
                            g.pool ** 2, axis=1)
    return {
        "model": type(layer.neuron).__name__,
        "input_shape": list(g.input_shape), "output_shape": list(g.output_shape),
        "inputs": layer.inputs, "outputs": layer.outputs, "bias": layer.bias is not None,
        "kernel": list(g.kernel), "stride": list(g.stride), "padding": list(g.padding),
        "dilation": list(g.dilation), "input_sum_pool": g.pool, "output_max_pool": g.out_pool,
        **_format_rows(layer, plan, layer_error(float_layer, layer), per_channel,
                       layer.neuron.threshold),
    }


def _layer_rows(qnet, network, plan, b=None):
    rows = []
    for layer, layer_plan, float_layer in zip(qnet.layers, plan.layers, network.layers):
        row = LAYER_ROWS(layer, layer_plan, float_layer)
        rows.append({"kind": layer.kind, **{key: plain(value) for key, value in row.items()}})
    # how each width was chosen, and what the evaluation saw each layer do
    for k, row in enumerate(rows):
        if b is not None and k < len(b.widths):
            row["widths"] = b.widths[k].as_dict()
        if b is not None and b.evaluation is not None:
            row["fidelity"] = b.evaluation.metrics["layers"][k]
    return rows


def make_report(b):
    """The report tree of a build (see :mod:`spikegen.compiler`)."""
    qnet, plan = b.qnet, b.plan
    tree = {
        "spikegen": __version__,
        "top": TOP_NAME,
        "options": options_tree(b.options),
        "network": {"name": qnet.name, "shape": list(qnet.shape),
                    "source": b.network.source, "conventions": list(b.network.notes),
                    "layers": _layer_rows(qnet, b.network, plan, b)},
        "quantization_notes": list(qnet.notes),
        "coding": {"kind": qnet.coding.kind,
                   "steps": qnet.coding.steps or None,
                   "seed": qnet.coding.seed if qnet.coding.kind == "rate" else None,
                   "value_bits": qnet.coding.value_bits if qnet.coding.kind != "events"
                   else None,
                   "trained": None if b.network.coding is None else
                   {"kind": b.network.coding.kind, "steps": b.network.coding.steps}},
        "hardware": {"parallelism": qnet.hardware.parallelism,
                     "events_per_cycle": qnet.hardware.events_per_cycle},
        "memory": memory_estimate(plan),
        "resources_estimate": resource_estimate(plan),
        "files": sorted(b.files),
        "board": b.board,
    }
    if b.fit is not None:
        from .boards import get_board

        capacity = get_board(b.options.board).capacity
        tree["fit_estimate"] = {
            "board": b.options.board, "family": b.fit["family"], "luts": b.fit["luts"],
            "ffs": b.fit["ffs"], "bram": b.fit["bram"], "lut_name": capacity.lut_name,
            "bram_name": capacity.bram_name,
            "shares": {k: round(v, 4) for k, v in b.fit.get("shares", {}).items()}}
        if "chosen" in b.fit:
            tree["fit_estimate"]["chosen"] = b.fit["chosen"]
    if b.synthesis is not None:
        tree["synthesis"] = b.synthesis
    if b.conversion is not None:
        tree["conversion"] = {"ann_accuracy": b.conversion["ann_accuracy"],
                              "weight_bits": b.conversion["weight_bits"],
                              "sweep": [dict(row) for row in b.conversion["rows"]]}
    if b.evaluation is not None:
        ev = b.evaluation
        cycles = plan.cycle_estimate(ev.events, ev.coder, ev.beats, ev.loads)
        tree["evaluation"] = dict(ev.metrics)
        tree["cycles"] = cycles
        if b.board is not None:
            tree["latency_us_estimate"] = cycles["per_inference_mean"] / b.board["clock_hz"] * 1e6
        tree.update(_neurobench_and_energy(b, cycles))
    return tree


def _neurobench_and_energy(b, cycles):
    """The report's ``neurobench`` metrics and, on a board, its ``energy`` estimate."""
    from .energy import estimate

    found = {"neurobench": b.evaluation.neurobench}
    if b.board is not None:
        ffs = b.fit["ffs"] if b.fit else resource_estimate(b.plan)["ff"]
        found["energy"] = estimate(b.plan, b.evaluation.events, family=b.board["family"],
                                   part=b.board["part"], clock_hz=b.board["clock_hz"],
                                   cycles=cycles["per_inference_mean"], ffs=ffs,
                                   loads=b.evaluation.loads)
    return found


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _values(value):
    """A parameter for the summary: one number, or the range of per-neuron values."""
    if isinstance(value, list):
        return f"{min(value):g}..{max(value):g} (per neuron)"
    return f"{value:g}"


#: How the summary names the reset modes (``zero_all`` is how snnTorch's Synaptic, RLeaky and
#: RSynaptic apply ``reset_mechanism="zero"``: no option of its own).
_RESETS = {"zero_all": "zero (the whole step after a spike, as snnTorch's Synaptic/RLeaky)"}


def _trained(coding):
    """What the checkpoint says the network was trained with, next to what is built."""
    trained = coding.get("trained")
    if not trained:
        return ""
    if trained["kind"] == coding["kind"]:
        return " (as trained, recorded in the checkpoint)"
    return (f" (trained with {trained['kind']} coding, {trained['steps']} steps: the "
            f"accuracy may differ)")


def _neurobench_lines(tree):
    nb, energy = tree.get("neurobench"), tree.get("energy")
    lines = []
    if nb:
        ops = nb["synaptic_operations"]
        macs = f" + {ops['effective_macs']:,.0f} MACs" if ops["effective_macs"] else ""
        lines.append(f"    NeuroBench: footprint {nb['footprint_bits']:,} bits stored "
                     f"({nb['footprint_float32_bytes']:,} B as float32), connection sparsity "
                     f"{nb['connection_sparsity']:.3f}, activation sparsity "
                     f"{nb['activation_sparsity']:.3f}, {ops['effective_acs']:,.0f} "
                     f"synaptic ACs{macs} per inference")
    if energy:
        low, high = energy["range_uj"]
        lines.append(f"    energy (estimate, {energy['part']}): {energy['energy_uj']:.3g} uJ "
                     f"per inference ({energy['dynamic_uj']:.3g} dynamic + "
                     f"{energy['static_uj']:.3g} static; range {low:.3g}..{high:.3g} uJ)")
    return lines


def _layer_shape(row):
    """``inputs->outputs`` of a dense layer; a convolution's maps, kernel and pooling."""
    if "kernel" not in row:
        return f"{row['inputs']}->{row['outputs']}"
    def shape(hwc):
        return f"{hwc[2]}x{hwc[0]}x{hwc[1]}"
    parts = [f"conv {row['kernel'][0]}x{row['kernel'][1]}"]
    for label, key in (("stride", "stride"), ("pad", "padding"), ("dilation", "dilation")):
        default = 0 if key == "padding" else 1
        if any(v != default for v in row[key]):
            parts.append(f"{label} {row[key][0]},{row[key][1]}")
    if row["input_sum_pool"] > 1:
        parts.insert(0, f"sum pool {row['input_sum_pool']}")
    if row["output_max_pool"] > 1:
        parts.append(f"max pool {row['output_max_pool']}")
    return f"{shape(row['input_shape'])}->{shape(row['output_shape'])} ({', '.join(parts)})"


def _layer_fidelity(layer):
    """The summary's second line of a layer: how its width was chosen, and (with evaluation
    data) its saturated additions and its spikes against the float model's."""
    parts = []
    widths = layer.get("widths")
    if widths:
        how = {"bound": f"the bound over {widths['steps']} steps",
               "calibration": "calibrated on the evaluation data",
               "mem_bits": "given (--mem-bits)"}[widths["chosen_by"]]
        parts.append(f"membrane {widths['bits']} bits: {how}")
    fidelity = layer.get("fidelity")
    if fidelity:
        parts.append(f"spikes equal to the float model's: "
                     f"{_pct(fidelity['spike_agreement'])}")
        parts.append(f"saturated additions: {fidelity['saturated_additions']}")
        if fidelity["saturated_additions"] and widths and widths.get("needed"):
            parts.append(f"--mem-bits {widths['needed']} avoids them on this data")
    return [f"    {'; '.join(parts)}"] if parts else []


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
            f"  layer {k}:{kind} {_layer_shape(layer)}"
            f"  weights {layer['weight_format']}  membrane {layer['mem_format']}"
            f"  threshold {_values(layer['threshold_built'])}"
            f"  beta {_values(layer['beta'])}->{_values(layer['beta_built'])} ({layer['leak']})"
            f"  reset {_RESETS.get(layer['reset'], layer['reset'])}"
            f"{'' if layer['reset_delay'] else ' (no delay)'}"
            f"  P={layer['lanes']}")
        lines += _layer_fidelity(layer)
    lines.append("  formats sB.F: signed B-bit integers with F fraction bits "
                 "(value = integer x 2^-F)")
    coding = tree["coding"]
    events = tree.get("hardware", {}).get("events_per_cycle") or \
        tree.get("options", {}).get("events_per_cycle") or 1
    lines.append(f"  input coding: {coding['kind']}" + (
        "" if coding["kind"] == "events" else
        f", {coding['steps']} steps, {coding['value_bits']}-bit pixels")
        + f"; {events} input event{'s' if events > 1 else ''} per cycle per layer"
        + (" (convolutions take one)" if events > 1 and any(
            "kernel" in layer for layer in net["layers"]) else "")
        + _trained(coding))
    for note in net.get("conventions", []):
        lines.append(f"  read as: {note}")
    for note in tree["quantization_notes"]:
        lines.append(f"  note: {note}")
    if "conversion" in tree:
        conv = tree["conversion"]
        lines.append(f"  conversion: ReLU network {_pct(conv['ann_accuracy'])}; converted, "
                     f"bit-exact ({conv['weight_bits']}-bit weights): " + ", ".join(
                         f"T = {row['steps']}: {_pct(row['snn_accuracy'])}"
                         for row in conv["sweep"])
                     + f" (first {conv['sweep'][0]['images']} evaluation samples)")
    mem = tree["memory"]
    fit = tree.get("fit_estimate")
    if fit is None or fit["family"] == "xc7":
        lines.append(f"  memory: {mem['total_bits']} bits, ~{mem['bram36_estimate']:g} RAMB36")
    else:
        lines.append(f"  memory: {mem['total_bits']} bits")
    if "evaluation" in tree:
        ev = tree["evaluation"]
        lines.append(f"  evaluation: {ev['samples']} samples of {ev['source']}")
        if "float_accuracy" in ev:
            lines.append(f"    accuracy: float ({net.get('source', 'snnTorch')}) "
                         f"{_pct(ev['float_accuracy'])}, "
                         f"bit-exact reference {_pct(ev['reference_accuracy'])}")
        lines.append(f"    output spikes equal to snnTorch's: {_pct(ev['output_spike_agreement'])}"
                     f", classes equal: {_pct(ev['class_agreement'])}, "
                     f"saturated additions: {ev['saturated_additions']}")
        if "diagnosis" in ev:
            lines.append(f"    why: {ev['diagnosis']['text']}")
        cyc = tree["cycles"]
        line = (f"    cycles: {cyc['per_step_mean']:.1f} per step, "
                f"{cyc['per_inference_mean']:.1f} per inference (estimate)")
        if "latency_us_estimate" in tree:
            clock = tree["board"]["clock_hz"] / 1e6
            line += f", {tree['latency_us_estimate']:.2f} us at {clock:g} MHz"
        lines.append(line)
    lines.extend(_neurobench_lines(tree))
    if fit is not None:
        widest = max(fit["shares"].values(), default=0)
        lines.append(f"  fit on the {fit['board']} (estimate, with the host link): "
                     f"~{fit['luts']:,} {fit['lut_name']}, ~{fit['ffs']:,} FF, "
                     f"~{fit['bram']:g} {fit['bram_name']}; {widest:.0%} of the part at most")
        if "chosen" in fit:
            lines.append(f"  parallelism: {fit['chosen']}")
    if fit is None or fit["family"] == "xc7":
        est = tree["resources_estimate"]
        lines.append(f"  core estimate (7-series, without the host link): ~{est['lut']} LUT6, "
                     f"~{est['ff']} FF, ~{est['bram36']:g} RAMB36")
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
        if v.get("neurobench"):
            agree = "equal" if v["neurobench"]["agree"] else "DIFFER FROM"
            lines.append(f"    NeuroBench counts from the RTL's streams {agree} the "
                         f"reference's")
    return "\n".join(lines)
