"""A top level with flat port names that are legal in both Verilog and VHDL.

Amaranth names the ports of a nested signature ``a__b`` (``i_events__payload``); VHDL forbids
two consecutive underscores in an identifier. :class:`FlatTop` wraps a component and gives
every port of its signature a flat name joined with one underscore (``i_events_payload``), so
the Verilog and the VHDL top levels have the same ports and one testbench drives both.
"""
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["FlatTop", "flat_name"]


def flat_name(path):
    return "_".join(str(part) for part in path)


class FlatTop(wiring.Component):
    """``component`` with its ports flattened: member path ``("i_events", "payload")`` becomes
    port ``i_events_payload`` (payload structures are flattened to their bits)."""
    def __init__(self, component):
        self.inner = component
        members = {}
        self._ports = []
        for path, port_member, value in component.signature.flatten(component):
            name = flat_name(path)
            if name in members:
                raise ValueError(f"Port name {name!r} is ambiguous once flattened")
            shape = len(value.as_value()) if hasattr(value, "as_value") else len(value)
            members[name] = (In if port_member.flow == wiring.In else Out)(shape)
            self._ports.append((name, port_member.flow, value))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.inner
        for name, flow, inner in self._ports:
            outer = getattr(self, name)
            inner = inner.as_value() if hasattr(inner, "as_value") else inner
            if flow == wiring.In:
                m.d.comb += inner.eq(outer)
            else:
                m.d.comb += outer.eq(inner)
        return m

