"""cocotb tests of :class:`spike_tally.SpikeTally`, the same on Verilator and on GHDL.

The component is emitted through :class:`spikegen.flat_top.FlatTop` (what
:func:`spikegen.sim.run_cocotb_test` does by default), so its ports are called ``i_valid``,
``i_ready`` and ``i_payload`` in both languages; the payload is the event's bits, ``index``
first (least significant), then ``eos`` and ``last``.
"""
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge


async def reset(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.i_valid.value = 0
    dut.i_payload.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0


async def send(dut, index=0, eos=False):
    """One token through the valid/ready handshake."""
    index_bits = len(dut.i_payload) - 2
    dut.i_payload.value = index | (int(eos) << index_bits)
    dut.i_valid.value = 1
    while True:
        await RisingEdge(dut.clk)
        if dut.i_ready.value == 1:
            break
    dut.i_valid.value = 0


@cocotb.test()
async def counts_spikes_and_steps(dut):
    await reset(dut)
    steps = [[3, 1, 4], [], [15, 9]]
    for events in steps:
        for index in events:
            await send(dut, index)
        await send(dut, eos=True)
    await ClockCycles(dut.clk, 4)
    await ReadOnly()
    assert dut.spikes.value.to_unsigned() == sum(map(len, steps))
    assert dut.steps.value.to_unsigned() == len(steps)
