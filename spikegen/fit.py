"""Will the accelerator fit the board? Block RAM, logic and pins, estimated before synthesis.

:func:`estimate` lists the memories of an accelerator behind its host link and counts the
block RAMs they take in a family's own units (iCE40 EBR of 4 kbit, ECP5 DP16KD of 18 kbit,
7-series RAMB36), and estimates the logic from the datapath, lane by lane
(:func:`core_logic`, in 7-series LUT6; other families scale it)::

    per lane   2·membrane bits + 2        a fully parallel lane whose end-of-step update is
                                          a lookup table (membrane of at most 8 bits)
               5·membrane bits + 2        otherwise (arithmetic leak, reset and saturation)
             + 1.35·membrane bits·(k − 1)  a leak by a constant multiply of k signed digits
             + 3·current bits             a current-based (CubaLIF) lane
             + weight bits + 1            the pair adder of two events per cycle
             + 3·accumulator bits + 40    a first layer fed pixel values (multiply-accumulate)
             + 4·accumulator + state bits a convolution's max pooling of currents
    per layer  1.8·P + 60                 spike serializer, pipeline control, FIFOs
             + weight bits / 16           a weight ROM small enough to be logic
    per design 200 (core: readout, input) + 280 (rate coder)

in 7-series LUT6, calibrated on Yosys ``synth_xilinx`` runs (``benchmarks/estimate_vs_yosys.py``:
digits and MNIST networks, lanes from 2 to 128, within 15 %). A board's part adds its host
link and UART, and other families scale the core: ECP5 LUT4 = 2.0 × core + 1,000, iCE40
logic cells (carry- and flip-flop-only cells included) = 1.8 × core + 1,700, 7-series =
core + 700, fitted to nextpnr's placed designs (within 15 % on the digits networks; 14 %
low on a 784-128-10 network at P = 16 on ECP5). Memories too
shallow for block RAM take flip-flops (iCE40) or LUT RAM (ECP5, 7-series), as Yosys maps
them; the block RAM count is exact on the runs checked. :func:`check_fit` refuses a design
whose estimate exceeds the part, and says what would fit.

The memories are the hardware plan's (:mod:`spikegen.plan`; for a dense layer
:meth:`rtl_lib.fc_plan.FCPlan.memories`), the same object the components are built from: a
layer of ``N`` neurons in ``P`` lanes has ``G = ⌈N/P⌉`` groups; its weight ROM holds ``rows · G`` words of ``P`` weights, with
``rows`` = inputs, plus outputs in a recurrent layer (its own spikes of the previous step are
events too); its state, one word of ``P`` lanes per group, holds per lane the membrane and
the reset flag (LIF), the membrane and the synaptic current (CubaLIF), or the membrane and an
input accumulator (a first layer fed pixel values). A fully parallel layer (``G`` = 1) keeps
its state in flip-flops and its biases as constants. Per-neuron parameters on shared lanes
(LIF) are read from a parameter ROM of ``G`` words, and each lane leaks with a multiplier. A
weight ROM of fewer than ``DISTRIBUTED_BITS`` bits asks for LUTs, not block RAM. With two events per cycle (``-E 2``) a
layer reads its weight ROM through two ports: the same block RAMs on ECP5 and 7-series (true
dual port), twice as many on iCE40, whose block RAM has one read port.
"""
import math
from dataclasses import replace

from rtl_lib.fc_plan import DISTRIBUTED_BITS
from rtl_lib.fixed_point import csd_digits
from rtl_lib.memory_plan import MemoryPlan

from .errors import SpikegenError
from .plan import NetworkPlan, plan_network
from .registry import Registry


__all__ = ["estimate", "core_logic", "check_fit", "fastest_fit", "fits", "memories",
           "block_rams", "memory_blocks", "MemoryPlan", "LOGIC", "AUTO_HEADROOM"]


