"""Build and run cocotb testbenches (``cocotb_tools.runner``) on Verilator or GHDL.

One runner serves both simulators: a :class:`Simulator` holds what differs between them (the
options, where the model is built and run, the language of the harness, how the tool is
found); :func:`build`, :func:`run_cocotb` and :func:`run_accelerator` take one.
The simulators themselves are described in :mod:`spikegen.sim.simulators`.
"""
import contextlib
import os
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .simulators import (GHDL, VERILATOR, SimulationError, Simulator, get_simulator,
                         verilator_env)


__all__ = ["verilator_env", "run_accelerator", "SimulationError", "Simulator", "VERILATOR",
           "GHDL", "get_simulator", "build", "Build", "run_cocotb", "harness_source"]


def _python_path():
    here = str(Path(__file__).resolve().parents[1])
    paths = [p for p in (os.environ.get("PYTHONPATH", ""),) if p]
    # in a source checkout sim/ is not inside spikegen/: make spikegen.sim importable anyway
    return os.pathsep.join(paths + [here, sysconfig.get_paths()["purelib"]])


@contextlib.contextmanager
def _quiet(work_dir, quiet, mode="w"):
    """Send what the runner prints to ``work_dir/simulation.log`` when ``quiet``.

    Only on the main thread: ``sys.stdout`` belongs to the whole process, and a simulation
    run in the background (a simulated board) would swallow what the foreground prints.
    """
    if not quiet or threading.current_thread() is not threading.main_thread():
        yield
        return
    stdout = sys.stdout
    with open(work_dir / "simulation.log", mode) as log:
        sys.stdout = log
        try:
            yield
        finally:
            sys.stdout = stdout


@contextlib.contextmanager
def _on_sys_path(folders):
    """Put ``folders`` first on ``sys.path`` for a while: cocotb's runner sets the simulator's
    ``PYTHONPATH`` to this process's ``sys.path``, whatever ``extra_env`` says."""
    saved = list(sys.path)
    sys.path[:0] = [str(folder) for folder in folders]
    try:
        yield
    finally:
        sys.path[:] = saved


def build(sim, sources, toplevel, work_dir, *, waves=False, quiet=True):
    """Build the model of ``toplevel`` from ``sources`` in ``work_dir/<simulator>``.

    Logs go to ``work_dir/build.log`` (and what the runner prints to
    ``work_dir/simulation.log``) when ``quiet``.

    Returns
    -------
    Build
        The built model, to run tests on.

    Raises
    ------
    SimulationError
        If the simulator is missing or the build fails.
    """
    from cocotb_tools.runner import get_runner

    sim = get_simulator(sim)
    sim.prepare()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    options = dict(timescale=sim.timescale) if sim.timescale else {}
    if sim.always:
        options["always"] = True
    runner = get_runner(sim.name)
    from spikegen.progress import Stage

    try:
        with _quiet(work_dir, quiet), Stage(f"[sim] {sim.label} model build",
                                            enabled=None if quiet else False):
            runner.build(
                sources=[str(Path(f).resolve()) for f in sources],
                hdl_toplevel=toplevel,
                build_dir=str(work_dir / sim.name),
                build_args=list(sim.build_args) + list(sim.wave_build_args if waves else ()),
                waves=waves,
                log_file=str(work_dir / "build.log") if quiet else None,
                **options,
            )
    except Exception as exc:  # the runner raises plain exceptions for build failures
        raise SimulationError(f"{sim.label} build failed ({exc}); see {work_dir}") from None
    return Build(sim, runner, toplevel, work_dir)


@dataclass(frozen=True)
class Build:
    """A model :func:`build` made; the cocotb runner that built it must also run it."""
    sim: Simulator
    runner: object
    toplevel: str
    work_dir: Path

    def test(self, test_module, *, extra_env=None, python_path=(), waves=False, quiet=True,
             strict=False):
        """Run cocotb ``test_module`` on the model.

        ``python_path`` lists folders where the simulator's Python finds ``test_module``
        (spikegen itself is always found). A failing cocotb test is an error only when
        ``strict`` (otherwise the caller reads the results the test wrote); a run that
        cannot start raises :class:`SimulationError`. Returns the path of cocotb's results
        (``work_dir/results.xml``, read with ``cocotb_tools.runner.get_results``).
        """
        work_dir, build_dir = self.work_dir, self.work_dir / self.sim.name
        # one fixed place: under pytest the runner would name the file after the pytest test
        results = work_dir / "results.xml"
        env = dict(extra_env or {})
        env["PYTHONPATH"] = os.pathsep.join([*map(str, python_path), _python_path()])
        try:
            # appended to: the build's lines come first
            with _quiet(work_dir, quiet, "a"), _on_sys_path(python_path):
                self.runner.test(
                    hdl_toplevel=self.toplevel,
                    test_module=test_module,
                    build_dir=str(build_dir),
                    test_dir=str(build_dir if self.sim.run_in_build_dir else work_dir),
                    test_args=list(self.sim.test_args),
                    plusargs=list(self.sim.plusargs),
                    extra_env=env,
                    waves=waves,
                    log_file=str(work_dir / "test.log") if quiet else None,
                    results_xml=str(results),
                )
        except SystemExit:
            # a failing cocotb test ends the runner with SystemExit
            if strict:
                where = f"{work_dir}/test.log" if quiet else "the simulator's output"
                raise SimulationError(f"a cocotb test failed; see {where}") from None
        except Exception as exc:  # the runner raises plain exceptions for run failures
            raise SimulationError(f"{self.sim.label} run failed ({exc}); see {work_dir}") \
                from None
        return results


