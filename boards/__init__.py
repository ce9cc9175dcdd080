"""FPGA boards that spikegen can build an accelerator for.

Each board is a class with ``name``, ``part``, ``clock_hz``, ``default_baud`` and a
``build(accel, build_dir, *, baud=None, run_vendor=None)`` method; :data:`BOARDS` maps the
names users type to those classes.
"""
from .arty_a7 import ArtyA7_35Board, ArtyA7_100Board


__all__ = ["BOARDS", "DEFAULT_BOARD", "get_board"]


#: Board name -> board class.
BOARDS = {board.name: board for board in (ArtyA7_35Board, ArtyA7_100Board)}

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