# Block RAM aspect ratios (depth, width) per family, and the unit they are counted in.
_BRAM_SHAPES = {
    "ice40": ((256, 16), (512, 8), (1024, 4), (2048, 2)),
    "ecp5": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
    # RAMB18 shapes; two make a RAMB36
    "xc7": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
}
_BRAM_PER_UNIT = {"ice40": 1, "ecp5": 1, "xc7": 2}
# Widest port of a block RAM in true dual port mode: read through two ports, a ROM cannot use
# the 36-bit single-port shapes (Yosys 0.70: a 1,500 x 64 ROM takes 3 RAMB36 / 6 DP16KD with
# one read port, 4 RAMB36 / 8 DP16KD with two).
_TRUE_DUAL_PORT_WIDTH = {"ecp5": 18, "xc7": 18}
# Read ports a block RAM serves alongside its write port (iCE40's SB_RAM40_4K is one read and
# one write port; a memory read through more ports is duplicated, checked with Yosys 0.70).
_BRAM_READ_PORTS = {"ice40": 1, "ecp5": 2, "xc7": 2}
# A memory with a write port or a FIFO of at least this depth goes to block RAM; shallower
# ones take flip-flops (iCE40) or LUT RAM (ECP5, 7-series). Small read-only memories (the
# biases) become logic, and FIFOs with an asynchronous read (the spike words) flip-flops.
_MIN_BRAM_DEPTH = {"ice40": 5, "ecp5": 65, "xc7": 65}
_MIN_ROM_DEPTH = 256

# Logic per family, relative to 7-series LUT6 (fitted to Yosys 0.70 runs; iCE40 counts logic
# cells after nextpnr's packing), and the fixed parts of the design.
_LUT_SCALE = {"xc7": 1.0, "ecp5": 2.0, "ice40": 1.8}
# The host link and UART in each family's own units (LUT6, LUT4, logic cells)
_HOST_LUTS = {"xc7": 700, "ecp5": 1000, "ice40": 1700}
_CORE_LUTS, _RATE_CODER_LUTS = 200, 280
# 7-series LUTs per membrane bit and per extra signed digit of a constant-multiply leak
_MULTIPLY_LEAK_LUTS = 1.35
# Flip-flops: the fixed parts (readout, control; host link and UART).
_CORE_FFS, _HOST_FFS = 200, 450


def _planned(design):
    """A :class:`~spikegen.plan.NetworkPlan`, planned from a quantized network if given
    one."""
    return design if isinstance(design, NetworkPlan) else plan_network(design)


def memories(design, *, rx_fifo_depth, weight_bits=None):
    """The memories of an accelerator behind a host link with a receive buffer of
    ``rx_fifo_depth`` bytes: a list of :class:`MemoryPlan` ``(name, depth, width, kind,
    read_ports)``. ``design`` is a :class:`~spikegen.plan.NetworkPlan` (or a quantized
    network, planned here); ``weight_bits``, if given, replaces the layers' weight widths
    (to see what fewer bits would take)."""
    plan = _planned(design)
    if weight_bits is not None:
        plan = plan.with_weight_bits(weight_bits)
    return list(plan.memories()) + [MemoryPlan("rx_fifo", rx_fifo_depth - 1, 9, "ram")]


def block_rams(depth, width, family, read_ports=1):
    """Block RAMs of ``family`` (in its units) that hold ``depth`` words of ``width`` bits,
    read through ``read_ports`` ports at once."""
    if family not in _BRAM_SHAPES:
        raise ValueError(f"Unknown FPGA family {family!r}")
    shapes = _BRAM_SHAPES[family]
    if read_ports > 1 and family in _TRUE_DUAL_PORT_WIDTH:
        # two read ports make it true dual port, whose ports are at most 18 bits wide
        shapes = tuple((d, w) for d, w in shapes if w <= _TRUE_DUAL_PORT_WIDTH[family])
    blocks = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in shapes)
    copies = math.ceil(read_ports / _BRAM_READ_PORTS[family])
    return copies * blocks / _BRAM_PER_UNIT[family]


LOGIC = Registry("logic model")


