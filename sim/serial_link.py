"""A simulated board on a pseudo-terminal: the host runtime talks to Verilator through it.

:func:`simulated_board` builds the Verilog of a board core
(:class:`rtl_lib.host_link.SerialAccelerator`) with Verilator, starts the cocotb bridge of
:mod:`spikegen.sim.serial_link_tb` in the background, and hands the terminal's path to a
client function, which opens it with pyserial exactly as it would open ``/dev/ttyUSB1``.
"""
import json
import threading
import time
from pathlib import Path

from .runner import SimulationError, build, get_simulator, run_cocotb


__all__ = ["simulated_board", "CLOCK_NS"]


#: Clock period of the simulation; cycle counts carry over to any board clock.
CLOCK_NS = 10


def simulated_board(verilog_files, toplevel, work_dir, client, *, divisor, faults=(),
                    start_timeout=120.0, quiet=True, simulator="verilator"):
    """Simulate a board core on Verilator (or GHDL) and run ``client(pty_path)`` against it.

    Parameters
    ----------
    verilog_files : list of path
        The Verilog of a top with ``clk``, ``rst``, ``rx`` and ``tx`` ports (its VHDL with
        ``simulator="ghdl"``).
    toplevel : str
        Its module name.
    work_dir : path
        Build and run folder; the Verilator model is reused while the sources do not change.
    client : callable
        Called with the terminal's path; its return value is returned.
    divisor : int
        Clock cycles per UART bit of the core.
    faults : iterable of str
        ``"drop:N"`` or ``"flip:N"`` faults on host-to-board bytes (see the testbench).
    start_timeout : float
        Seconds to wait for the simulation to open its terminal.

    Returns
    -------
    (object, dict)
        The client's result, and what the line carried: ``host_to_board_bytes``,
        ``board_to_host_bytes``, ``rx_busy_ns`` (time the host-to-board line was busy),
        ``sim_ns`` (simulated time), ``clock_ns``, ``divisor``, ``faults``, and the seconds
        spent building (``build_seconds``) and running (``run_seconds``).
    """
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    pty_file = work_dir / "pty.txt"
    stats_file = work_dir / "line.json"
    for stale in (pty_file, Path(f"{pty_file}.done"), stats_file):
        if stale.exists():
            stale.unlink()
    env = {
        "SPIKEGEN_PTY_FILE": str(pty_file),
        "SPIKEGEN_DIVISOR": str(divisor),
        "SPIKEGEN_STATS": str(stats_file),
        "SPIKEGEN_FAULTS": ",".join(faults),
    }
    sim = get_simulator(simulator)
    started = time.monotonic()
    if sim.always:
        # GHDL analyses again on every run: cheap, and done in the thread with the run
        def simulate():
            run_cocotb(verilog_files, toplevel, "spikegen.sim.serial_link_tb", work_dir,
                       simulator=sim, extra_env=env, quiet=quiet, strict=True)
    else:
        model = build(sim, verilog_files, toplevel, work_dir, quiet=quiet)

        def simulate():
            model.test("spikegen.sim.serial_link_tb", extra_env=env, quiet=quiet, strict=True)

    return _serve(simulate, client, work_dir, pty_file, stats_file, start_timeout, started,
                  time.monotonic())


def _serve(run_simulation, client, work_dir, pty_file, stats_file, start_timeout, started,
           built):
    """Run the simulation in a thread, hand its terminal to ``client``, collect the line."""
    failure = []

    def simulate():
        try:
            run_simulation()
        except BaseException as exc:    # kept for the caller, whatever it is
            failure.append(exc)

    thread = threading.Thread(target=simulate, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not pty_file.exists():
            if not thread.is_alive() or time.monotonic() > deadline:
                raise SimulationError(f"the simulation did not open its terminal; see "
                                      f"{work_dir}/test.log")
            time.sleep(0.05)
        result = client(pty_file.read_text())
    finally:
        Path(f"{pty_file}.done").touch()
        thread.join(timeout=start_timeout)
    if failure or not stats_file.exists():
        raise SimulationError(f"the simulation failed; see {work_dir}/test.log")
    line = json.loads(stats_file.read_text())
    line["build_seconds"] = round(built - started, 2)
    line["run_seconds"] = round(time.monotonic() - built, 2)
    return result, line
