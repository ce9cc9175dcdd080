"""Build and run cocotb testbenches on GHDL (the VHDL twin of :mod:`spikegen.sim.runner`).

GHDL comes from the system (Debian: ``apt-get install ghdl``, 2.0 with the mcode back end,
which analyses and elaborates in a moment and needs no C compiler). Sources are analysed as
VHDL-2008; numeric_std's warnings about undefined values are silenced at time 0 only, before
the first clock edge has given every register a value.

For long regressions, Debian's ``ghdl-llvm`` package simulates about twice as fast after a
few seconds of compiling: select it with ``GHDL_BACKEND=llvm`` in the environment (Debian's
``ghdl`` command honours it; this module needs no change).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from .runner import SimulationError, _python_path


__all__ = ["find_ghdl", "ghdl_version", "BUILD_ARGS", "TEST_ARGS", "PLUSARGS", "run_cocotb",
           "harness_vhdl", "run_accelerator_ghdl"]


#: Analysis options (``--std=08`` must also be given when running).
BUILD_ARGS = ("--std=08",)
#: Elaboration and run options.
TEST_ARGS = ("--std=08",)
#: Simulation run-time options.
PLUSARGS = ("--ieee-asserts=disable-at-0",)


def find_ghdl():
    """Path of the ``ghdl`` executable, or None when it is not installed."""
    return shutil.which("ghdl")


def ghdl_version():
    """First line of ``ghdl --version`` (for example ``GHDL 2.0.0 ...``), or None."""
    path = find_ghdl()
    if path is None:
        return None
    result = subprocess.run([path, "--version"], capture_output=True, text=True)
    return result.stdout.splitlines()[0] if result.stdout else None


def _require_ghdl():
    if find_ghdl() is None:
        raise SimulationError("GHDL not found: install it (Debian/Ubuntu: "
                              "'apt-get install ghdl') and put 'ghdl' on PATH")


def run_cocotb(sources, toplevel, test_module, work_dir, *, extra_env=None, python_path=(),
               waves=False, quiet=True):
    """Analyse VHDL ``sources`` and run cocotb ``test_module`` on entity ``toplevel``.

    ``work_dir/ghdl`` holds GHDL's library; logs go to ``work_dir/build.log`` and
    ``work_dir/test.log`` when ``quiet``. ``python_path`` lists folders where the simulator's
    Python finds ``test_module`` (spikegen itself is always found). A failing cocotb test is
    not an error here (the caller reads the results the test wrote); a failing build or run
    raises :class:`~spikegen.sim.runner.SimulationError`.
    """
    from cocotb_tools.runner import get_runner

    _require_ghdl()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    build_dir = work_dir / "ghdl"
    runner = get_runner("ghdl")
    env = dict(extra_env or {})
    env["PYTHONPATH"] = os.pathsep.join([*map(str, python_path), _python_path()])
    log = open(work_dir / "simulation.log", "w") if quiet else None
    stdout = sys.stdout
    try:
        if log is not None:
            sys.stdout = log
        runner.build(
            sources=[str(Path(f).resolve()) for f in sources],
            hdl_toplevel=toplevel,
            build_dir=str(build_dir),
            build_args=list(BUILD_ARGS),
            always=True,
            waves=waves,
            log_file=str(work_dir / "build.log") if quiet else None,
        )
        runner.test(
            hdl_toplevel=toplevel,
            test_module=test_module,
            build_dir=str(build_dir),
            # GHDL finds its library (mcode) or the elaborated program (LLVM, GCC back ends)
            # in the folder it runs in
            test_dir=str(build_dir),
            test_args=list(TEST_ARGS),
            plusargs=list(PLUSARGS),
            extra_env=env,
            waves=waves,
            log_file=str(work_dir / "test.log") if quiet else None,
        )
    except SystemExit:
        # a failing cocotb test ends the runner with SystemExit; the caller checks results
        pass
    except Exception as exc:  # the runner raises plain exceptions for build failures
        raise SimulationError(f"GHDL run failed ({exc}); see {work_dir}") from None
    finally:
        sys.stdout = stdout
        if log is not None:
            log.close()


def harness_vhdl(work_dir, top_name, ports, *, width=16, tokens=0):
    """Write the VHDL of :class:`spikegen.sim.harness.Harness` around entity ``top_name``;
    returns its path. Arguments as for :func:`spikegen.sim.runner.harness_source`."""
    from spikegen.vhdl import convert

    from .harness import HARNESS_NAME, Harness

    input_name, in_bits, out_bits, result_bits = ports
    words = 256
    while words * width < tokens:
        words *= 2
    harness = Harness(top_name, input_name, in_bits, out_bits, result_bits, width=width,
                      depth=words)
    text = convert(harness, name=HARNESS_NAME)
    path = Path(work_dir) / f"{HARNESS_NAME}.vhd"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def run_accelerator_ghdl(vhdl_files, toplevel, work_dir, stimulus, *, ports, waves=False,
                         quiet=True, width=16):
    """:func:`spikegen.sim.runner.run_accelerator` on GHDL: run ``accelerator_tb`` on the
    VHDL of a top level (entity ``toplevel`` in ``vhdl_files``); return the results."""
    from .harness import HARNESS_NAME

    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    stimulus = dict(stimulus)
    stim_path = work_dir / "stimulus.npz"
    res_path = work_dir / "results.npz"
    tokens = int(stimulus.pop("max_tokens", 0))
    harness = harness_vhdl(work_dir, toplevel, ports, width=width, tokens=tokens)
    np.savez(stim_path, width=np.int64(width), **stimulus)
    if res_path.exists():
        res_path.unlink()
    run_cocotb([*vhdl_files, harness], HARNESS_NAME, "spikegen.sim.accelerator_tb", work_dir,
               extra_env={"SPIKEGEN_STIMULUS": str(stim_path),
                          "SPIKEGEN_RESULTS": str(res_path)},
               waves=waves, quiet=quiet)
    if not res_path.exists():
        raise SimulationError(f"the simulation produced no results; see {work_dir}/test.log")
    with np.load(res_path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
