# amaranth: UnusedElaboratable=no
"""UARTRx and UARTTx against a bit-level model of the serial line."""
import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from rtl_lib.uart import UARTRx, UARTTx


def frame_bits(byte, *, stop=1):
    """Line levels of one 8N1 frame: start bit, data LSB first, stop bit."""
    return [0, *((byte >> i) & 1 for i in range(8)), stop]


def line_levels(frames, period, *, gaps=None):
    """The line, one level per clock cycle, for ``frames`` of bit levels.

    ``period`` is the sender's bit length in clock cycles, not necessarily whole; ``gaps[k]`` is
    the idle time before frame ``k``, in bit periods.
    """
    levels = [1] * 3
    time = 3.0
    for k, bits in enumerate(frames):
        start = time + (gaps[k] if gaps else 0) * period
        end = start + len(bits) * period
        while len(levels) < start:
            levels.append(1)
        while len(levels) < end:
            levels.append(bits[int((len(levels) - start) / period)])
        time = end
    return levels + [1] * int(2 * period + 4)


def run_rx(divisor, levels, *, ready=lambda cycle: True):
    """Drive ``levels`` into a UARTRx; return received bytes and the cycles ``err`` was high."""
    dut = UARTRx(divisor)
    received, errors = [], []

    async def testbench(ctx):
        for cycle, level in enumerate(levels):
            ctx.set(dut.rx, level)
            ctx.set(dut.o.ready, ready(cycle))
            _, _, valid, rdy, payload, err = await ctx.tick().sample(
                dut.o.valid, dut.o.ready, dut.o.payload, dut.err)
            if valid and rdy:
                received.append(payload)
            if err:
                errors.append(cycle)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return received, errors


def random_bytes(n, seed):
    rng = random.Random(seed)
    return [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80] + [rng.randrange(256) for _ in range(n)]


@pytest.mark.parametrize("divisor", [4, 5, 8, 13, 16])
def test_rx_back_to_back(divisor):
    data = random_bytes(6, divisor)
    levels = line_levels([frame_bits(b) for b in data], divisor)
    assert run_rx(divisor, levels) == (data, [])


@pytest.mark.parametrize("divisor", [4, 7, 16])
def test_rx_idle_gaps(divisor):
    data = random_bytes(4, divisor + 100)
    rng = random.Random(divisor)
    gaps = [rng.choice([0, 0.5, 1, 3.25]) for _ in data]
    levels = line_levels([frame_bits(b) for b in data], divisor, gaps=gaps)
    assert run_rx(divisor, levels) == (data, [])


@pytest.mark.parametrize("mismatch", [-0.035, 0.035])
def test_rx_baud_mismatch(mismatch):
    # A sender a few percent off the receiver's rate must still be read correctly.
    data = random_bytes(4, 7)
    levels = line_levels([frame_bits(b) for b in data], 16 * (1 + mismatch))
    assert run_rx(16, levels) == (data, [])


@pytest.mark.parametrize("divisor, mismatch", [(4, -0.02), (4, 0.0), (4, 0.02), (20, -0.02),
                                               (20, 0.02), (33, -0.0101)])
def test_rx_board_rates(divisor, mismatch):
    # The boards' rates: 4 cycles per bit (iCEBreaker, 3 Mbaud at 12 MHz), 20 (ULX3S), 33
    # (Arty, 1 % fast); the host's bridge within the 2 % the boards allow, at any phase.
    data = random_bytes(40, divisor)
    rng = random.Random(divisor)
    gaps = [rng.choice([0, 0, 0.13, 0.37, 0.61, 0.89]) for _ in data]
    levels = line_levels([frame_bits(b) for b in data], divisor * (1 + mismatch), gaps=gaps)
    assert run_rx(divisor, levels) == (data, [])


@pytest.mark.parametrize("divisor", [4, 9, 16])
def test_rx_framing_error(divisor):
    frames = [frame_bits(0x3C), frame_bits(0x99, stop=0), frame_bits(0xC3)]
    # A break after the bad stop bit: the receiver waits for the line to go high again.
    frames[1] += [0] * 5
    levels = line_levels(frames, divisor, gaps=[0, 0, 1])
    received, errors = run_rx(divisor, levels)
    assert received == [0x3C, 0xC3]
    assert len(errors) == 1


def test_rx_glitch_ignored():
    divisor = 16
    levels = [1] * 10 + [0] * 5 + [1] * 40 + line_levels([frame_bits(0x42)], divisor)
    assert run_rx(divisor, levels) == ([0x42], [])


