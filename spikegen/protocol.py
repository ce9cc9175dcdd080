"""Host side of the serial link to an accelerator board (protocol version 0).

This is the reference that ``rtl_lib.host_link.HostLink`` is tested against; the framing is
described in ``docs/host-protocol.md``.

Host to board: one 2-byte big-endian word per event token,

====== =============================================================
bits   meaning
====== =============================================================
15     ``eos``: end of the current time step (no spike)
14     ``last``: with ``eos``, the step is the last of the inference
13..0  ``index``: input neuron of a spike event (0 for ``eos`` tokens)
====== =============================================================

Board to host: one frame per inference, ``0xA5``, the class (1 byte), then each class's spike
count as 2 bytes big-endian, in class order (counts wider than 16 bits saturate at 0xFFFF).
"""
import numpy as np


__all__ = [
    "PROTOCOL_VERSION", "RESULT_HEADER", "MAX_INPUTS", "MAX_CLASSES",
    "encode_token", "encode_sample", "encode_result", "result_frame_size", "decode_results",
]


PROTOCOL_VERSION = 0

#: First byte of every board-to-host result frame.
RESULT_HEADER = 0xA5

_EOS_BIT = 1 << 15
_LAST_BIT = 1 << 14
_INDEX_BITS = 14

#: Largest number of inputs whose indices fit in a token.
MAX_INPUTS = 1 << _INDEX_BITS
#: Largest number of classes whose index fits in the result frame's class byte.
MAX_CLASSES = 256

_COUNT_MAX = 0xFFFF


def encode_token(index=0, *, eos=False, last=False):
    """The 2 bytes of one host-to-board token.

    Parameters
    ----------
    index : int
        Input neuron of a spike event; must be 0 for an end-of-step token.
    eos : bool
        End of the current time step.
    last : bool
        With ``eos``: the step is the inference's last.
    """
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise TypeError(f"Event index must be an integer, not {index!r}")
    if not 0 <= index < MAX_INPUTS:
        raise ValueError(f"Event index must be in [0, {MAX_INPUTS}), not {index}")
    if last and not eos:
        raise ValueError("A token with `last` set must also have `eos` set")
    if eos and index != 0:
        raise ValueError(f"An end-of-step token carries no index, not {index!r}")
    word = int(index) | (_EOS_BIT if eos else 0) | (_LAST_BIT if last else 0)
    return word.to_bytes(2, "big")


def encode_sample(spikes):
    """Bytes that send one inference's input spikes to the board.

    Parameters
    ----------
    spikes : array_like of 0/1, shape (time_steps, n_inputs)
        ``spikes[t, i]`` is 1 if input ``i`` spikes at step ``t``.

    Returns
    -------
    bytes
        For each step, its spike events in ascending input index, then an end-of-step token;
        the final step's end-of-step token also has ``last`` set.
    """
    spikes = np.asarray(spikes)
    if spikes.ndim != 2:
        raise ValueError(f"Spikes must be a 2-D array (time_steps, n_inputs), not of shape "
                         f"{spikes.shape}")
    steps, n_inputs = spikes.shape
    if steps == 0:
        raise ValueError("Spikes must have at least one time step")
    if n_inputs > MAX_INPUTS:
        raise ValueError(f"The link carries at most {MAX_INPUTS} inputs, not {n_inputs}")
    if not np.isin(spikes, (0, 1)).all():
        raise ValueError("Spikes must be 0 or 1")
    out = bytearray()
    for t in range(steps):
        for index in np.flatnonzero(spikes[t]):
            out += encode_token(int(index))
        out += encode_token(eos=True, last=(t == steps - 1))
    return bytes(out)


def encode_pixels(pixels):
    """Bytes of one sample's pixels (inputs,) of 0..255 for an accelerator with on-chip input
    coding: the nonzero pixels in ascending index, 3 bytes each (a big-endian word with bit
    15 marking the sample's last pixel and bits 13..0 the index, then the value); a sample
    with no nonzero pixel sends pixel 0 with value 0."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 1 or pixels.size > MAX_INPUTS:
        raise ValueError(f"Pixels must be a 1-D array of at most {MAX_INPUTS} values")
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise ValueError("Pixel values must be from 0 to 255")
    index = np.flatnonzero(pixels)
    if index.size == 0:
        return bytes([0x80, 0x00, 0x00])
    out = bytearray()
    for k, i in enumerate(index):
        word = int(i) | (0x8000 if k == index.size - 1 else 0)
        out += bytes([word >> 8, word & 0xFF, int(pixels[i])])
    return bytes(out)


def _check_classes(n_classes):
    if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool):
        raise TypeError(f"Class count must be an integer, not {n_classes!r}")
    if not 1 <= n_classes <= MAX_CLASSES:
        raise ValueError(f"Class count must be between 1 and {MAX_CLASSES}, not {n_classes}")


def result_frame_size(n_classes):
    """Length in bytes of one board-to-host result frame."""
    _check_classes(n_classes)
    return 2 + 2 * n_classes


def encode_result(cls, counts):
    """Bytes of one result frame as the board sends it (counts saturate at 0xFFFF)."""
    counts = [int(c) for c in counts]
    _check_classes(len(counts))
    if not 0 <= cls < len(counts):
        raise ValueError(f"Class {cls!r} out of range for {len(counts)} classes")
    if any(c < 0 for c in counts):
        raise ValueError(f"Spike counts must not be negative: {counts}")
    out = bytearray((RESULT_HEADER, cls))
    for c in counts:
        out += min(c, _COUNT_MAX).to_bytes(2, "big")
    return bytes(out)


def decode_results(data, n_classes):
    """Split the bytes received from the board into results.

    Parameters
    ----------
    data : bytes-like
        Whole frames, as many as were received.
    n_classes : int
        Number of output classes of the accelerator.

    Returns
    -------
    list of (int, list of int)
        The class and the per-class spike counts of each frame, in order.

    Raises
    ------
    ValueError
        If a frame does not start with 0xA5, names a class out of range, or is cut short.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"Result data must be bytes, not {data!r}")
    data = bytes(data)
    size = result_frame_size(n_classes)
    results = []
    for start in range(0, len(data), size):
        frame = data[start:start + size]
        if frame[0] != RESULT_HEADER:
            raise ValueError(f"Bad result header byte 0x{frame[0]:02X} at offset {start}; "
                             f"expected 0x{RESULT_HEADER:02X}")
        if len(frame) < size:
            raise ValueError(f"Truncated result frame at offset {start}: {len(frame)} of "
                             f"{size} bytes")
        cls = frame[1]
        if cls >= n_classes:
            raise ValueError(f"Class {cls} at offset {start + 1} out of range for "
                             f"{n_classes} classes")
        counts = [int.from_bytes(frame[i:i + 2], "big") for i in range(2, size, 2)]
        results.append((cls, counts))
    return results
