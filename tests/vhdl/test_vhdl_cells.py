"""The VHDL backend, cell by cell: GHDL on the emitted VHDL against Amaranth's simulator (or
Yosys's own evaluator, for cells Amaranth never emits), cycle by cycle with random stimulus.
Also names, errors, determinism, GHDL's analyser and synthesiser on whole accelerators, and an
accelerator regression on GHDL."""
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Print, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from spikegen.assemble import accelerator
from spikegen.compiler import TOP_NAME
from spikegen.emit import vhdl
from spikegen.flat_top import FlatTop
from spikegen.sim.ghdl import find_ghdl, run_accelerator_ghdl, run_cocotb
from spikegen.vhdl import VHDLError, convert, convert_netlist, convert_rtlil, supported_cells
from spikegen.vhdl.names import Namer, is_legal, legalize
from spikegen.verify import stimulus_for, top_ports
from spikegen.yosys import netlist_json, run_yosys

from conftest import random_case
from vhdl_designs import DESIGNS, Bundle


HERE = Path(__file__).resolve().parent

needs_ghdl = pytest.mark.skipif(find_ghdl() is None,
                                reason="GHDL not installed (Debian: apt-get install ghdl)")


# -- replaying stimulus in both simulators ----------------------------------------------------

def _ports(component):
    """``(inputs, outputs)``: lists of (name, width, signed) of a flat component."""
    inputs, outputs = [], []
    for name, member in component.signature.members.items():
        shape = Shape.cast(member.shape)
        entry = (name, shape.width, shape.signed)
        (inputs if member.flow == In else outputs).append(entry)
    return inputs, outputs


def random_stimulus(component, cycles, seed, *, clock="clk", reset="rst"):
    """Random values (cycles, inputs) uint64 for every input but the clock."""
    rng = np.random.default_rng(seed)
    limits = getattr(component, "limits", {})
    inputs = [entry for entry in _ports(component)[0] if entry[0] != clock]
    values = np.zeros((cycles, len(inputs)), dtype=np.uint64)
    for k, (name, width, _) in enumerate(inputs):
        limit = limits.get(name)
        if name == reset:
            column = (rng.random(cycles) < 0.03).astype(np.uint64)
            column[:2] = 1
        elif isinstance(limit, list):
            column = np.array(rng.choice(limit, cycles), dtype=np.uint64)
        else:
            high = min(limit or (1 << width), 1 << 63)
            column = rng.integers(0, high, cycles, dtype=np.uint64)
        values[:, k] = column
    names = [entry[0] for entry in inputs]
    if reset in names:
        for name in getattr(component, "held_in_reset", ()):
            values[values[:, names.index(reset)] == 1, names.index(name)] = 1
    return names, values


def amaranth_replay(component, names, values, *, clock="clk"):
    """Outputs (cycles, outputs) of ``component`` in Amaranth's simulator: each cycle set
    the inputs, record the outputs, raise and lower the clock (as ``cycle_replay_tb``)."""
    inputs, outputs = _ports(component)
    shapes = {name: (width, signed) for name, width, signed in inputs}
    got = np.zeros((len(values), len(outputs)), dtype=np.uint64)
    has_clock = clock in shapes

    async def bench(ctx):
        for cycle, row in enumerate(values):
            for name, value in zip(names, row):
                width, signed = shapes[name]
                value = int(value)
                if signed and value >> (width - 1):
                    value -= 1 << width
                ctx.set(getattr(component, name), value)
            await ctx.delay(1e-9)
            for k, (name, width, _) in enumerate(outputs):
                got[cycle, k] = ctx.get(getattr(component, name)) & ((1 << width) - 1)
            if has_clock:
                ctx.set(getattr(component, clock), 1)
                await ctx.delay(1e-9)
                ctx.set(getattr(component, clock), 0)
                await ctx.delay(1e-9)

    sim = Simulator(component)
    sim.add_testbench(bench)
    sim.run()
    return [name for name, _, _ in outputs], got


