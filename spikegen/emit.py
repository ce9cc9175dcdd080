"""HDL emission of Amaranth components."""
from amaranth.back import verilog as _verilog


__all__ = ["verilog"]


def verilog(component, *, name="top"):
    """Verilog text of a ``wiring.Component``; ports come from its signature.

    The output is deterministic: the same component gives byte-identical text.
    """
    text = _verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)
    return text if text.endswith("\n") else text + "\n"
