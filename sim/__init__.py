"""cocotb testbenches of spikegen's emitted HDL, and the runner that builds and runs them.

Installed as ``spikegen.sim``. Engineers run the same regressions on their own builds with
``spikegen verify BUILD_DIR`` or from Python with :func:`spikegen.sim.runner.run_accelerator`,
and their own cocotb tests on their own components with :func:`run_cocotb_test`
(:mod:`spikegen.sim.custom`, see ``docs/custom-rtl.md``).
"""


__all__ = ["run_cocotb_test", "CocotbResult"]


def __getattr__(name):
    # imported on first use: the testbench modules import spikegen.sim inside the simulator,
    # where the runner (and numpy) are not needed
    if name in __all__:
        from . import custom
        return getattr(custom, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
