"""The compiler: an explicit list of plain steps, ``step(build) -> build``.

    load → quantize → check → assemble → emit → board → synth → report

Each step takes the frozen :class:`Build` record and returns a new one with its result added,
so any intermediate state can be inspected (and checked against the reference) after any
step. :func:`build` runs them in order.
"""
import inspect
import json
import os
from dataclasses import asdict, dataclass, replace

import numpy as np

from rtl_lib.link_format import MAX_INPUTS
from rtl_lib.spike_serializer import serializer_beats

from . import assemble as _assemble
from . import data as _data
from . import emit as _emit
from . import floatmodel, ir, loader, reference
from .quantize import quantize as quantize_network
from .errors import SpikegenError
from .flat_top import FlatTop


__all__ = ["BuildOptions", "Build", "STEPS", "build", "TOP_NAME", "write_json"]


TOP_NAME = "spikegen_top"


@dataclass(frozen=True)
class BuildOptions:
    """Everything ``spikegen build`` is told. Defaults are the command line's."""
    source: str
    out: str = "build"
    board: "str | None" = "arty-a7"
    weight_bits: int = 8
    beta_bits: int = 8
    mem_frac_bits: int = 2
    mem_bits: "int | None" = None
    parallelism: int = 0
    events_per_cycle: int = 1
    max_steps: int = 255
    fifo_depth: int = 64
    reset_delay: "bool | None" = None
    dt: "float | None" = None
    reset: "str | None" = None
    readout: "str | None" = None
    eval: "str | None" = None
    coding: str = "events"
    steps: int = 16
    seed: int = 0
    baud: "int | None" = None
    clock_hz: "int | None" = None
    synth: "str | None" = None
    hdl: str = "both"
    vhdl_std: str = "08"
    board_hdl: str = "verilog"


@dataclass(frozen=True, eq=False)
class Build:
    """The state of a build after each step."""
    options: BuildOptions
    network: "ir.Network | None" = None
    qnet: "ir.QNetwork | None" = None
    eval: "_data.EvalData | None" = None
    metrics: "dict | None" = None
    component: object = None
    files: tuple = ()
    board: "dict | None" = None
    synthesis: "dict | None" = None
    report: "dict | None" = None


def write_json(path, tree):
    """Deterministic JSON: sorted keys, fixed indentation, trailing newline."""
    with open(path, "w") as f:
        json.dump(tree, f, indent=1, sort_keys=True)
        f.write("\n")


# -- steps ------------------------------------------------------------------------------------


def load(b: Build) -> Build:
    """Read the trained network (safely) into the float IR."""
    o = b.options
    return replace(b, network=loader.load(o.source, reset_delay=o.reset_delay, dt=o.dt,
                                          reset=o.reset, readout=o.readout))


def quantize(b: Build) -> Build:
    """Float IR → fixed-point IR (see :mod:`spikegen.quantize`)."""
    o = b.options
    if not isinstance(o.parallelism, int) or o.parallelism < 0:
        raise SpikegenError(f"--parallelism must be 0 (all neurons) or a positive integer, "
                            f"not {o.parallelism!r}")
    if not isinstance(o.max_steps, int) or not 1 <= o.max_steps <= 65535:
        raise SpikegenError(f"--max-steps must be from 1 to 65535, not {o.max_steps!r}")
    if not isinstance(o.fifo_depth, int) or not 2 <= o.fifo_depth <= 65536:
        raise SpikegenError(f"--fifo-depth must be from 2 to 65536, not {o.fifo_depth!r}")
    if o.events_per_cycle not in (1, 2):
        raise SpikegenError(f"--events-per-cycle must be 1 or 2 (the two ports of a block "
                            f"RAM), not {o.events_per_cycle!r}")
    hardware = ir.HardwareConfig(parallelism=o.parallelism, max_steps=o.max_steps,
                                 fifo_depth=o.fifo_depth,
                                 events_per_cycle=o.events_per_cycle)
    if o.coding not in ir.CODINGS:
        raise SpikegenError(f"--coding must be one of {', '.join(ir.CODINGS)}, "
                            f"not {o.coding!r}")
    coding = ir.InputCoding(kind=o.coding, steps=0 if o.coding == "events" else o.steps)
    qnet = quantize_network(b.network, weight_bits=o.weight_bits, beta_bits=o.beta_bits,
                            mem_frac_bits=o.mem_frac_bits, mem_bits=o.mem_bits,
                            hardware=hardware, coding=coding)
    return replace(b, qnet=qnet)


