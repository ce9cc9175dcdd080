"""The error the VHDL backend raises for a design it cannot express."""
from ..errors import SpikegenError


__all__ = ["VHDLError"]


class VHDLError(SpikegenError, ValueError):
    """The design holds something the VHDL backend does not support (named in the message)."""
