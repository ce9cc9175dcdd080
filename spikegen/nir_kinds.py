"""The NIR node types spikegen reads as neurons and as weights, shared by the graph reader
(:mod:`spikegen.nir_frontend`) and its reader of maps (:mod:`spikegen.nir_maps`)."""

__all__ = ["NEURON_NODES", "WEIGHT_NODES"]

#: Neuron nodes: each closes a layer.
NEURON_NODES = ("LIF", "IF", "CubaLIF", "LI", "CubaLI")
#: Weight nodes of a dense layer.
WEIGHT_NODES = ("Affine", "Linear")
