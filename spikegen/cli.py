"""The ``spikegen`` command line."""
import argparse
import os
import sys

from .errors import SpikegenError


def _int_at_least(minimum, what):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not {what}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_natural = _int_at_least(0, "a non-negative integer")


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def _parallelism(text):
    if text == "auto":
        return text
    try:
        return _natural(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not auto or a non-negative "
                                         "integer") from None


def _board_names():
    from .boards import BOARDS

    return sorted(BOARDS)


def _board(text):
    from .boards import BOARDS

    if text == "none":
        return None
    if text not in BOARDS:
        raise argparse.ArgumentTypeError(
            f"unknown board {text!r}; choose one of: {', '.join(sorted(BOARDS))}, none")
    return text


def _add_build_options(p):
    g = p.add_argument_group("quantization")
    g.add_argument("--weight-bits", type=_positive_int, default=8,
                   help="signed weight width (default 8)")
    g.add_argument("--beta-bits", type=_positive_int, default=8,
                   help="fractional bits of the fixed-point beta (default 8)")
    g.add_argument("--mem-frac-bits", type=_natural, default=2,
                   help="membrane fractional bits below the weight LSB (default 2)")
    g.add_argument("--mem-bits", type=_positive_int, default=None,
                   help="membrane width (default: from a range analysis)")
    delay = g.add_mutually_exclusive_group()
    delay.add_argument("--reset-delay", dest="reset_delay", action="store_true", default=None,
                       help="snnTorch reset_delay=True (its default) for a state_dict")
    delay.add_argument("--no-reset-delay", dest="reset_delay", action="store_false",
                       help="snnTorch reset_delay=False")
    g.add_argument("--readout", choices=("spikes", "membrane"), default=None,
                   help="class from the output spike counts, or from the last layer's final "
                        "membrane (snnTorch models read out as a membrane); default: what the "
                        "file records, else spikes")
    n = p.add_argument_group("NIR input")
    n.add_argument("--dt", type=float, default=None,
                   help="time step discretising a NIR graph (default snnTorch's 1e-4)")
    n.add_argument("--reset", choices=("zero", "subtract"), default=None,
                   help="reset mechanism of a NIR graph's neurons (default zero, NIR's)")
    h = p.add_argument_group("hardware")
    h.add_argument("--board", type=_board, default="arty-a7",
                   help=f"target board: {', '.join(_board_names())}, or 'none' for the "
                        f"accelerator core only (default arty-a7; 'spikegen boards' lists "
                        f"their parts)")
    h.add_argument("--parallelism", "-P", type=_parallelism, default="auto",
                   help="neurons updated per cycle in each layer: a number, 0 for all, or "
                        "auto (default): the fastest that the fit estimate puts on the board "
                        "(all without a board)")
    h.add_argument("--events-per-cycle", "-E", type=int, choices=(1, 2), default=None,
                   help="input spike events each layer integrates per cycle, through both "
                        "ports of its weight block RAM (default: chosen with -P auto on a "
                        "board, else 1)")
    h.add_argument("--max-steps", type=_positive_int, default=255,
                   help="time steps per inference the spike counters hold (default 255)")
    h.add_argument("--fifo-depth", type=_positive_int, default=64,
                   help="spike-event tokens buffered between layers (default 64)")
    h.add_argument("--baud", type=_positive_int, default=None,
                   help="UART rate of the board link (default: the board's)")
    h.add_argument("--clock-mhz", type=_positive_float, default=None,
                   help="clock of the board design (default: the board's; a PLL makes it)")
    h.add_argument("--synth", nargs="?", const="auto", default=None,
                   choices=("auto", "xc7", "ecp5", "ice40"),
                   help="synthesise the core with Yosys (auto: the board's family) and, for "
                        "ECP5, place and route it with nextpnr; figures go into the report")
    h.add_argument("--hdl", choices=("verilog", "vhdl", "both"), default="both",
                   help="HDL of the accelerator core under hdl/ (default both)")
    h.add_argument("--vhdl-std", choices=("08", "93"), default="08",
                   help="VHDL standard of the VHDL output (default 08)")
    h.add_argument("--board-hdl", choices=("verilog", "vhdl"), default="verilog",
                   help="HDL of the accelerator inside the board project (vhdl: Vivado "
                        "boards; the board top instantiates it by name)")
    h.add_argument("--coding", choices=("events", "rate", "direct"), default=None,
                   help="input coding: spike events from the host, rate coding on chip from "
                        "8-bit pixels, or direct (current) pixel input (default: the coding "
                        "the checkpoint was trained with, as 'spikegen train' records it, "
                        "else events)")
    e = p.add_argument_group("evaluation")
    e.add_argument("--eval", default=None, metavar="DATA",
                   help="evaluation data: 'digits', 'mnist-idx:DIR', an .npz with 'spikes' "
                        "and 'labels', or event-camera recordings binned into --steps steps: "
                        "'events:PATH' (.npy, .npz or a folder) or 'nmnist:DIR' (N-MNIST's "
                        "files on disk, never downloaded)")
    e.add_argument("--steps", type=_positive_int, default=None,
                   help="time steps per inference: of the on-chip coder, or of the host's "
                        "rate coding or event binning of evaluation data (default: the "
                        "checkpoint's, else 16)")
    e.add_argument("--seed", type=_natural, default=0, help="seed of the rate coding")
    e.add_argument("--calib", default=None, metavar="DATA",
                   help="calibration data of a ReLU network (ONNX or a ReLU checkpoint) to "
                        "convert: a data set name or an .npz with 'x' (see spikegen convert)")


