"""HDL emission of Amaranth components."""
from amaranth.back import verilog as _verilog


__all__ = ["verilog", "vhdl"]


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
