"""VHDL for each Yosys cell type: :data:`REGISTRY` maps a type (``"$add"``) to its
:class:`Emitter`.

The semantics are those of Yosys's cell library (``techlibs/common/simlib.v``): a binary
operator's operands are signed only when both ``A_SIGNED`` and ``B_SIGNED`` are set; they are
extended (by sign if signed) or truncated to the result width before the operation, except
for comparisons, which compare values. Each emitter writes that exactly, with ``numeric_std``
doing the arithmetic on operands already brought to the result width, so no result is ever
truncated by ``resize`` of a ``signed`` value (which would keep the sign bit).
"""
import re
from dataclasses import dataclass
from typing import Callable

from .errors import VHDLError
from .names import is_legal
from .netlist import const_value, is_const
from .writer import Cond, Output


__all__ = ["Emitter", "REGISTRY", "supported_cells"]


def _y_output(cell):
    return [Output("Y", cell.port("Y"))]


def _scalar_y_output(cell):
    return [Output("Y", cell.port("Y"), scalar=True)]


def _bool_output(cell):
    y = cell.port("Y")
    outputs = [Output("Y", y[:1], scalar=True)]
    if len(y) > 1:
        outputs.append(Output("Y_upper", y[1:], const="0"))
    return outputs


@dataclass(frozen=True)
class Emitter:
    """How one cell type becomes VHDL.

    ``outputs(cell)`` lists the :class:`~spikegen.vhdl.writer.Output` signals the cell
    drives; ``emit(cell, ctx)`` writes its statements through the
    :class:`~spikegen.vhdl.writer.Context`. A ``skip`` cell carries no logic.
    """
    emit: Callable = None
    outputs: Callable = _y_output
    skip: bool = False

    def check(self, cell):
        for port in cell.connections:
            if cell.directions.get(port) == "inout":
                raise VHDLError(f"Cell {cell.name!r} of type {cell.type} has an inout port")


REGISTRY = {}


def _register(*types, outputs=_y_output):
    def wrap(emit):
        for cell_type in types:
            REGISTRY[cell_type] = Emitter(emit, outputs)
        return emit
    return wrap


def supported_cells():
    """Cell types the backend writes as VHDL, sorted."""
    return sorted(cell_type for cell_type, emitter in REGISTRY.items()
                  if not emitter.skip and cell_type.startswith("$"))


def _signed(cell):
    return cell.flag("A_SIGNED") and cell.flag("B_SIGNED")


def _slv(ctx, expression):
    return f"std_logic_vector({expression})"


def _extended(ctx, bits, signed, width):
    """``std_logic_vector`` expression of ``bits`` extended or truncated to ``width``."""
    bits = ctx.strip(ctx.norm(bits), signed) if bits else ("0",)
    if len(bits) >= width:
        return ctx.vec(bits[:width])
    return _slv(ctx, ctx.ext(bits, signed, width))


# -- arithmetic ------------------------------------------------------------------------------

def _binary_arith(op):
    def emit(cell, ctx):
        y, operator = ctx.output(cell, "Y"), op
        signed = _signed(cell)
        a = ctx.ext(cell.port("A"), signed, y.width)
        b_bits = ctx.norm(cell.port("B"))
        b = ctx.ext(b_bits, signed, y.width)
        if b_bits and all(map(is_const, b_bits)):
            # numeric_std converts an integer to the other operand's width, which is already
            # the result width; the constant's value at that width is what Yosys adds
            extended = b_bits[:y.width] + (b_bits[-1] if signed else "0",) * (y.width -
                                                                              len(b_bits))
            value = const_value(extended, signed=signed)
            if 0 <= value < (1 << 31):
                b = str(value)
            elif -value < min(1 << 31, 1 << (y.width - 1)):
                # a + -3 reads better as a - 3 (the most negative value has no such twin)
                operator, b = {"+": "-", "-": "+"}[op], str(-value)
        ctx.assign(y, _slv(ctx, f"{a} {operator} {b}"))
    return emit


_register("$add")(_binary_arith("+"))
_register("$sub")(_binary_arith("-"))