def check(b: Build) -> Build:
    """Check limits, and run the float model and the reference on the evaluation data."""
    o, qnet = b.options, b.qnet
    if qnet.inputs > MAX_INPUTS:
        raise SpikegenError(f"the network has {qnet.inputs} inputs; the host link carries at "
                            f"most {MAX_INPUTS}: crop or pool the input")
    if o.steps < 1 or o.steps > o.max_steps:
        raise SpikegenError(f"--steps {o.steps} must be from 1 to --max-steps ({o.max_steps})")
    if o.eval is None:
        return replace(b, metrics=None)
    evaluation = _data.eval_data(o.eval, inputs=qnet.inputs, steps=o.steps, seed=o.seed,
                                 coding=o.coding)
    if o.coding == "events" and evaluation.inputs.shape[1] > o.max_steps:
        raise SpikegenError(f"the evaluation data has {evaluation.inputs.shape[1]} steps; "
                            f"raise --max-steps to at least that")
    float_spikes, float_membrane = float_output(b.network, qnet.coding, evaluation.inputs)
    result = reference.simulate(qnet, evaluation.inputs, record=True)
    metrics = evaluation_metrics(qnet, evaluation, float_spikes, result, float_membrane)
    return replace(b, eval=evaluation, metrics=metrics)


def assemble(b: Build) -> Build:
    """Fixed-point IR → Amaranth accelerator component."""
    return replace(b, component=_assemble.accelerator(b.qnet))


def emit(b: Build) -> Build:
    """Write ``network.json``, the Verilog and the evaluation data."""
    out = b.options.out
    os.makedirs(os.path.join(out, "hdl", "verilog"), exist_ok=True)
    files = []
    write_json(os.path.join(out, "network.json"), ir.to_json(b.qnet))
    files.append("network.json")
    if b.options.hdl not in ("verilog", "vhdl", "both"):
        raise SpikegenError(f"--hdl must be verilog, vhdl or both, not {b.options.hdl!r}")
    texts = {}
    if b.options.hdl == "both":
        texts["verilog"], texts["vhdl"] = _emit.both(FlatTop(b.component), name=TOP_NAME,
                                                     std=b.options.vhdl_std)
    elif b.options.hdl == "verilog":
        texts["verilog"] = _emit.verilog(FlatTop(b.component), name=TOP_NAME)
    else:
        texts["vhdl"] = _emit.vhdl(FlatTop(b.component), name=TOP_NAME, std=b.options.vhdl_std)
    for language, suffix in (("verilog", "v"), ("vhdl", "vhd")):
        if language in texts:
            os.makedirs(os.path.join(out, "hdl", language), exist_ok=True)
            path = os.path.join("hdl", language, f"{TOP_NAME}.{suffix}")
            with open(os.path.join(out, path), "w") as f:
                f.write(texts[language])
            files.append(path)
    if b.eval is not None:
        os.makedirs(os.path.join(out, "data"), exist_ok=True)
        arrays = {"spikes" if b.qnet.coding.kind == "events" else "pixels": b.eval.inputs}
        if b.eval.labels is not None:
            arrays["labels"] = b.eval.labels
        _save_npz(os.path.join(out, "data", "eval.npz"), arrays)
        files.append(os.path.join("data", "eval.npz"))
    return replace(b, files=tuple(files))


def board(b: Build) -> Build:
    """Wrap the accelerator for the board and write its vendor project."""
    if b.options.board is None:
        return replace(b, board=None)
    from .boards import get_board

    try:
        target = get_board(b.options.board)
    except ValueError as exc:
        raise SpikegenError(str(exc)) from None
    from .fit import check_fit

    # refuse a network that cannot fit before any synthesis runs
    fit = check_fit(b.qnet, target)
    extra = {}
    make = lambda: _assemble.accelerator(b.qnet)                    # noqa: E731
    if b.options.board_hdl == "vhdl":
        if "extra_files" not in inspect.signature(target.build).parameters:
            raise SpikegenError(f"--board-hdl vhdl needs a vendor flow that reads VHDL "
                                f"(arty-a7); {target.name}'s open toolchain reads Verilog")
        if b.options.hdl == "verilog":
            raise SpikegenError("--board-hdl vhdl needs the VHDL: drop --hdl verilog")
        from .blackbox import BlackBox

        with open(os.path.join(b.options.out, "hdl", "vhdl", f"{TOP_NAME}.vhd")) as f:
            extra["extra_files"] = {f"{TOP_NAME}.vhd": f.read()}
        signature = _assemble.accelerator(b.qnet).signature
        make = lambda: BlackBox(signature, TOP_NAME)                # noqa: E731
    elif b.options.board_hdl != "verilog":
        raise SpikegenError(f"--board-hdl must be verilog or vhdl, not {b.options.board_hdl!r}")
    elif b.options.hdl != "vhdl" and "extra_files" in inspect.signature(target.build).parameters:
        # the core's Verilog is already written: the board top instantiates it by name
        # instead of converting the whole design once more
        from .blackbox import BlackBox

        with open(os.path.join(b.options.out, "hdl", "verilog", f"{TOP_NAME}.v")) as f:
            extra["extra_files"] = {f"{TOP_NAME}.v": f.read()}
        signature = b.component.signature
        make = lambda: BlackBox(signature, TOP_NAME)                # noqa: E731
    try:
        # a function, not a component: the board top instantiates its own accelerator (one
        # design elaborates once), and may rebuild it at a slower clock if timing fails
        info = target.build(make, os.path.join(b.options.out, "board"), baud=b.options.baud,
                            clock_hz=b.options.clock_hz, **extra)
    except ValueError as exc:
        raise SpikegenError(f"board {target.name}: {exc}") from None
    info = dict(info)
    if isinstance(fit, dict) and "shares" in fit:
        info["fit_estimate"] = fit["shares"]
    return replace(b, board=info)


