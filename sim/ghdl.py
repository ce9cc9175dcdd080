"""GHDL for the cocotb runner of :mod:`spikegen.sim.runner` (the VHDL twin of Verilator):
its runs, by the names the tests and ``spikegen verify`` know (GHDL itself, how it is found
and its options, are described in :mod:`spikegen.sim.simulators`)."""
from . import runner
from .simulators import (BUILD_ARGS, GHDL, PLUSARGS, TEST_ARGS, find_ghdl,  # noqa: F401
                         ghdl_version)


__all__ = ["find_ghdl", "ghdl_version", "BUILD_ARGS", "TEST_ARGS", "PLUSARGS", "GHDL",
           "run_cocotb", "harness_vhdl", "run_accelerator_ghdl"]


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