@_register("$mul")
def _mul(cell, ctx):
    y = ctx.output(cell, "Y")
    signed = _signed(cell)
    a = ctx.strip(ctx.norm(cell.port("A")), signed)
    b = ctx.strip(ctx.norm(cell.port("B")), signed)
    if y.width >= len(a) + len(b):
        # the full product fits: extend it (by sign if signed)
        product = f"{ctx.num(a, signed)} * {ctx.num(b, signed)}"
    else:
        # only the low bits are kept, and those do not depend on signedness once the operands
        # are extended to the result width; unsigned resize truncates to the low bits
        def operand(bits):
            if all(map(is_const, bits)):
                value = const_value(bits[:y.width] + (bits[-1] if signed else "0",) *
                                    max(0, y.width - len(bits)))
                if value < (1 << 31):
                    return str(value)
            text = ctx.ext(bits, signed, y.width)
            return f"unsigned({text})" if signed else text
        if all(map(is_const, a + b)):
            value = const_value(a, signed=signed) * const_value(b, signed=signed)
            bits = tuple("1" if value >> i & 1 else "0" for i in range(y.width))
            return ctx.assign(y, ctx.literal(bits, y))
        product = f"{operand(a)} * {operand(b)}"
    ctx.assign(y, _slv(ctx, f"resize({product}, {y.width})"))


@_register("$neg")
def _neg(cell, ctx):
    y = ctx.output(cell, "Y")
    ctx.assign(y, _slv(ctx, f"0 - {ctx.ext(cell.port('A'), cell.flag('A_SIGNED'), y.width)}"))


@_register("$pos", outputs=_scalar_y_output)
def _pos(cell, ctx):
    y = ctx.output(cell, "Y")
    ctx.assign(y, _extended(ctx, cell.port("A"), cell.flag("A_SIGNED"), y.width)
               if not y.scalar else ctx.bit(_first(cell.port("A"))))


@_register("$not", outputs=_scalar_y_output)
def _not(cell, ctx):
    y = ctx.output(cell, "Y")
    if y.scalar:
        ctx.assign(y, f"not {ctx.bit(_first(cell.port('A')))}")
    else:
        ctx.assign(y, f"not {_extended(ctx, cell.port('A'), cell.flag('A_SIGNED'), y.width)}")


def _first(bits):
    return bits[0] if bits else "0"


def _bitwise(op):
    def emit(cell, ctx):
        y = ctx.output(cell, "Y")
        if y.scalar:
            a, b = ctx.bit(_first(cell.port("A"))), ctx.bit(_first(cell.port("B")))
        else:
            signed = _signed(cell)
            a = _extended(ctx, cell.port("A"), signed, y.width)
            b = _extended(ctx, cell.port("B"), signed, y.width)
        ctx.assign(y, f"{a} {op} {b}")
    return emit


for _type, _op in (("$and", "and"), ("$or", "or"), ("$xor", "xor"), ("$xnor", "xnor")):
    _register(_type, outputs=_scalar_y_output)(_bitwise(_op))


@_register("$bweqx")
def _bweqx(cell, ctx):
    y = ctx.output(cell, "Y")
    ctx.assign(y, f"not ({ctx.vec(cell.port('A'))} xor {ctx.vec(cell.port('B'))})")


def _division(kind):
    """``$div``/``$mod`` truncate, ``$divfloor``/``$modfloor`` round towards minus infinity.

    Signed operands are widened by one bit beyond the widest of A, B and Y so the exact
    quotient fits (Yosys computes it exactly too), then the low bits are kept. A zero divisor
    gives 0 here (Yosys leaves it undefined; Amaranth defines it as 0 around this cell).
    """
    def emit(cell, ctx):
        y = ctx.output(cell, "Y")
        a_bits, b_bits = cell.port("A"), cell.port("B")
        if not _signed(cell):
            a, b = ctx.num(a_bits, False), ctx.num(b_bits, False)
            value = f"{a} / {b}" if kind in ("div", "divfloor") else f"{a} rem {b}"
        else:
            width = max(len(a_bits), len(b_bits), y.width) + 1
            a, b = ctx.ext(a_bits, True, width), ctx.ext(b_bits, True, width)
            value = {"div": f"{a} / {b}", "mod": f"{a} rem {b}",
                     "divfloor": f"({a} - ({a} mod {b})) / {b}",
                     "modfloor": f"{a} mod {b}"}[kind]
            value = f"unsigned({value})"
        zero = ctx.nonzero(b_bits).negate()
        ctx.assign_when(y, [("(others => '0')", zero)], _slv(ctx, f"resize({value}, {y.width})"))
    return emit


