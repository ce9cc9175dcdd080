"""Host side of the serial link to an accelerator board (protocol version 1).

This is the reference that ``rtl_lib.host_link`` is tested against, byte for byte; the framing
is described in ``docs/host-protocol.md``.

Host to board, one frame per request, COBS-encoded and closed by a 0x00 byte:

====== ====== =====================================================================
offset size   field
====== ====== =====================================================================
0      1      ``type``: :data:`SAMPLE` (0x01) or :data:`INFO` (0x02)
1      1      ``seq``: sequence number, echoed in the answer
2      2      ``count`` (samples only): tokens or pixels that follow, big-endian
4      ...    payload (samples only): ``count`` event tokens (:func:`encode_sample`) or
              pixels (:func:`encode_pixels`), 2 or 3 bytes each (a byte more with more
              than 16384 inputs: :class:`TokenFormat`)
end-2  2      CRC-16/CCITT-FALSE of all the bytes before it, big-endian
====== ====== =====================================================================

Board to host, one frame per request, in request order: ``0xA5``, ``type``, ``seq``, a body
that depends on the type, and the CRC-16 of the bytes from ``type`` to the end of the body:

* :data:`RESULT` (0x01): the class (1 byte), then each class's spike count as 2 bytes
  (saturating at 0xFFFF);
* :data:`ERROR` (0x02): an error code (1 byte, :data:`ERRORS`);
* :data:`INFO` (0x03): the protocol version, the input format (bit 0: pixels rather than
  events; bits 7..4: the token word's bytes beyond 2), the input count (2 bytes), the class
  count (2 bytes) and the receive buffer size in bytes (2 bytes).

The types, codes, limits and token format are defined in :mod:`rtl_lib.link_format`.
"""
from dataclasses import dataclass, field

import numpy as np

# The format is defined once, beside the hardware that speaks it; this module is the host's
# side of it and re-exports its names.
from rtl_lib.link_format import (CHECKSUM, COUNT, COUNT_MAX, CRC_INIT, ERROR, ERRORS, INFO,
                                 INFO_BODY_BYTES, INFO_RESPONSE, LENGTH, MALFORMED, MAX_CLASSES,
                                 MAX_COUNT, MAX_INPUTS, OVERRUN, PROTOCOL_VERSION,
                                 RESPONSE_HEADER, RESULT, SAMPLE, TRANSIENT_ERRORS, TYPE,
                                 TokenFormat, crc16, info_body, parse_info, token_bytes,
                                 word_bytes)


__all__ = [
    "PROTOCOL_VERSION", "RESPONSE_HEADER", "MAX_INPUTS", "MAX_CLASSES", "MAX_COUNT",
    "SAMPLE", "INFO", "RESULT", "ERROR", "INFO_RESPONSE", "ERRORS", "TRANSIENT_ERRORS",
    "CHECKSUM", "OVERRUN", "LENGTH", "TYPE", "COUNT", "MALFORMED",
    "TokenFormat", "word_bytes", "token_bytes",
    "crc16", "cobs_encode", "cobs_decode",
    "encode_token", "encode_sample", "encode_pixels",
    "request_frame", "sample_frame", "info_request",
    "encode_result", "encode_error", "encode_info",
    "response_size", "Response", "ResponseParser", "decode_responses",
    "Verdict", "board_parse",
]


# -- checksums and framing --------------------------------------------------------------------


def cobs_encode(data):
    """Consistent Overhead Byte Stuffing: ``data`` without any 0x00 byte (no delimiter).

    The data is cut at each 0x00 byte and into runs of at most 254 bytes; each run is sent
    after a code byte, its length plus one, and the 0x00 bytes are left out (a code byte
    below 0xFF stands for a run followed by a 0x00 byte, except at the end).
    """
    out = bytearray()
    run = bytearray()
    for byte in bytes(data):
        if byte == 0:
            out.append(len(run) + 1)
            out += run
            run.clear()
            continue
        run.append(byte)
        if len(run) == 254:
            out.append(0xFF)
            out += run
            run.clear()
    out.append(len(run) + 1)
    out += run
    return bytes(out)


def cobs_decode(data):
    """Inverse of :func:`cobs_encode`, as lenient as the board's decoder.

    A run cut short by the end of ``data`` gives the bytes that are there; this is what the
    board does when bytes are lost, and the frame's CRC catches it.
    """
    out = bytearray()
    remaining, zero = 0, False
    for byte in bytes(data):
        if byte == 0:
            raise ValueError("COBS data must not contain 0x00")
        if remaining == 0:
            if zero:
                out.append(0)
            remaining, zero = byte - 1, byte != 0xFF
        else:
            out.append(byte)
            remaining -= 1
    return bytes(out)


