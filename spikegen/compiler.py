"""The compiler: an explicit list of plain steps, ``step(build) -> build``.

    load → quantize → plan → check → assemble → emit → board → synth → report

Each step takes the frozen :class:`Build` record and returns a new one with its result added,
so any intermediate state can be inspected (and checked against the reference) after any
step. :func:`build` runs them in order.
"""
import os
from dataclasses import dataclass, replace

from rtl_lib.link_format import MAX_INPUTS

from . import assemble as _assemble
from . import data as _data
from . import emit as _emit
from . import ir, loader
from .build_dir import TOP_NAME, BuildDir, save_npz, write_json
from .errors import SpikegenError
from .evaluation import Evaluation, evaluate
from .flat_top import FlatTop
from .plan import NetworkPlan, plan_network
from .quantize import quantize as quantize_network
from .widths import calibrate, check_widths, served_steps
from .widths import decisions as width_decisions


__all__ = ["BuildOptions", "Build", "STEPS", "build"]


@dataclass(frozen=True)
class BuildOptions:
    """Everything ``spikegen build`` is told. Defaults are the command line's; ``coding`` and
    ``steps`` left ``None`` come from the checkpoint (see :func:`load`)."""
    source: str
    out: str = "build"
    board: "str | None" = "arty-a7"
    weight_bits: int = 8
    beta_bits: int = 8
    mem_frac_bits: int = 2
    mem_bits: "int | None" = None
    parallelism: "int | str" = "auto"
    events_per_cycle: "int | None" = None
    max_steps: int = 255
    fifo_depth: int = 64
    reset_delay: "bool | None" = None
    dt: "float | None" = None
    reset: "str | None" = None
    readout: "str | None" = None
    calib: "str | None" = None
    eval: "str | None" = None
    coding: "str | None" = None
    steps: "int | None" = None
    seed: int = 0
    baud: "int | None" = None
    clock_hz: "int | None" = None
    synth: "str | None" = None
    hdl: str = "both"
    vhdl_std: str = "08"
    board_hdl: str = "verilog"


@dataclass(frozen=True, eq=False)
class Build:
    """The state of a build after each step: the float network, the quantized one, its
    hardware plan (:mod:`spikegen.plan`), the evaluation data and what it measured, the fit
    estimate, the assembled component (emitted, wrapped for the board and synthesised as it
    is; it elaborates once, into ``hdl``: the text of each language emitted), the files
    written, and the board, synthesis and report trees; for a converted ReLU network, its
    accuracy-against-steps sweep (:func:`spikegen.convert.network_for_build`)."""
    options: BuildOptions
    network: "ir.Network | None" = None
    qnet: "ir.QNetwork | None" = None
    plan: "NetworkPlan | None" = None
    eval: "_data.EvalData | None" = None
    evaluation: "Evaluation | None" = None
    widths: tuple = ()
    fit: "dict | None" = None
    component: object = None
    hdl: "dict | None" = None
    files: tuple = ()
    board: "dict | None" = None
    synthesis: "dict | None" = None
    report: "dict | None" = None
    conversion: "dict | None" = None

    @property
    def dir(self):
        return BuildDir(self.options.out)


# -- steps ------------------------------------------------------------------------------------


#: Input coding and time steps when neither the options nor the checkpoint give them.
DEFAULT_CODING, DEFAULT_STEPS = "events", 16


def load(b: Build) -> Build:
    """Read the trained network (safely) into the float IR (a ReLU network is converted,
    :mod:`spikegen.convert`). The input coding and steps the options leave open are the ones
    the checkpoint was trained with, else events and 16."""
    from .convert import network_for_build

    o = b.options
    # a ReLU network (ONNX, or a ReLU-network checkpoint) is converted on o.calib first
    network, sweep = network_for_build(o.source, o.calib, o.steps or DEFAULT_STEPS,
                                       eval=o.eval, weight_bits=o.weight_bits, seed=o.seed)
    if network is None:
        network = loader.load(o.source, reset_delay=o.reset_delay, dt=o.dt, reset=o.reset,
                              readout=o.readout)
    trained = network.coding
    coding = o.coding or (trained.kind if trained is not None else DEFAULT_CODING)
    steps = o.steps or (trained.steps if trained is not None and trained.steps
                        else DEFAULT_STEPS)
    return replace(b, network=network, options=replace(o, coding=coding, steps=steps),
                   conversion=sweep)