for _kind in ("div", "mod", "divfloor", "modfloor"):
    _register(f"${_kind}")(_division(_kind))


# -- logic and comparisons ---------------------------------------------------------------------

@_register("$logic_not", outputs=_bool_output)
def _logic_not(cell, ctx):
    ctx.assign_cond(ctx.output(cell, "Y"), ctx.nonzero(cell.port("A")).negate())


def _logic_binary(op):
    def emit(cell, ctx):
        a, b = ctx.nonzero(cell.port("A")), ctx.nonzero(cell.port("B"))
        ctx.assign_cond(ctx.output(cell, "Y"), Cond(f"({a.text}) {op} ({b.text})"))
    return emit


_register("$logic_and", outputs=_bool_output)(_logic_binary("and"))
_register("$logic_or", outputs=_bool_output)(_logic_binary("or"))


@_register("$reduce_or", "$reduce_bool", outputs=_bool_output)
def _reduce_or(cell, ctx):
    ctx.assign_cond(ctx.output(cell, "Y"), ctx.nonzero(cell.port("A")))


@_register("$reduce_and", outputs=_bool_output)
def _reduce_and(cell, ctx):
    bits = ctx.norm(cell.port("A"))
    if "0" in bits or not bits:
        cond = Cond("false") if bits else Cond("true")
    else:
        bits = tuple(bit for bit in bits if not is_const(bit))
        if not bits:
            cond = Cond("true")
        elif len(bits) == 1:
            cond = ctx.is_true(bits[0])
        else:
            cond = Cond(f"{ctx.num(bits, True)} = -1")
    ctx.assign_cond(ctx.output(cell, "Y"), cond)


def _reduce_xor(invert):
    def emit(cell, ctx):
        y = ctx.output(cell, "Y")
        bits = cell.port("A")
        if len(bits) == 1:
            value = ctx.bit(bits[0])
        else:
            ctx.helper("xor_reduce")
            value = f"xor_reduce({ctx.vec(bits)})"
        ctx.assign(y, f"not {value}" if invert else value)
    return emit


_register("$reduce_xor", outputs=_bool_output)(_reduce_xor(False))
_register("$reduce_xnor", outputs=_bool_output)(_reduce_xor(True))


def _operand(ctx, bits, signed):
    """A comparison operand: an integer literal when constant and small, else a number."""
    if all(is_const(bit) for bit in bits):
        value = const_value(bits, signed=signed)
        if -(1 << 31) < value < (1 << 31):
            return str(value)
    return ctx.num(bits, signed)


_PYTHON_COMPARE = {"=": int.__eq__, "/=": int.__ne__, "<": int.__lt__, "<=": int.__le__,
                   ">": int.__gt__, ">=": int.__ge__}


def _compare(op):
    def emit(cell, ctx):
        signed = _signed(cell)
        a = ctx.strip(ctx.norm(cell.port("A")), signed) if cell.port("A") else ("0",)
        b = ctx.strip(ctx.norm(cell.port("B")), signed) if cell.port("B") else ("0",)
        a_const, b_const = all(map(is_const, a)), all(map(is_const, b))
        if a_const and b_const:
            result = _PYTHON_COMPARE[op](const_value(a, signed=signed),
                                         const_value(b, signed=signed))
            cond = Cond("true" if result else "false")
        elif op in ("=", "/=") and not signed and len(a) == 1 and len(b) == 1 \
                and (a_const or b_const):
            bit, value = (b[0], a[0]) if a_const else (a[0], b[0])
            cond = ctx.is_true(bit, (value == "1") == (op == "="))
        elif op in ("=", "/=") and not signed and len(a) == 1 and len(b) == 1:
            cond = Cond(f"{ctx.bit(a[0])} {op} {ctx.bit(b[0])}")
        else:
            cond = Cond(f"{_operand(ctx, a, signed)} {op} {_operand(ctx, b, signed)}")
        ctx.assign_cond(ctx.output(cell, "Y"), cond)
    return emit


for _types, _op in ((("$eq", "$eqx"), "="), (("$ne", "$nex"), "/="), (("$lt",), "<"),
                    (("$le",), "<="), (("$gt",), ">"), (("$ge",), ">=")):
    _register(*_types, outputs=_bool_output)(_compare(_op))


