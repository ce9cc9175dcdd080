"""``spikegen explore``: a design-space sweep, one Ray task per point.

Each point is a set of build options (:class:`~spikegen.compiler.BuildOptions`). Its task runs
the compiler's own steps as far as the figures need them (load, quantize, plan, check: the
bit-exact accuracy on the evaluation data; with synthesis also assemble, emit and synth) and
returns plain JSON: accuracy, the cycle model, the resource estimate (or Yosys' counts), the
fit on the board, the NeuroBench metrics and the energy estimate (:mod:`spikegen.metrics`,
:mod:`spikegen.energy`). Ray is the engine: ``ray.init()`` on this machine's cores by default,
or a running cluster by address.

Every point is cached in ``DIR/points/`` under a content hash of the network's and the
evaluation data's bytes and the point's options, written as soon as the point finishes: a
rerun computes only the points missing or failed, and a sweep killed half way loses only the
points in flight. ``DIR/results.json`` and ``DIR/results.csv`` list the points in the
sweep's order, with no time stamps: the same inputs give the same files.
"""
import csv
import hashlib
import io
import json
import os
import sys
import tempfile
from dataclasses import asdict, replace

from . import __version__
from .build_dir import write_json
from .errors import SpikegenError
from .pareto import front_flags


__all__ = ["point_key", "measure", "explore", "FIGURES"]


#: The figures of a point, in the order of the CSV's columns (after the swept options).
FIGURES = ("accuracy", "float_accuracy", "cycles_per_inference", "latency_us", "lut", "ff",
           "bram36", "resources", "fits", "energy_uj", "synaptic_acs", "activation_sparsity",
           "footprint_bits", "pareto", "error")


def _file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _portable(options):
    """The options as a task sees them: files by name (their bytes travel with the task)."""
    tree = asdict(options)
    tree.pop("out")
    tree["source"] = os.path.basename(options.source)
    if options.eval is not None and os.path.isfile(options.eval):
        tree["eval"] = "file:" + os.path.basename(options.eval)
    return tree


