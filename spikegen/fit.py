"""Will the accelerator fit the board? Block RAM, logic and pins, estimated before synthesis.

:func:`estimate` lists the memories of an accelerator behind its host link and counts the
block RAMs they take in a family's own units (iCE40 EBR of 4 kbit, ECP5 DP16KD of 18 kbit,
7-series RAMB36), and estimates the logic from the datapath, lane by lane
(:func:`core_logic`, in 7-series LUT6; other families scale it)::

    per lane   2·membrane bits + 2        a fully parallel lane whose end-of-step update is
                                          a lookup table (membrane of at most 8 bits)
               5·membrane bits + 2        otherwise (arithmetic leak, reset and saturation)
             + 3·current bits             a current-based (CubaLIF) lane
             + weight bits + 1            the pair adder of two events per cycle
             + 3·accumulator bits + 40    a first layer fed pixel values (multiply-accumulate)
    per layer  1.8·P + 60                 spike serializer, pipeline control, FIFOs
             + weight bits / 16           a weight ROM small enough to be logic
    per design 200 (core: readout, input) + 700 (host link, UART) + 280 (rate coder)

calibrated on Yosys ``synth_xilinx`` runs of the MNIST accelerator (784-128-10, within 7 %)
and the digits network; an ECP5 LUT4 count is about 1.55 times, an iCE40 logic-cell count
(carry- and flip-flop-only cells included) about 1.8 times the 7-series LUTs. Memories too
shallow for block RAM take flip-flops (iCE40) or LUT RAM (ECP5, 7-series), as Yosys maps
them; the block RAM count is exact on the runs checked. :func:`check_fit` refuses a design
whose estimate exceeds the part, and says what would fit.

The memories follow :class:`rtl_lib.fc_layer.FCLayer`: a layer of ``N`` neurons in ``P`` lanes
has ``G = ⌈N/P⌉`` groups; its weight ROM holds ``rows · G`` words of ``P`` weights, with
``rows`` = inputs, plus outputs in a recurrent layer (its own spikes of the previous step are
events too); its state, one word of ``P`` lanes per group, holds per lane the membrane and
the reset flag (LIF), the membrane and the synaptic current (CubaLIF), or the membrane and an
input accumulator (a first layer fed pixel values). A fully parallel layer (``G`` = 1) keeps
its state in flip-flops and its biases as constants. Per-neuron parameters on shared lanes
(LIF) are read from a parameter ROM of ``G`` words, and each lane leaks with a multiplier. A weight ROM of fewer than
``DISTRIBUTED_BITS`` bits asks for LUTs, not block RAM. With two events per cycle (``-E 2``) a
layer reads its weight ROM through two ports: the same block RAMs on ECP5 and 7-series (true
dual port), twice as many on iCE40, whose block RAM has one read port.
"""
import math
from collections import namedtuple

from rtl_lib.event import EventGroupLayout, EventLayout
from rtl_lib.fc_layer import DISTRIBUTED_BITS
from rtl_lib.link_format import index_width as _index_width
from rtl_lib.spike_serializer import SpikeWordLayout

from .errors import SpikegenError


__all__ = ["estimate", "core_logic", "check_fit", "memories", "block_rams", "MemoryPlan"]


# Block RAM aspect ratios (depth, width) per family, and the unit they are counted in.
_BRAM_SHAPES = {
    "ice40": ((256, 16), (512, 8), (1024, 4), (2048, 2)),
    "ecp5": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
    # RAMB18 shapes; two make a RAMB36
    "xc7": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
}
_BRAM_PER_UNIT = {"ice40": 1, "ecp5": 1, "xc7": 2}
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
_LUT_SCALE = {"xc7": 1.0, "ecp5": 1.55, "ice40": 1.8}
_CORE_LUTS, _HOST_LUTS, _RATE_CODER_LUTS = 200, 700, 280
# Flip-flops: the fixed parts (readout, control; host link and UART).
_CORE_FFS, _HOST_FFS = 200, 450


#: One memory of the accelerator: ``kind`` is ``"block"`` (asks for block RAM: the weights),
#: ``"lut"`` (asks for LUTs: weights of fewer than :data:`~rtl_lib.fc_layer.DISTRIBUTED_BITS`
#: bits), ``"ram"`` (state, synchronous FIFOs), ``"rom"`` (biases), ``"async"`` (a FIFO read
#: without a clock) or ``"reg"`` (flip-flops: the state of a fully parallel layer);
#: ``read_ports`` the ports that read it at once.
MemoryPlan = namedtuple("MemoryPlan", "name depth width kind read_ports", defaults=(1,))


