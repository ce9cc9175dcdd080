"""cocotb bridge between a pseudo-terminal and the UART pins of a simulated board core.

The top level is a :class:`rtl_lib.host_link.SerialAccelerator` (``clk``, ``rst``, ``rx``,
``tx``). The testbench opens a pseudo-terminal, writes the path of its terminal end to
``SPIKEGEN_PTY_FILE`` and moves bytes both ways: bytes the host writes to the terminal go
onto ``rx`` one bit per ``await Timer(bit time)``, and bytes on ``tx`` are read at the middle
of each bit and written back to the terminal. Python moves bits, not clock cycles: between
two bits the simulator runs free.

Environment:

``SPIKEGEN_PTY_FILE``  where to write the terminal's path; the run ends when ``<that>.done``
                       appears (and the line is idle)
``SPIKEGEN_DIVISOR``   clock cycles per UART bit
``SPIKEGEN_STATS``     where to write what the line carried (JSON)
``SPIKEGEN_FAULTS``    optional faults on host-to-board bytes, ``drop:N`` (byte ``N`` never
                       reaches the board) and ``flip:N`` (bit 3 of byte ``N`` inverted),
                       separated by commas
"""
import json
import os
import tty

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, FallingEdge, Timer


CLOCK_NS = 10


def _faults(text):
    faults = {}
    for item in filter(None, (text or "").split(",")):
        kind, index = item.split(":")
        faults[int(index)] = kind
    return faults


@cocotb.test()
async def bridge(dut):
    divisor = int(os.environ["SPIKEGEN_DIVISOR"])
    pty_file = os.environ["SPIKEGEN_PTY_FILE"]
    done_file = pty_file + ".done"
    faults = _faults(os.environ.get("SPIKEGEN_FAULTS"))
    bit_ns = divisor * CLOCK_NS

    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0

    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    with open(pty_file + ".tmp", "w") as f:
        f.write(os.ttyname(slave))
    os.replace(pty_file + ".tmp", pty_file)

    stats = {"host_to_board_bytes": 0, "board_to_host_bytes": 0, "rx_busy_ns": 0,
             "faults": 0}

    async def board_to_host():
        while True:
            await FallingEdge(dut.tx)
            await Timer(bit_ns * 3 // 2, "ns")
            byte = 0
            for i in range(8):
                byte |= int(dut.tx.value) << i
                await Timer(bit_ns, "ns")
            if int(dut.tx.value) != 1:
                raise AssertionError("stop bit of a board byte is 0")
            stats["board_to_host_bytes"] += 1
            os.write(master, bytes([byte]))

    cocotb.start_soon(board_to_host())
    index = 0
    while True:
        try:
            data = os.read(master, 4096)
        except BlockingIOError:
            data = b""
        except OSError:                 # the terminal end is gone
            break
        if not data:
            if os.path.exists(done_file):
                break
            await Timer(10 * bit_ns, "ns")
            continue
        for byte in data:
            fault = faults.get(index)
            index += 1
            if fault == "drop":
                stats["faults"] += 1
                continue
            if fault == "flip":
                stats["faults"] += 1
                byte ^= 0x08
            for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                dut.rx.value = bit
                await Timer(bit_ns, "ns")
            stats["host_to_board_bytes"] += 1
            stats["rx_busy_ns"] += 10 * bit_ns
    # let the last answer leave the board
    await Timer(40 * bit_ns, "ns")
    stats["sim_ns"] = int(get_sim_time("ns"))
    stats["clock_ns"] = CLOCK_NS
    stats["divisor"] = divisor
    os.close(master)
    os.close(slave)
    with open(os.environ["SPIKEGEN_STATS"], "w") as f:
        json.dump(stats, f)