def point_key(options, digests):
    """The cache key of a point: a hash of the files' contents (``digests``, name → sha256),
    the point's options and spikegen's version."""
    text = json.dumps({"options": _portable(options), "files": digests,
                       "spikegen": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def measure(options, board_name):
    """Run one point (see the module's docstring) and return its figures. ``options.synth``
    names the family to synthesise for, or ``None``; ``board_name``: the board the fit, the
    clock and the static power are taken from (the core is built without its host link)."""
    from . import compiler
    from .boards import get_board
    from .energy import estimate
    from .fit import estimate as fit_estimate, fits
    from .report import resource_estimate

    try:
        target = get_board(board_name)
    except ValueError as exc:
        raise SpikegenError(str(exc)) from None
    b = compiler.Build(options=replace(options, board=None, hdl="verilog"))
    for step in (compiler.load, compiler.quantize, compiler.plan, compiler.check):
        b = step(b)
    try:
        clock_hz = target.clock_plan(options.clock_hz).hz
    except ValueError as exc:
        raise SpikegenError(f"board {target.name}: {exc}") from None
    ev = b.evaluation
    cycles = b.plan.cycle_estimate(ev.events, ev.coder, ev.beats,
                                   ev.loads)["per_inference_mean"]
    family = target.capacity.family
    on_board = fit_estimate(b.plan, family, rx_fifo_depth=target.rx_fifo_depth,
                            pins=target.pins or 0)
    result = {"fits": fits(b.plan, target)}
    if options.synth is not None:
        for step in (compiler.assemble, compiler.emit, compiler.synth):
            b = step(b)
        found = b.synthesis["resources"]
        result.update(lut=found["lut"], ff=found["ff"],
                      bram36=found.get("bram36_equivalent", found.get("bram")),
                      resources=found["tool"])
        if b.synthesis.get("timing"):
            result["achieved_mhz"] = b.synthesis["timing"]["achieved_mhz"]
    else:
        est = resource_estimate(b.plan)
        result.update(lut=est["lut"], ff=est["ff"], bram36=est["bram36"],
                      resources="estimate (7-series LUT6)")
    energy = estimate(b.plan, ev.events, family=family, part=target.part, clock_hz=clock_hz,
                      cycles=cycles, ffs=on_board["ffs"], loads=ev.loads)
    nb = ev.neurobench
    result.update(
        accuracy=ev.metrics.get("reference_accuracy"),
        float_accuracy=ev.metrics.get("float_accuracy"),
        cycles_per_inference=round(cycles, 3),
        latency_us=round(cycles / clock_hz * 1e6, 6),
        energy_uj=None if energy is None else energy["energy_uj"],
        energy_range_uj=None if energy is None else energy["range_uj"],
        synaptic_acs=round(nb["synaptic_operations"]["effective_acs"], 3),
        activation_sparsity=round(nb["activation_sparsity"], 6),
        footprint_bits=nb["footprint_bits"])
    return result


def _one_line(exc):
    if isinstance(exc, SpikegenError):
        return exc.args[0] if exc.args else ""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _task(options_tree, board_name, files):
    """A point, as a Ray task runs it: the files written to a folder of its own."""
    from .compiler import BuildOptions

    with tempfile.TemporaryDirectory(prefix="spikegen_point_") as work:
        for name, data in files.items():
            with open(os.path.join(work, name), "wb") as f:
                f.write(data)
        tree = dict(options_tree)
        tree["source"] = os.path.join(work, tree["source"])
        if tree["eval"] is not None and tree["eval"].startswith("file:"):
            tree["eval"] = os.path.join(work, tree["eval"][5:])
        options = BuildOptions(out=os.path.join(work, "build"), **tree)
        try:
            return {**measure(options, board_name), "error": None}
        except Exception as exc:          # a failing point is a result, not the sweep's end
            return {"error": _one_line(exc)}


def _progress(total, log):
    """A callable ``(done, label)`` drawing progress over the points: a tqdm bar on a
    terminal, nothing otherwise."""
    if not sys.stderr.isatty():
        return lambda done, label: None
    try:
        from tqdm import tqdm
    except ImportError:
        return lambda done, label: log(f"explore: {done}/{total} points ({label})")
    bar = tqdm(total=total, unit="point", desc="explore", file=sys.stderr)

    def update(done, label):
        bar.set_postfix_str(label, refresh=False)
        bar.update(done - bar.n)
        if done == total:
            bar.close()
    return update


def explore(points, *, board, out, labels, spell=lambda name: name, address=None,
            num_cpus=None, log=None):
    """Run the sweep and write ``out``'s results.

    Parameters
    ----------
    points : list of BuildOptions
        One per point, in the sweep's order (the same network and evaluation data).
    board : str
        The board of the fit, the clock and the energy estimate.
    labels : list of dict
        The swept options of each point, by their command-line names.
    spell : callable
        Names an option as the command does (for the recorded errors).
    address, num_cpus
        A Ray cluster's address, or this machine with ``num_cpus`` cores (default all).

    Returns
    -------
    (tree, computed)
        The ``results.json`` tree and how many points were computed (not from the cache).
    """
    log = log or (lambda message: None)
    first = points[0]
    paths = {os.path.basename(first.source): first.source}
    if first.eval is not None and os.path.isfile(first.eval):
        paths[os.path.basename(first.eval)] = first.eval
    for name, path in paths.items():
        if not os.path.isfile(path):
            raise SpikegenError(f"{path}: no such file")
    digests = {name: _file_digest(path) for name, path in sorted(paths.items())}
    cache = os.path.join(out, "points")
    os.makedirs(cache, exist_ok=True)
    keys = [point_key(p, digests) for p in points]
    results = {}
    for key in keys:
        path = os.path.join(cache, f"{key}.json")
        if os.path.isfile(path):
            with open(path) as f:
                stored = json.load(f)
            if stored.get("error") is None:
                results[key] = stored
    missing = [k for k in dict.fromkeys(keys) if k not in results]
    log(f"explore: {len(points)} points, {len(points) - len(missing)} from the cache, "
        f"{len(missing)} to compute")
    computed = _run_ray(points, keys, missing, board, paths, cache, results, labels,
                        address, num_cpus, log) if missing else 0
    tree = _results(points, keys, results, labels, board, spell)
    write_json(os.path.join(out, "results.json"), tree)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        f.write(to_csv(tree))
    return tree, computed


def _run_ray(points, keys, missing, board, paths, cache, results, labels, address, num_cpus,
             log):
    import logging

    import ray

    started = not ray.is_initialized()
    if started:
        if address is not None:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING)
    try:
        files = {}
        for name, path in paths.items():
            with open(path, "rb") as f:
                files[name] = f.read()
        shared = ray.put(files)
        task = ray.remote(num_cpus=1)(_task)
        first = {key: k for k, key in reversed(list(enumerate(keys)))}
        pending = {task.remote(_portable(points[first[key]]), board, shared): key
                   for key in missing}
        progress = _progress(len(missing), log)
        done = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            key = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayError as exc:       # the worker itself failed
                result = {"error": _one_line(exc)}
            with open(os.path.join(cache, f"{key}.json"), "w") as f:
                json.dump(result, f, indent=1, sort_keys=True)
            results[key] = result
            done += 1
            progress(done, _label(labels[first[key]]))
        return done
    finally:
        if started:
            ray.shutdown()


def _label(values):
    return ", ".join(f"{flag}={value}" for flag, value in values.items())


def _results(points, keys, results, labels, board, spell):
    import ray

    rows = []
    for key, values in zip(keys, labels):
        found = dict(results[key])
        if found.get("error"):
            found["error"] = SpikegenError(found["error"]).render(spell)
        rows.append({**{name: found.get(name) for name in FIGURES if name != "pareto"},
                     **{k: v for k, v in found.items() if k not in FIGURES},
                     "options": dict(values), "key": key})
    for row, on_front in zip(rows, front_flags(rows)):
        row["pareto"] = on_front
    synthesized = points[0].synth is not None
    return {"engine": "ray", "ray_version": ray.__version__, "spikegen": __version__,
            "network": os.path.basename(points[0].source), "board": board,
            "resources_from": f"synthesis ({points[0].synth})" if synthesized
            else "estimate", "points": rows}


def to_csv(tree):
    """The points of a ``results.json`` tree as CSV: the swept options, then :data:`FIGURES`."""
    names = list(dict.fromkeys(name for row in tree["points"] for name in row["options"]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names + list(FIGURES))
    for row in tree["points"]:
        writer.writerow([row["options"].get(name) for name in names]
                        + ["" if row.get(name) is None else row[name] for name in FIGURES])
    return text.getvalue()