def test_rx_overrun_keeps_first_byte():
    divisor = 8
    levels = line_levels([frame_bits(0x11), frame_bits(0x22), frame_bits(0x33)], divisor)
    # Not ready until well after the second byte has arrived; ready again before the third.
    hold = 21 * divisor
    received, errors = run_rx(divisor, levels, ready=lambda cycle: cycle >= hold)
    assert received == [0x11, 0x33]
    assert len(errors) == 1 and errors[0] < hold


def run_tx(divisor, data, *, gaps=None, cycles=None):
    """Offer ``data`` to a UARTTx (``gaps[k]`` idle cycles before byte ``k`` is offered); return
    the ``tx`` level of every cycle."""
    dut = UARTTx(divisor)
    gaps = gaps or [0] * len(data)
    cycles = cycles or (len(data) * 10 * divisor + sum(gaps) + 3 * divisor)
    levels = []

    async def testbench(ctx):
        queue = list(zip(gaps, data))
        wait = queue[0][0] if queue else 0
        for _ in range(cycles):
            offer = bool(queue) and wait == 0
            ctx.set(dut.i.valid, offer)
            if offer:
                ctx.set(dut.i.payload, queue[0][1])
            _, _, ready, tx = await ctx.tick().sample(dut.i.ready, dut.tx)
            levels.append(tx)
            if offer and ready:
                queue.pop(0)
                wait = queue[0][0] if queue else 0
            elif wait:
                wait -= 1
        assert not queue

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return levels


def decode_line(levels, divisor):
    """Bytes on a line, sampled at bit centres; checks every bit is exactly ``divisor`` long."""
    data, cycle = [], 0
    while cycle < len(levels):
        if levels[cycle]:
            cycle += 1
            continue
        frame = levels[cycle:cycle + 10 * divisor]
        assert len(frame) == 10 * divisor, "frame cut short"
        bits = [frame[k * divisor] for k in range(10)]
        assert frame == [bit for bit in bits for _ in range(divisor)], "bit length is off"
        assert bits[0] == 0 and bits[9] == 1, "bad start or stop bit"
        data.append(sum(bit << i for i, bit in enumerate(bits[1:9])))
        cycle += 10 * divisor
    return data


@pytest.mark.parametrize("divisor", [4, 5, 8, 13])
def test_tx_back_to_back(divisor):
    data = random_bytes(4, divisor)
    levels = run_tx(divisor, data)
    assert decode_line(levels, divisor) == data
    # No idle time between frames: the line is busy from the first start bit to the last stop.
    first = levels.index(0)
    assert len(levels) - first - levels[::-1].index(0) <= len(data) * 10 * divisor


def test_tx_gaps():
    data = [0xA5, 0x00, 0xFF, 0x5A]
    levels = run_tx(6, data, gaps=[3, 0, 50, 7])
    assert decode_line(levels, 6) == data


def test_tx_idles_high():
    levels = run_tx(8, [], cycles=20)
    assert levels == [1] * 20


@pytest.mark.parametrize("divisor", [4, 11])
def test_loopback(divisor):
    # TX into RX through the synchroniser, with random gaps and a slow consumer.
    rng = random.Random(divisor)
    data = [rng.randrange(256) for _ in range(12)]
    gaps = [rng.choice([0, 0, 1, 17]) for _ in data]

    m = Module()
    m.submodules.tx = tx = UARTTx(divisor)
    m.submodules.rx = rx = UARTRx(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    received, errors = [], []

    async def producer(ctx):
        for gap, byte in zip(gaps, data):
            await ctx.tick().repeat(gap + 1)
            ctx.set(tx.i.valid, 1)
            ctx.set(tx.i.payload, byte)
            await ctx.tick().until(tx.i.ready)
            ctx.set(tx.i.valid, 0)

    async def consumer(ctx):
        for cycle in range(len(data) * 10 * divisor + sum(gaps) + 200):
            ctx.set(rx.o.ready, cycle % 3 != 0)
            _, _, valid, ready, payload, err = await ctx.tick().sample(
                rx.o.valid, rx.o.ready, rx.o.payload, rx.err)
            if valid and ready:
                received.append(payload)
            if err:
                errors.append(cycle)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    assert received == data
    assert errors == []


@pytest.mark.parametrize("cls", [UARTRx, UARTTx])
def test_divisor_errors(cls):
    with pytest.raises(TypeError, match=r"UART divisor must be an integer, not 8\.0"):
        cls(8.0)
    with pytest.raises(ValueError,
                       match=r"UART divisor must be at least 4 clock cycles per bit, not 3"):
        cls(3)


def test_signatures():
    assert UARTRx(4).signature.members["rx"].init == 1
    assert UARTTx(4).signature.members["tx"].init == 1
    assert isinstance(UARTRx(4), wiring.Component)