def synth(b: Build) -> Build:
    """With ``--synth``: Yosys resource counts of the core, and for ECP5 the achieved clock."""
    family = b.options.synth
    if family is None:
        return replace(b, synthesis=None)
    from . import synth as _synth

    if family == "auto":
        family = "xc7"
        if b.options.board is not None:
            from .boards import get_board
            family = get_board(b.options.board).capacity.family
    if b.options.hdl == "vhdl":
        text = _emit.verilog(FlatTop(_assemble.accelerator(b.qnet)), name=TOP_NAME)
    else:
        with open(os.path.join(b.options.out, "hdl", "verilog", f"{TOP_NAME}.v")) as f:
            text = f.read()
    work = os.path.join(b.options.out, "synth", family)
    resources = _synth.synthesize(text, TOP_NAME, family, work_dir=work,
                                  keep_netlist=family == "ecp5")
    timing = None
    if family == "ecp5":
        timing = _synth.place_and_route_ecp5(work)
    # run times vary between runs; keep the report deterministic
    resources = {k: v for k, v in resources.items() if k != "seconds"}
    if timing is not None:
        timing = {k: v for k, v in timing.items() if k != "seconds"}
    return replace(b, synthesis={"resources": resources, "timing": timing})


def report(b: Build) -> Build:
    """Write ``report.json`` (deterministic) and keep the tree for the summary."""
    from .report import make_report

    from . import plots

    files = b.files
    if b.metrics is not None and plots.available():
        trains = b.metrics["_raster"]
        names = ["input"] + [f"layer {k}" for k in range(len(trains) - 1)]
        label = "" if b.eval.labels is None else f", label {int(b.eval.labels[0])}"
        path = os.path.join("plots", "raster.png")
        plots.raster(os.path.join(b.options.out, path), trains, names,
                     f"{b.qnet.name}: evaluation sample 0{label} (bit-exact reference)")
        files = files + (path,)
    b = replace(b, files=files)
    tree = make_report(b)
    write_json(os.path.join(b.options.out, "report.json"), tree)
    return replace(b, report=tree)


STEPS = (load, quantize, check, assemble, emit, board, synth, report)


def build(options: BuildOptions, *, log=None) -> Build:
    """Run every step; ``log`` (e.g. ``print``) gets one line per step."""
    b = Build(options=options)
    for step in STEPS:
        if log is not None:
            log(f"[{step.__name__}]")
        b = step(b)
    return b


# -- helpers ----------------------------------------------------------------------------------


def _save_npz(path, arrays):
    """``np.savez`` with fixed member timestamps, so identical arrays give identical files."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, buffer.getvalue())


def float_output(network, coding, inputs):
    """Output spikes of the float (snnTorch) network on the same inputs as the hardware,
    and its last layer's final membrane: ``(spikes, membrane)``."""
    if coding.kind == "events":
        return floatmodel.run_float(network, inputs, membrane=True)
    if coding.kind == "rate":
        from .encode import rate_onchip
        return floatmodel.run_float(network, rate_onchip(inputs, coding.steps,
                                                         seed=coding.seed), membrane=True)
    x = np.asarray(inputs, dtype=np.float64) / (1 << coding.value_bits)
    return floatmodel.run_float(network, x, steps=coding.steps, membrane=True)


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


def evaluation_metrics(qnet, evaluation, float_spikes, result, float_membrane=None):
    """Accuracy of the float model and the reference, and how often their spikes agree.
    With a membrane readout, both classify by the last layer's final membrane."""
    labels = evaluation.labels
    if getattr(qnet, "readout", "spikes") == "membrane" and float_membrane is not None:
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
    }
    if labels is not None:
        metrics["float_accuracy"] = float(np.mean(float_pred == labels))
        metrics["reference_accuracy"] = float(np.mean(result.predicted == labels))
    metrics["_events"] = [events] + [t.spikes.sum(axis=2) for t in result.layers]
    hw = qnet.hardware
    metrics["_beats"] = [serializer_beats(t.spikes, hw.lanes(layer.outputs),
                                          hw.events_per_cycle)
                         for t, layer in zip(result.layers, qnet.layers)]
    metrics["_coder"] = coder
    first = reference.input_spikes(qnet, evaluation.inputs[:1])
    if first is None:                       # direct input: show the pixels as one "step"
        first = (np.asarray(evaluation.inputs[:1]) > 0)[:, None, :].astype(np.uint8)
    metrics["_raster"] = [first[0]] + [t.spikes[0] for t in result.layers]
    return metrics


def options_tree(options):
    tree = asdict(options)
    tree["source"] = os.path.basename(tree["source"])
    tree.pop("out")
    return tree
