"""FPGA boards that spikegen can build an accelerator for.

One file per board: a board top level (clock, reset, UART pins, LEDs around
:class:`rtl_lib.host_link.SerialAccelerator`) and a board class (see :class:`._board.Board`)
with ``name``, ``part``, the part's ``capacity``, ``clock_hz``, ``default_baud``, a
``check_fit(estimate)`` that refuses a design too big for the part, and
``build(accel, build_dir, *, baud=None, clock_hz=None, run_vendor=None) -> dict``.
:data:`BOARDS` maps the names users type to those classes.
"""
from .arty_a7 import ArtyA7_35Board, ArtyA7_100Board
from .icebreaker import ICEBreakerBoard
from .ulx3s import ULX3S85FBoard


__all__ = ["BOARDS", "DEFAULT_BOARD", "get_board", "board_table", "describe_build"]


#: Board name -> board class.
BOARDS = {board.name: board for board in (ArtyA7_35Board, ArtyA7_100Board, ICEBreakerBoard,
                                          ULX3S85FBoard)}

#: The board used when none is named.
DEFAULT_BOARD = ArtyA7_35Board.name


def get_board(name=DEFAULT_BOARD):
    """A board by name, ready to ``build``.

    Returns
    -------
    object
        An instance of ``BOARDS[name]``.

    Raises
    ------
    ValueError
        If no board has that name.
    """
    if not isinstance(name, str) or name not in BOARDS:
        raise ValueError(f"Unknown board {name!r}; choose one of: {', '.join(sorted(BOARDS))}")
    return BOARDS[name]()


def board_table():
    """The lines ``spikegen boards`` prints: one per board, with its part, clock, UART rate,
    toolchain and capacities."""
    rows = [board().describe() for board in BOARDS.values()]
    header = ("board", "part", "clock", "UART", "toolchain", "logic", "block RAM")
    table = [header]
    for row in rows:
        toolchain = ("bitstream (YoWASP)" if row["toolchain"] == "yowasp"
                     else "Vivado project")
        table.append((row["name"], row["part"], f"{row['clock_hz'] / 1e6:g} MHz",
                      f"{row['baud'] / 1e6:g} Mbaud", toolchain,
                      f"{row['luts']:,} {row['lut_name']}",
                      f"{row['bram']} {row['bram_name']}"))
    widths = [max(len(line[k]) for line in table) for k in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
            for line in table]


def describe_build(info):
    """One line about a board build (the ``board`` entry of ``report.json``) for the build
    summary."""
    line = (f"board: {info['board']} ({info['part']}), {info.get('clock', '')}, UART "
            f"{info['baud']} baud")
    if info.get("toolchain") == "vivado":
        return line + (", Vivado ran" if info.get("toolchain_ran")
                       else ", Vivado project written (not run)")
    if not info.get("toolchain_ran"):
        return line + ", build plan written (tools not run)"
    used = ", ".join(f"{row['used']}/{row['available']} {name}"
                     for name, row in info.get("utilisation", {}).items()
                     if row["used"] and name not in ("IO", "GB"))
    line += f"; bitstream {info['bitstream']}: {used}; reaches {info['fmax_hz'] / 1e6:.1f} MHz"
    attempts = info.get("clock_attempts", [])
    if len(attempts) > 1:
        first = attempts[0]
        line += (f" (timing failed at {first['clock_hz'] / 1e6:g} MHz, "
                 f"{first['fmax_hz'] / 1e6:.2f} MHz reached: rebuilt slower)")
    return line
