"""cocotb testbenches of spikegen's emitted HDL, and the runner that builds and runs them.

Installed as ``spikegen.sim``. Engineers run the same regressions on their own builds with
``spikegen verify BUILD_DIR`` or from Python with :func:`spikegen.sim.runner.run_accelerator`.
"""