def _dense_logic(plan):
    """``(luts, ffs)`` of one dense layer (see the module docstring)."""
    mb, wb = plan.params.mem_bits, plan.weight_bits
    lane = 2 * mb + 2 if plan.tabulated else 5 * mb + 2
    decay = plan.params.decay
    if not plan.tabulated and plan.uniform and decay and decay & (decay - 1):
        # beta = 1 - decay/2^k with decay no power of two: shifts and adds, one per digit
        lane += _MULTIPLY_LEAK_LUTS * mb * (len(csd_digits(decay)) - 1)
    if plan.cuba:
        lane += 3 * plan.params.syn_bits
    if plan.variable_params:
        lane += mb * (plan.params.decay_bits + 1) // 2 + mb    # multiplier, comparator
    if plan.events > 1:
        lane += wb + 1
    if plan.direct:
        lane += 3 * (plan.lane_state_bits - mb) + 40
    luts = plan.lanes * lane + 1.8 * plan.lanes + 60
    weight_bits = plan.weight_depth * plan.weight_width
    if weight_bits < DISTRIBUTED_BITS:
        luts += weight_bits / 16
    ffs = (plan.lanes * plan.lane_state_bits if plan.state_in_registers else 0) \
        + plan.events * plan.weight_width + 100
    return luts, ffs


LOGIC.register("dense")(_dense_logic)


# a convolution's event decoder, tap sequencer and address adders (7-series LUT6, FFs)
_CONV_SEQUENCER_LUTS, _CONV_SEQUENCER_FFS = 150, 120


def _current_pool_logic(plan):
    """``(luts, ffs)`` a max pooling of currents adds per lane: the comparison with the
    window's largest current, the saturating add that joins it to the state and their
    multiplexers (about 4·accumulator + state bits of LUTs), and the registers of the
    largest current and of the state along the pass (accumulator + 4·state bits); Yosys
    ``synth_xilinx`` counts 652 LUT and 623 FF more for a 12C5 layer on 28 × 28 with 12
    lanes (``benchmarks/component_resources.py``), this 612 and 648."""
    ab, sw = plan.params.acc_bits, plan.lane_state_bits
    return plan.lanes * (4 * ab + sw), plan.lanes * (ab + 4 * sw)


@LOGIC.register("conv2d")
def _conv_logic(plan):
    """``(luts, ffs)`` of one convolution: the lanes, serializer and weight ROM as in a dense
    layer, plus the event decoder and tap sequencer, its tap tables (logic ROMs) and the OR
    of a max pooling's window, and a max pooling of currents."""
    luts, ffs = _dense_logic(plan)
    tables = sum(m.depth * m.width for m in plan.memories()
                 if m.kind == "lut" and not m.name.endswith("weights"))
    luts += _CONV_SEQUENCER_LUTS + tables / 32 + (plan.lanes if plan.geometry.out_pool > 1
                                                   else 0)
    ffs += _CONV_SEQUENCER_FFS
    if plan.pooled_currents:
        pool_luts, pool_ffs = _current_pool_logic(plan)
        luts, ffs = luts + pool_luts, ffs + pool_ffs
    return luts, ffs


def core_logic(design, *, host_link=True):
    """Estimated logic of an accelerator in 7-series LUT6 and flip-flops: ``(luts, ffs)``,
    lane by lane (see the module docstring), from its :class:`~spikegen.plan.NetworkPlan`
    (or a quantized network, planned here); with ``host_link``, the board's UART link
    too."""
    plan = _planned(design)
    luts = _CORE_LUTS + (_HOST_LUTS["xc7"] if host_link else 0) + \
        (_RATE_CODER_LUTS if plan.coding.kind == "rate" else 0)
    ffs = _CORE_FFS + (_HOST_FFS if host_link else 0)
    for kind, layer in zip(plan.kinds, plan.layers):
        layer_luts, layer_ffs = LOGIC.get(kind)(layer)
        luts += layer_luts
        ffs += layer_ffs
    return round(luts), round(ffs)


def memory_blocks(memory, family):
    """Block RAMs of ``family`` (in its units) a :class:`MemoryPlan` takes: none for one
    that Yosys maps to logic (see the module docstring)."""
    kind, depth = memory.kind, memory.depth
    in_bram = (kind == "block" or (kind == "ram" and depth >= _MIN_BRAM_DEPTH[family])
               or (kind == "rom" and depth >= _MIN_ROM_DEPTH))
    return block_rams(depth, memory.width, family, memory.read_ports) if in_bram else 0


