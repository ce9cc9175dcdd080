"""Assemble the VHDL text of a flattened :class:`~spikegen.vhdl.netlist.Netlist`.

Every cell output becomes one signal (named after the design's wire when one covers exactly
those bits, else after the cell's instance path and type), every cell one statement or part of
a clocked process (see :mod:`spikegen.vhdl.cells`). Expressions refer to bits through the
signal that drives them, so Yosys's bit-level connections turn into slices and
concatenations. All internal signals are ``std_logic`` (one bit) or ``std_logic_vector``;
arithmetic converts to ``numeric_std``'s ``signed``/``unsigned`` where needed. The code avoids
VHDL-2008-only constructs (no reading of ``out`` ports, no ``process (all)``, no unary
reduction operators), so the same text analyses as VHDL-93.
"""
import dataclasses
import re
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import VHDLError
from .names import RESERVED, Namer, hierarchy, is_legal
from .netlist import is_const


__all__ = ["Signal", "Output", "Cond", "Context", "write"]


@dataclass
class Signal:
    """A VHDL signal or port: ``scalar`` signals are ``std_logic``, others vectors."""
    name: str
    width: int
    scalar: bool
    direction: str = None            # "in" or "out" for ports
    init: tuple = None               # initial value, LSB first ("0"/"1"), for registers

    @property
    def type(self):
        return "std_logic" if self.scalar else f"std_logic_vector({self.width - 1} downto 0)"


@dataclass(frozen=True)
class Output:
    """Bits a cell drives, declared as one signal (``scalar`` allowed if one bit wide), or tied
    to the constant ``const`` (for example the upper bits of a comparison's result)."""
    key: object
    bits: tuple
    scalar: bool = False
    hint: str = None
    const: str = None


@dataclass(frozen=True)
class Cond:
    """A VHDL boolean expression; ``bit`` set when it is just ``bit = '1'`` (or ``'0'`` when
    ``invert``), so a one-bit result can be assigned without a ``when ... else``;
    ``negation`` the text of its negation when it reads better than ``not (...)``."""
    text: str
    bit: str = None
    invert: bool = False
    negation: str = None

    @classmethod
    def of_bit(cls, bit, *, invert=False):
        return cls(f"{bit} = '{0 if invert else 1}'", bit, invert)

    def negate(self):
        if self.bit is not None:
            return Cond.of_bit(self.bit, invert=not self.invert)
        if self.text in ("true", "false"):
            return Cond("false" if self.text == "true" else "true")
        if self.negation is not None:
            return Cond(self.negation, negation=self.text)
        return Cond(f"not ({self.text})")


def _bit_string(chars):
    """A bit string literal for ``chars`` (MSB first): hexadecimal when it is a whole number
    of hex digits of at least two, binary otherwise (both VHDL-93 and 2008)."""
    if len(chars) >= 8 and len(chars) % 4 == 0:
        return f'x"{int(chars, 2):0{len(chars) // 4}X}"'
    return f'"{chars}"'


def _natural_key(text):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", text)]


@dataclass
class _Process:
    sensitivity: list
    clock: str
    edge: str
    reset: str = None
    reset_lines: list = field(default_factory=list)
    lines: list = field(default_factory=list)