def quantize(b: Build) -> Build:
    """Float IR → fixed-point IR (see :mod:`spikegen.quantize`)."""
    o = b.options
    if o.parallelism != "auto" and (not isinstance(o.parallelism, int)
                                    or o.parallelism < 0):
        raise SpikegenError(f"`parallelism` must be auto, 0 (all neurons) or a positive "
                            f"integer, not {o.parallelism!r}")
    if not isinstance(o.max_steps, int) or not 1 <= o.max_steps <= 65535:
        raise SpikegenError(f"`max_steps` must be from 1 to 65535, not {o.max_steps!r}")
    if not isinstance(o.fifo_depth, int) or not 2 <= o.fifo_depth <= 65536:
        raise SpikegenError(f"`fifo_depth` must be from 2 to 65536, not {o.fifo_depth!r}")
    if o.events_per_cycle not in (None, 1, 2):
        raise SpikegenError(f"`events_per_cycle` must be 1 or 2 (the two ports of a block "
                            f"RAM), not {o.events_per_cycle!r}")
    # -P auto starts from every neuron in its own lane; the check step fits it to the board
    hardware = ir.HardwareConfig(parallelism=0 if o.parallelism == "auto" else o.parallelism,
                                 max_steps=o.max_steps, fifo_depth=o.fifo_depth,
                                 events_per_cycle=o.events_per_cycle or 1)
    if o.coding not in ir.CODINGS:
        raise SpikegenError(f"`coding` must be one of {', '.join(ir.CODINGS)}, "
                            f"not {o.coding!r}")
    coding = ir.InputCoding(kind=o.coding, steps=0 if o.coding == "events" else o.steps)
    qnet = quantize_network(b.network, weight_bits=o.weight_bits, beta_bits=o.beta_bits,
                            mem_frac_bits=o.mem_frac_bits, mem_bits=o.mem_bits,
                            hardware=hardware, coding=coding)
    # the state widths: the bound over the run, tightened on the evaluation data if any
    steps, fixed = served_steps(hardware, coding), o.mem_bits is not None
    evaluation = None
    if o.eval is not None:
        evaluation = _data.eval_data(o.eval, inputs=qnet.inputs, steps=o.steps, seed=o.seed,
                                     coding=o.coding, input_shape=qnet.layers[0].input_shape)
        if o.coding == "events" and evaluation.inputs.shape[1] > o.max_steps:
            raise SpikegenError(f"the evaluation data has {evaluation.inputs.shape[1]} "
                                f"steps; raise `max_steps` to at least that")
        qnet, widths = calibrate(qnet, evaluation.inputs, steps=steps, fixed=fixed,
                                 source=f"{evaluation.inputs.shape[0]} samples of "
                                        f"{evaluation.source}")
    else:
        widths = width_decisions(qnet, steps=steps, fixed=fixed)
    check_widths(qnet, given=fixed)
    return replace(b, qnet=qnet, eval=evaluation, widths=widths)


def plan(b: Build) -> Build:
    """Quantized IR → the hardware plan of every layer (lanes, memories, cycle model)."""
    return replace(b, plan=plan_network(b.qnet))


def check(b: Build) -> Build:
    """Check limits and, for a board, the fit of the plan (before anything is written); run
    the float model and the reference on the evaluation data."""
    o, qnet = b.options, b.qnet
    if qnet.inputs > MAX_INPUTS:
        raise SpikegenError(f"the network has {qnet.inputs} inputs; the host link carries at "
                            f"most {MAX_INPUTS}: crop or pool the input")
    if o.steps < 1 or o.steps > o.max_steps:
        raise SpikegenError(f"`steps` {o.steps} must be from 1 to `max_steps` ({o.max_steps})")
    fit = None
    if o.board is not None:
        from .boards import get_board
        from .fit import check_fit, fastest_fit

        try:
            target = get_board(o.board)
        except ValueError as exc:
            raise SpikegenError(str(exc)) from None
        chosen = None
        if o.parallelism == "auto":
            # the fastest lanes (and events per cycle, unless given) that fit the part
            qnet, planned, chosen = fastest_fit(
                qnet, target, events=(2, 1) if o.events_per_cycle is None
                else (o.events_per_cycle,))
            b = replace(b, qnet=qnet, plan=planned)
        # refuse a network that cannot fit before anything is emitted or synthesised
        fit = check_fit(qnet, target, b.plan)
        if chosen is not None:
            fit["chosen"] = chosen
    b = replace(b, fit=fit)
    if b.eval is None:
        return replace(b, evaluation=None)
    options = dict(weight_bits=o.weight_bits, beta_bits=o.beta_bits,
                   mem_frac_bits=o.mem_frac_bits, mem_bits=o.mem_bits)
    requantize = lambda **changes: quantize_network(              # noqa: E731
        b.network, hardware=qnet.hardware, coding=qnet.coding, **changes)
    return replace(b, evaluation=evaluate(b.network, qnet, b.plan, b.eval,
                                          requantize=requantize, options=options))


def assemble(b: Build) -> Build:
    """Fixed-point IR and its plan → Amaranth accelerator component."""
    return replace(b, component=_assemble.accelerator(b.qnet, b.plan))


