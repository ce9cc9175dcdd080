# amaranth: UnusedElaboratable=no
"""Arty A7 board: the Vivado project it writes, and its core logic end to end in simulation."""
import os
import stat

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from rtl_lib.event import EventLayout, ResultLayout
from rtl_lib.host_link import SerialAccelerator
from spikegen.boards import BOARDS, DEFAULT_BOARD, get_board
from spikegen.boards.arty_a7 import ArtyA7_35Board, ArtyA7_100Board
from spikegen.protocol import decode_results, encode_sample


class CountingAccel(wiring.Component):
    """A stand-in accelerator: output class ``k`` counts the input events whose index is
    ``k`` modulo the class count; the result is sent after the last step.

    Also has a monitor stream, ``o_spikes``, with one token per event, which stalls the input
    until it is taken: a board top that does not drain it hangs. After each end-of-step token
    it takes no input for ``pause`` cycles, as a real accelerator does while its neurons
    update.
    """
    def __init__(self, n_inputs, n_classes, count_bits, *, pause=0):
        self.n_classes = n_classes
        self.pause = pause
        super().__init__({
            "i_events": In(stream.Signature(EventLayout(n_inputs))),
            "o_result": Out(stream.Signature(ResultLayout(n_classes, count_bits))),
            "o_spikes": Out(stream.Signature(EventLayout(n_classes))),
        })

    def elaborate(self, platform):
        m = Module()
        event = self.i_events.payload
        result = self.o_result.payload
        counts = [Signal.like(result.counts[k], name=f"count_{k}")
                  for k in range(self.n_classes)]
        top = (1 << len(counts[0])) - 1

        busy = Signal(range(self.pause + 1))
        with m.If(busy != 0):
            m.d.sync += busy.eq(busy - 1)
        m.d.comb += self.i_events.ready.eq(~self.o_result.valid & ~self.o_spikes.valid
                                           & (busy == 0))
        with m.If(self.o_result.ready):
            m.d.sync += self.o_result.valid.eq(0)
        with m.If(self.o_spikes.ready):
            m.d.sync += self.o_spikes.valid.eq(0)

        with m.If(self.i_events.valid & self.i_events.ready):
            with m.If(~event.eos):
                bucket = event.index % self.n_classes
                for k, count in enumerate(counts):
                    with m.If((bucket == k) & (count != top)):
                        m.d.sync += count.eq(count + 1)
                m.d.sync += [
                    self.o_spikes.payload.index.eq(bucket),
                    self.o_spikes.valid.eq(1),
                ]
            with m.Else():
                m.d.sync += busy.eq(self.pause)
            with m.If(event.eos & event.last):
                best = 0
                best_count = counts[0]
                for k in range(1, self.n_classes):
                    better = counts[k] > best_count
                    best = better.as_unsigned() * k + (~better).as_unsigned() * best
                    best_count = better.as_unsigned() * counts[k] + \
                        (~better).as_unsigned() * best_count
                m.d.sync += result.cls.eq(best)
                for k, count in enumerate(counts):
                    m.d.sync += [result.counts[k].eq(count), count.eq(0)]
                m.d.sync += self.o_result.valid.eq(1)
        return m


def expected_result(spikes, n_classes, count_bits):
    counts = [0] * n_classes
    for index in np.nonzero(spikes)[1]:
        counts[index % n_classes] += 1
    counts = [min(c, (1 << count_bits) - 1) for c in counts]
    return counts.index(max(counts)), counts


def line_levels(data, divisor):
    """The serial line, one level per clock cycle, carrying ``data`` back to back (8N1)."""
    levels = [1] * 5
    for byte in data:
        for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
            levels += [bit] * divisor
    return levels