# -- shifts ------------------------------------------------------------------------------------

def _shift(kind):
    """Shifts by constant or variable amounts.

    ``$shl``/``$sshl`` extend A to Y bits and shift left; ``$shr``/``$sshr``/``$shift``
    extend A to max(A, Y) bits (by sign if ``A_SIGNED``), shift right (arithmetic only for a
    signed ``$sshr``) and keep the low Y bits; ``$shift`` and ``$shiftx`` shift left by
    ``-B`` when a signed B is negative; ``$shiftx`` reads bits beyond A as 0. An amount of
    at least the work width saturates, which keeps ``to_integer`` in range for any B width.
    """
    def emit(cell, ctx):
        y = ctx.output(cell, "Y")
        a_signed = cell.flag("A_SIGNED") and kind != "shiftx"
        b_signed = cell.flag("B_SIGNED") and kind in ("shift", "shiftx")
        a_bits = cell.port("A")
        left_only = kind in ("shl", "sshl")
        width = y.width if left_only else max(len(a_bits), y.width)
        arithmetic = kind == "sshr" and a_signed
        value = ctx.ext(a_bits, a_signed, width)
        if a_signed and not arithmetic:
            value = f"unsigned({value})"

        def result(direction, amount):
            expression = value if amount == "0" else f"shift_{direction}({value}, {amount})"
            if width > y.width:
                if arithmetic:
                    expression = f"unsigned({expression})"
                expression = f"resize({expression}, {y.width})"
            return _slv(ctx, expression)

        right = "left" if left_only else "right"
        b_bits = ctx.strip(ctx.norm(cell.port("B")), b_signed) if cell.port("B") else ("0",)
        bound = width.bit_length()          # amounts below 2**bound fit an integer
        if all(is_const(bit) for bit in b_bits):
            amount = max(-width, min(width, const_value(b_bits, signed=b_signed)))
            ctx.assign(y, result(right, str(amount)) if amount >= 0
                       else result("left", str(-amount)))
        elif not b_signed:
            if len(b_bits) <= bound:
                ctx.assign(y, result(right, f"to_integer({ctx.num(b_bits, False)})"))
            else:
                low = f"to_integer({ctx.num(b_bits[:bound], False)})"
                ctx.assign_when(y, [(result(right, str(width)), ctx.nonzero(b_bits[bound:]))],
                                result(right, low))
        else:
            choices = []
            if len(b_bits) > bound + 1:
                number = ctx.num(b_bits, True)
                # beyond the work width both directions shift everything out
                choices.append(("(others => '0')",
                                Cond(f"{number} > {width} or {number} < -{width}")))
                b_bits = b_bits[:bound + 1]
            amount = f"to_integer({ctx.num(b_bits, True)})"
            choices.append((result(right, amount), ctx.is_true(b_bits[-1], False)))
            ctx.assign_when(y, choices, result("left", f"-{amount}"))
    return emit


for _kind in ("shl", "sshl", "shr", "sshr", "shift", "shiftx"):
    _register(f"${_kind}")(_shift(_kind))


# -- multiplexers and wiring -------------------------------------------------------------------

@_register("$mux", outputs=_scalar_y_output)
def _mux(cell, ctx):
    y = ctx.output(cell, "Y")
    a, b, s = cell.port("A"), cell.port("B"), ctx.norm(cell.port("S"))[0]
    if is_const(s):
        ctx.assign(y, ctx.rhs(b if s == "1" else a, y))
    else:
        ctx.assign_when(y, [(ctx.rhs(b, y), ctx.is_true(s))], ctx.rhs(a, y))


@_register("$pmux", outputs=_scalar_y_output)
def _pmux(cell, ctx):
    # several active selects are undefined in Yosys; the lowest wins here, as in Yosys's
    # Verilog (a casez in bit order)
    y = ctx.output(cell, "Y")
    width = y.width
    b = cell.port("B")
    choices, default = [], ctx.rhs(cell.port("A"), y)
    for index, select in enumerate(ctx.norm(cell.port("S"))):
        value = ctx.rhs(b[index * width:(index + 1) * width], y)
        if select == "1":
            default = value
            break
        if select != "0":
            choices.append((value, ctx.is_true(select)))
    ctx.assign_when(y, choices, default)


