"""HDL emission of Amaranth components: Verilog (Amaranth's backend) and VHDL (spikegen's).

:func:`load` finds a user's component by ``MODULE:NAME`` (what ``spikegen emit`` takes), and
:func:`renamed_ports` names the ports whose VHDL name differs from their Verilog name
(Amaranth names a stream's ports ``i__valid``; VHDL forbids ``__``, so they become
``i_valid``: wrap the component in :class:`spikegen.flat_top.FlatTop` to get ``i_valid`` in
both languages).
"""
import importlib
import inspect
import os
import sys

from amaranth.back import rtlil as _rtlil
from amaranth.back import verilog as _verilog
from amaranth.lib import wiring

from .errors import SpikegenError


__all__ = ["verilog", "vhdl", "both", "load", "port_names", "renamed_ports"]


def _required_arguments(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):     # a builtin without a signature: let the call decide
        return []
    return [p.name for p in parameters if p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def load(target, *, folder="."):
    """The ``wiring.Component`` that ``target`` names.

    Parameters
    ----------
    target : str
        ``MODULE:NAME``: ``NAME`` in module ``MODULE`` is a component, a component class
        whose constructor needs no arguments (it is instantiated), or a function with no
        required arguments returning a component.
    folder : str or path
        Where ``MODULE`` is looked for first (default: the current folder); it stays on
        ``sys.path``, as with ``python -m``, so the module's own imports of its neighbours
        work while it is elaborated.

    Raises
    ------
    SpikegenError
        ``target`` is malformed, cannot be imported, or names something else.
    """
    module_name, _, attr = str(target).partition(":")
    if not module_name or not attr:
        raise SpikegenError(f"target {target!r} must be MODULE:NAME, e.g. mydesign:make_top "
                            "(a component, a component class, or a function returning one)")
    folder = os.path.abspath(folder)
    if folder not in [os.path.abspath(p or ".") for p in sys.path]:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpikegenError(f"cannot import {module_name!r} (looked in {folder} and on "
                            f"sys.path): {exc}") from None
    if not hasattr(module, attr):
        raise SpikegenError(f"module {module_name!r} has no {attr!r}")
    thing = getattr(module, attr)
    if isinstance(thing, type) and not issubclass(thing, wiring.Component):
        raise SpikegenError(f"{target} is the class {thing.__name__}, not a subclass of "
                            "Amaranth's wiring.Component")
    if callable(thing) and not isinstance(thing, wiring.Component):
        required = _required_arguments(thing)
        if required:
            what = "class" if isinstance(thing, type) else "function"
            raise SpikegenError(
                f"{what} {target} needs arguments ({', '.join(required)}): name a function "
                f"with no required arguments that returns the component instead, e.g. "
                f"'def make(): return {thing.__name__}(...)'")
        thing = thing()
    if not isinstance(thing, wiring.Component):
        raise SpikegenError(f"{target} gives a {type(thing).__name__}, not an Amaranth "
                            "wiring.Component")
    return thing


def port_names(component, *, name="top"):
    """``{verilog_name: vhdl_name}`` of the ports of ``component``'s signature, emitted as
    module or entity ``name``.

    The Verilog name is Amaranth's (members joined with ``__``: ``i__valid``); the VHDL name is
    the one :func:`vhdl` gives (a legal identifier: ``i_valid``), or None for a zero-width
    port, which VHDL leaves out. ``clk`` and ``rst`` are the same in both and not listed.
    """
    from .vhdl.names import Namer

    namer = Namer(taken=[name])
    names = {}
    for path, _, value in component.signature.flatten(component):
        name = "__".join(str(part) for part in path)
        width = len(value.as_value()) if hasattr(value, "as_value") else len(value)
        names[name] = namer.claim(name) if width else None
    return names


def renamed_ports(component, *, name="top"):
    """``{verilog_name: vhdl_name}`` of the ports named differently in the two languages (see
    :func:`port_names`); empty when one testbench can drive both."""
    return {v: h for v, h in port_names(component, name=name).items() if v != h}


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
