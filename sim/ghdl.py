"""GHDL for the cocotb runner of :mod:`spikegen.sim.runner` (the VHDL twin of Verilator).

GHDL comes from the system (Debian: ``apt-get install ghdl``, 2.0 with the mcode back end,
which analyses and elaborates in a moment and needs no C compiler). Sources are analysed as
VHDL-2008; numeric_std's warnings about undefined values are silenced at time 0 only, before
the first clock edge has given every register a value.

For long regressions, Debian's ``ghdl-llvm`` package simulates about twice as fast after a
few seconds of compiling: select it with ``GHDL_BACKEND=llvm`` in the environment (Debian's
``ghdl`` command honours it; this module needs no change).
"""
import shutil
import subprocess

from . import runner
from .runner import SimulationError, Simulator


__all__ = ["find_ghdl", "ghdl_version", "BUILD_ARGS", "TEST_ARGS", "PLUSARGS", "GHDL",
           "run_cocotb", "harness_vhdl", "run_accelerator_ghdl"]


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


#: GHDL as the runner drives it. Analysis is cheap, so every run analyses again; GHDL finds
#: its library (mcode) or the elaborated program (LLVM, GCC back ends) in the folder it runs
#: in, so the test runs in the build folder.
GHDL = Simulator(name="ghdl", label="GHDL", hdl="vhdl", prepare=_require_ghdl,
                 build_args=BUILD_ARGS, test_args=TEST_ARGS, plusargs=PLUSARGS, always=True,
                 run_in_build_dir=True)


def run_cocotb(sources, toplevel, test_module, work_dir, *, extra_env=None, python_path=(),
               waves=False, quiet=True):
    """Analyse VHDL ``sources`` and run cocotb ``test_module`` on entity ``toplevel``:
    :func:`spikegen.sim.runner.run_cocotb` on GHDL (``work_dir/ghdl`` holds its library)."""
    return runner.run_cocotb(sources, toplevel, test_module, work_dir, simulator=GHDL,
                             extra_env=extra_env, python_path=python_path, waves=waves,
                             quiet=quiet)


def harness_vhdl(work_dir, top_name, ports, *, width=16, tokens=0):
    """The VHDL of :class:`spikegen.sim.harness.Harness` around entity ``top_name``:
    :func:`spikegen.sim.runner.harness_source` with ``hdl="vhdl"``."""
    return runner.harness_source(work_dir, top_name, ports, width=width, tokens=tokens,
                                 hdl="vhdl")


def run_accelerator_ghdl(vhdl_files, toplevel, work_dir, stimulus, *, ports, waves=False,
                         quiet=True, width=16):
    """:func:`spikegen.sim.runner.run_accelerator` on GHDL: run ``accelerator_tb`` on the
    VHDL of a top level (entity ``toplevel`` in ``vhdl_files``); return the results."""
    return runner.run_accelerator(vhdl_files, toplevel, work_dir, stimulus, ports=ports,
                                  waves=waves, quiet=quiet, width=width, simulator=GHDL)
