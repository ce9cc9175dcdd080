"""A stand-in for a top level written out in another HDL file.

:class:`BlackBox` has the signature of an accelerator and instantiates the module (or entity)
``name`` with the flat port names of :class:`spikegen.flat_top.FlatTop`. A board top built
around it refers to the accelerator by name, and the accelerator's own source — Verilog or
VHDL — is added to the vendor project next to it (``--board-hdl``).
"""
from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring

from .flat_top import flat_name


__all__ = ["BlackBox"]


class BlackBox(wiring.Component):
    """The component ``name`` with ``signature``, defined in an external HDL file."""
    def __init__(self, signature, name):
        self.module_name = name
        super().__init__(signature)

    def elaborate(self, platform):
        m = Module()
        ports = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
        for path, member, value in self.signature.flatten(self):
            prefix = "i" if member.flow == wiring.In else "o"
            ports[f"{prefix}_{flat_name(path)}"] = value
        m.submodules.core = Instance(self.module_name, **ports)
        return m
