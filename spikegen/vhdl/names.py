"""Legal, readable VHDL identifiers for Amaranth's hierarchical names.

A VHDL basic identifier is a letter followed by letters, digits and single underscores, not
ending in an underscore; identifiers are case-insensitive and must not be reserved words.
:func:`legalize` maps any text onto that set (``core.layer0.$mux`` -> ``core_layer0_mux``);
:class:`Namer` hands out unique identifiers, resolving clashes (also those differing only in
case) by numbering in the order names are claimed, so the same design gives the same names.
"""
import re


__all__ = ["RESERVED", "is_legal", "legalize", "Namer", "hierarchy"]


#: Reserved words of VHDL-2008 (including those borrowed from PSL).
RESERVED_WORDS = frozenset("""
abs access after alias all and architecture array assert assume assume_guarantee attribute
begin block body buffer bus case component configuration constant context cover default
disconnect downto else elsif end entity exit fairness file for force function generate generic
group guarded if impure in inertial inout is label library linkage literal loop map mod nand
new next nor not null of on open or others out package parameter port postponed procedure
process property protected pure range record register reject release rem report restrict
restrict_guarantee return rol ror select sequence severity shared signal sla sll sra srl strong
subtype then to transport type unaffected units until use variable vmode vprop vunit wait when
while with xnor xor
""".split())

#: Names the generated code refers to: a signal with one of these names would hide them.
PREDEFINED = frozenset("""
ieee std work std_logic_1164 numeric_std std_logic std_ulogic std_logic_vector
std_ulogic_vector unsigned signed resize to_integer to_unsigned to_signed rising_edge
falling_edge shift_left shift_right natural positive integer boolean bit bit_vector character
string true false now time real severity_level note warning error failure rtl xor_reduce
ram_style rom_style ramstyle romstyle syn_ramstyle syn_romstyle ram_block
""".split())

RESERVED = RESERVED_WORDS | PREDEFINED

_LEGAL = re.compile(r"[A-Za-z](_?[A-Za-z0-9])*")


def is_legal(name):
    """Whether ``name`` is a VHDL basic identifier that is not reserved."""
    return bool(_LEGAL.fullmatch(name)) and name.lower() not in RESERVED


def legalize(text):
    """A legal identifier resembling ``text`` (not checked for uniqueness).

    Runs of other characters become one underscore, leading and trailing ones are dropped;
    a name not starting with a letter gets an ``n_`` prefix, a reserved word an ``_r`` suffix.
    """
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    if not name:
        name = "n"
    elif not name[0].isalpha():
        name = f"n_{name}"
    if name.lower() in RESERVED:
        name = f"{name}_r"
    return name


class Namer:
    """Unique legal identifiers, compared without regard to case.

    Parameters
    ----------
    taken : iterable of str
        Identifiers already in use (for example the entity name).
    """
    def __init__(self, taken=()):
        self._used = {name.lower() for name in taken}

    def claim(self, text):
        """A new identifier for ``text``: :func:`legalize` d, numbered ``_2``, ``_3``, ... on a
        clash with an identifier claimed before."""
        base = legalize(text)
        name, number = base, 1
        while name.lower() in self._used:
            number += 1
            name = f"{base}_{number}"
        self._used.add(name.lower())
        return name


_SCOPE_SPLIT = re.compile(r"\.(?=[\\$])")


def hierarchy(yosys_name, public):
    """``(scope, local)`` of a Yosys name after ``flatten``.

    ``scope`` is the list of instance names (``["core", "layer0"]``); ``local`` is the name
    inside that instance, or ``None`` for a name Yosys or Amaranth made up (``$57``,
    ``$procmux$568_Y``, ``$auto$...``), which carries no meaning for a reader.
    """
    if public:
        parts = yosys_name.split(".")
        return parts[:-1], parts[-1]
    if yosys_name.startswith("$flatten\\"):
        parts = _SCOPE_SPLIT.split(yosys_name[len("$flatten"):])
        scope = [part[1:] for part in parts[:-1] if part.startswith("\\")]
        last = parts[-1]
        return scope, (last[1:] if last.startswith("\\") else None)
    return [], None