# -- payloads ---------------------------------------------------------------------------------


def _check_int(value, what):
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    return int(value)


def encode_token(index=0, *, eos=False, last=False, inputs=None):
    """The bytes of one event token (a big-endian word).

    The top bit is ``eos`` (end of the current time step), the next one ``last`` (with
    ``eos``, the step is the sample's last), the bits below the input ``index`` of a spike
    event (0 with ``eos``). The word is 2 bytes (a 14-bit index) unless the build's
    ``inputs`` need more (:class:`TokenFormat`).
    """
    fmt = TokenFormat() if inputs is None else TokenFormat.for_inputs(inputs)
    return fmt.encode(index, eos=eos, last=last)


def encode_sample(spikes):
    """Event tokens of one sample: the payload of its frame.

    Parameters
    ----------
    spikes : array_like of 0/1, shape (time_steps, n_inputs)
        ``spikes[t, i]`` is 1 if input ``i`` spikes at step ``t``.

    Returns
    -------
    bytes
        For each step, its spike events in ascending input index, then an end-of-step token;
        the final step's end-of-step token also has ``last`` set. Tokens are 2 bytes, 3 with
        more than 16384 inputs (:meth:`TokenFormat.for_inputs`).
    """
    spikes = np.asarray(spikes)
    if spikes.ndim != 2:
        raise ValueError(f"Spikes must be a 2-D array (time_steps, n_inputs), not of shape "
                         f"{spikes.shape}")
    steps, n_inputs = spikes.shape
    if steps == 0:
        raise ValueError("Spikes must have at least one time step")
    fmt = TokenFormat.for_inputs(n_inputs)
    if not np.isin(spikes, (0, 1)).all():
        raise ValueError("Spikes must be 0 or 1")
    out = bytearray()
    for t in range(steps):
        for index in np.flatnonzero(spikes[t]):
            out += fmt.encode(int(index))
        out += fmt.encode(eos=True, last=(t == steps - 1))
    return bytes(out)


def encode_pixels(pixels):
    """Pixels of one sample, for a build with on-chip input coding: the payload of its frame.

    Parameters
    ----------
    pixels : array_like of int, shape (n_inputs,)
        Values from 0 to 255.

    Returns
    -------
    bytes
        The nonzero pixels in ascending index, each a big-endian word whose top bit marks the
        sample's last pixel and whose low bits are the index, then the value: 3 bytes, 4
        with more than 16384 inputs (:meth:`TokenFormat.for_inputs`). A sample with no
        nonzero pixel sends pixel 0 with value 0.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 1 or not 1 <= pixels.size <= MAX_INPUTS:
        raise ValueError(f"Pixels must be a 1-D array of 1 to {MAX_INPUTS} values")
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError("Pixel values must be from 0 to 255")
    fmt = TokenFormat.for_inputs(pixels.size, pixels=True)
    index = np.flatnonzero(pixels)
    if index.size == 0:
        return fmt.encode(0, value=0, last=True)
    return b"".join(fmt.encode(int(i), value=int(pixels[i]), last=(k == index.size - 1))
                    for k, i in enumerate(index))


# -- requests (host to board) -----------------------------------------------------------------


def request_frame(kind, seq, body=b""):
    """The bytes on the wire of one request: COBS of ``kind, seq, body, CRC``, then 0x00."""
    kind = _check_int(kind, "Request type")
    seq = _check_int(seq, "Sequence number")
    if not 0 <= kind <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError(f"Request type and sequence number must be bytes, not {kind}, {seq}")
    frame = bytes([kind, seq]) + bytes(body)
    frame += crc16(frame).to_bytes(2, "big")
    return cobs_encode(frame) + b"\x00"


def sample_frame(seq, payload, token_bytes):
    """The request that classifies one sample whose payload is ``payload``.

    Parameters
    ----------
    seq : int
        Sequence number, 0 to 255.
    payload : bytes
        From :func:`encode_sample` or :func:`encode_pixels`.
    token_bytes : int
        Bytes per token (:func:`token_bytes`): 2 for events and 3 for pixels up to 16384
        inputs, a byte more beyond.
    """
    if not isinstance(token_bytes, int) or token_bytes < 2:
        raise ValueError(f"Tokens are at least 2 bytes, not {token_bytes!r}")
    payload = bytes(payload)
    count, rest = divmod(len(payload), token_bytes)
    if rest or not 1 <= count <= MAX_COUNT:
        raise ValueError(f"A sample frame carries 1 to {MAX_COUNT} whole tokens of "
                         f"{token_bytes} bytes, not {len(payload)} bytes")
    return request_frame(SAMPLE, seq, count.to_bytes(2, "big") + payload)


def info_request(seq):
    """The request for the board's :data:`INFO` frame."""
    return request_frame(INFO, seq)