def _build_options(args):
    from .compiler import BuildOptions

    return BuildOptions(
        source=args.net, out=args.out, board=args.board, weight_bits=args.weight_bits,
        beta_bits=args.beta_bits, mem_frac_bits=args.mem_frac_bits, mem_bits=args.mem_bits,
        parallelism=args.parallelism, events_per_cycle=args.events_per_cycle,
        max_steps=args.max_steps, fifo_depth=args.fifo_depth,
        reset_delay=args.reset_delay, dt=args.dt, reset=args.reset, readout=args.readout,
        eval=args.eval, calib=args.calib,
        coding=args.coding, steps=args.steps,
        seed=args.seed, baud=args.baud, synth=args.synth, hdl=args.hdl,
        clock_hz=None if args.clock_mhz is None else round(args.clock_mhz * 1e6),
        board_hdl=args.board_hdl,
        vhdl_std=args.vhdl_std)


def _build(args):
    from .compiler import build
    from .report import summary

    result = build(_build_options(args), log=_log)
    print(summary(result.report))
    _print_paths(args.out, result.files)


#: Build options a sweep cannot vary: set once for the whole sweep.
_NOT_SWEPT = ("out", "eval", "synth", "help", "sweep", "address", "cpus")


def _sweep(parser):
    """The ``--sweep NAME=V1,V2,...`` validator: NAME is any build option, spelled as its
    flag (``weight-bits``, ``P``), each value checked by that flag's own validator."""
    def parse(text):
        name, sep, values = text.partition("=")
        flag = "-" + name.lstrip("-") if len(name.lstrip("-")) == 1 else \
            "--" + name.lstrip("-")
        action = parser._option_string_actions.get(flag)
        if not sep or not values:
            raise argparse.ArgumentTypeError(f"{text!r} is not NAME=V1,V2,...")
        if action is None or action.dest in _NOT_SWEPT:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a build option a sweep can vary (set --out, --eval and "
                f"--synth once for the whole sweep)" if action is not None else
                f"unknown build option {name!r}; NAME is spelled as in 'spikegen build', "
                f"e.g. weight-bits")
        if action.nargs == 0:
            raise argparse.ArgumentTypeError(f"{flag} takes no value: it cannot be swept")
        parsed = []
        for value in values.split(","):
            value = action.type(value) if action.type is not None else value
            if action.choices is not None and value not in action.choices:
                raise argparse.ArgumentTypeError(
                    f"{flag}: invalid choice: {value!r} (choose from "
                    f"{', '.join(map(str, action.choices))})")
            parsed.append(value)
        long = [s for s in action.option_strings if s.startswith("--")][0]
        return long[2:], action.dest, tuple(parsed)
    return parse


