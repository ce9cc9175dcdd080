"""``spikegen verify``: the cocotb regression of a build directory against the reference."""
import os
import threading
import time

import numpy as np

from . import data as _data
from . import reference
from .build_dir import TOP_NAME, BuildDir, load_network, read_json, write_json
from .plan import count_bits, plan_network
from .errors import SpikegenError
from .progress import Stage


__all__ = ["SIMULATORS", "verify"]


SIMULATORS = ("verilator", "ghdl")


def _inputs(build_dir, qnet, *, data, samples, density, steps, seed):
    coding = qnet.coding.kind
    if data is not None:
        evaluation = _data.eval_data(data, inputs=qnet.inputs, steps=steps, seed=seed,
                                     limit=samples, coding=coding,
                                     input_shape=qnet.layers[0].input_shape)
        return evaluation.inputs, evaluation.source
    stored = BuildDir(build_dir).eval
    if os.path.isfile(stored):
        evaluation = _data.eval_data(stored, inputs=qnet.inputs, limit=samples, coding=coding)
        return evaluation.inputs, "evaluation data of the build"
    if coding != "events":
        return (_data.random_pixels(samples, qnet.inputs, density, seed=seed),
                f"random pixels, density {density:g}, seed {seed}")
    spikes = _data.random_spikes(samples, steps, qnet.inputs, density, seed=seed)
    return spikes, f"random spike trains, density {density:g}, seed {seed}"


def hdl_source(build_dir, simulator):
    """The build's top-level HDL file for ``simulator`` (Verilog or VHDL)."""
    language = "vhdl" if simulator == "ghdl" else "verilog"
    path = BuildDir(build_dir).hdl(language)
    hint = f"rebuild with 'spikegen build --hdl {language}' (or both)"
    if not os.path.isfile(path):
        raise SpikegenError(f"{build_dir}: no {os.path.relpath(path, build_dir)}; {hint}")
    return path


def _first_events(qnet):
    """Events per beat the first layer takes (its plan's: ``E`` for a dense layer, one for a
    convolution)."""
    return plan_network(qnet).layers[0].events


def top_ports(qnet):
    """``(input_name, in_bits, out_bits, result_bits)`` of a network's top level."""
    from rtl_lib.event import EventGroupLayout, EventLayout, ResultLayout
    from rtl_lib.rate_coder import PixelLayout

    coding = qnet.coding
    if coding.kind == "events":
        events = _first_events(qnet)
        layout = (EventGroupLayout(qnet.inputs, events) if events > 1
                  else EventLayout(qnet.inputs))
        name, in_bits = "i_events", layout.size
    else:
        name, in_bits = "i_pixels", PixelLayout(qnet.inputs, coding.value_bits).size
    return (name, in_bits, EventLayout(qnet.outputs).size,
            ResultLayout(qnet.outputs, count_bits(qnet)).size)


def stimulus_for(qnet, inputs):
    """The testbench's stimulus (see :mod:`spikegen.sim.accelerator_tb`) and the reference
    result (recorded: every layer's spikes), for spikes (events coding) or pixels (on-chip
    coding)."""
    from .plan import plan_network

    expected = reference.simulate(qnet, inputs, record=True)
    coding = qnet.coding
    plan = plan_network(qnet)
    stimulus = {"expected_spikes": expected.spikes, "expected_class": expected.predicted,
                "expected_counts": expected.counts,
                "count_bits": np.int64(count_bits(qnet)),
                "steps": np.int64(expected.spikes.shape[1]),
                # the monitors of the accelerator's own streams
                "watch_outputs": np.array([layer.outputs for layer in plan.layers]),
                "watch_events": np.array([layer.out_events for layer in plan.layers]),
                "watch_first": np.int64(0 if plan.layers[0].direct else plan.layers[0].events),
                "watch_inputs": np.int64(qnet.inputs)}
    if coding.kind == "events":
        spikes = np.asarray(inputs, dtype=np.uint8)
        stimulus.update(kind="events", spikes=spikes,
                        events=np.int64(_first_events(qnet)),
                        max_tokens=int(spikes.sum(axis=(1, 2)).max() + spikes.shape[1]))
    else:
        pixels = np.asarray(inputs)
        stimulus.update(kind="pixels", pixels=pixels.astype(np.int64),
                        value_bits=np.int64(coding.value_bits),
                        max_tokens=int(max(1, (pixels > 0).sum(axis=1).max())))
    return stimulus, expected