# -- responses (board to host) ----------------------------------------------------------------


def _response(kind, seq, body):
    frame = bytes([kind, seq]) + bytes(body)
    return bytes([RESPONSE_HEADER]) + frame + crc16(frame).to_bytes(2, "big")


def _check_classes(n_classes):
    n_classes = _check_int(n_classes, "Class count")
    if not 1 <= n_classes <= MAX_CLASSES:
        raise ValueError(f"Class count must be between 1 and {MAX_CLASSES}, not {n_classes}")
    return n_classes


def encode_result(seq, cls, counts):
    """Bytes of one result frame as the board sends it (counts saturate at 0xFFFF)."""
    counts = [int(c) for c in counts]
    _check_classes(len(counts))
    if not 0 <= cls < len(counts):
        raise ValueError(f"Class {cls!r} out of range for {len(counts)} classes")
    if any(c < 0 for c in counts):
        raise ValueError(f"Spike counts must not be negative: {counts}")
    body = bytes([cls]) + b"".join(min(c, COUNT_MAX).to_bytes(2, "big") for c in counts)
    return _response(RESULT, seq, body)


def encode_error(seq, code):
    """Bytes of one error frame as the board sends it."""
    if code not in ERRORS:
        raise ValueError(f"Unknown error code {code!r}")
    return _response(ERROR, seq, bytes([code]))


def encode_info(seq, *, pixels, inputs, classes, rx_buffer):
    """Bytes of the info frame as the board sends it (see :func:`rtl_lib.link_format.info_body`)."""
    return _response(INFO_RESPONSE, seq, info_body(pixels=bool(pixels), inputs=inputs,
                                                   classes=classes, rx_buffer=rx_buffer))


def response_size(kind, n_classes):
    """Length in bytes of a board-to-host frame of type ``kind``."""
    n_classes = _check_classes(n_classes)
    body = {RESULT: 1 + 2 * n_classes, ERROR: 1, INFO_RESPONSE: INFO_BODY_BYTES}
    if kind not in body:
        raise ValueError(f"Unknown response type {kind!r}")
    return 5 + body[kind]


@dataclass(frozen=True)
class Response:
    """One frame from the board.

    ``kind`` is ``"result"`` (``cls``, ``counts``), ``"error"`` (``code``) or ``"info"``
    (``info``, a dict with ``version``, ``pixels``, ``word_bytes``, ``inputs``, ``classes``,
    ``rx_buffer``).
    """
    kind: str
    seq: int
    cls: "int | None" = None
    counts: tuple = ()
    code: "int | None" = None
    info: "dict | None" = field(default=None, compare=False)


class ResponseParser:
    """Splits the byte stream from the board into :class:`Response` frames.

    Bytes arrive in pieces; :meth:`feed` returns the frames completed so far. A frame whose
    header, type or CRC is wrong is not returned: the parser skips one byte and looks for the
    next header, and counts the bytes it skipped in :attr:`skipped` (never silently: the host
    reports them, and the request they belonged to times out and is sent again).

    Parameters
    ----------
    n_classes : int
        Number of output classes of the accelerator.
    """
    def __init__(self, n_classes):
        self.n_classes = _check_classes(n_classes)
        self.skipped = 0
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer += bytes(data)
        out = []
        buf = self._buffer
        while buf:
            if buf[0] != RESPONSE_HEADER or (len(buf) > 1 and buf[1] not in
                                             (RESULT, ERROR, INFO_RESPONSE)):
                self._skip(1)
                continue
            if len(buf) < 2:
                break
            size = response_size(buf[1], self.n_classes)
            if len(buf) < size:
                break
            frame = bytes(buf[1:size])
            response = self._decode(frame) if crc16(frame) == 0 else None
            if response is None:
                self._skip(1)
                continue
            del buf[:size]
            out.append(response)
        return out

    def _skip(self, n):
        del self._buffer[:n]
        self.skipped += n

    def _decode(self, frame):
        kind, seq, body = frame[0], frame[1], frame[2:-2]
        if kind == RESULT:
            if body[0] >= self.n_classes:
                return None
            counts = tuple(int.from_bytes(body[i:i + 2], "big") for i in range(1, len(body), 2))
            return Response("result", seq, cls=body[0], counts=counts)
        if kind == ERROR:
            return Response("error", seq, code=body[0])
        return Response("info", seq, info=parse_info(body))

    @property
    def pending(self):
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)


