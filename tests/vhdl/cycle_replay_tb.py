"""cocotb test that replays recorded inputs cycle by cycle and records the outputs.

``REPLAY_STIMULUS`` names an ``.npz`` file with ``inputs`` (names), ``values`` (cycles,
inputs) uint64, ``outputs`` (names) and ``clock`` (a port name, or "" for combinational
designs). Each cycle: set the inputs, let the logic settle, record the outputs, then raise and
lower the clock. The recorded ``values`` (cycles, outputs) go to ``REPLAY_RESULTS``; the
Amaranth side of the test runs the same sequence in its simulator.
"""
import os

import cocotb
import numpy as np
from cocotb.triggers import Timer


@cocotb.test()
async def replay(dut):
    data = np.load(os.environ["REPLAY_STIMULUS"], allow_pickle=False)
    inputs = [getattr(dut, str(name)) for name in data["inputs"]]
    outputs = [getattr(dut, str(name)) for name in data["outputs"]]
    clock = getattr(dut, str(data["clock"])) if str(data["clock"]) else None
    values = data["values"]
    got = np.zeros((values.shape[0], len(outputs)), dtype=np.uint64)
    if clock is not None:
        clock.value = 0
    for cycle, row in enumerate(values):
        for handle, value in zip(inputs, row):
            handle.value = int(value)
        await Timer(1, "ns")
        for k, handle in enumerate(outputs):
            got[cycle, k] = int(handle.value)
        if clock is not None:
            clock.value = 1
            await Timer(1, "ns")
            clock.value = 0
            await Timer(1, "ns")
    np.savez(os.environ["REPLAY_RESULTS"], values=got)