class Context:
    """What a cell emitter sees: signals, expressions for bits, and where statements go."""

    def __init__(self, netlist, namer):
        self.netlist, self.namer = netlist, namer
        self._source = {}                 # net -> (Signal, index) or constant character
        self._outputs = {}                # (cell name, key) -> Signal
        self._init = {}                   # net -> initial value character
        self.declarations = []            # (sort key, text)
        self.statements = []              # (sort key, text)
        self.processes = {}               # key -> _Process
        self.helpers = set()              # helper functions the code calls
        self.attributes = set()           # attribute names that need a declaration
        for wire in netlist.wires:
            init = wire.attributes.get("init")
            if isinstance(init, str) and re.fullmatch(r"[01xz]+", init):
                for bit, value in zip(wire.bits, reversed(init)):
                    if not is_const(bit) and value in "01":
                        self._init.setdefault(bit, value)

    # -- sources ------------------------------------------------------------------------------

    def drive(self, bits, signal):
        """Record that ``signal`` (bit ``i``) drives ``bits[i]``."""
        for index, bit in enumerate(bits):
            self._drive(bit, (signal, index))

    def tie(self, bits, value):
        for bit in bits:
            self._drive(bit, value)

    def _drive(self, bit, source):
        if is_const(bit):
            raise VHDLError(f"A cell output is connected to the constant {bit!r}")
        if bit in self._source:
            raise VHDLError(f"Net {bit} has more than one driver")
        self._source[bit] = source

    def source(self, bit):
        """``(Signal, index)`` driving ``bit``, or a constant ``"0"``/``"1"``.

        Undefined bits (``x``, ``z``, undriven nets) read as ``"0"``: Yosys allows any value,
        and a defined one keeps simulations free of ``X`` propagation.
        """
        if is_const(bit):
            return "1" if bit == "1" else "0"
        return self._source.get(bit, "0")

    def output(self, cell, key):
        """The :class:`Signal` declared for output ``key`` of ``cell``."""
        return self._outputs[cell.name, key]

    def initial(self, bits):
        """Initial value of ``bits`` from the design's ``init`` attributes (0 when unset)."""
        return tuple(self._init.get(bit, "0") if not is_const(bit) else "0" for bit in bits)

    # -- expressions --------------------------------------------------------------------------

    def norm(self, bits):
        """``bits`` with every bit replaced by its driver's constant when it has one."""
        out = []
        for bit in bits:
            source = self.source(bit)
            out.append(source if isinstance(source, str) else bit)
        return tuple(out)

    def _parts(self, bits):
        """Runs of ``bits`` (LSB first): ``[Signal, lo, hi]`` or ``["const", chars MSB first]``."""
        parts = []
        for bit in bits:
            source = self.source(bit)
            last = parts[-1] if parts else None
            if isinstance(source, str):
                if last is not None and last[0] == "const":
                    last[1] = source + last[1]
                else:
                    parts.append(["const", source])
            else:
                signal, index = source
                if (last is not None and last[0] is signal and not signal.scalar
                        and last[2] + 1 == index):
                    last[2] = index
                else:
                    parts.append([signal, index, index])
        return parts

    @staticmethod
    def _part_text(part):
        """``(text, is_element)`` of one run."""
        if part[0] == "const":
            chars = part[1]
            return (f"'{chars}'", True) if len(chars) == 1 else (_bit_string(chars), False)
        signal, lo, hi = part
        if signal.scalar:
            return signal.name, True
        if lo == hi:
            return f"{signal.name}({lo})", True
        if lo == 0 and hi == signal.width - 1:
            return signal.name, False
        return f"{signal.name}({hi} downto {lo})", False

    def bit(self, bit):
        """A ``std_logic`` expression for one bit."""
        return self._part_text(self._parts([bit])[0])[0]

    def vec(self, bits, type_mark="std_logic_vector"):
        """An expression of type ``type_mark`` (``std_logic_vector``, ``unsigned`` or
        ``signed``) holding ``bits``, usable anywhere, including as an operand."""
        if not bits:
            raise VHDLError("Empty bit vector in an expression")
        parts = self._parts(bits)
        if len(parts) == 1:
            part = parts[0]
            text, element = self._part_text(part)
            if part[0] == "const":
                return f"{type_mark}'({_bit_string(part[1])})"
            if element and not part[0].scalar:
                text = f"{part[0].name}({part[1]} downto {part[1]})"
                element = False
            if element:
                return f"{type_mark}'(0 => {text})"
            return text if type_mark == "std_logic_vector" else f"{type_mark}({text})"
        text = " & ".join(self._part_text(part)[0] for part in reversed(parts))
        if type_mark == "std_logic_vector":
            return f"std_logic_vector'({text})"
        return f"{type_mark}(std_logic_vector'({text}))"

    def rhs(self, bits, target):
        """The right-hand side of an assignment of ``bits`` to ``target`` (a :class:`Signal`
        or ``(width, scalar)``): the target's type resolves literals and concatenations."""
        width, scalar = ((target.width, target.scalar) if isinstance(target, Signal)
                         else target)
        if len(bits) != width:
            raise VHDLError(f"Internal error: assigning {len(bits)} bits to {width}")
        if scalar:
            return self.bit(bits[0])
        parts = self._parts(bits)
        texts = [self._part_text(part) for part in reversed(parts)]
        if len(texts) == 1:
            text, element = texts[0]
            if element:
                if parts[0][0] == "const":
                    return f'"{parts[0][1]}"'
                return f"(0 => {text})"
            return text
        return " & ".join(text for text, _ in texts)

    def num(self, bits, signed):
        """``bits`` as a ``signed`` or ``unsigned`` expression of the same width."""
        return self.vec(bits, "signed" if signed else "unsigned")

    @staticmethod
    def strip(bits, signed):
        """``bits`` without redundant sign or zero extension (at least one bit left)."""
        bits = list(bits)
        if signed:
            while len(bits) > 1 and bits[-1] == bits[-2]:
                bits.pop()
        else:
            while len(bits) > 1 and bits[-1] == "0":
                bits.pop()
        return tuple(bits)

    def ext(self, bits, signed, width):
        """``bits`` extended (by sign when ``signed``) or truncated to ``width`` bits, as a
        ``signed``/``unsigned`` expression of exactly ``width`` bits."""
        bits = self.strip(self.norm(bits), signed) if bits else ("0",)
        if len(bits) >= width:
            return self.num(bits[:width], signed)
        if all(is_const(bit) for bit in bits):
            fill = bits[-1] if signed else "0"
            return self.num(bits + (fill,) * (width - len(bits)), signed)
        return f"resize({self.num(bits, signed)}, {width})"

    def literal(self, bits, target):
        """A literal for constant ``bits`` assigned to ``target``; all zeros in a vector are
        written ``(others => '0')``."""
        bits = tuple("1" if bit == "1" else "0" for bit in bits)
        width, scalar = ((target.width, target.scalar) if isinstance(target, Signal)
                         else target)
        if not scalar and width > 1 and "1" not in bits:
            return "(others => '0')"
        return self.rhs(bits, target)

    def nonzero(self, bits):
        """:class:`Cond`: any of ``bits`` is 1."""
        bits = self.norm(bits)
        if "1" in bits:
            return Cond("true")
        bits = tuple(bit for bit in bits if not is_const(bit))
        if not bits:
            return Cond("false")
        if len(bits) == 1:
            return Cond.of_bit(self.bit(bits[0]))
        number = self.num(bits, False)
        return Cond(f"{number} /= 0", negation=f"{number} = 0")

    def is_true(self, bit, polarity=True):
        """:class:`Cond`: ``bit`` is 1 (or 0 when ``polarity`` is false)."""
        text = self.bit(bit)
        if text.startswith("'"):
            # '1' = '1' would be ambiguous in VHDL (the literal fits several types)
            return Cond("true" if (text == "'1'") == polarity else "false")
        return Cond.of_bit(text, invert=not polarity)

    # -- output ---------------------------------------------------------------------------

    def name(self, text):
        """A fresh identifier resembling ``text``."""
        return self.namer.claim(text)

    def declare(self, text, key=""):
        self.declarations.append((key, text))

    def assign(self, target, expression):
        """A concurrent assignment ``target <= expression;``."""
        self.statements.append((target.name, f"{target.name} <= {expression};"))

    def assign_cond(self, target, cond):
        """``target`` (one bit, or a vector whose upper bits are 0) set from a condition."""
        if cond.bit is not None and target.scalar:
            expression = f"not {cond.bit}" if cond.invert else cond.bit
        elif cond.text in ("true", "false") and target.scalar:
            expression = "'1'" if cond.text == "true" else "'0'"
        elif target.scalar:
            expression = f"'1' when {cond.text} else '0'"
        else:
            raise VHDLError("Internal error: a condition assigned to a vector")
        self.assign(target, expression)

    def assign_when(self, target, choices, default):
        """``target <= v1 when c1 else v2 when c2 else ... default;`` one choice a line."""
        if not choices:
            return self.assign(target, default)
        pad = " " * (len(target.name) + 4)
        lines = [f"{value} when {cond.text} else" for value, cond in choices] + [default]
        self.statements.append(
            (target.name, f"{target.name} <= " + f"\n{pad}".join(lines) + ";"))

    def statement(self, key, text):
        self.statements.append((key, text))

    def clocked(self, clock, edge, reset=None, reset_polarity=True, *, group=""):
        """The process of one clock domain: its ``lines`` run on the clock ``edge`` (``"pos"``
        or ``"neg"``), its ``reset_lines`` while the asynchronous ``reset`` bit is active.
        Flip-flops share the process of their domain; a memory asks for its own ``group``."""
        clock_text = self.bit(clock)
        if clock_text.startswith("'"):
            raise VHDLError(f"A clock is tied to the constant {clock_text}")
        reset_text = None
        if reset is not None:
            reset_text = self.bit(reset)
            if reset_text == f"'{int(reset_polarity)}'":
                raise VHDLError("An asynchronous reset is tied active")
            if reset_text.startswith("'"):
                reset_text = None
        key = (group, clock_text, edge, reset_text, reset_polarity if reset_text else None)
        if key not in self.processes:
            process = _Process([clock_text], clock_text, edge)
            if reset_text is not None:
                process.sensitivity.append(reset_text)
                process.reset = f"{reset_text} = '{1 if reset_polarity else 0}'"
            self.processes[key] = process
        return self.processes[key]

    def new_signal(self, text, width, *, scalar=False):
        """A signal no netlist bit maps to (for example a select input made whole)."""
        signal = Signal(self.name(text), width, scalar and width == 1)
        self._outputs[None, signal.name] = signal
        return signal

    def helper(self, name):
        """Ask for a helper function (see :data:`HELPERS`) in the architecture."""
        self.helpers.add(name)


