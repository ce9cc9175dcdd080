"""VHDL output for Amaranth designs.

Amaranth has no VHDL backend, so spikegen writes its own: the design's RTLIL is lowered by
Yosys (:func:`spikegen.yosys.netlist_json`: processes to multiplexers and flip-flops, a
flattened hierarchy, one ``$mem_v2`` cell per memory, and by default Yosys's ``opt`` passes)
and each remaining cell is written as VHDL (:mod:`spikegen.vhdl.cells`). The result is one
entity with ``std_logic``/``std_logic_vector`` ports named as in Amaranth's Verilog, using
``ieee.numeric_std`` inside; memories stay arrays written in clocked processes, so synthesis
tools infer block RAM from them. Cells the backend does not know raise :class:`VHDLError`.
"""
from amaranth.back import rtlil

from ..yosys import netlist_json
from .cells import REGISTRY, supported_cells
from .errors import VHDLError
from .netlist import from_json
from .writer import write


__all__ = ["convert", "convert_rtlil", "convert_netlist", "supported_cells", "VHDLError"]


_STANDARDS = ("08", "93")


def _check_std(std):
    if std not in _STANDARDS:
        raise ValueError(f"VHDL standard must be one of {', '.join(_STANDARDS)}, not {std!r}")


def convert_netlist(data, *, name, std="08"):
    """VHDL text of module ``name`` in a Yosys JSON netlist (parsed ``write_json`` output)
    that holds only the cells of :func:`supported_cells` (flattened, memories collected)."""
    _check_std(std)
    return write(from_json(data, name), REGISTRY, name=name, std=std)


def convert_rtlil(rtlil_text, *, name, std="08", optimize=True):
    """VHDL text of the RTLIL module ``name`` (for example from ``amaranth.back.rtlil``)."""
    _check_std(std)
    return convert_netlist(netlist_json(rtlil_text, name, optimize=optimize), name=name, std=std)


def convert(component, *, name="top", std="08", optimize=True):
    """VHDL text of an Amaranth ``wiring.Component``; ports come from its signature.

    Parameters
    ----------
    component : wiring.Component
    name : str
        Entity name, a legal VHDL identifier.
    std : str
        ``"08"`` (VHDL-2008) or ``"93"``: the text is the same, written to analyse as both.
    optimize : bool
        Run Yosys's ``opt`` passes before writing (smaller, more readable VHDL).

    Returns
    -------
    str
        One VHDL file: entity ``name`` and its architecture ``rtl``. The same component gives
        byte-identical text.

    Raises
    ------
    VHDLError
        The design holds a cell the backend does not support (named in the message), or a
        name that cannot be made legal.
    """
    _check_std(std)
    return convert_rtlil(rtlil.convert(component, name=name), name=name, std=std,
                         optimize=optimize)