def _explore(args):
    import itertools
    import time
    from dataclasses import replace

    from .explore import explore
    from .pareto import plot, table
    from . import plots

    if args.eval is None:
        raise SpikegenError("`eval` is needed: each point measures its accuracy on the "
                            "evaluation data")
    if args.board is None:
        raise SpikegenError("`board` is needed: its part gives the fit, the clock and the "
                            "energy estimate (choose one of 'spikegen boards')")
    names = [name for name, _, _ in args.sweep]
    if len(set(names)) != len(names):
        raise SpikegenError(f"`sweep` names an option twice: {', '.join(names)}")
    family = None
    if args.synth is not None:
        from .boards import get_board
        family = get_board(args.board).capacity.family if args.synth == "auto" else args.synth
    points, labels = [], []
    for values in itertools.product(*(values for _, _, values in args.sweep)):
        changed = {dest: value for (_, dest, _), value in zip(args.sweep, values)}
        point = argparse.Namespace(**{**vars(args), **changed})
        points.append(replace(_build_options(point), synth=family))
        labels.append({name: value for name, value in zip(names, values)})
    start = time.monotonic()
    tree, computed = explore(points, board=args.board, out=args.out, labels=labels,
                             spell=_flag_speller(_parser(), args), address=args.address,
                             num_cpus=args.cpus, log=_log)
    seconds = time.monotonic() - start
    files = [os.path.join(args.out, "results.json"), os.path.join(args.out, "results.csv")]
    if plots.available():
        plot(os.path.join(args.out, "pareto.png"), tree)
        files.append(os.path.join(args.out, "pareto.png"))
    failed = [r for r in tree["points"] if r["error"]]
    print(f"explore: {len(tree['points'])} points on Ray {tree['ray_version']}, {computed} "
          f"computed, {len(tree['points']) - computed} from the cache, {len(failed)} failed, "
          f"{seconds:.1f} s; resources from {tree['resources_from']}")
    print("Pareto front (accuracy, LUTs, energy):")
    for line in table(tree):
        print("  " + line)
    for row in failed:
        print(f"  failed: {', '.join(f'{k}={v}' for k, v in row['options'].items())}: "
              f"{row['error']}")
    for path in files:
        print(f"wrote {path}")
    return 0


def _verify(args):
    import json

    from .report import summary
    from .verify import verify

    result = verify(args.build, samples=args.samples, simulator=args.simulator, data=args.data,
                    density=args.density, steps=args.steps, seed=args.seed, waves=args.waves,
                    saif=args.saif, log=_log)
    report_path = os.path.join(args.build, "report.json")
    if os.path.isfile(report_path) and args.summary:
        with open(report_path) as f:
            print(summary(json.load(f), result))
    print(f"verify: {result['samples']} samples on {result['simulator']}: "
          f"{result['mismatched_samples']} mismatched samples, "
          f"{result['mismatched_spikes']} mismatched spikes, "
          f"{result['cycles_per_inference']:.1f} cycles per inference "
          f"({result['samples_per_second']:.1f} samples/s)")
    activity = result.get("neurobench")
    if activity is not None:
        rtl = activity["rtl"]
        print(f"verify: NeuroBench counts from the RTL's streams "
              f"{'equal' if activity['agree'] else 'DIFFER FROM'} the reference's: "
              f"{rtl['synaptic_operations']['effective_acs']:,.1f} synaptic ACs per inference,"
              f" activation sparsity {rtl['activation_sparsity']:.4f}")
    return 1 if result["mismatched_samples"] or (activity and not activity["agree"]) else 0


def _convert(args):
    from .convert import convert_file

    convert_file(args.model, calib=args.calib, steps=args.steps, out=args.out, eval=args.eval,
                 percentile=args.percentile, shift=args.shift, binarize=args.binarize,
                 calib_samples=args.calib_samples, eval_samples=args.eval_samples,
                 sweep=args.sweep, weight_bits=args.weight_bits, plot=args.plot, seed=args.seed,
                 log=print)


def _steps_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected steps such as 8,16,32, not {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"steps must be positive integers, not {text!r}")
    return values


def _percentile(text):
    value = _positive_float(text)
    if not 50.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"a percentile from 50 to 100, not {text!r}")
    return value