def _state_bits(layer, direct, coding):
    """Bits of one lane's state word (see :meth:`rtl_lib.fc_layer.FCLayer.state_fields`)."""
    mb = layer.mem_format.bits
    if direct:
        return mb + layer.weight_format.bits + coding.value_bits + 1 + \
            _index_width(layer.inputs)
    if layer.syn_format is not None:
        return mb + layer.syn_format.bits
    return mb + 1


def memories(qnet, *, rx_fifo_depth, weight_bits=None):
    """The memories of the accelerator of ``qnet`` behind a host link with a receive buffer
    of ``rx_fifo_depth`` bytes: a list of :class:`MemoryPlan` ``(name, depth, width, kind,
    read_ports)``. ``weight_bits``, if given, replaces the layers' weight widths (to see what
    fewer bits would take)."""
    hw, coding = qnet.hardware, qnet.coding
    last = len(qnet.layers) - 1
    out = []
    for k, layer in enumerate(qnet.layers):
        lanes = hw.lanes(layer.outputs)
        groups = -(-layer.outputs // lanes)
        wb = weight_bits or layer.weight_format.bits
        direct = coding.kind == "direct" and k == 0
        # a first layer fed pixel values takes one per cycle; spike layers take E
        events = 1 if direct else hw.events_per_cycle
        rows = layer.inputs + (layer.outputs if layer.recurrent is not None else 0)
        depth, width = rows * groups, lanes * wb
        out.append(MemoryPlan(f"layer{k}.weights", depth, width,
                              "lut" if depth * width < DISTRIBUTED_BITS else "block", events))
        state = lanes * _state_bits(layer, direct, coding)
        if groups == 1:
            out.append(MemoryPlan(f"layer{k}.state", 1, state, "reg"))
        else:
            out.append(MemoryPlan(f"layer{k}.state", groups, state, "ram"))
            if layer.bias is not None:
                out.append(MemoryPlan(f"layer{k}.bias", groups,
                                      lanes * layer.acc_format.bits, "rom"))
            if not layer.neuron.uniform:
                out.append(MemoryPlan(f"layer{k}.params", groups, lanes * (
                    layer.mem_format.bits + layer.neuron.decay_bits + 1), "rom"))
        out.append(MemoryPlan(f"layer{k}.words", groups + 2,
                              SpikeWordLayout(lanes, groups).size, "async"))
        if qnet.readout == "membrane" and k == last:
            out.append(MemoryPlan(f"layer{k}.classes", 2, _index_width(layer.outputs),
                                  "async"))
        if k < last:
            # the events to the next layer, E per beat
            e = hw.events_per_cycle
            layout = EventLayout(layer.outputs) if e == 1 else \
                EventGroupLayout(layer.outputs, e)
            out.append(MemoryPlan(f"fifo{k}", hw.fifo_depth - 1, layout.size, "ram"))
    if coding.kind == "rate":
        out.append(MemoryPlan("rate_coder", qnet.inputs,
                              _index_width(qnet.inputs) + coding.value_bits + 1, "ram"))
    out.append(MemoryPlan("rx_fifo", rx_fifo_depth - 1, 9, "ram"))
    return out


def block_rams(depth, width, family, read_ports=1):
    """Block RAMs of ``family`` (in its units) that hold ``depth`` words of ``width`` bits,
    read through ``read_ports`` ports at once."""
    if family not in _BRAM_SHAPES:
        raise ValueError(f"Unknown FPGA family {family!r}")
    blocks = min(math.ceil(depth / d) * math.ceil(width / w)
                 for d, w in _BRAM_SHAPES[family])
    copies = math.ceil(read_ports / _BRAM_READ_PORTS[family])
    return copies * blocks / _BRAM_PER_UNIT[family]


def core_logic(qnet, *, host_link=True):
    """Estimated logic of the accelerator of ``qnet`` in 7-series LUT6 and flip-flops:
    ``(luts, ffs)``, lane by lane (see the module docstring); with ``host_link``, the board's
    UART link too."""
    hw, coding = qnet.hardware, qnet.coding
    luts = _CORE_LUTS + (_HOST_LUTS if host_link else 0) + \
        (_RATE_CODER_LUTS if coding.kind == "rate" else 0)
    ffs = _CORE_FFS + (_HOST_FFS if host_link else 0)
    for k, layer in enumerate(qnet.layers):
        lanes = hw.lanes(layer.outputs)
        groups = -(-layer.outputs // lanes)
        mb, wb = layer.mem_format.bits, layer.weight_format.bits
        direct = coding.kind == "direct" and k == 0
        events = 1 if direct else hw.events_per_cycle
        tabulated = groups == 1 and mb <= 8 and layer.syn_format is None and not direct
        lane = 2 * mb + 2 if tabulated else 5 * mb + 2
        if layer.syn_format is not None:
            lane += 3 * layer.syn_format.bits
        if groups > 1 and not layer.neuron.uniform:
            lane += mb * (layer.neuron.decay_bits + 1) // 2 + mb    # multiplier, comparator
        if events > 1:
            lane += wb + 1
        if direct:
            lane += 3 * (_state_bits(layer, True, coding) - mb) + 40
        rows = layer.inputs + (layer.outputs if layer.recurrent is not None else 0)
        weight_bits = rows * groups * lanes * wb
        luts += lanes * lane + 1.8 * lanes + 60
        if weight_bits < DISTRIBUTED_BITS:
            luts += weight_bits / 16
        ffs += (lanes * _state_bits(layer, direct, coding) if groups == 1 else 0) \
            + events * lanes * wb + 100
    return round(luts), round(ffs)


def estimate(qnet, family, *, rx_fifo_depth, pins=0, weight_bits=None):
    """Resources of the accelerator of ``qnet`` behind a host link, in ``family``'s units.

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
    rows, bram = [], 0.0
    for plan in memories(qnet, rx_fifo_depth=rx_fifo_depth, weight_bits=weight_bits):
        kind, depth = plan.kind, plan.depth
        in_bram = (kind == "block" or (kind == "ram" and depth >= _MIN_BRAM_DEPTH[family])
                   or (kind == "rom" and depth >= _MIN_ROM_DEPTH))
        blocks = block_rams(depth, plan.width, family, plan.read_ports) if in_bram else 0
        bram += blocks
        rows.append({"name": plan.name, "depth": depth, "width": plan.width,
                     "kind": kind, "read_ports": plan.read_ports, "blocks": blocks})
    luts, ffs = core_logic(qnet)
    luts *= _LUT_SCALE[family]
    return {"family": family, "luts": round(luts), "ffs": round(ffs), "bram": bram,
            "ios": pins, "memories": rows}


def _with_parallelism(qnet, parallelism):
    from dataclasses import replace

    return replace(qnet, hardware=replace(qnet.hardware, parallelism=parallelism))


def check_fit(qnet, board):
    """Refuse, before synthesis, an accelerator that does not fit ``board``'s part.

    Returns
    -------
    dict
        The estimate, with ``shares`` (each resource's share of the part).

    Raises
    ------
    SpikegenError
        Saying which resources do not fit and by how much, and what would: a value of ``-P``
        that fits (the largest), fewer weight bits, or a board with a bigger part.
    """
    family = board.capacity.family
    found = estimate(qnet, family, rx_fifo_depth=board.rx_fifo_depth, pins=board.pins or 0)
    try:
        found["shares"] = board.check_fit(found)
        return found
    except ValueError as exc:
        problem = str(exc)
    advice = []
    widest = max(layer.outputs for layer in qnet.layers)
    current = qnet.hardware.parallelism or widest
    for p in sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, widest}, reverse=True):
        if p >= current:
            continue
        try:
            board.check_fit(estimate(_with_parallelism(qnet, p), family,
                                     rx_fifo_depth=board.rx_fifo_depth, pins=board.pins or 0))
        except ValueError:
            continue
        advice.append(f"-P {p} (estimated to fit)")
        break
    if found["bram"] > board.capacity.bram:
        widest_weights = max(layer.weight_format.bits for layer in qnet.layers)
        for bits in range(widest_weights - 1, 1, -1):
            smaller = estimate(qnet, family, rx_fifo_depth=board.rx_fifo_depth,
                               weight_bits=bits)
            if smaller["bram"] <= board.capacity.bram:
                advice.append(f"--weight-bits {bits} (its weights fit the block RAM)")
                break
        else:
            advice.append("fewer --weight-bits")
    from .boards import BOARDS

    bigger = []
    for other in BOARDS.values():
        if other.name == board.name or other.capacity.family is None:
            continue
        try:
            other().check_fit(estimate(qnet, other.capacity.family,
                                       rx_fifo_depth=other.rx_fifo_depth,
                                       pins=other.pins or 0))
        except ValueError:
            continue
        bigger.append(other.name)
    if bigger:
        advice.append(f"or a bigger part ({', '.join(sorted(bigger))})")
    if not advice:
        advice.append("a smaller network")
    raise SpikegenError(f"{problem} (estimated before synthesis); try "
                        f"{', '.join(advice)}")
