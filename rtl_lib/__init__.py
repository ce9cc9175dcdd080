"""Reusable Amaranth components of spikegen accelerators.

Every block is an ``amaranth.lib.wiring.Component`` whose ports are documented in its
docstring; blocks talk over ``amaranth.lib.stream`` interfaces. They can be used on their own
in a user's design; nothing here depends on the ``spikegen`` compiler.
"""
