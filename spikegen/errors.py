"""The error users see: one line naming the problem and the fix."""


__all__ = ["SpikegenError"]


class SpikegenError(Exception):
    """A problem with the user's input or options; the CLI prints it as one line."""
