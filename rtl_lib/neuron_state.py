"""A neuron's state word at rest, as the layers' state memories hold it: pure Python."""
from .cuba_lif import CubaLIFParams


__all__ = ["pack", "lane_start"]


def pack(values, width):
    """``values`` as one integer, lane ``j`` in bits ``[j * width, (j + 1) * width)``."""
    word = 0
    for lane, value in enumerate(values):
        word |= (int(value) & ((1 << width) - 1)) << (lane * width)
    return word


def rest_state(params, bias):
    """Membrane and second field of a neuron at the start of an inference: the membrane after
    the first start-of-step update and its reset flag ``0 > threshold`` (LIF), or no membrane
    and the current ``bias`` (current-based)."""
    if isinstance(params, CubaLIFParams):
        return 0, bias & ((1 << params.syn_bits) - 1)
    r = 0 > params.threshold
    start = bias - (params.threshold if r and params.reset == "subtract" else 0)
    return min(max(start, params.mem_min), params.mem_max), int(r)


def lane_start(params, bias):
    """One lane's state word at rest (:func:`rest_state`): membrane in the low
    ``mem_bits``, the reset flag or the synaptic current above it."""
    mem, high = rest_state(params, bias)
    return (mem & ((1 << params.mem_bits) - 1)) | (high << params.mem_bits)
