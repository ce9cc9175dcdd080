"""The host link's format (protocol version 1) in one place: pure Python, no Amaranth.

Types, error codes, limits and bit positions of the byte protocol between a host and a board
(``docs/host-protocol.md``), the packing of its tokens on the wire, and the packing of the
tokens that flow between the blocks of an accelerator. The board's link
(:mod:`rtl_lib.frame_decoder`, :mod:`rtl_lib.response_encoder`, :mod:`rtl_lib.host_link`),
the host's (:mod:`spikegen.protocol`), the testbenches and the compiler's checks all take
them from here, so that they cannot drift apart.

Tokens on the wire
------------------
An event token is a big-endian word of :func:`word_bytes` bytes; a pixel token is that word
followed by the 8-bit value. The two flags sit at the top of the word and the input index
fills the rest (``8 * word_bytes - 2`` bits):

============= ====================================================================
bit           meaning
============= ====================================================================
top           events: ``eos`` (end of the time step); pixels: ``last`` (ignored by
              the board, which counts)
top - 1       events: ``last`` (with ``eos``, the sample's final step); pixels: 0
below         ``index``: the input that spikes (0 in end-of-step tokens)
============= ====================================================================

The word is 2 bytes (a 14-bit index, the format of the first builds) while the inputs'
indices fit in 14 bits, and grows a byte at a time with the network beyond that: 3 bytes (a
22-bit index) for more than 16,384 inputs. The board reports the word size in its info
frame (:func:`info_body`).
"""
import binascii
import numbers
from dataclasses import dataclass


__all__ = [
    "PROTOCOL_VERSION", "RESPONSE_HEADER",
    "SAMPLE", "INFO", "RESULT", "ERROR", "INFO_RESPONSE",
    "OVERRUN", "CHECKSUM", "LENGTH", "TYPE", "COUNT", "MALFORMED", "ERRORS",
    "TRANSIENT_ERRORS", "CRC_INIT", "MAX_INPUTS", "MAX_CLASSES", "MAX_COUNT", "COUNT_MAX",
    "FLAG_BITS", "MIN_WORD_BYTES", "INFO_BODY_BYTES",
    "index_width", "crc16", "word_bytes", "TokenFormat", "token_bytes",
    "info_body", "parse_info",
    "pack_event", "unpack_event", "pack_group", "unpack_group", "pack_pixel", "unpack_pixel",
]


PROTOCOL_VERSION = 1
#: First byte of every board-to-host frame.
RESPONSE_HEADER = 0xA5

# Request types (host to board).
#: A sample to classify.
SAMPLE = 0x01
#: A request for the board's :data:`INFO_RESPONSE` frame.
INFO = 0x02

# Response types (board to host).
#: The result of a sample.
RESULT = 0x01
#: A request the board could not take.
ERROR = 0x02
#: The answer to an :data:`INFO` request.
INFO_RESPONSE = 0x03

# Error codes, in a 3-bit field of the board's verdicts. The first two are transient (the
# bytes were damaged or lost on the way: send the request again); the others mean the host
# and the build disagree.
#: A byte of the frame was lost (receive buffer full, UART overrun or framing error).
OVERRUN = 1
#: The frame's CRC does not match.
CHECKSUM = 2
#: The frame's length does not match its header.
LENGTH = 3
#: Unknown request type.
TYPE = 4
#: A sample's ``count`` is 0 or more than the build takes.
COUNT = 5
#: An input index out of range, or a sample of events whose last token is not end-of-step.
MALFORMED = 6

#: Error code -> what it means.
ERRORS = {
    OVERRUN:   "bytes lost on the way to the board (receive buffer full or line error)",
    CHECKSUM:  "checksum mismatch",
    LENGTH:    "frame length does not match its header",
    TYPE:      "unknown request type",
    COUNT:     "token or pixel count out of range for this build",
    MALFORMED: "input index out of range, or the last token is not an end of step",
}
#: Errors that a second attempt can cure.
TRANSIENT_ERRORS = frozenset({OVERRUN, CHECKSUM})

#: Initial value of the CRC-16/CCITT-FALSE register.
CRC_INIT = 0xFFFF

#: Largest input count: the info frame reports it in 2 bytes.
MAX_INPUTS = 0xFFFF
#: Largest class count whose class index fits in the 1-byte class field of a result frame.
MAX_CLASSES = 256
#: Largest token (or pixel) count of one sample frame (a 2-byte field).
MAX_COUNT = 0xFFFF
#: Largest spike count of a result frame (2 bytes); wider counts saturate.
COUNT_MAX = 0xFFFF

#: Flag bits at the top of a token's word (``eos`` and ``last``).
FLAG_BITS = 2
#: Bytes of the word of the smallest builds' tokens (a 14-bit index).
MIN_WORD_BYTES = 2
#: Bytes of the body of an info frame.
INFO_BODY_BYTES = 8


def _check_int(value, what):
    # numpy integers are Integral too (indices come from np.flatnonzero); bools are not meant
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    return int(value)


