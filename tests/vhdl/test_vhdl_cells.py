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
from amaranth.back import rtlil
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

from helpers.networks import random_case
from vhdl_designs import DESIGNS, Bundle, ResetRead


HERE = Path(__file__).resolve().parent



def needs_ghdl(test):
    """A test that runs GHDL: marked ``ghdl`` (``make test-fast`` leaves it out) and skipped
    where GHDL is not installed."""
    skip = pytest.mark.skipif(find_ghdl() is None,
                              reason="GHDL not installed (Debian: apt-get install ghdl)")
    return pytest.mark.ghdl(skip(test))


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


def _ghdl(*args, cwd):
    return subprocess.run(["ghdl", *args], cwd=cwd, capture_output=True, text=True)


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
    # the same text is VHDL-93 as well
    (tmp_path / "v93").mkdir()
    result = _ghdl("-a", "--std=93", str(tmp_path / "cells.vhd"), cwd=tmp_path / "v93")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_ghdl
def test_read_ports_with_resets(tmp_path):
    """Registers that Yosys's ``memory_dff`` merges into read ports: a synchronous reset
    before the enable, one under the enable, an asynchronous reset."""
    bundle = Bundle({"rr": ResetRead()})
    names, values = random_stimulus(bundle, 300, seed=11)
    outputs, expected = amaranth_replay(Bundle({"rr": ResetRead()}), names, values)
    script = ["read_rtlil design.il", "hierarchy -top rr", "proc", "flatten", "opt",
              "memory_dff", "memory_collect", "opt_clean -purge", "write_json netlist.json"]
    rtlil_text = rtlil.convert(bundle, name="rr", emit_src=False)
    data = json.loads(run_yosys(script, {"design.il": rtlil_text}, ["netlist.json"])
                      ["netlist.json"])
    (memory,) = [cell for cell in data["modules"]["rr"]["cells"].values()
                 if cell["type"] == "$mem_v2"]
    assert memory["parameters"]["RD_CE_OVER_SRST"] == "010"
    assert memory["parameters"]["RD_CLK_ENABLE"] == "111"
    for port in ("RD_ARST", "RD_SRST"):
        assert any(not isinstance(bit, str) for bit in memory["connections"][port])
    got = ghdl_replay(convert_netlist(data, name="rr"), "rr", names, values, outputs, tmp_path)
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
#: than an integer, out-of-range part selects, signed and unsigned operands, results narrower
#: or wider than the operands.
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
    ("y_mul_const", "$mul", 7, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": "5'10011"}),
    ("y_mul_const_u", "$mul", 7, {"A_SIGNED": 0, "B_SIGNED": 0}, {"A": r"\a", "B": "5'10011"}),
    ("y_mul_const_full", "$mul", 13, {"A_SIGNED": 1, "B_SIGNED": 1},
     {"A": r"\a", "B": "5'10011"}),
    ("y_mul_consts", "$mul", 6, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": "3'101", "B": "3'111"}),
    ("y_add_neg", "$add", 9, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\a", "B": "4'1101"}),
    ("y_sub_neg", "$sub", 6, {"A_SIGNED": 1, "B_SIGNED": 1}, {"A": r"\b", "B": "6'100000"}),
]


def _rtlil_module(name):
    def width_of(text):
        if "'" in text:
            return int(text.split("'")[0])
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


# -- whole accelerators -------------------------------------------------------------------------

@needs_ghdl
@pytest.mark.parametrize("std", ["08", "93"])
def test_accelerator_analyses_elaborates_and_synthesizes(tmp_path, std):
    """A random accelerator's VHDL: GHDL analyses and elaborates it without a single message,
    and (VHDL-2008) its synthesis front end accepts it."""
    qnet, _ = random_case(102)
    (tmp_path / f"{TOP_NAME}.vhd").write_text(vhdl(FlatTop(accelerator(qnet)), name=TOP_NAME,
                                                   std=std))
    for args in (["-a", f"--std={std}", f"{TOP_NAME}.vhd"], ["-e", f"--std={std}", TOP_NAME]):
        result = _ghdl(*args, cwd=tmp_path)
        assert (result.returncode, result.stdout + result.stderr) == (0, "")
    if std == "08":
        result = _ghdl("--synth", "--std=08", TOP_NAME, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "error" not in result.stderr.lower()
        assert f"entity {TOP_NAME} is" in result.stdout


@needs_ghdl
@pytest.mark.parametrize("seed, optimize", [(101, True), (104, False)])
def test_accelerator_regression_on_ghdl(tmp_path, seed, optimize):
    """``accelerator_tb`` (the Verilator regression's testbench) on GHDL: spike for spike
    equal to the reference model, with and without Yosys's optimisations."""
    qnet, spikes = random_case(seed)
    source = tmp_path / f"{TOP_NAME}.vhd"
    source.write_text(convert(FlatTop(accelerator(qnet)), name=TOP_NAME, optimize=optimize))
    stimulus, ref = stimulus_for(qnet, spikes)
    result = run_accelerator_ghdl([source], TOP_NAME, tmp_path / "sim", stimulus,
                                  ports=top_ports(qnet))
    np.testing.assert_array_equal(result["spikes"], ref.spikes)
    np.testing.assert_array_equal(result["cls"], ref.predicted)
    np.testing.assert_array_equal(result["counts"], ref.counts)
    assert (result["cycles"] > spikes.shape[1]).all()


def test_block_ram_stays_an_array():
    """The weight ROM is an array signal read in a clocked process, with its ``ram_style``."""
    qnet, _ = random_case(103)
    top = accelerator(qnet)
    style = top.layers[0].weights.attrs["ram_style"]       # "logic" for a memory this small
    text = vhdl(FlatTop(top), name=TOP_NAME)
    assert re.search(r"type core_layer0_weights_type is array \(0 to \d+\) of "
                     r"std_logic_vector", text)
    assert f'attribute ram_style of core_layer0_weights : signal is "{style}";' in text
    assert re.search(r"if rising_edge\(clk\) then\n(.*\n)*? +\S+ <= core_layer0_weights\(", text)


# -- errors, names, determinism --------------------------------------------------------------

class _Printing(wiring.Component):
    a: In(4)
    y: Out(4)

    def elaborate(self, platform):
        from amaranth.hdl import Module
        m = Module()
        m.d.comb += [self.y.eq(self.a), Print("a =", self.a)]
        return m


def test_unsupported_cell_is_an_error():
    with pytest.raises(VHDLError, match=r"of type \$print is not supported"):
        convert(_Printing(), name="printing")
    netlist = {"modules": {"m": {"ports": {}, "netnames": {}, "cells": {
        "$pow$1": {"hide_name": 1, "type": "$pow", "parameters": {}, "attributes": {},
                   "port_directions": {"A": "input", "B": "input", "Y": "output"},
                   "connections": {"A": ["1"], "B": ["1"], "Y": [2]}}}}}}
    with pytest.raises(VHDLError, match=r"Cell '\$pow\$1' of type \$pow is not supported"):
        convert_netlist(netlist, name="m")
    assert "$pow" not in supported_cells() and "$mem_v2" in supported_cells()


def test_bad_arguments():
    with pytest.raises(ValueError, match="VHDL standard must be one of 08, 93, not '2019'"):
        vhdl(_Printing(), name="x", std="2019")
    with pytest.raises(VHDLError, match="Entity name 'signal' is not a legal VHDL identifier"):
        convert_netlist({"modules": {"signal": {}}}, name="signal")


def test_legalize():
    assert legalize("core.layer0.$mux$12") == "core_layer0_mux_12"
    assert legalize("a__b") == "a_b"
    assert legalize("_x_") == "x"
    assert legalize("3rd") == "n_3rd"
    assert legalize("signal") == "signal_r"
    assert legalize("Unsigned") == "Unsigned_r"         # would hide numeric_std's type
    assert legalize("x[3]") == "x_3"
    assert legalize("$") == "n"
    for name in ("core_layer0_mux_12", "a_b", "n_3rd", "signal_r", "x_3"):
        assert is_legal(name)
    for name in ("a__b", "_a", "a_", "1a", "in", "a$b", "std_logic"):
        assert not is_legal(name)


def test_namer_resolves_case_insensitive_clashes_in_order():
    namer = Namer(taken=["top"])
    assert [namer.claim(n) for n in ("Data", "data", "DATA", "data_2", "TOP", "a.b", "a_b")] \
        == ["Data", "data_2", "DATA_3", "data_2_2", "TOP_2", "a_b", "a_b_2"]


class _BadNames(wiring.Component):
    """Signal names that are not VHDL: reserved words, case clashes, ``$``, brackets."""
    a: In(4)
    y: Out(12)

    def elaborate(self, platform):
        from amaranth.hdl import Cat, Module, Signal
        m = Module()
        names = ["signal", "Data", "data", "x$y", "v[2]", "__init__", "out", "Y"]
        regs = [Signal(4, name=name) for name in names]
        for k, reg in enumerate(regs):
            m.d.sync += reg.eq(self.a + k)
        m.d.comb += self.y.eq(Cat(regs[0] ^ regs[1] ^ regs[2], regs[3] & regs[4],
                                  regs[5] | regs[6] | regs[7]))
        return m


@needs_ghdl
def test_illegal_names_become_legal_identifiers(tmp_path):
    text = convert(_BadNames(), name="bad_names", optimize=False)
    declared = re.findall(r"^  signal (\w+) :", text, flags=re.M)
    assert {"signal_r", "Data", "data_2", "x_y", "v_2", "init", "out_r", "Y_2"} <= set(declared)
    assert all(is_legal(name) for name in declared)
    assert len({name.lower() for name in declared}) == len(declared)
    assert "$" not in text and "__" not in text
    (tmp_path / "bad_names.vhd").write_text(text)
    result = _ghdl("-a", "--std=08", "bad_names.vhd", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_stream_ports_get_flat_names():
    """Amaranth's ``a__b`` port names (illegal in VHDL) become FlatTop's ``a_b``."""
    from amaranth.hdl import Module
    from amaranth.lib import stream

    class Passthrough(wiring.Component):
        i: In(stream.Signature(4))
        o: Out(stream.Signature(4))

        def elaborate(self, platform):
            m = Module()
            wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
            return m

    text = convert(Passthrough(), name="passthrough")
    ports = re.findall(r"^    (\w+) : (in|out) ", text, flags=re.M)
    assert sorted(ports) == [("i_payload", "in"), ("i_ready", "out"), ("i_valid", "in"),
                             ("o_payload", "out"), ("o_ready", "in"), ("o_valid", "out")]


def test_output_is_deterministic():
    qnet, _ = random_case(105)
    first = vhdl(FlatTop(accelerator(qnet)), name=TOP_NAME)
    second = vhdl(FlatTop(accelerator(qnet)), name=TOP_NAME)
    assert first == second
    bundle = Bundle({name: cls() for name, cls in DESIGNS.items()})
    assert convert(bundle, name="cells") == convert(bundle, name="cells")