#: Helper functions declared in the architecture when a cell needs them.
HELPERS = {
    "xor_reduce": """\
function xor_reduce(v : std_logic_vector) return std_logic is
  variable r : std_logic := '0';
begin
  for i in v'range loop
    r := r xor v(i);
  end loop;
  return r;
end function;""",
}


#: What common unsupported cells come from, for the error message.
UNSUPPORTED_HINTS = {
    "$print": "Amaranth's Print(), for simulation only",
    "$check": "Amaranth's Assert(), Assume() or Cover(), for simulation and formal only",
    "$tribuf": "a tristate buffer: keep I/O buffers outside the converted design",
    "$initstate": "Amaranth's Initial(), for formal verification only",
    "$anyconst": "AnyConst(), for formal verification only",
    "$anyseq": "AnySeq(), for formal verification only",
    "$dlatch": "a latch",
    "$memrd_v2": "a memory port left uncollected: run memory_collect",
    "$memwr_v2": "a memory port left uncollected: run memory_collect",
}


def _indent(text, depth):
    pad = "  " * depth
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _signal_name(signal_bits, wires_by_bits, cell, hint):
    """Name text (not yet legal or unique) for an output and whether it is the design's."""
    wire = wires_by_bits.get(tuple(signal_bits))
    if wire is not None and wire.public:
        scope, local = hierarchy(wire.name, True)
        return "_".join(scope + [local]), True
    scope, local = hierarchy(cell.name, cell.public)
    if local is None:
        local = cell.type.lstrip("$\\")
        if not scope and local in RESERVED:
            local += "_y"                   # "not_y" reads better than legalize's "not_r"
    if hint:
        local = f"{local}_{hint}"
    return "_".join(scope + [local]), False