def _whole_select(ctx, cell, bits):
    """A vector signal holding exactly ``bits`` (a ``with ... select`` needs a name)."""
    parts = ctx._parts(bits)
    if len(parts) == 1 and parts[0][0] != "const" and not parts[0][0].scalar \
            and parts[0][1] == 0 and parts[0][2] == parts[0][0].width - 1:
        return parts[0][0].name
    select = ctx.new_signal(f"{ctx.output(cell, 'Y').name}_sel", len(bits))
    ctx.assign(select, ctx.rhs(bits, select))
    return select.name


@_register("$bmux", outputs=_scalar_y_output)
def _bmux(cell, ctx):
    y = ctx.output(cell, "Y")
    width, a, s = y.width, cell.port("A"), cell.port("S")
    if not s:
        return ctx.assign(y, ctx.rhs(a, y))
    select = _whole_select(ctx, cell, s)
    count = 1 << len(s)
    lines = []
    for index in range(count):
        choice = "others" if index == count - 1 else f'"{index:0{len(s)}b}"'
        value = ctx.rhs(a[index * width:(index + 1) * width], y)
        lines.append(f"  {value} when {choice}")
    ctx.statement(y.name, f"with {select} select {y.name} <=\n" + ",\n".join(lines) + ";")


def _demux_outputs(cell):
    y, width = cell.port("Y"), len(cell.port("A"))
    return [Output(("Y", k), y[k * width:(k + 1) * width], scalar=True, hint=f"y{k}")
            for k in range(len(y) // width if width else 0)]


@_register("$demux", outputs=_demux_outputs)
def _demux(cell, ctx):
    s = cell.port("S")
    for k, output in enumerate(_demux_outputs(cell)):
        target = ctx.output(cell, output.key)
        zero = "'0'" if target.scalar else "(others => '0')"
        if not s:
            ctx.assign(target, ctx.rhs(cell.port("A"), target))
            continue
        if len(s) == 1:
            cond = ctx.is_true(s[0], k == 1)
        else:
            cond = Cond(f'{ctx.vec(s)} = "{k:0{len(s)}b}"')
        ctx.assign_when(target, [(ctx.rhs(cell.port("A"), target), cond)], zero)


@_register("$bwmux")
def _bwmux(cell, ctx):
    y = ctx.output(cell, "Y")
    a, b, s = (ctx.vec(cell.port(port)) for port in "ABS")
    ctx.assign(y, f"({a} and not {s}) or ({b} and {s})")


@_register("$slice", outputs=_scalar_y_output)
def _slice(cell, ctx):
    y = ctx.output(cell, "Y")
    offset = cell.int("OFFSET")
    ctx.assign(y, ctx.rhs(cell.port("A")[offset:offset + y.width], y))


@_register("$concat", outputs=_scalar_y_output)
def _concat(cell, ctx):
    y = ctx.output(cell, "Y")
    ctx.assign(y, ctx.rhs(cell.port("A") + cell.port("B"), y))


# -- flip-flops --------------------------------------------------------------------------------

def _q_output(cell):
    return [Output("Q", cell.port("Q"), scalar=True)]


def _flip_flop(has_enable, reset):
    """``$dff`` and its variants: ``reset`` is None, ``"async"``, ``"sync"`` (reset before
    enable) or ``"sync_ce"`` (reset only when enabled)."""
    def emit(cell, ctx):
        q = ctx.output(cell, "Q")
        q.init = ctx.initial(cell.port("Q"))
        edge = "pos" if cell.flag("CLK_POLARITY") else "neg"
        if reset == "async":
            process = ctx.clocked(cell.port("CLK")[0], edge, cell.port("ARST")[0],
                                  cell.flag("ARST_POLARITY"))
            if process.reset is not None:
                process.reset_lines.append(
                    f"{q.name} <= {ctx.literal(cell.bits('ARST_VALUE'), q)};")
        else:
            process = ctx.clocked(cell.port("CLK")[0], edge)
        body = [f"{q.name} <= {ctx.rhs(cell.port('D'), q)};"]
        enable = None
        if has_enable:
            enable = ctx.is_true(cell.port("EN")[0], cell.flag("EN_POLARITY"))
        if reset in ("sync", "sync_ce"):
            srst = ctx.is_true(cell.port("SRST")[0], cell.flag("SRST_POLARITY"))
            value = [f"{q.name} <= {ctx.literal(cell.bits('SRST_VALUE'), q)};"]
            if reset == "sync":
                body = _if(srst, value, _if(enable, body))
            else:
                body = _if(enable, _if(srst, value, body))
        else:
            body = _if(enable, body)
        process.lines += body
    return emit


for _type, _enable, _reset in (("$dff", False, None), ("$dffe", True, None),
                               ("$adff", False, "async"), ("$adffe", True, "async"),
                               ("$sdff", False, "sync"), ("$sdffe", True, "sync"),
                               ("$sdffce", True, "sync_ce")):
    REGISTRY[_type] = Emitter(_flip_flop(_enable, _reset), _q_output)


# -- memories ----------------------------------------------------------------------------------

def _memory_outputs(cell):
    width, data = cell.int("WIDTH"), cell.port("RD_DATA")
    return [Output(("RD", i), data[i * width:(i + 1) * width], hint=f"rd{i}_data")
            for i in range(cell.int("RD_PORTS"))]


#: Memory attributes passed on to synthesis (string values): those that pick the RAM type.
MEMORY_ATTRIBUTES = ("ram_style", "rom_style", "ramstyle", "romstyle", "syn_ramstyle",
                     "syn_romstyle", "ram_block")


@_register("$mem_v2", outputs=_memory_outputs)
def _memory(cell, ctx):
    """A ``$mem_v2`` becomes an array signal written (and, on the same clock, read) in one
    clocked process: the pattern synthesis tools infer block or distributed RAM from.

    Non-transparent reads see the word before the write (signal semantics); a read port
    transparent for a write port gets the written bits through an explicit comparison of
    addresses. The array has 2**k words for the least k that holds SIZE words: reads beyond
    SIZE are undefined in Yosys, and writes there only touch words nobody can read back.
    """
    size, abits, width = cell.int("SIZE"), cell.int("ABITS"), cell.int("WIDTH")
    if cell.int("OFFSET"):
        raise VHDLError(f"Memory {cell.name!r} ($mem_v2) has a nonzero address offset")
    rd_ports, wr_ports = cell.int("RD_PORTS"), cell.int("WR_PORTS")
    for param in ("RD_WIDE_CONTINUATION", "WR_WIDE_CONTINUATION"):
        if "1" in cell.bits(param):
            raise VHDLError(f"Memory {cell.name!r} ($mem_v2) has wide ports")
    key = ctx.output(cell, ("RD", 0)).name if rd_ports else cell.name
    name = ctx.name(cell.name if cell.public else f"{key}_mem")
    type_name = ctx.name(f"{name}_type")
    k = max(0, (size - 1).bit_length())
    depth = 1 << k

    init = cell.bits("INIT") if "INIT" in cell.parameters else ()
    words = []
    for index in range(size):
        word = init[index * width:(index + 1) * width]
        if "1" in word:
            words.append(f"{index} => {ctx.literal(word, (width, False))}")
    words.append("others => (others => '0')")
    init_text = ",\n    ".join(words)
    ctx.declare(f"type {type_name} is array (0 to {depth - 1}) of "
                f"std_logic_vector({width - 1} downto 0);\n"
                f"signal {name} : {type_name} := (\n    {init_text});", key=name)
    for attribute, value in sorted(cell.attributes.items()):
        if attribute not in MEMORY_ATTRIBUTES or not isinstance(value, str) or '"' in value:
            continue
        ctx.attributes.add(attribute)
        ctx.declare(f'attribute {attribute} of {name} : signal is "{value}";', key=name + "~")

    def address(bits):
        return "0" if k == 0 else f"to_integer({ctx.num(bits[:k], False)})"

    wr_addr = [cell.port("WR_ADDR")[j * abits:(j + 1) * abits] for j in range(wr_ports)]
    wr_data = [cell.port("WR_DATA")[j * width:(j + 1) * width] for j in range(wr_ports)]
    wr_en = [cell.port("WR_EN")[j * width:(j + 1) * width] for j in range(wr_ports)]
    wr_clock = set()
    for j in range(wr_ports):
        if not cell.bits("WR_CLK_ENABLE")[j] == "1":
            raise VHDLError(f"Memory {cell.name!r} ($mem_v2) has an asynchronous write port")
        wr_clock.add((ctx.bit(cell.port("WR_CLK")[j]), cell.bits("WR_CLK_POLARITY")[j]))
    if len(wr_clock) > 1:
        raise VHDLError(f"Memory {cell.name!r} ($mem_v2) has write ports on different clocks")

    def enable_runs(enable):
        """``(lo, hi, enable bit)`` runs of equal enables (per-bit write enables)."""
        runs = []
        for index, bit in enumerate(ctx.norm(enable)):
            if runs and runs[-1][2] == bit:
                runs[-1][1] = index
            else:
                runs.append([index, index, bit])
        return runs

    def write_lines(j):
        index = address(wr_addr[j])
        lines = []
        for lo, hi, enable in enable_runs(wr_en[j]):
            if enable == "0":
                continue
            if lo == 0 and hi == width - 1:
                target, value = f"{name}({index})", ctx.rhs(wr_data[j], (width, False))
            elif lo == hi:
                target, value = f"{name}({index})({lo})", ctx.bit(wr_data[j][lo])
            else:
                target = f"{name}({index})({hi} downto {lo})"
                value = ctx.rhs(wr_data[j][lo:hi + 1], (hi - lo + 1, False))
            assign = f"{target} <= {value};"
            if enable == "1":
                lines.append(assign)
            else:
                lines += [f"if {ctx.is_true(enable).text} then", f"  {assign}", "end if;"]
        if abits > k and lines:
            # an address beyond the array must not alias onto a word that exists
            guard = ctx.nonzero(wr_addr[j][k:]).negate()
            lines = [f"if {guard.text} then"] + ["  " + line for line in lines] + ["end if;"]
        return lines

    if wr_ports:
        polarity = cell.bits("WR_CLK_POLARITY")[0]
        process = ctx.clocked(cell.port("WR_CLK")[0], "pos" if polarity == "1" else "neg",
                              group=name)
        for j in range(wr_ports):
            # a later port's write wins: Yosys gives priority only to higher-numbered ports
            process.lines += write_lines(j)

    rd_addr = cell.port("RD_ADDR")
    rd_clk_enable, rd_polarity = cell.bits("RD_CLK_ENABLE"), cell.bits("RD_CLK_POLARITY")
    transparency = cell.bits("RD_TRANSPARENCY_MASK") if wr_ports else ()
    for i in range(rd_ports):
        data = ctx.output(cell, ("RD", i))
        addr = rd_addr[i * abits:(i + 1) * abits]
        word = f"{name}({address(addr)})"
        if rd_clk_enable[i] != "1":
            ctx.assign(data, word)
            continue
        data.init = tuple("1" if bit == "1" else "0" for bit in
                          cell.bits("RD_INIT_VALUE")[i * width:(i + 1) * width])
        clock = cell.port("RD_CLK")[i]
        edge = "pos" if rd_polarity[i] == "1" else "neg"
        arst = ctx.norm(cell.port("RD_ARST")[i:i + 1])[0]
        process = ctx.clocked(clock, edge, None if arst == "0" else arst, group=name)
        if process.reset is not None:
            value = cell.bits("RD_ARST_VALUE")[i * width:(i + 1) * width]
            process.reset_lines.append(f"{data.name} <= {ctx.literal(value, data)};")
        body = [f"{data.name} <= {word};"]
        for j in range(wr_ports):
            if transparency[i * wr_ports + j] != "1":
                continue
            if (ctx.bit(clock), rd_polarity[i]) not in wr_clock:
                raise VHDLError(f"Memory {cell.name!r} ($mem_v2) has a transparent read port "
                                f"on another clock than its write port")
            same = [f"{ctx.vec(wr_addr[j])} = {ctx.vec(addr)}"] if abits else []
            for lo, hi, enable in enable_runs(wr_en[j]):
                if enable == "0":
                    continue
                terms = ([] if enable == "1" else [ctx.is_true(enable).text]) + same
                if lo == 0 and hi == width - 1:
                    assign = f"{data.name} <= {ctx.rhs(wr_data[j], data)};"
                elif lo == hi:
                    assign = f"{data.name}({lo}) <= {ctx.bit(wr_data[j][lo])};"
                else:
                    assign = (f"{data.name}({hi} downto {lo}) <= "
                              f"{ctx.rhs(wr_data[j][lo:hi + 1], (hi - lo + 1, False))};")
                body += ([f"if {' and '.join(terms)} then", f"  {assign}", "end if;"]
                         if terms else [assign])
        enable = ctx.norm(cell.port("RD_EN")[i:i + 1])[0]
        if enable == "0":
            continue                        # the data register keeps its initial value
        srst = ctx.norm(cell.port("RD_SRST")[i:i + 1])[0]
        reset = []
        if srst != "0":
            value = cell.bits("RD_SRST_VALUE")[i * width:(i + 1) * width]
            reset = [f"{data.name} <= {ctx.literal(value, data)};"]
        if srst != "0" and cell.bits("RD_CE_OVER_SRST")[i] == "1" and enable != "1":
            # the reset acts only while the port is enabled
            body = _if(ctx.is_true(enable), _if(ctx.is_true(srst), reset, body))
        else:
            if enable != "1":
                body = _if(ctx.is_true(enable), body)
            if srst != "0":
                body = _if(ctx.is_true(srst), reset, body)
        process.lines += body


def _if(cond, then, otherwise=()):
    """Lines of ``if cond then ... else ... end if;``: ``elsif`` when ``otherwise`` is one
    ``if`` statement, just one branch when ``cond`` is None (always) or constant."""
    if cond is None or cond.text == "true":
        return list(then)
    if cond.text == "false":
        return list(otherwise)
    lines = [f"if {cond.text} then"] + ["  " + line for line in then]
    if otherwise:
        top = [line for line in otherwise if not line.startswith(" ")]
        if top[0].startswith("if ") and top[-1] == "end if;" and top.count("end if;") == 1:
            return lines + ["els" + otherwise[0]] + otherwise[1:]
        lines += ["else"] + ["  " + line for line in otherwise]
    return lines + ["end if;"]


REGISTRY["$scopeinfo"] = Emitter(skip=True)      # hierarchy metadata, no logic


# -- instances of other entities ---------------------------------------------------------------

def _instance_outputs(cell):
    return [Output(port, cell.port(port), scalar=True, hint=port) for port in cell.outputs()
            if cell.port(port)]


def _generic(cell, name):
    value = cell.parameters[name]
    if isinstance(value, int):
        return str(value)
    if re.fullmatch(r"[01]{32}", value):
        return str(int(value, 2))            # write_json gives integers as 32 bits
    if re.fullmatch(r"[01xz]+", value):
        return '"' + value.replace("x", "0").replace("z", "0") + '"'
    text = cell.str(name)
    return '"' + text.replace('"', '""') + '"'


@_register("instance", outputs=_instance_outputs)
def _instance(cell, ctx):
    """An Amaranth ``Instance`` (a module outside the design) becomes an instantiation of
    entity ``work.<type>``: ports map by name, as the module's own VHDL declares them."""
    entity = cell.type.lstrip("\\")
    for name in [entity, *cell.connections, *cell.parameters]:
        if not is_legal(name):
            raise VHDLError(f"Instance {cell.name!r} of {entity!r}: {name!r} is not a legal "
                            f"VHDL identifier")
    label = ctx.name(f"{cell.name}_inst" if cell.public else f"{entity}_inst")
    actuals = []
    for port in sorted(cell.connections):
        bits = cell.port(port)
        if not bits:
            continue
        if cell.directions[port] == "output":
            actuals.append(f"{port} => {ctx.output(cell, port).name}")
            continue
        scalar = len(bits) == 1
        value = ctx.rhs(bits, (len(bits), scalar))
        if not re.fullmatch(r"[A-Za-z]\w*(\(\d+( downto \d+)?\))?|'[01]'|\"[01]+\"", value):
            # VHDL-93 allows only names and static values as actuals
            signal = ctx.new_signal(f"{label}_{port}", len(bits), scalar=scalar)
            ctx.assign(signal, value)
            value = signal.name
        actuals.append(f"{port} => {value}")
    text = f"{label} : entity work.{entity}"
    if cell.parameters:
        generics = ",\n".join(f"    {name} => {_generic(cell, name)}"
                               for name in sorted(cell.parameters))
        text += f"\n  generic map (\n{generics}\n  )"
    text += "\n  port map (\n" + ",\n".join(f"    {actual}" for actual in actuals) + "\n  );"
    ctx.statement(label, text)
