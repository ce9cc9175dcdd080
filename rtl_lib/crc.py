"""CRC-16/CCITT-FALSE of the host link, one byte per cycle.

:func:`rtl_lib.link_format.crc16` is the same CRC in plain Python, the reference this is
tested against.
"""
from amaranth.hdl import Cat


__all__ = ["crc16_next"]


def crc16_next(crc, byte):
    """CRC-16/CCITT-FALSE register ``crc`` after ``byte``, as an expression (one byte per
    cycle, most significant bit first, polynomial 0x1021)."""
    bits = [crc[i] for i in range(16)]
    for i in reversed(range(8)):
        feedback = bits[15] ^ byte[i]
        bits = [feedback] + bits[:15]
        bits[5] = bits[5] ^ feedback
        bits[12] = bits[12] ^ feedback
    return Cat(*bits)