def _with_directions(netlist):
    """Instances of modules outside the design (Amaranth ``Instance``), with the directions
    of their ports, which Yosys does not know: a port whose nets nothing else drives is an
    output, one whose nets are all driven (or constant) an input."""
    driven = {bit for port in netlist.ports if port.direction == "input" for bit in port.bits}
    for cell in netlist.cells:
        for port, direction in cell.directions.items():
            if direction == "output":
                driven.update(cell.port(port))
    result = {}
    for cell in netlist.cells:
        if cell.type.startswith("$") or cell.directions:
            continue
        directions = {}
        for port, bits in cell.connections.items():
            inputs = [is_const(bit) or bit in driven for bit in bits]
            if all(inputs):
                directions[port] = "input"
            elif not any(inputs):
                directions[port] = "output"
                driven.update(bits)
            else:
                raise VHDLError(f"Port {port!r} of instance {cell.name!r} ({cell.type}) is "
                                f"partly driven by other logic")
        result[cell.name] = dataclasses.replace(cell, directions=MappingProxyType(directions))
    return result


def write(netlist, registry, *, name, std="08"):
    """VHDL text of ``netlist`` as entity ``name``; ``registry`` maps cell types to emitters
    (see :mod:`spikegen.vhdl.cells`)."""
    if not is_legal(name):
        raise VHDLError(f"Entity name {name!r} is not a legal VHDL identifier")
    namer = Namer(taken=[name])
    ctx = Context(netlist, namer)

    ports = []
    for port in netlist.ports:
        if not port.bits:
            continue                    # zero-width ports carry nothing and have no VHDL type
        signal = Signal(namer.claim(port.name), len(port.bits), len(port.bits) == 1,
                        "in" if port.direction == "input" else "out")
        ports.append((port, signal))
        if port.direction == "input":
            ctx.drive(port.bits, signal)

    # Cells and their outputs, in a fixed order; names of the design's own wires are claimed
    # before made-up ones, so a design's name never gets a number because of Yosys's.
    cells = []
    instance_cells = _with_directions(netlist)
    for cell in sorted(netlist.cells, key=lambda cell: _natural_key(cell.name)):
        cell = instance_cells.get(cell.name, cell)
        emitter = registry.get(cell.type if cell.type.startswith("$") else "instance")
        if emitter is None:
            hint = UNSUPPORTED_HINTS.get(cell.type)
            raise VHDLError(f"Cell {cell.name!r} of type {cell.type} is not supported by the "
                            f"VHDL backend" + (f" ({hint})" if hint else ""))
        if emitter.skip:
            continue
        emitter.check(cell)
        cells.append((cell, emitter, emitter.outputs(cell)))
    wires_by_bits = {}
    for wire in sorted(netlist.wires, key=lambda wire: (not wire.public, len(wire.name),
                                                         wire.name)):
        wires_by_bits.setdefault(wire.bits, wire)
    named = []
    for cell, emitter, outputs in cells:
        for output in outputs:
            if output.const is not None:
                ctx.tie(output.bits, output.const)
                continue
            text, public = _signal_name(output.bits, wires_by_bits, cell, output.hint)
            named.append((not public, _natural_key(text), cell, output, text))
    for _, _, cell, output, text in sorted(named, key=lambda item: item[:2]):
        scalar = output.scalar and len(output.bits) == 1
        signal = Signal(namer.claim(text), len(output.bits), scalar)
        ctx._outputs[cell.name, output.key] = signal
        ctx.drive(output.bits, signal)

    for cell, emitter, _ in cells:
        emitter.emit(cell, ctx)

    for port, signal in ports:
        if signal.direction == "out":
            ctx.statements.append(("~" + signal.name,
                                   f"{signal.name} <= {ctx.rhs(port.bits, signal)};"))
    return _assemble(ctx, name, ports, std)


