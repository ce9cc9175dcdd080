"""VHDL output for Amaranth designs.

Amaranth has no VHDL backend, so spikegen writes its own: the design's RTLIL is lowered by
Yosys (:func:`spikegen.yosys.netlist_json`: processes become multiplexers and flip-flops, the
hierarchy is flattened, each memory becomes one ``$mem_v2`` cell, and by default Yosys's
``opt`` passes clean up) and every remaining cell is written as VHDL by the emitter registered
for its type (:mod:`spikegen.vhdl.cells`; :func:`supported_cells` lists them). An Amaranth
``Instance`` of a module outside the design becomes an instantiation of entity
``work.<module>``. A cell of any other type raises :class:`VHDLError` naming it.

The result is one entity with an architecture ``rtl``:

* Ports are ``std_logic`` (one bit) or ``std_logic_vector`` and keep Amaranth's Verilog
  names when those are legal VHDL (wrap stream ports in :class:`spikegen.flat_top.FlatTop`;
  an illegal name is made legal like any other, so ``a__b`` becomes ``a_b``). Zero-width
  ports are left out.
* Internal names are the design's hierarchical names made legal (``core.layer0.state`` ->
  ``core_layer0_state``), with numbers on clashes; Yosys's made-up names become the instance
  path and the cell type (``core_layer0_add_2``).
* Arithmetic uses ``ieee.numeric_std`` with exactly Yosys's widths and signedness. Bits that
  Yosys leaves undefined (``x``) are written as 0, which Yosys allows and which keeps
  simulations free of ``X``.
* Registers get the design's initial values; each memory is an array signal (with its initial
  contents and ``ram_style`` attribute) written and synchronously read in a clocked process,
  the pattern synthesis tools infer RAM from.
* The text avoids VHDL-2008-only constructs, so it analyses as VHDL-93 as well, and it is
  deterministic: the same design gives byte-identical text.
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
        The design; ports come from its signature (and the ``sync`` domain's ``clk``/``rst``).
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
    # without source locations the RTLIL, hence the netlist, does not depend on the checkout
    return convert_rtlil(rtlil.convert(component, name=name, emit_src=False), name=name, std=std,
                         optimize=optimize)