def estimate(design, family, *, rx_fifo_depth, pins=0, weight_bits=None):
    """Resources of an accelerator behind a host link, in ``family``'s units; ``design`` is
    its :class:`~spikegen.plan.NetworkPlan` (or a quantized network, planned here).

    Returns
    -------
    dict
        ``family``, ``luts``, ``ffs``, ``bram`` (block RAM units, fractional for RAMB36),
        ``ios`` (``pins``), and ``memories`` (each a :class:`MemoryPlan` as a dict, with its
        ``blocks``). ``weight_bits``, if given, replaces the layers' weight widths in the
        block RAM count.
    """
    if family not in _BRAM_SHAPES:
        raise ValueError(f"Unknown FPGA family {family!r}")
    design = _planned(design)
    rows, bram = [], 0.0
    for plan in memories(design, rx_fifo_depth=rx_fifo_depth, weight_bits=weight_bits):
        blocks = memory_blocks(plan, family)
        bram += blocks
        rows.append({"name": plan.name, "depth": plan.depth, "width": plan.width,
                     "kind": plan.kind, "read_ports": plan.read_ports, "blocks": blocks})
    luts, ffs = core_logic(design)
    luts = (luts - _HOST_LUTS["xc7"]) * _LUT_SCALE[family] + _HOST_LUTS[family]
    return {"family": family, "luts": round(luts), "ffs": round(ffs), "bram": bram,
            "ios": pins, "memories": rows}


def _with_parallelism(qnet, parallelism, events_per_cycle=None):
    hardware = replace(qnet.hardware, parallelism=parallelism)
    if events_per_cycle is not None:
        hardware = replace(hardware, events_per_cycle=events_per_cycle)
    return plan_network(replace(qnet, hardware=hardware))


def fits(plan, board):
    """Whether the estimate of ``plan`` (a :class:`~spikegen.plan.NetworkPlan`) fits
    ``board``'s part."""
    try:
        board.check_fit(estimate(plan, board.capacity.family, rx_fifo_depth=board.rx_fifo_depth,
                                 pins=board.pins or 0))
    except ValueError:
        return False
    return True


def _first_fit(qnet, plan, board):
    """The least change that the estimate says fits ``board``: ``(parallelism, weight_bits)``
    with ``None`` for what stays, or ``None`` when nothing does. Fewer lanes come first (the
    arithmetic stays exact), the most lanes that fit; then fewer weight bits as well."""
    widest = max(plan_layer.outputs for plan_layer in plan.layers)
    current = qnet.hardware.parallelism or widest
    lanes = [p for p in sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, widest}, reverse=True)
             if p < current]
    bits_now = max(plan_layer.weight_bits for plan_layer in plan.layers)
    planned = {None: plan}
    for bits in range(bits_now, 1, -1):
        for p in [None] + lanes:
            if p not in planned:
                planned[p] = _with_parallelism(qnet, p)
            variant = planned[p] if bits == bits_now else planned[p].with_weight_bits(bits)
            if (p, bits) != (None, bits_now) and fits(variant, board):
                return p, None if bits == bits_now else bits
    return None


def _change(found):
    p, bits = found
    return " ".join(part for part in (f"`parallelism` {p}" if p is not None else "",
                                      f"`weight_bits` {bits}" if bits is not None else "")
                    if part)