def _assemble(ctx, name, ports, std):
    out = [f"-- {name}: generated by spikegen from an Amaranth design (edit the design, not this "
           f"file).",
           f"-- VHDL-{'2008' if std == '08' else '93'}; flattened netlist as lowered by Yosys.",
           "library ieee;",
           "use ieee.std_logic_1164.all;",
           "use ieee.numeric_std.all;",
           "",
           f"entity {name} is"]
    if ports:
        out.append("  port (")
        decls = [f"    {signal.name} : {signal.direction} {signal.type}" for _, signal in ports]
        out.append(";\n".join(decls))
        out.append("  );")
    out += [f"end entity {name};", "", f"architecture rtl of {name} is"]
    for helper in sorted(ctx.helpers):
        out.append(_indent(HELPERS[helper], 1))
    for attribute in sorted(ctx.attributes):
        out.append(f"  attribute {attribute} : string;")
    for _, text in sorted(ctx.declarations, key=lambda item: _natural_key(item[0])):
        out.append(_indent(text, 1))
    signals = sorted(ctx._outputs.values(), key=lambda signal: _natural_key(signal.name))
    for signal in signals:
        init = ""
        if signal.init is not None:
            init = f" := {ctx.literal(signal.init, signal)}"
        out.append(f"  signal {signal.name} : {signal.type}{init};")
    out.append("begin")
    for key in sorted(ctx.processes, key=lambda key: tuple(str(part) for part in key)):
        out.append(_indent(_process_text(ctx.processes[key]), 1))
    for _, text in sorted(ctx.statements, key=lambda item: _natural_key(item[0])):
        out.append(_indent(text, 1))
    out.append("end architecture rtl;")
    return "\n".join(_wrap(line) for text in out for line in text.split("\n")) + "\n"


