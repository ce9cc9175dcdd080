"""What a component's memory is, before it is built: the shape the fit check and the report
count, and the test of every plan against the elaborated components compares."""
from collections import namedtuple


__all__ = ["MemoryPlan", "MEMORY_KINDS"]


#: ``kind``: ``"block"`` (asks for block RAM: large weight ROMs), ``"lut"`` (asks for LUTs:
#: small weight ROMs), ``"ram"`` (state, synchronous FIFOs), ``"rom"`` (biases, per-neuron
#: parameters), ``"async"`` (a FIFO read without a clock) or ``"reg"`` (flip-flops: the state
#: of a fully parallel layer).
MEMORY_KINDS = ("block", "lut", "ram", "rom", "async", "reg")


#: One memory of the accelerator: ``depth`` words of ``width`` bits, of ``kind`` (one of
#: :data:`MEMORY_KINDS`), read through ``read_ports`` ports at once.
MemoryPlan = namedtuple("MemoryPlan", "name depth width kind read_ports", defaults=(1,))