def _train(args):
    from . import datasets
    from .ir import InputCoding
    from .train import save_network, train_network

    try:
        dataset = datasets.get(args.dataset)
    except (KeyError, ValueError) as exc:
        raise SpikegenError(str(exc)) from None
    if args.arch is not None and args.hidden is not None:
        raise SpikegenError("give --hidden (a dense network) or --arch (a convolutional "
                            "one), not both")
    if args.coding is None:
        args.coding = "direct" if args.arch is None else "events"
    model, metrics = train_network(
        dataset, hidden=tuple(args.hidden or [32]), coding=args.coding, steps=args.steps,
        beta=args.beta, epochs=args.epochs, qat_epochs=args.qat_epochs,
        weight_bits=args.weight_bits, augment=args.augment, seed=args.seed, progress=_log,
        arch=args.arch, binarize=args.binarize)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    # the coding it was trained for goes with it: spikegen build uses it by default
    save_network(model, args.out, coding=InputCoding(args.coding, steps=args.steps))
    shown = {k: v for k, v in metrics.items() if "accuracy" in k and v is not None}
    shape = metrics.get("arch") or '-'.join(map(str, metrics.get('shape', [])))
    tuned = "calibrated" if args.arch is not None else "fine-tuned"
    print(f"wrote {args.out} ({shape}"
          f"{', ' if shape else ''}{args.coding} coding, {args.steps} steps, "
          f"{args.weight_bits}-bit {tuned}){'; ' if shown else ''}"
          + ", ".join(f"{k} {100 * v:.2f} %" for k, v in sorted(shown.items())))


#: The demo's quantization: 8-bit weights; beta with 12 fraction bits (0.9 -> 0.899902) and
#: 4 membrane fraction bits below the weight LSB, so that the accelerator's output spikes
#: equal snnTorch's on 99.5 % or more of the evaluation data (measured: 99.69 %).
DEMO_QUANT = {"weight_bits": 8, "beta_bits": 12, "mem_frac_bits": 4}


def _demo(args):
    from .compiler import BuildOptions, build
    from .report import summary
    from .verify import verify

    import torch

    from . import data
    from .train import on_grid, train

    os.makedirs(args.out, exist_ok=True)
    net_path = os.path.join(args.out, "net.pt")
    _log("[train] 64-32-10 LIF network on scikit-learn's digits (snnTorch, 16 steps)")
    model = train(data.digits(), hidden=(32,), steps=16, beta=0.9, epochs=args.epochs,
                  seed=0, progress=_log)
    # the weights the hardware holds, so that snnTorch and the accelerator differ only by
    # beta's rounding and the membrane's fraction bits, both made small below
    _log(f"[train] weights rounded to the {DEMO_QUANT['weight_bits']}-bit grid the build "
         "uses")
    model = on_grid(model, weight_bits=DEMO_QUANT["weight_bits"],
                    mem_frac_bits=DEMO_QUANT["mem_frac_bits"])
    torch.save(model.state_dict(), net_path)
    result = build(BuildOptions(source=net_path, out=os.path.join(args.out, "build"),
                                board="arty-a7", eval="digits", steps=16, **DEMO_QUANT),
                   log=_log)
    checked = verify(os.path.join(args.out, "build"), samples=args.samples, log=_log)
    print(summary(result.report, checked))
    _print_paths(os.path.join(args.out, "build"), result.files, net=net_path)
    return 1 if checked["mismatched_samples"] else 0


def _print_paths(build_dir, files, net=None):
    """Where everything was written: the build, the report, the HDL and the plots."""
    print(f"wrote the build to {build_dir}/")
    if net is not None:
        print(f"  network:  {net}")
    print(f"  report:   {os.path.join(build_dir, 'report.json')}")
    for path in files:
        if path.startswith("hdl") or path.endswith(".png"):
            kind = "plot:    " if path.endswith(".png") else "HDL:     "
            print(f"  {kind} {os.path.join(build_dir, path)}")


def _boards(args):
    from .boards import board_table

    for line in board_table():
        print(line)


def _run(args):
    from .runtime import ProgressBar, run

    result = run(args.build, args.port, data=args.data, samples=args.samples,
                 steps=args.steps, seed=args.seed, baud=args.baud, timeout=args.timeout,
                 retries=args.retries, progress=ProgressBar(), log=_log)
    link = result["link"]
    accuracy = ""
    if "accuracy" in result:
        accuracy = (f", accuracy {100 * result['accuracy']:.2f} % "
                    f"(reference {100 * result['reference_accuracy']:.2f} %)")
    print(f"run: {result['samples']} samples on {result['board']}{accuracy}, "
          f"{result['mismatched_samples']} mismatched samples, "
          f"{result['samples_per_second']:.1f} samples/s, {link['retries']} retries, "
          f"{link['timeouts']} timeouts")
    return 1 if result["mismatched_samples"] else 0