def _progress(log_path, total, log, stop):
    seen = 0
    while not stop.wait(0.5):
        try:
            with open(log_path) as f:
                lines = [line for line in f if "sample " in line and "cycles" in line]
        except OSError:
            continue
        if len(lines) > seen:
            seen = len(lines)
            done = lines[-1].split("sample ", 1)[1].split(":", 1)[0]
            log(done)


def rtl_activity(qnet, inputs, result, expected):
    """NeuroBench's workload metrics counted from the simulated RTL's streams (the spikes
    the testbench's monitors saw), beside the same counted in the reference, and whether
    they agree; ``None`` when the simulator showed no internal streams."""
    from .metrics import counted

    layers = len(qnet.layers)
    if any(f"layer_spikes_{k}" not in result for k in range(layers)):
        return None
    direct = qnet.coding.kind == "direct"
    if not direct and "first_input" not in result:
        return None
    seen = [result[f"layer_spikes_{k}"] for k in range(layers)]
    rtl = counted(qnet, None if direct else result["first_input"], seen,
                  pixels=inputs if direct else None)
    ref = counted(qnet, reference.input_spikes(qnet, inputs),
                  [t.spikes for t in expected.layers], pixels=inputs if direct else None)
    return {"rtl": rtl, "reference": ref, "agree": rtl == ref}


