"""A small model of the one flattened module in Yosys's JSON netlist (``write_json``).

A *bit* is an ``int`` (a net, numbered by Yosys) or one of the constant characters ``"0"``,
``"1"``, ``"x"``, ``"z"``. A signal is a tuple of bits, least significant first, as in the
JSON. Parameters are kept as Yosys wrote them and decoded on request by :class:`Cell`.
"""
import re
from dataclasses import dataclass
from types import MappingProxyType

from .errors import VHDLError


__all__ = ["Port", "Wire", "Cell", "Netlist", "from_json", "is_const", "const_value"]


_BITSTRING = re.compile(r"[01xz]*")


def is_const(bit):
    """Whether ``bit`` is a constant (``"0"``, ``"1"``, ``"x"``, ``"z"``) rather than a net."""
    return isinstance(bit, str)


def const_value(bits, *, signed=False):
    """Integer value of constant ``bits`` (LSB first); ``x`` and ``z`` count as 0."""
    value = sum(1 << i for i, bit in enumerate(bits) if bit == "1")
    if signed and bits and bits[-1] == "1":
        value -= 1 << len(bits)
    return value


@dataclass(frozen=True)
class Port:
    """A port of the top module."""
    name: str
    direction: str
    bits: tuple


@dataclass(frozen=True)
class Wire:
    """A named wire (``netnames`` entry); ``public`` names come from the design, not Yosys."""
    name: str
    bits: tuple
    public: bool
    attributes: MappingProxyType


@dataclass(frozen=True)
class Cell:
    """A cell: ``type`` such as ``"$add"``, ``connections`` from port name to bits."""
    name: str
    type: str
    public: bool
    parameters: MappingProxyType
    connections: MappingProxyType
    directions: MappingProxyType
    attributes: MappingProxyType

    def _param(self, name):
        try:
            return self.parameters[name]
        except KeyError:
            raise VHDLError(f"Cell {self.name!r} of type {self.type} has no parameter "
                            f"{name}") from None

    def bits(self, name):
        """Parameter ``name`` as constant bits, least significant first."""
        value = self._param(name)
        if isinstance(value, int):
            return tuple("1" if value >> i & 1 else "0" for i in range(32))
        if not _BITSTRING.fullmatch(value):
            raise VHDLError(f"Parameter {name} of cell {self.name!r} is not a constant: "
                            f"{value!r}")
        return tuple(reversed(value))

    def int(self, name):
        """Parameter ``name`` as an unsigned integer."""
        value = self._param(name)
        return value if isinstance(value, int) else const_value(self.bits(name))

    def flag(self, name, default=None):
        """Parameter ``name`` as a boolean (``default`` when the cell lacks it)."""
        if default is not None and name not in self.parameters:
            return default
        return self.int(name) != 0

    def str(self, name):
        """Parameter ``name`` as a string."""
        value = self._param(name)
        # write_json marks a string that looks like a bit string with a trailing space
        return value[:-1] if isinstance(value, str) and value.endswith(" ") else str(value)

    def port(self, name):
        """Bits connected to port ``name`` (empty if unconnected)."""
        return self.connections.get(name, ())

    def outputs(self):
        """Names of the output ports, in a fixed order."""
        return sorted(port for port, direction in self.directions.items()
                      if direction == "output")


@dataclass(frozen=True)
class Netlist:
    """The flattened top module: ports in declaration order, cells and wires by name."""
    name: str
    ports: tuple
    cells: tuple
    wires: tuple


def _bits(raw):
    return tuple(bit if isinstance(bit, int) else str(bit) for bit in raw)


def from_json(data, top):
    """The :class:`Netlist` of module ``top`` in ``data`` (parsed ``write_json`` output).

    Raises
    ------
    VHDLError
        ``top`` is missing, or a cell's ports are inout (tristate logic has no VHDL form here).
    """
    try:
        module = data["modules"][top]
    except KeyError:
        raise VHDLError(f"The netlist has no module {top!r}") from None
    ports = tuple(Port(name, port["direction"], _bits(port["bits"]))
                  for name, port in module.get("ports", {}).items())
    for port in ports:
        if port.direction not in ("input", "output"):
            raise VHDLError(f"Port {port.name!r} is {port.direction}; only input and output "
                            f"ports are supported")
    cells = []
    for name, cell in module.get("cells", {}).items():
        directions = dict(cell.get("port_directions", {}))
        cells.append(Cell(
            name=name, type=cell["type"], public=not cell.get("hide_name", 0),
            parameters=MappingProxyType(dict(cell.get("parameters", {}))),
            connections=MappingProxyType({port: _bits(bits)
                                          for port, bits in cell["connections"].items()}),
            directions=MappingProxyType(directions),
            attributes=MappingProxyType(dict(cell.get("attributes", {})))))
    wires = tuple(Wire(name, _bits(wire["bits"]), not wire.get("hide_name", 0),
                       MappingProxyType(dict(wire.get("attributes", {}))))
                  for name, wire in module.get("netnames", {}).items())
    return Netlist(top, ports, tuple(cells), wires)