def index_width(count):
    """Bits of an index into ``count`` neurons or inputs (at least 1)."""
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        raise TypeError(f"Neuron count must be a positive integer, not {count!r}")
    return max(1, (count - 1).bit_length())


def crc16(data, crc=CRC_INIT):
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection).

    Appending the CRC to the data, most significant byte first, gives a CRC of 0 over both.
    """
    return binascii.crc_hqx(bytes(data), crc)


def _check_inputs(inputs):
    inputs = _check_int(inputs, "Input count")
    if inputs < 1:
        raise ValueError(f"Input count must be at least 1, not {inputs}")
    if inputs > MAX_INPUTS:
        raise ValueError(f"The host link carries at most {MAX_INPUTS} inputs (2-byte count in "
                         f"the info frame), not {inputs}")
    return inputs


def word_bytes(inputs):
    """Bytes of the word of a token for a build with ``inputs`` inputs.

    The fewest whole bytes that hold an index into ``inputs`` and the two flags, and at least
    :data:`MIN_WORD_BYTES`, so that builds whose indices fit in 14 bits keep 2-byte words.

    Raises
    ------
    ValueError
        If ``inputs`` is more than :data:`MAX_INPUTS`.
    """
    bits = index_width(_check_inputs(inputs)) + FLAG_BITS
    return max(MIN_WORD_BYTES, -(-bits // 8))


@dataclass(frozen=True)
class TokenFormat:
    """The wire format of a sample's tokens: a word of ``word_bytes`` bytes, big-endian, with
    ``eos`` (events) or ``last`` (pixels) in its top bit, ``last`` (events) in the next one,
    the index in the ``index_bits`` below; pixels are followed by their 8-bit value.

    Parameters
    ----------
    word_bytes : int
        Bytes of the word, at least :data:`MIN_WORD_BYTES`; see :meth:`for_inputs`.
    pixels : bool
        Pixel tokens (on-chip input coding) rather than event tokens.
    """
    word_bytes: int = MIN_WORD_BYTES
    pixels: bool = False

    def __post_init__(self):
        size = _check_int(self.word_bytes, "Token word size")
        if size < MIN_WORD_BYTES:
            raise ValueError(f"Token words are at least {MIN_WORD_BYTES} bytes, not {size}")
        if not isinstance(self.pixels, bool):
            raise TypeError(f"Pixels must be a bool, not {self.pixels!r}")

    @classmethod
    def for_inputs(cls, inputs, *, pixels=False):
        """The format of a build with ``inputs`` inputs (see :func:`word_bytes`)."""
        return cls(word_bytes(inputs), bool(pixels))

    @property
    def index_bits(self):
        """Width of the index field."""
        return 8 * self.word_bytes - FLAG_BITS

    @property
    def top_bit(self):
        """Position of ``eos`` (events) or ``last`` (pixels) in the word."""
        return 8 * self.word_bytes - 1

    @property
    def last_bit(self):
        """Position of ``last`` in the word of an event token."""
        return 8 * self.word_bytes - 2

    @property
    def token_bytes(self):
        """Bytes of one token on the wire: the word, and the value of a pixel."""
        return self.word_bytes + int(self.pixels)

    def encode(self, index=0, *, eos=False, last=False, value=0):
        """The bytes of one token: an event (``index``, ``eos``, ``last``) or a pixel
        (``index``, ``value``, ``last``)."""
        index = _check_int(index, "Event index")
        if not 0 <= index < 1 << self.index_bits:
            raise ValueError(f"Event index must be in [0, {1 << self.index_bits}), not {index}")
        if self.pixels:
            value = _check_int(value, "Pixel value")
            if eos or not 0 <= value <= 0xFF:
                raise ValueError(f"A pixel carries a value from 0 to 255 and no end of step, "
                                 f"not value={value!r}, eos={eos!r}")
            word = index | (int(bool(last)) << self.top_bit)
            return word.to_bytes(self.word_bytes, "big") + bytes([value])
        if value:
            raise ValueError(f"An event token carries no value, not {value!r}")
        if last and not eos:
            raise ValueError("A token with `last` set must also have `eos` set")
        if eos and index != 0:
            raise ValueError(f"An end-of-step token carries no index, not {index!r}")
        word = index | (int(bool(eos)) << self.top_bit) | (int(bool(last)) << self.last_bit)
        return word.to_bytes(self.word_bytes, "big")

    def decode(self, token):
        """The fields of one token's bytes as the board reads them: ``(index, eos, last)``
        for events, ``(index, value, last)`` for pixels; the index is not range-checked."""
        token = bytes(token)
        if len(token) != self.token_bytes:
            raise ValueError(f"A token is {self.token_bytes} bytes, not {len(token)}")
        word = int.from_bytes(token[:self.word_bytes], "big")
        index = word & ((1 << self.index_bits) - 1)
        top = (word >> self.top_bit) & 1
        if self.pixels:
            return index, token[-1], top
        return index, top, (word >> self.last_bit) & 1


def token_bytes(inputs, *, pixels):
    """Bytes of one token on the wire for a build with ``inputs`` inputs."""
    return TokenFormat.for_inputs(inputs, pixels=pixels).token_bytes


def info_body(*, pixels, inputs, classes, rx_buffer):
    """The 8 bytes of the body of the board's info frame.

    The protocol version; the input format (bit 0: pixels rather than events; bits 7..4: the
    token word's bytes beyond :data:`MIN_WORD_BYTES`, 0 while indices fit in 14 bits); the
    input count, the class count and the receive buffer's size in bytes (2 bytes each).
    """
    fmt = TokenFormat.for_inputs(inputs, pixels=pixels)
    kind = int(fmt.pixels) | (fmt.word_bytes - MIN_WORD_BYTES) << 4
    return bytes([PROTOCOL_VERSION, kind]) + b"".join(
        int(v).to_bytes(2, "big") for v in (inputs, classes, rx_buffer))


def parse_info(body):
    """The fields of an info frame's body (see :func:`info_body`): a dict with ``version``,
    ``pixels``, ``word_bytes``, ``inputs``, ``classes`` and ``rx_buffer``."""
    body = bytes(body)
    if len(body) != INFO_BODY_BYTES:
        raise ValueError(f"The info frame body is {INFO_BODY_BYTES} bytes, not {len(body)}")
    return {"version": body[0], "pixels": bool(body[1] & 1),
            "word_bytes": MIN_WORD_BYTES + (body[1] >> 4),
            "inputs": int.from_bytes(body[2:4], "big"),
            "classes": int.from_bytes(body[4:6], "big"),
            "rx_buffer": int.from_bytes(body[6:8], "big")}


# -- tokens between the blocks of an accelerator ----------------------------------------------
# Packed LSB first, as the Amaranth layouts of rtl_lib.event and rtl_lib.rate_coder are: these
# are the integers a testbench drives onto (or reads from) a port.


def _check_index(count, index):
    index = _check_int(index, "Event index")
    if not 0 <= index < 1 << index_width(count):
        raise ValueError(f"Event index {index} out of range for {count} neurons")
    return index


def pack_event(count, index=0, *, eos=False, last=False):
    """Integer value of an ``EventLayout(count)`` token: ``index`` in bits ``[0, w)``, ``eos``
    at bit ``w``, ``last`` at ``w + 1``, with ``w = index_width(count)``."""
    w = index_width(count)
    return _check_index(count, index) | (int(eos) << w) | (int(last) << (w + 1))


def unpack_event(count, word):
    """``(index, eos, last)`` of an ``EventLayout(count)`` token's value."""
    w = index_width(count)
    return word & ((1 << w) - 1), (word >> w) & 1, (word >> (w + 1)) & 1


def _group_fields(count, events):
    if not isinstance(events, int) or isinstance(events, bool) or events < 1:
        raise TypeError(f"Events per beat must be a positive integer, not {events!r}")
    w = index_width(count)
    # index[0..events), count, eos, last
    return w, events * w, events.bit_length()


def pack_group(count, events, indices=(), *, eos=False, last=False):
    """Integer value of an ``EventGroupLayout(count, events)`` beat: up to ``events``
    ascending ``indices``, or an end-of-step beat (``eos``, no indices)."""
    w, base, count_bits = _group_fields(count, events)
    indices = [_check_index(count, i) for i in indices]
    if eos == bool(indices) or len(indices) > events:
        raise ValueError(f"A beat carries 1 to {events} events or an end of step, "
                         f"not {len(indices)} events with eos={eos}")
    word = sum(index << (k * w) for k, index in enumerate(indices))
    return (word | (len(indices) << base) | (int(eos) << (base + count_bits))
            | (int(last) << (base + count_bits + 1)))


def unpack_group(count, events, word):
    """``(indices, eos, last)`` of an ``EventGroupLayout(count, events)`` beat's value."""
    w, base, count_bits = _group_fields(count, events)
    n = (word >> base) & ((1 << count_bits) - 1)
    indices = tuple((word >> (k * w)) & ((1 << w) - 1) for k in range(n))
    return indices, (word >> (base + count_bits)) & 1, (word >> (base + count_bits + 1)) & 1


def pack_pixel(count, index, value, *, last=False, value_bits=8):
    """Integer value of a ``PixelLayout(count, value_bits)`` token: ``index``, ``value``,
    ``last``."""
    w = index_width(count)
    value = _check_int(value, "Pixel value")
    if not 0 <= value < 1 << value_bits:
        raise ValueError(f"Pixel value {value} out of range for {value_bits} bits")
    return _check_index(count, index) | (value << w) | (int(last) << (w + value_bits))


def unpack_pixel(count, word, *, value_bits=8):
    """``(index, value, last)`` of a ``PixelLayout(count, value_bits)`` token's value."""
    w = index_width(count)
    return (word & ((1 << w) - 1), (word >> w) & ((1 << value_bits) - 1),
            (word >> (w + value_bits)) & 1)