def verify(build_dir, *, samples=200, simulator="verilator", data=None, density=0.1, steps=16,
           seed=0, waves=False, saif=None, log=None):
    """Simulate the build's HDL on ``samples`` inputs and compare with the reference model.

    Every layer's spikes are also recorded from the accelerator's own streams, and
    NeuroBench's activation sparsity and synaptic operations counted from them must equal
    the reference's (``neurobench`` in the result). With ``saif``, Verilator's switching
    activity of the whole run is written to that file (SAIF, for a vendor power report).

    Writes ``verify.json`` into ``build_dir`` and returns its contents.
    """
    if simulator not in SIMULATORS:
        raise SpikegenError(f"`simulator` {simulator!r} is not available; choose one of: "
                            f"{', '.join(SIMULATORS)}")
    if saif is not None and (simulator != "verilator" or waves):
        raise SpikegenError("`saif` is written by Verilator's switching-activity trace: use "
                            "it with `simulator` verilator and without `waves`")
    if samples < 1:
        raise SpikegenError(f"`samples` must be at least 1, not {samples}")
    qnet = load_network(build_dir)
    hdl_path = hdl_source(build_dir, simulator)
    spikes, source = _inputs(build_dir, qnet, data=data, samples=samples, density=density,
                             steps=steps, seed=seed)
    steps = spikes.shape[1] if qnet.coding.kind == "events" else qnet.coding.steps
    if steps > qnet.hardware.max_steps:
        raise SpikegenError(f"{steps} time steps exceed the build's `max_steps` "
                            f"({qnet.hardware.max_steps})")
    stimulus, expected = stimulus_for(qnet, spikes)

    from .sim.runner import SimulationError, run_accelerator
    if simulator == "ghdl":
        from .sim.ghdl import run_accelerator_ghdl as run_accelerator

    work = BuildDir(build_dir).sim(simulator)
    # progress is read from this run's log: never from the one a previous run left
    if os.path.exists(os.path.join(work, "test.log")):
        os.remove(os.path.join(work, "test.log"))
    if log is not None:
        log(f"verify: {spikes.shape[0]} samples ({source}) on {simulator}; building the "
            f"model in {work}")
    stop = threading.Event()
    watcher = None
    # on a terminal a bar of the samples simulated; otherwise a log line as they advance
    stage = Stage(f"[verify] {simulator}", total=spikes.shape[0], unit="samples",
                  enabled=None if log is not None else False)
    if log is not None:
        def report(done):
            if stage.enabled:
                stage.update(int(done) if done.isdigit() else None)
            else:
                log(f"  simulated {done} samples")
        watcher = threading.Thread(target=_progress, daemon=True,
                                   args=(os.path.join(work, "test.log"), spikes.shape[0],
                                         report, stop))
        watcher.start()
    start = time.monotonic()
    runner_options = {}
    if saif is not None:
        from dataclasses import replace

        from .sim.simulators import VERILATOR
        runner_options["simulator"] = replace(VERILATOR, wave_build_args=("--trace-saif",),
                                              waves_file="dump.saif")
    try:
        with stage:
            result = run_accelerator([hdl_path], TOP_NAME, work, stimulus,
                                     ports=top_ports(qnet), waves=waves or saif is not None,
                                     **runner_options)
    except SimulationError as exc:
        raise SpikegenError(f"simulation failed: {exc}") from None
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
    seconds = time.monotonic() - start
    # the build folder keeps the model and the results, not a compiler's scratch files (a
    # verification of changed HDL rebuilds them)
    from .sim.simulators import get_simulator

    get_simulator(simulator).clean(work)

    got = result["spikes"]
    spike_diff = got != expected.spikes
    bad = (spike_diff.any(axis=(1, 2)) | (result["cls"] != expected.predicted)
           | (result["counts"] != expected.counts).any(axis=1)
           | (result["steps_seen"] != steps))
    activity = rtl_activity(qnet, spikes, result, expected)
    if activity is not None:          # a hidden layer's spikes differ: the sample differs
        for k, trace in enumerate(expected.layers):
            bad |= (result[f"layer_spikes_{k}"] != trace.spikes).any(axis=(1, 2))
    cycles = result["cycles"]
    summary = {
        "simulator": simulator,
        "samples": int(spikes.shape[0]),
        "steps": int(steps),
        "source": source,
        "mismatched_samples": int(bad.sum()),
        "mismatched_spikes": int(spike_diff.sum()),
        "output_spikes": int(expected.spikes.sum()),
        "cycles_per_inference": float(cycles.mean()),
        "cycles_per_inference_min": int(cycles.min()),
        "cycles_per_inference_max": int(cycles.max()),
        "cycles_per_step": float(cycles.mean() / steps),
        "build_seconds": round(float(result.get("build_seconds", 0.0)), 2),
        "simulation_seconds": round(float(result.get("test_seconds", seconds)), 2),
        "total_seconds": round(seconds, 2),
        "samples_per_second": round(
            spikes.shape[0] / max(float(result.get("test_seconds", seconds)), 1e-9), 2),
    }
    if activity is not None:
        summary["neurobench"] = activity
    if saif is not None:
        import shutil

        shutil.copyfile(runner_options["simulator"].waves_path(work, TOP_NAME), saif)
        summary["saif"] = os.path.abspath(saif)
        if log is not None:
            log(f"verify: switching activity (SAIF) in {saif}")
    if waves:
        path = get_simulator(simulator).waves_path(work, TOP_NAME)
        summary["waves"] = os.path.relpath(path, build_dir)
        if log is not None:
            log(f"verify: waveforms in {path}")
    write_json(BuildDir(build_dir).verification, summary)
    _merge_into_report(build_dir, summary)
    return summary


def _merge_into_report(build_dir, summary):
    """Add the simulated cycle counts to ``report.json`` (deterministic fields only)."""
    path = BuildDir(build_dir).report
    if not os.path.isfile(path):
        return
    tree = read_json(path, "a spikegen report")
    keep = ("simulator", "samples", "steps", "source", "mismatched_samples",
            "mismatched_spikes", "cycles_per_inference", "cycles_per_inference_min",
            "cycles_per_inference_max", "cycles_per_step", "neurobench")
    simulation = {key: summary[key] for key in keep if key in summary}
    board = tree.get("board")
    if board:
        simulation["latency_us"] = summary["cycles_per_inference"] / board["clock_hz"] * 1e6
    tree.setdefault("simulation", {})[summary["simulator"]] = simulation
    write_json(path, tree)