def emit(b: Build) -> Build:
    """Write ``network.json``, the Verilog and VHDL, and the evaluation data."""
    out = b.dir
    os.makedirs(out.root, exist_ok=True)
    files = []
    write_json(out.network, ir.to_json(b.qnet))
    files.append("network.json")
    if b.options.hdl not in ("verilog", "vhdl", "both"):
        raise SpikegenError(f"`hdl` must be verilog, vhdl or both, not {b.options.hdl!r}")
    written = ("verilog", "vhdl") if b.options.hdl == "both" else (b.options.hdl,)
    # the component elaborates once: synthesis reads this Verilog even when only VHDL is
    # written
    needed = set(written) | ({"verilog"} if b.options.synth is not None else set())
    if b.options.board is not None and b.options.board_hdl == "verilog":
        needed.add("verilog")                   # the board top instantiates the core
    texts = {}
    if needed == {"verilog", "vhdl"}:
        texts["verilog"], texts["vhdl"] = _emit.both(FlatTop(b.component), name=TOP_NAME,
                                                     std=b.options.vhdl_std)
    elif needed == {"verilog"}:
        texts["verilog"] = _emit.verilog(FlatTop(b.component), name=TOP_NAME)
    else:
        texts["vhdl"] = _emit.vhdl(FlatTop(b.component), name=TOP_NAME, std=b.options.vhdl_std)
    for language in written:
        path = out.rel_hdl(language)
        os.makedirs(os.path.dirname(out.path(path)), exist_ok=True)
        with open(out.path(path), "w") as f:
            f.write(texts[language])
        files.append(path)
    if b.eval is not None:
        os.makedirs(os.path.dirname(out.eval), exist_ok=True)
        arrays = {"spikes" if b.qnet.coding.kind == "events" else "pixels": b.eval.inputs}
        if b.eval.labels is not None:
            arrays["labels"] = b.eval.labels
        save_npz(out.eval, arrays)
        files.append(out.rel_eval)
    return replace(b, files=tuple(files), hdl=texts)


def board(b: Build) -> Build:
    """Wrap the accelerator for the board and write its vendor project."""
    if b.options.board is None:
        return replace(b, board=None)
    from .boards import get_board
    from .blackbox import BlackBox

    target = get_board(b.options.board)
    if b.options.board_hdl not in ("verilog", "vhdl"):
        raise SpikegenError(f"`board_hdl` must be verilog or vhdl, not {b.options.board_hdl!r}")
    language = b.options.board_hdl
    if language == "vhdl" and target.toolchain == "yowasp":
        raise SpikegenError(f"`board_hdl` vhdl needs a vendor flow that reads VHDL "
                            f"(arty-a7); {target.name}'s open toolchain reads Verilog")
    if language not in b.hdl:
        raise SpikegenError(f"`board_hdl` {language} needs the {language.upper()}: drop "
                            f"`hdl` {b.options.hdl}")
    # the core's HDL is already written: the board top instantiates it by name instead of
    # converting the design once more (a component elaborates only once); a function, not a
    # component, so that a board may build again at a slower clock if timing fails
    path = b.dir.hdl(language)
    extra = {"extra_files": {os.path.basename(path): b.hdl[language]}}
    signature = b.component.signature
    make = lambda: BlackBox(signature, TOP_NAME)                    # noqa: E731
    try:
        info = target.build(make, b.dir.board, baud=b.options.baud,
                            clock_hz=b.options.clock_hz, **extra)
    except ValueError as exc:
        raise SpikegenError(f"board {target.name}: {exc}") from None
    info = dict(info)
    if isinstance(b.fit, dict) and "shares" in b.fit:
        info["fit_estimate"] = b.fit["shares"]
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
    text = b.hdl["verilog"]
    work = b.dir.synth(family)
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
    if b.evaluation is not None and plots.available():
        trains = b.evaluation.raster
        names = ["input"] + [f"layer {k}" for k in range(len(trains) - 1)]
        label = "" if b.eval.labels is None else f", label {int(b.eval.labels[0])}"
        path = b.dir.rel_plot("raster.png")
        plots.raster(b.dir.path(path), trains, names,
                     f"{b.qnet.name}: evaluation sample 0{label} (bit-exact reference)")
        files = files + (path,)
    if b.conversion is not None and plots.available():
        from .convert import plot_sweep

        path = b.dir.rel_plot("conversion.png")
        plot_sweep(b.conversion["ann_accuracy"], b.conversion["rows"], b.dir.path(path),
                   title=f"{b.qnet.name}: ANN-to-SNN conversion, "
                         f"{b.conversion['weight_bits']}-bit weights")
        files = files + (path,)
    b = replace(b, files=files)
    tree = make_report(b)
    write_json(b.dir.report, tree)
    return replace(b, report=tree)


STEPS = (load, quantize, plan, check, assemble, emit, board, synth, report)


def _skipped(step, options):
    """Why ``step`` does nothing for these options, or ``None`` when it runs."""
    if step is board and options.board is None:
        return "no board (--board none)"
    if step is synth and options.synth is None:
        return "no synthesis (--synth not given)"
    return None


def build(options: BuildOptions, *, log=None) -> Build:
    """Run every step; ``log`` (e.g. ``print``) gets one line per step as it starts, or
    saying why it has nothing to do."""
    b = Build(options=options)
    for step in STEPS:
        if log is not None:
            reason = _skipped(step, options)
            log(f"[{step.__name__}]" + (f" skipped: {reason}" if reason else ""))
        b = step(b)
    return b