def decode_line(levels, divisor):
    """Bytes on a serial line, sampled at bit centres."""
    data, cycle = [], 0
    while cycle < len(levels):
        if levels[cycle]:
            cycle += 1
            continue
        bits = [levels[cycle + k * divisor + divisor // 2] for k in range(10)]
        assert bits[0] == 0 and bits[9] == 1
        data.append(sum(bit << i for i, bit in enumerate(bits[1:9])))
        cycle += 10 * divisor
    return bytes(data)


def simulate_core(dut, rx, cycles):
    """Drive ``rx`` (then an idle line) into a SerialAccelerator for ``cycles`` cycles; return
    the ``tx``, ``cls``, ``activity`` and ``error`` of every cycle."""
    trace = {"tx": [], "cls": [], "activity": [], "error": []}

    async def testbench(ctx):
        for cycle in range(cycles):
            ctx.set(dut.rx, rx[cycle] if cycle < len(rx) else 1)
            _, _, *values = await ctx.tick().sample(dut.tx, dut.cls, dut.activity, dut.error)
            for key, value in zip(trace, values):
                trace[key].append(value)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    if os.environ.get("SPIKEGEN_VCD"):
        with sim.write_vcd(os.environ["SPIKEGEN_VCD"]):
            sim.run()
    else:
        sim.run()
    return trace


N_INPUTS, N_CLASSES, COUNT_BITS, DIVISOR = 12, 3, 4, 8


def two_samples():
    rng = np.random.default_rng(3)
    samples = [rng.random((4, N_INPUTS)) < 0.3, np.zeros((2, N_INPUTS), dtype=bool)]
    samples[1][:, [2, 5, 8]] = True     # class 2 wins the second sample
    samples[0][:, 1] = True             # more than the 4-bit counter holds
    samples[0][:, [4, 7, 10]] = True
    return samples


@pytest.mark.parametrize("pause", [0, 1500])
def test_core_end_to_end(pause):
    # UART bits in, result frames out, through the core that ArtyTop puts on the pins; with
    # pauses of many byte times after each step, the receive FIFO keeps every byte.
    samples = two_samples()
    expected = [expected_result(s, N_CLASSES, COUNT_BITS) for s in samples]
    assert [cls for cls, _ in expected] == [1, 2]

    accel = CountingAccel(N_INPUTS, N_CLASSES, COUNT_BITS, pause=pause)
    dut = SerialAccelerator(accel, DIVISOR, blink_cycles=4)
    rx = line_levels(b"".join(encode_sample(s) for s in samples), DIVISOR)
    frame_cycles = 10 * DIVISOR * 2 * (N_CLASSES + 1)
    steps = sum(len(s) for s in samples)
    trace = simulate_core(dut, rx, len(rx) + steps * pause + 3 * frame_cycles)

    assert decode_results(decode_line(trace["tx"], DIVISOR), N_CLASSES) == expected
    assert trace["cls"][0] == 0 and trace["cls"][-1] == 2 and 1 in trace["cls"]
    assert any(trace["activity"]) and not any(trace["error"])


def test_core_flags_lost_bytes():
    # Without room to buffer the bytes that arrive during a pause, some are lost: flagged.
    accel = CountingAccel(N_INPUTS, N_CLASSES, COUNT_BITS, pause=1500)
    dut = SerialAccelerator(accel, DIVISOR, blink_cycles=4, rx_fifo_depth=2)
    rx = line_levels(b"".join(encode_sample(s) for s in two_samples()), DIVISOR)
    trace = simulate_core(dut, rx, len(rx) + 2000)
    assert any(trace["error"])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One default build, shared by the tests that only read it."""
    build_dir = tmp_path_factory.mktemp("arty")
    report = get_board("arty-a7").build(CountingAccel(20, 3, 6), build_dir, run_vendor=False)
    return build_dir, report


def test_build_writes_vivado_project(built):
    build_dir, report = built
    assert report == {
        "board": "arty-a7",
        "part": "xc7a35ticsg324-1L",
        "clock_hz": 100_000_000,
        "baud": 1_000_000,
        "divisor": 100,
        "files": ["build_spikegen.bat", "build_spikegen.json", "build_spikegen.sh",
                  "spikegen.debug.v", "spikegen.tcl", "spikegen.v", "spikegen.xdc"],
        "vivado_ran": False,
    }
    for name in report["files"]:
        assert (build_dir / name).is_file()
    tcl = (build_dir / "spikegen.tcl").read_text()
    assert "-part xc7a35ticsg324-1L" in tcl
    assert "add_files spikegen.v" in tcl and "read_xdc spikegen.xdc" in tcl
    xdc = (build_dir / "spikegen.xdc").read_text()
    assert 'set_property LOC A9 [get_ports "uart_0__rx__io"]' in xdc
    assert 'set_property LOC D10 [get_ports "uart_0__tx__io"]' in xdc
    assert 'set_property LOC H5 [get_ports "led_0__io"]' in xdc
    assert "create_clock -name clk100_0__io -period 10.0" in xdc
    verilog = (build_dir / "spikegen.v").read_text()
    assert "module spikegen(" in verilog


def test_build_is_deterministic(built, tmp_path):
    build_dir, report = built
    again = get_board("arty-a7").build(CountingAccel(20, 3, 6), tmp_path, run_vendor=False)
    assert again == report
    for name in report["files"]:
        assert (tmp_path / name).read_bytes() == (build_dir / name).read_bytes(), name


def test_build_100t_with_baud(tmp_path):
    report = get_board("arty-a7-100").build(CountingAccel(8, 2, 4), tmp_path, baud=115_200,
                                            run_vendor=False)
    assert (report["part"], report["baud"], report["divisor"]) == \
        ("xc7a100ticsg324-1L", 115_200, 868)
    assert "-part xc7a100ticsg324-1L" in (tmp_path / "spikegen.tcl").read_text()


def test_build_runs_vivado_when_present(tmp_path, monkeypatch):
    # A stand-in `vivado` on PATH: the build runs the plan's script, which calls it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vivado"
    fake.write_text('#!/bin/sh\necho "$@" > vivado_args.txt\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("VIVADO", raising=False)
    monkeypatch.delenv("AMARANTH_ENV_VIVADO", raising=False)

    report = ArtyA7_35Board().build(CountingAccel(4, 2, 2), tmp_path / "out")
    assert report["vivado_ran"] is True
    assert (tmp_path / "out" / "vivado_args.txt").read_text() == \
        "-mode batch -log spikegen.log -source spikegen.tcl\n"


def test_board_registry():
    assert BOARDS == {"arty-a7": ArtyA7_35Board, "arty-a7-100": ArtyA7_100Board}
    assert DEFAULT_BOARD == "arty-a7"
    assert isinstance(get_board(), ArtyA7_35Board)
    with pytest.raises(ValueError, match=r"Unknown board 'arty'; choose one of: "
                                         r"arty-a7, arty-a7-100"):
        get_board("arty")


@pytest.mark.parametrize("board", [ArtyA7_35Board, ArtyA7_100Board])
def test_board_matches_platform(board):
    platform = board.platform
    assert board.part == f"{platform.device}{platform.package}-{platform.speed}"
    assert board.clock_hz == platform().default_clk_frequency
    assert board.clock_hz // board.default_baud == 100


def test_baud_rates():
    board = ArtyA7_35Board()
    assert board.divisor() == 100
    assert board.divisor(115_200) == 868
    assert board.divisor(3_000_000) == 33           # 1 % off: accepted
    with pytest.raises(ValueError, match=r"Baud rate 7000000 is 2\.0% off the nearest one a "
                                         r"100000000 Hz clock makes \(7142857\); at most 2% "
                                         r"is allowed"):
        board.divisor(7_000_000)
    with pytest.raises(ValueError, match=r"Baud rate must be between 1 and 12000000 on the "
                                         r"arty-a7, not 13000000"):
        board.divisor(13_000_000)
    with pytest.raises(ValueError, match=r"not 0"):
        board.divisor(0)
    with pytest.raises(TypeError, match=r"Baud rate must be an integer, not 9600\.0"):
        board.divisor(9600.0)