def ghdl_replay(vhdl_text, entity, names, values, outputs, work_dir, *, clock="clk"):
    """Outputs (cycles, outputs) of the VHDL entity on GHDL, replaying ``values``."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    source = work_dir / f"{entity}.vhd"
    source.write_text(vhdl_text)
    stimulus, results = work_dir / "replay.npz", work_dir / "replayed.npz"
    np.savez(stimulus, inputs=np.array(names), values=values, outputs=np.array(outputs),
             clock=np.array(clock))
    run_cocotb([source], entity, "cycle_replay_tb", work_dir, python_path=[HERE],
               extra_env={"REPLAY_STIMULUS": str(stimulus), "REPLAY_RESULTS": str(results)})
    assert results.exists(), f"GHDL run failed: see {work_dir}/test.log"
    with np.load(results) as data:
        return data["values"]


def _mismatches(outputs, expected, got):
    report = []
    for k, name in enumerate(outputs):
        bad = np.flatnonzero(expected[:, k] != got[:, k])
        if bad.size:
            t = bad[0]
            report.append(f"{name}: {bad.size} cycles differ, first at {t}: "
                          f"expected {int(expected[t, k]):#x}, got {int(got[t, k]):#x}")
    return report


def _cell_types(component, optimize):
    from amaranth.back import rtlil
    data = netlist_json(rtlil.convert(component, name="cells"), "cells", optimize=optimize)
    return {cell["type"] for cell in data["modules"]["cells"]["cells"].values()}


# -- cells from Amaranth designs ---------------------------------------------------------------

@needs_ghdl
@pytest.mark.parametrize("optimize", [False, True], ids=["plain", "optimized"])
def test_cells_match_amaranth(tmp_path, optimize):
    """Every design of ``vhdl_designs`` at once, plain (as Amaranth's cells come out of
    ``proc``) and after Yosys's ``opt`` passes (which merge enables and resets into flip-flops,
    narrow operators and turn multiplexers into ``$shiftx``)."""
    bundle = Bundle({name: cls() for name, cls in DESIGNS.items()})
    names, values = random_stimulus(bundle, 400, seed=7)
    outputs, expected = amaranth_replay(Bundle({name: cls() for name, cls in DESIGNS.items()}),
                                        names, values)
    text = convert(bundle, name="cells", optimize=optimize)
    got = ghdl_replay(text, "cells", names, values, outputs, tmp_path)
    assert not _mismatches(outputs, expected, got)


def test_designs_cover_cells():
    """The designs above reach the cells they are meant to test, in both pipelines."""
    bundle = Bundle({name: cls() for name, cls in DESIGNS.items()})
    plain = _cell_types(bundle, False)
    bundle = Bundle({name: cls() for name, cls in DESIGNS.items()})
    optimized = _cell_types(bundle, True)
    assert {"$add", "$sub", "$mul", "$neg", "$not", "$divfloor", "$modfloor", "$and", "$or",
            "$xor", "$reduce_and", "$reduce_or", "$reduce_xor", "$reduce_bool", "$logic_not",
            "$eq", "$ne", "$lt", "$le", "$gt", "$ge", "$shl", "$shr", "$sshr", "$shift",
            "$mux", "$pmux", "$dff", "$adff", "$mem_v2"} <= plain
    assert {"$dffe", "$adffe", "$sdff", "$sdffe", "$sdffce", "$shiftx"} <= optimized


# -- cells Amaranth never emits, against Yosys's evaluator -------------------------------------

#: Inputs of the hand-written module: name -> width.
_RTLIL_INPUTS = {"a": 8, "b": 5, "c": 3, "w": 40}

#: ``(output, type, width of Y, parameters, connections)``; connections name inputs or
#: slices of them in RTLIL syntax. Chosen for the corners: signed shift amounts, amounts wider
#: than an integer, out-of-range part selects, signed and unsigned operands, results narrower or wider
#: than the operands.
_RTLIL_CELLS = [
    ("y_shiftx_sb", "$shiftx", 4, {"A_SIGNED": 0, "B_SIGNED": 1}, {"A": r"\a", "B": r"\b"}),
    ("y_shiftx_u", "$shiftx", 3, {"A_SIGNED": 0, "B_SIGNED": 0}, {"A": r"\a", "B": r"\c"}),
    ("y_shiftx_w", "$shiftx", 3, {"A_SIGNED": 0, "B_SIGNED": 1}, {"A": r"\a", "B": r"\w"}),
    ("y_shift_ss", "$shift", 10, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\b"}),
    ("y_shift_su", "$shift", 4, {"A_SIGNED": 1, "B_SIGNED": 0}, {"A": r"\a", "B": r"\c"}),
    ("y_shift_w", "$shift", 8, {"A_SIGNED": 0, "B_SIGNED": 1}, {"A": r"\a", "B": r"\w"}),
    ("y_shl_w", "$shl", 10, {"A_SIGNED": 0, "B_SIGNED": 0}, {"A": r"\b", "B": r"\w"}),
    ("y_sshl", "$sshl", 12, {"A_SIGNED": 1, "B_SIGNED": 0}, {"A": r"\b", "B": r"\c"}),
    ("y_sshr_w", "$sshr", 8, {"A_SIGNED": 1, "B_SIGNED": 0}, {"A": r"\a", "B": r"\w"}),
    ("y_shr_s", "$shr", 11, {"A_SIGNED": 1, "B_SIGNED": 0}, {"A": r"\a", "B": r"\c"}),
    ("y_bmux", "$bmux", 2, {"WIDTH": 2, "S_WIDTH": 2}, {"A": r"\a", "S": r"\c [1:0]"}),
    ("y_demux", "$demux", 8, {"WIDTH": 2, "S_WIDTH": 2}, {"A": r"\c [1:0]", "S": r"\b [1:0]"}),
    ("y_bwmux", "$bwmux", 5, {"WIDTH": 5},
     {"A": r"\a [4:0]", "B": r"\b", "S": r"\a [7:3]"}),
    ("y_bweqx", "$bweqx", 5, {"WIDTH": 5}, {"A": r"\a [4:0]", "B": r"\b"}),
    ("y_slice", "$slice", 3, {"OFFSET": 2, "A_WIDTH": 8}, {"A": r"\a"}),
    ("y_concat", "$concat", 8, {"A_WIDTH": 3, "B_WIDTH": 5}, {"A": r"\c", "B": r"\b"}),
    ("y_div_s", "$div", 8, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\b"}),
    ("y_mod_s", "$mod", 5, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\b"}),
    ("y_div_u", "$div", 6, {"A_SIGNED": 0, "B_SIGNED": 0}, {"A": r"\a", "B": r"\b"}),
    ("y_mod_u", "$mod", 5, {"A_SIGNED": 0, "B_SIGNED": 0}, {"A": r"\a", "B": r"\b"}),
    ("y_divfloor_s", "$divfloor", 9, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\c"}),
    ("y_modfloor_s", "$modfloor", 4, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\c"}),
    ("y_logic_and", "$logic_and", 2, {"A_SIGNED": 0, "B_SIGNED": 0}, {"A": r"\a", "B": r"\c"}),
    ("y_logic_or", "$logic_or", 1, {"A_SIGNED": 0, "B_SIGNED": 0},
     {"A": r"\a [1:0]", "B": r"\c"}),
    ("y_reduce_xnor", "$reduce_xnor", 1, {"A_SIGNED": 0}, {"A": r"\a"}),
    ("y_xnor", "$xnor", 9, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\b"}),
    ("y_eqx", "$eqx", 1, {"A_SIGNED": 0, "B_SIGNED": 0}, {"A": r"\a [4:0]", "B": r"\b"}),
    ("y_nex", "$nex", 1, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\b"}),
    ("y_pos", "$pos", 8, {"A_SIGNED": 1}, {"A": r"\b"}),
    ("y_mul_trunc", "$mul", 7, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\b"}),
    ("y_sub_wide", "$sub", 10, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\c", "B": r"\b"}),
    ("y_lt_s", "$lt", 1, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": r"\b"}),
    ("y_neg_s", "$neg", 9, {"A_SIGNED": 1}, {"A": r"\a"}),
    ("y_not_s", "$not", 10, {"A_SIGNED": 1}, {"A": r"\b"}),
]


def _rtlil_module(name):
    def width_of(text):
        match = re.fullmatch(r"\\(\w+)(?: \[(\d+):(\d+)\])?", text)
        if match.group(2) is None:
            return _RTLIL_INPUTS[match.group(1)]
        return int(match.group(2)) - int(match.group(3)) + 1

    lines = [f"module \\{name}"]
    port = 0
    for inp, width in _RTLIL_INPUTS.items():
        port += 1
        lines.append(f"  wire width {width} input {port} \\{inp}")
    for out, _, width, _, _ in _RTLIL_CELLS:
        port += 1
        lines.append(f"  wire width {width} output {port} \\{out}")
    for out, cell_type, width, params, conns in _RTLIL_CELLS:
        params = dict(params)
        for port_name in ("A", "B"):
            if port_name in conns and f"{port_name}_SIGNED" in params:
                params[f"{port_name}_WIDTH"] = width_of(conns[port_name])
        if "A_SIGNED" in params or cell_type == "$slice":
            params["Y_WIDTH"] = width
        lines.append(f"  cell {cell_type} ${out}")
        lines += [f"    parameter \\{key} {value}" for key, value in params.items()]
        lines += [f"    connect \\{key} {value}" for key, value in conns.items()]
        lines += [f"    connect \\Y \\{out}", "  end"]
    lines.append("end")
    return "\n".join(lines) + "\n"


def _yosys_eval(rtlil_text, name, names, values):
    """Each output of each input vector as Yosys's ``eval`` gives it: bit strings, MSB first,
    with ``x`` where Yosys leaves the result undefined."""
    widths = dict(_RTLIL_INPUTS)
    shows = " ".join(f"-show {out}" for out, *_ in _RTLIL_CELLS)
    commands = ["read_rtlil design.il"]
    for row in values:
        sets = " ".join(f"-set {n} {widths[n]}'b{int(v):0{widths[n]}b}"
                        for n, v in zip(names, row))
        commands.append(f"tee -q -a eval.txt eval {sets} {shows} {name}")
    text = run_yosys(commands, {"design.il": rtlil_text}, ["eval.txt"])["eval.txt"]
    results = re.findall(r"Eval result: \\(\w+) = \d+'([01x]+)\.", text)
    outputs = [out for out, *_ in _RTLIL_CELLS]
    assert len(results) == len(values) * len(outputs)
    return [dict(results[k * len(outputs):(k + 1) * len(outputs)]) for k in range(len(values))]


@needs_ghdl
def test_yosys_only_cells(tmp_path):
    """Cells that only Yosys's own passes create, in GHDL against Yosys's ``eval``."""
    text = _rtlil_module("yosys_cells")
    rng = np.random.default_rng(3)
    names = list(_RTLIL_INPUTS)
    rows = []
    for k in range(48):
        row = [int(rng.integers(0, 1 << _RTLIL_INPUTS[n])) for n in names[:3]]
        small = int(rng.integers(-20, 21)) % (1 << 40)
        row.append(small if k % 3 else int(rng.integers(0, 1 << 40)))
        rows.append(row)
    rows += [[0x80, 0x10, 0, 5], [0x7F, 0, 7, (1 << 40) - 1], [0xFF, 0x1F, 4, 1 << 39]]
    values = np.array(rows, dtype=np.uint64)
    expected = _yosys_eval(text, "yosys_cells", names, values)
    vhdl_text = convert_rtlil(text, name="yosys_cells", optimize=False)
    outputs = [out for out, *_ in _RTLIL_CELLS]
    got = ghdl_replay(vhdl_text, "yosys_cells", names, values, outputs, tmp_path, clock="")
    bad = []
    for k, want in enumerate(expected):
        for j, out in enumerate(outputs):
            bits = want[out]
            value = f"{int(got[k, j]):0{len(bits)}b}"
            if any(w != "x" and w != v for w, v in zip(bits, value)):
                bad.append(f"{out} at {dict(zip(names, rows[k]))}: Yosys {bits}, GHDL {value}")
    assert not bad, "\n".join(bad[:10])
