"""The error users see: one line naming the problem and the fix."""
import re


__all__ = ["SpikegenError"]


_OPTION = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


class SpikegenError(Exception):
    """A problem with the user's input or options; the CLI prints it as one line.

    The library speaks in its own words: an option is named in the message as
    ```weight_bits``` (its parameter name, between backquotes). ``str()`` shows it as the
    parameter name; the CLI shows its own flag instead (``--weight-bits``) with
    :meth:`render`.
    """
    def render(self, spell=lambda name: name):
        """The message with every option named by ``spell(name)``."""
        message = str(self.args[0]) if self.args else ""
        return _OPTION.sub(lambda match: spell(match.group(1)), message)

    def __str__(self):
        return self.render()