def check_fit(qnet, board, plan=None):
    """Refuse, before synthesis, an accelerator that does not fit ``board``'s part
    (``plan``: ``qnet``'s :class:`~spikegen.plan.NetworkPlan`, planned here unless given).

    Returns
    -------
    dict
        The estimate, with ``shares`` (each resource's share of the part).

    Raises
    ------
    SpikegenError
        Saying which resources do not fit and by how much, and what would, each checked by
        the same estimate: the most lanes (``parallelism``) that fit, with fewer weight bits
        if lanes alone are not enough; the boards with a bigger part, and what they need.
    """
    family = board.capacity.family
    plan = plan_network(qnet) if plan is None else plan
    found = estimate(plan, family, rx_fifo_depth=board.rx_fifo_depth, pins=board.pins or 0)
    try:
        found["shares"] = board.check_fit(found)
        return found
    except ValueError as exc:
        problem = str(exc)
    advice = []
    here = _first_fit(qnet, plan, board)
    if here is not None:
        advice.append(f"{_change(here)} (estimated to fit)")
    from .boards import BOARDS

    bigger = []
    for other in BOARDS.values():
        if other.name == board.name or other.capacity.family is None:
            continue
        target = other()
        if fits(plan, target):
            bigger.append(other.name)
        elif here is None:
            there = _first_fit(qnet, plan, target)
            if there is not None:
                bigger.append(f"{other.name} with {_change(there)}")
    if bigger:
        advice.append(f"{'or ' if advice else ''}a bigger part ({', '.join(sorted(bigger))})")
    if not advice:
        advice.append("a smaller network: no board fits it even with `parallelism` 1 and "
                      "2-bit weights")
    raise SpikegenError(f"{problem} (estimated before synthesis); try "
                        f"{', '.join(advice)}")


#: The largest share of any of a part's resources ``-P auto`` fills: the logic estimate is
#: within about 15 % of what nextpnr places, and a nearly full part may not route.
AUTO_HEADROOM = 0.85


def _candidates(qnet, events):
    """``(parallelism, events per cycle)`` pairs, fastest first: a step's cycles grow with
    the groups ``ceil(N/P)`` of the slowest layer over the events it takes per cycle."""
    widest = max(layer.outputs for layer in qnet.layers)
    lanes = sorted({p for p in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if p < widest}
                   | {0})
    pairs = [(p, e) for p in lanes for e in events]

    def cost(pair):
        p, e = pair
        groups = max(-(-layer.outputs // p) if p else 1 for layer in qnet.layers)
        return (groups / e, e, -p)       # then the cheaper: one event per cycle, fewer lanes
    return sorted(pairs, key=cost)


def fastest_fit(qnet, board, *, events=(2, 1)):
    """``-P auto``: the fastest ``(parallelism, events_per_cycle)`` whose estimate fits
    ``board`` with :data:`AUTO_HEADROOM` (else without it), trying ``events`` per cycle.

    Returns
    -------
    (qnet, plan, why)
        ``qnet`` with that hardware, its plan, and a sentence saying what was chosen and why.

    Raises
    ------
    SpikegenError
        As :func:`check_fit` when nothing fits, even with one lane.
    """
    family = board.capacity.family
    first_problem = None
    for headroom in (AUTO_HEADROOM, 1.0):
        for p, e in _candidates(qnet, events):
            plan = _with_parallelism(qnet, p, e)
            found = estimate(plan, family, rx_fifo_depth=board.rx_fifo_depth,
                             pins=board.pins or 0)
            try:
                shares = board.check_fit(found)
            except ValueError as exc:
                first_problem = first_problem or (p, e, str(exc))
                continue
            if max(shares.values(), default=0) > headroom:
                first_problem = first_problem or (
                    p, e, f"{max(shares.values()):.0%} of the part, over the "
                          f"{AUTO_HEADROOM:.0%} left for routing")
                continue
            hardware = replace(qnet.hardware, parallelism=p, events_per_cycle=e)
            chosen = replace(qnet, hardware=hardware)
            lanes = "every neuron its own lane" if p == 0 else f"{p} lanes per layer"
            why = (f"-P auto: {lanes}, {e} input event{'s' if e > 1 else ''} per cycle, the "
                   f"fastest estimated to fit the {board.name}")
            if first_problem is not None and (first_problem[0], first_problem[1]) != (p, e):
                fp, fe, problem = first_problem
                faster = "every neuron its own lane" if fp == 0 else f"{fp} lanes"
                why += (f"; {faster} with {fe} event{'s' if fe > 1 else ''} per cycle would "
                        f"need {problem.split(': it needs ', 1)[-1]}")
            return chosen, plan, why
    check_fit(qnet, board)          # nothing fits: raises, saying what would
    raise AssertionError("check_fit accepted a design no parallelism fits")