def decode_responses(data, n_classes):
    """All the frames in ``data``, which must hold whole, valid frames only.

    Raises
    ------
    ValueError
        If any byte is not part of a valid frame, or the last frame is cut short.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"Response data must be bytes, not {data!r}")
    parser = ResponseParser(n_classes)
    responses = parser.feed(data)
    if parser.skipped or parser.pending:
        raise ValueError(f"{parser.skipped} bytes of {len(data)} are not valid frames, "
                         f"{parser.pending} bytes cut short")
    return responses


# -- the board's side, as a reference model ---------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the board makes of one request frame (see :func:`board_parse`).

    ``tokens`` are the tokens the board passes to the accelerator: ``(index, eos, last)`` for
    events, ``(index, value, last)`` for pixels. ``has_result``: the accelerator ran an
    inference for the frame (its result is sent if ``code`` is 0, else dropped).
    """
    seq: int
    code: int
    has_result: bool
    info: bool
    tokens: tuple


def board_parse(frame, *, pixels, inputs, max_count=MAX_COUNT, lost=False):
    """Reference model of the board's frame decoder, for one frame.

    Parameters
    ----------
    frame : bytes
        The frame after COBS decoding (:func:`cobs_decode`), not empty.
    pixels : bool
        The build takes pixels (on-chip coding) rather than event tokens.
    inputs : int
        Input count of the build.
    max_count : int
        Largest ``count`` the board takes.
    lost : bool
        A byte of the frame was lost on the way (the board knows from its UART).

    Returns
    -------
    Verdict
        The error code is 0 when the frame is good.
    """
    fmt = TokenFormat.for_inputs(inputs, pixels=pixels)
    state, crc = "type", CRC_INIT
    kind = seq = count = k = 0
    bad_count = malformed = too_long = False
    buf, tokens = [], []
    for byte in frame:
        crc = crc16(bytes([byte]), crc)
        if state == "type":
            kind, state = byte, "seq"
        elif state == "seq":
            seq = byte
            state = {SAMPLE: "count_hi", INFO: "crc1"}.get(kind, "skip")
        elif state == "count_hi":
            count, state = byte << 8, "count_lo"
        elif state == "count_lo":
            count |= byte
            if 1 <= count <= max_count:
                state, k, buf = "payload", 0, []
            else:
                state, bad_count = "skip", True
        elif state == "payload":
            buf.append(byte)
            if len(buf) < fmt.token_bytes:
                continue
            index, value_or_eos, _ = fmt.decode(buf)
            last = k == count - 1
            if pixels:
                if index >= inputs:
                    malformed = True
                    if last:
                        tokens.append((0, 0, 1))
                else:
                    tokens.append((index, value_or_eos, int(last)))
            else:
                eos = bool(value_or_eos)
                if last:
                    malformed |= not eos
                    tokens.append((0, 1, 1))
                elif eos:
                    tokens.append((0, 1, 0))
                elif index >= inputs:
                    malformed = True
                else:
                    tokens.append((index, 0, 0))
            buf = []
            if last:
                state = "crc1"
            k += 1
        elif state == "crc1":
            state = "crc2"
        elif state == "crc2":
            state = "trail"
        elif state == "trail":
            too_long = True
    if state == "payload" and tokens:
        tokens.append((0, 0, 1) if pixels else (0, 1, 1))   # close the inference
    if lost:
        code = OVERRUN
    elif crc != 0:
        code = CHECKSUM
    elif kind not in (SAMPLE, INFO):
        code = TYPE
    elif bad_count:
        code = COUNT
    elif state != "trail" or too_long:
        code = LENGTH
    elif malformed:
        code = MALFORMED
    else:
        code = 0
    return Verdict(seq=seq, code=code, has_result=bool(tokens),
                   info=(kind == INFO and code == 0), tokens=tuple(tokens))