def run_cocotb(sources, toplevel, test_module, work_dir, *, simulator="verilator",
               extra_env=None, python_path=(), waves=False, quiet=True, strict=False):
    """:func:`build`, then :meth:`Build.test`; returns the seconds each took."""
    started = time.monotonic()
    model = build(simulator, sources, toplevel, work_dir, waves=waves, quiet=quiet)
    built = time.monotonic()
    model.test(test_module, extra_env=extra_env, python_path=python_path, waves=waves,
               quiet=quiet, strict=strict)
    return built - started, time.monotonic() - built


def harness_source(work_dir, top_name, ports, *, width=16, tokens=0, hdl="verilog"):
    """Write the harness (Verilog, or VHDL with ``hdl="vhdl"``) for a top with the given port
    widths; returns its path.

    ``ports``: ``(input_name, in_bits, out_bits, result_bits)``. The stimulus memory holds at
    least ``tokens`` tokens of a sample, rounded up to a power of two so that runs with
    similar samples reuse the same simulator build.
    """
    from .harness import HARNESS_NAME, Harness

    input_name, in_bits, out_bits, result_bits = ports
    words = 256
    while words * width < tokens:
        words *= 2
    harness = Harness(top_name, input_name, in_bits, out_bits, result_bits, width=width,
                      depth=words)
    if hdl == "verilog":
        from amaranth.back import verilog

        text = verilog.convert(harness, name=HARNESS_NAME, emit_src=False,
                               strip_internal_attrs=True)
        path = Path(work_dir) / f"{HARNESS_NAME}.v"
    elif hdl == "vhdl":
        from spikegen.vhdl import convert

        text = convert(harness, name=HARNESS_NAME)
        path = Path(work_dir) / f"{HARNESS_NAME}.vhd"
    else:
        raise ValueError(f"Harness language must be 'verilog' or 'vhdl', not {hdl!r}")
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def run_accelerator(hdl_files, toplevel, work_dir, stimulus, *, ports, waves=False,
                    quiet=True, width=16, simulator="verilator"):
    """Run ``accelerator_tb`` on the HDL of a top level; return the results.

    ``stimulus`` is a dict with the arrays described in :mod:`spikegen.sim.accelerator_tb`
    (``width`` is added here); ``ports`` is ``(input_name, in_bits, out_bits, result_bits)``
    of the top. The top is simulated inside :class:`spikegen.sim.harness.Harness`, on
    ``simulator`` (``"verilator"`` for Verilog sources, ``"ghdl"`` for VHDL). A Verilator
    model is built once in ``work_dir/verilator`` and reused while the sources do not change.
    The results carry ``build_seconds`` and ``test_seconds`` besides the testbench's arrays.
    """
    from .harness import HARNESS_NAME

    sim = get_simulator(simulator)
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    stimulus = dict(stimulus)
    stim_path = work_dir / "stimulus.npz"
    res_path = work_dir / "results.npz"
    tokens = int(stimulus.pop("max_tokens", 0))
    harness = harness_source(work_dir, toplevel, ports, width=width, tokens=tokens,
                             hdl=sim.hdl)
    np.savez(stim_path, width=np.int64(width), **stimulus)
    if res_path.exists():
        res_path.unlink()
    build_seconds, test_seconds = run_cocotb(
        [*hdl_files, harness], HARNESS_NAME, "spikegen.sim.accelerator_tb", work_dir,
        simulator=sim, extra_env={"SPIKEGEN_STIMULUS": str(stim_path),
                                  "SPIKEGEN_RESULTS": str(res_path)},
        waves=waves, quiet=quiet)
    if not res_path.exists():
        raise SimulationError(f"the simulation produced no results; see {work_dir}/test.log")
    with np.load(res_path, allow_pickle=False) as data:
        result = {key: data[key] for key in data.files}
    result["build_seconds"] = build_seconds
    result["test_seconds"] = test_seconds
    return result
