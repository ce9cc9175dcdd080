"""HDL emission of Amaranth components."""
from amaranth.back import rtlil as _rtlil
from amaranth.back import verilog as _verilog


__all__ = ["verilog", "vhdl", "both"]


def verilog(component, *, name="top"):
    """Verilog text of a ``wiring.Component``; ports come from its signature.

    The output is deterministic: the same component gives byte-identical text.
    """
    text = _verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)
    return text if text.endswith("\n") else text + "\n"


def vhdl(component, *, name="top", std="08"):
    """VHDL text of a ``wiring.Component`` (see :func:`spikegen.vhdl.convert`): one entity
    ``name`` with the same port names as :func:`verilog` gives, as long as they are legal
    VHDL identifiers (use :class:`spikegen.flat_top.FlatTop` for stream ports).

    The output is deterministic: the same component gives byte-identical text.
    """
    from . import vhdl as _vhdl

    return _vhdl.convert(component, name=name, std=std)


def both(component, *, name="top", std="08"):
    """``(verilog, vhdl)`` texts of a component from one elaboration and one RTLIL
    conversion (a large design's weight memories make each conversion cost seconds); the
    same texts as :func:`verilog` and :func:`vhdl` give."""
    from . import vhdl as _vhdl

    text = _rtlil.convert(component, name=name, emit_src=False)
    verilog = _verilog._convert_rtlil_text(text, strip_internal_attrs=True)
    verilog = verilog if verilog.endswith("\n") else verilog + "\n"
    return verilog, _vhdl.convert_rtlil(text, name=name, std=std)