_BREAKS = (" & ", " + ", " - ", " * ", " and ", " or ", " xor ")


def _wrap(line, limit=100):
    """``line`` broken after binary operators so that its parts fit ``limit`` columns where
    they can; continuation lines line up after the assignment's ``<=``."""
    if len(line) <= limit:
        return line
    pieces, start, quoted = [], 0, False       # (text, operator after it)
    index = 0
    while index < len(line):
        char = line[index]
        if char == '"':
            quoted = not quoted
        elif not quoted and char == " ":
            operator = next((op for op in _BREAKS if line.startswith(op, index)), None)
            if operator is not None:
                pieces.append((line[start:index], operator.strip()))
                start = index = index + len(operator)
                continue
        index += 1
    pieces.append((line[start:], ""))
    if len(pieces) == 1:
        return line
    arrow = line.find(" <= ")
    indent = arrow + 4 if 0 <= arrow < limit // 2 else len(line) - len(line.lstrip()) + 4
    lines, current = [], ""
    for text, operator in pieces:
        if current and len(current) + 1 + len(text) + len(operator) + 1 > limit:
            lines.append(current)
            current = " " * indent + text
        else:
            current = f"{current} {text}" if current else text
        if operator:
            current += f" {operator}"
    return "\n".join(lines + [current])


def _process_text(process):
    edge = "rising_edge" if process.edge == "pos" else "falling_edge"
    lines = [f"process ({', '.join(process.sensitivity)})", "begin"]
    if process.reset is not None:
        lines.append(f"  if {process.reset} then")
        lines += ["    " + line for line in process.reset_lines]
        lines.append(f"  elsif {edge}({process.clock}) then")
    else:
        lines.append(f"  if {edge}({process.clock}) then")
    lines += ["    " + line for line in process.lines]
    lines += ["  end if;", "end process;"]
    return "\n".join(lines)