def _emit(args):
    from . import emit

    component = emit.load(args.target)
    if args.flat:
        from .flat_top import FlatTop
        component = FlatTop(component)
    renamed = emit.renamed_ports(component, name=args.name)
    if renamed:
        # the same design emitted in the other language would not fit the same testbench
        shown = ", ".join(f"{v} -> {h}" if h else f"{v} (zero width: no VHDL port)"
                          for v, h in renamed.items())
        hint = "" if args.flat else "; --flat gives the same names in both"
        _log(f"spikegen: warning: ports named differently in Verilog and VHDL: {shown}{hint}")
    if args.hdl == "vhdl":
        text = emit.vhdl(component, name=args.name, std=args.vhdl_std)
    else:
        text = emit.verilog(component, name=args.name)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"wrote {args.out} ({len(text.splitlines())} lines of "
              f"{'VHDL' if args.hdl == 'vhdl' else 'Verilog'})")


def _parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="spikegen",
        description="Bit-exact, event-driven FPGA accelerators for spiking neural networks.")
    parser.add_argument("--version", action="version", version=f"spikegen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build an accelerator from a trained network")
    p.add_argument("net", help="the trained network: net.pt (an snnTorch state_dict or a "
                                "spikegen.save checkpoint), a .nir graph, or a ReLU network "
                                "(.onnx, ReLU checkpoint) with --calib")
    p.add_argument("--out", "-o", default="build", help="build directory (default build/)")
    _add_build_options(p)
    p.set_defaults(func=_build)

    p = sub.add_parser(
        "explore", help="sweep build options on Ray: accuracy, resources, energy, Pareto front",
        description="Build every combination of the swept options (each a Ray task), measure "
                    "its bit-exact accuracy, cycles, resources, fit and energy, and write "
                    "DIR/results.json, DIR/results.csv and DIR/pareto.png. Points are cached "
                    "in DIR: a rerun computes only what is missing or failed. Example: "
                    "spikegen explore net.pt --board arty-a7 --eval digits "
                    "--sweep weight-bits=4,6,8 --sweep P=8,32 --out sweep")
    p.add_argument("net", help="the trained network, as for 'spikegen build'")
    p.add_argument("--out", "-o", default="explore", help="results folder (default explore/)")
    p.add_argument("--sweep", action="append", required=True, type=_sweep(p),
                   metavar="NAME=V1,V2,...",
                   help="a build option and its values (NAME spelled as the build flag: "
                        "weight-bits, mem-bits, P, events-per-cycle, steps, coding, ...); "
                        "repeat for a grid")
    p.add_argument("--address", default=None,
                   help="a Ray cluster's address (default: a local Ray on this machine)")
    p.add_argument("--cpus", type=_positive_int, default=None,
                   help="cores of the local Ray (default all of this machine's)")
    _add_build_options(p)
    p.set_defaults(func=_explore)

    p = sub.add_parser("verify", help="simulate a build's HDL against the reference model")
    p.add_argument("build", help="build directory")
    p.add_argument("--samples", type=_positive_int, default=200, help="samples (default 200)")
    p.add_argument("--simulator", choices=("verilator", "ghdl"), default="verilator",
                   help="verilator on the Verilog (default) or ghdl on the VHDL")
    p.add_argument("--data", default=None, metavar="DATA",
                   help="'digits', 'mnist-idx:DIR', an .npz, 'events:PATH' or "
                        "'nmnist:DIR' (default: the build's evaluation data, else random "
                        "spikes)")
    p.add_argument("--density", type=_fraction, default=0.1,
                   help="spike probability of random inputs (default 0.1)")
    p.add_argument("--steps", type=_positive_int, default=16,
                   help="time steps of random, rate-coded or binned event inputs "
                        "(default 16)")
    p.add_argument("--seed", type=_natural, default=0, help="seed of random inputs")
    p.add_argument("--waves", action="store_true",
                   help="record waveforms: FST on Verilator (sim/verilator/dump.fst), GHW on "
                        "GHDL; the path is printed and kept in verify.json")
    p.add_argument("--saif", default=None, metavar="FILE",
                   help="write Verilator's switching activity of the run to FILE (SAIF, for "
                        "Vivado's report_power; strip the path spikegen_harness/top)")
    p.add_argument("--no-summary", dest="summary", action="store_false",
                   help="print only the one-line result")
    p.set_defaults(func=_verify)

    p = sub.add_parser("boards", help="list the boards spikegen builds for")
    p.set_defaults(func=_boards)

    p = sub.add_parser("run", help="classify data on a board over its serial port")
    p.add_argument("build", help="build directory")
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB1")
    p.add_argument("--data", default=None, metavar="DATA",
                   help="'digits', 'mnist-idx:DIR', an .npz, 'events:PATH' or 'nmnist:DIR' "
                        "(default: the build's data)")
    p.add_argument("--samples", type=_positive_int, default=None,
                   help="classify only the first SAMPLES samples (default all)")
    p.add_argument("--steps", type=_positive_int, default=16,
                   help="time steps of the rate coding of a data set or of binned event "
                        "recordings (default 16)")
    p.add_argument("--seed", type=_natural, default=0,
                   help="seed of the rate coding of a data set (default 0)")
    p.add_argument("--baud", type=_positive_int, default=None,
                   help="UART rate (default the build's)")
    p.add_argument("--timeout", type=_positive_float, default=2.0,
                   help="seconds to wait for an answer before sending again (default 2)")
    p.add_argument("--retries", type=_natural, default=5,
                   help="times a request is sent again before giving up (default 5)")
    p.set_defaults(func=_run)

    p = sub.add_parser(
        "emit", help="write Verilog or VHDL of your own Amaranth component "
                     "(e.g. built from rtl_lib)",
        description="Write Verilog or VHDL of an Amaranth wiring.Component, e.g. "
                    "'spikegen emit mydesign:Top --flat -o top.vhd' in the folder holding "
                    "mydesign.py. Ports whose names differ between the two languages are "
                    "named in a warning on stderr. See docs/custom-rtl.md.")
    p.add_argument("target", help="MODULE:NAME: a wiring.Component, a component class that "
                                  "needs no arguments, or a function returning a component; "
                                  "MODULE is looked for in the current folder first")
    p.add_argument("--hdl", choices=("verilog", "vhdl"), default="vhdl",
                   help="output language (default vhdl)")
    p.add_argument("--name", default="top", help="top-level module/entity name (default top)")
    p.add_argument("--vhdl-std", choices=("08", "93"), default="08",
                   help="VHDL standard the output is analysed as, VHDL-2008 or VHDL-93 "
                        "(default 08; the text is written to analyse as both)")
    p.add_argument("--flat", action="store_true",
                   help="flatten stream ports to names legal in both languages (i_valid, "
                        "not i__valid), so one testbench drives the Verilog and the VHDL")
    p.add_argument("--out", "-o", default="-", help="output file (default: standard output)")
    p.set_defaults(func=_emit)

    p = sub.add_parser("convert", help="convert a trained ReLU network (PyTorch checkpoint or "
                                       "ONNX) into a spiking one, and measure the cost")
    p.add_argument("model", help="model.onnx, or a spikegen.save checkpoint of a PyTorch ReLU "
                                 "network")
    p.add_argument("--calib", required=True, metavar="DATA",
                   help="calibration data: digits, mnist5k, mnist-idx:DIR (their training "
                        "split) or an .npz with 'x' (samples, features) in [0, 1]")
    p.add_argument("--steps", "-T", type=_positive_int, required=True,
                   help="time steps per inference the network is converted for")
    p.add_argument("--out", "-o", default="net.pt", help="converted network (default net.pt)")
    p.add_argument("--eval", default=None, metavar="DATA",
                   help="evaluation data (as --calib; a data set's test split): print the "
                        "ANN's and the bit-exact SNN's accuracy for several steps, plot them")
    p.add_argument("--percentile", type=_percentile, default=99.9,
                   help="activation percentile of an unclipped ReLU's threshold (default "
                        "99.9)")
    p.add_argument("--shift", type=_fraction, default=0.5,
                   help="bias shift in thresholds over the T steps (default 0.5)")
    p.add_argument("--binarize", type=_fraction, default=None, metavar="THRESHOLD",
                   help="binarize the inputs at this intensity (as the model was trained)")
    p.add_argument("--calib-samples", type=_positive_int, default=1000,
                   help="calibration samples (default 1000)")
    p.add_argument("--eval-samples", type=_positive_int, default=None,
                   help="evaluation samples (default all)")
    p.add_argument("--sweep", type=_steps_list, default=None, metavar="T1,T2,...",
                   help="steps of the accuracy table (default T/4, T/2, T, 2T)")
    p.add_argument("--weight-bits", type=_positive_int, default=8,
                   help="weight bits of the bit-exact evaluation (default 8)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="accuracy plot (default beside --out)")
    p.add_argument("--seed", type=_natural, default=0, help="seed of the input rate coding")
    p.set_defaults(func=_convert)

    p = sub.add_parser("train", help="train a LIF network with snnTorch, then fine-tune it "
                                     "with the hardware's exact fixed-point arithmetic")
    p.add_argument("--dataset", default="digits",
                   help="digits (default), mnist5k, or mnist-idx:DIR")
    p.add_argument("--hidden", type=_positive_int, nargs="+", default=None,
                   help="hidden layer sizes of a dense network (default 32)")
    p.add_argument("--arch", default=None, metavar="SPEC",
                   help="a convolutional network instead, for example 12C5-MP2-32C5-MP2-10: "
                        "<n>C<k> convolution, MP<k> max pooling of its spikes, AP<k> average "
                        "pooling of its currents, <n> dense layer (the last: one per class); "
                        "float training and calibration, coding events or rate")
    p.add_argument("--binarize", type=_fraction, default=None, metavar="THRESHOLD",
                   help="with --arch: pixels at or above THRESHOLD spike in every step, the "
                        "others never (events coding)")
    p.add_argument("--coding", choices=("events", "rate", "direct"), default=None,
                   help="the input coding the network will be built with (default direct; "
                        "events with --arch)")
    p.add_argument("--steps", type=_positive_int, default=16,
                   help="time steps per sample (default 16)")
    p.add_argument("--beta", type=_fraction, default=0.9,
                   help="membrane decay of every layer (default 0.9)")
    p.add_argument("--epochs", type=_positive_int, default=30, help="float epochs")
    p.add_argument("--qat-epochs", type=_natural, default=None,
                   help="quantization-aware fine-tuning epochs (default 5; dense networks "
                        "only)")
    p.add_argument("--weight-bits", type=_positive_int, default=8,
                   help="weight width the fine-tuning quantizes to (default 8)")
    p.add_argument("--augment", action="store_true",
                   help="random affine distortions of 28x28 images (small data sets)")
    p.add_argument("--seed", type=_natural, default=0,
                   help="seed of the initial weights and the data order (default 0)")
    p.add_argument("--out", "-o", default="net.pt",
                   help="the checkpoint to write (default net.pt)")
    p.set_defaults(func=_train)

    p = sub.add_parser("demo", help="train on digits, build for the Arty A7, verify, report")
    p.add_argument("--out", "-o", default="demo-build",
                   help="folder for the network, the build and the plots (default demo-build)")
    p.add_argument("--samples", type=_positive_int, default=200,
                   help="evaluation samples verified on Verilator (default 200)")
    p.add_argument("--epochs", type=_positive_int, default=30,
                   help="training epochs (default 30)")
    p.set_defaults(func=_demo)
    return parser


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _flag_speller(parser, args):
    """Names the library's parameters as this command's flags (``weight_bits`` ->
    ``--weight-bits``; the short form where there is one: ``parallelism`` -> ``-P``)."""
    flags = {}
    commands = [action for action in parser._actions
                if isinstance(action, argparse._SubParsersAction)]
    chosen = [sub for action in commands for name, sub in action.choices.items()
              if name == getattr(args, "command", None)]
    for each in chosen + [parser]:
        for action in each._actions:
            long = [s for s in action.option_strings if s.startswith("--")]
            short = [s for s in action.option_strings if not s.startswith("--")]
            for option in long:
                flags.setdefault(option[2:].replace("-", "_"), (short or [option])[0])
            if long and action.dest not in flags:
                flags[action.dest] = (short or long)[0]
    return lambda name: flags.get(name, name)


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except SpikegenError as exc:
        print(f"spikegen: error: {exc.render(_flag_speller(parser, args))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("spikegen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
