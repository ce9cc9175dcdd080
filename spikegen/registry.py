"""Registries keyed by layer kind: how each compiler stage learns a new kind of layer.

Every layer of the IR names its kind (``DenseLayer.kind == "dense"``); each stage that treats
kinds differently keeps a :class:`Registry` of one function per kind (the quantizer, the
reference model's step, the hardware plan, the assembler, the report rows), filled with
``@REGISTRY.register("dense")`` beside the function, as :mod:`spikegen.vhdl.cells` does for
Yosys cells. Adding a layer kind is one entry in each (see ``docs/architecture.md``).
"""
from .errors import SpikegenError


__all__ = ["Registry", "kind_of"]


def kind_of(layer):
    """The kind of a layer of the IR (its class's ``kind``)."""
    kind = getattr(type(layer), "kind", None)
    if not isinstance(kind, str):
        raise TypeError(f"Layer must be an IR layer with a kind, not {layer!r}")
    return kind


class Registry:
    """One function per layer kind for one compiler stage.

    Parameters
    ----------
    stage : str
        What the functions make, for messages ("quantizer", "hardware plan", ...).
    """
    def __init__(self, stage):
        self.stage = stage
        self._entries = {}

    def register(self, kind):
        """Decorator: the function of layers of ``kind``."""
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"Layer kind must be a non-empty string, not {kind!r}")

        def add(function):
            if kind in self._entries:
                raise ValueError(f"A {self.stage} for layer kind {kind!r} is registered "
                                 f"already")
            self._entries[kind] = function
            return function
        return add

    def __contains__(self, kind):
        return kind in self._entries

    @property
    def kinds(self):
        return tuple(sorted(self._entries))

    def lookup(self, layer):
        """The function registered for ``layer``'s kind; a :class:`SpikegenError` names the
        kind and what the stage supports when there is none."""
        return self.get(kind_of(layer))

    def get(self, kind):
        """The function registered for the layer kind named ``kind``."""
        try:
            return self._entries[kind]
        except KeyError:
            raise SpikegenError(f"no {self.stage} for {kind} layers (supported: "
                                f"{', '.join(self.kinds)})") from None

    def __call__(self, layer, *args, **kwargs):
        return self.lookup(layer)(layer, *args, **kwargs)
