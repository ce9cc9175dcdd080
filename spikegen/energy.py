"""An estimate of the energy per inference: activity counts times per-operation energies.

    E = Σ count(op) × e(op, family) + cycles × FFs × e_clock(family) + P_static(part) × latency

The counts come from the bit-exact reference's activity (the events into each layer, per
step) and the hardware plan (:mod:`spikegen.plan`: lanes, groups, memories and their kinds,
the cycle model); nothing is re-modelled here. The coefficients (:data:`FAMILIES`,
:data:`STATIC_W`) and where each comes from are in ``docs/energy.md``: they are derived from
published figures, not measured on these designs, so the result is an *estimate*, reported
with its range (dynamic energy within a factor of :attr:`Family.factor`, static power within
± :attr:`Part.spread`). For a measurement-grade figure, run the vendor's power tool on the
switching activity ``spikegen verify --saif`` writes.
"""
from dataclasses import dataclass

import numpy as np

from amaranth.utils import ceil_log2

from .registry import Registry


__all__ = ["Family", "Part", "FAMILIES", "PARTS", "WORK", "activity", "estimate"]


@dataclass(frozen=True)
class Family:
    """Dynamic energies of one FPGA family, in picojoules.

    ``add_bit``: one bit of an adder in fabric; ``bram_bit``: one bit read or written in a
    block RAM; ``lutram_bit``: one bit read or written in distributed (LUT) RAM or a small
    memory in logic; ``register_bit``: one flip-flop written; ``clock_ff``: the clock
    reaching one flip-flop for one cycle; ``factor``: the estimate's uncertainty (the true
    figure is taken to lie within ``x / factor .. x * factor``).
    """
    name: str
    add_bit: float
    bram_bit: float
    lutram_bit: float
    register_bit: float
    clock_ff: float
    factor: float = 3.0


# Horowitz (ISSCC 2014), 45 nm, 0.9 V: 32-bit add 0.1 pJ -> 0.0031 pJ/bit; 64-bit read of
# an 8 KB SRAM 10 pJ -> 0.156 pJ/bit. FPGA fabric over ASIC logic: x 14 (Kuon & Rose, 2007);
# hard block RAM: x 2 (routing into it). Scaled by C V^2 to each family's node and core
# voltage (docs/energy.md has the arithmetic).
def _family(name, scale):
    add = 0.0031 * 14 * scale
    return Family(name, add_bit=round(add, 4), bram_bit=round(0.156 * 2 * scale, 4),
                  lutram_bit=round(2 * add, 4), register_bit=round(add, 4),
                  clock_ff=round(add / 2, 4))


#: Per family: 7-series 28 nm at 1.0 V (0.77 of 45 nm at 0.9 V), ECP5 40 nm at 1.1 V (1.33),
#: iCE40 UltraPlus 40 nm at 1.2 V (1.58).
FAMILIES = {"xc7": _family("xc7", 0.77), "ecp5": _family("ecp5", 1.33),
            "ice40": _family("ice40", 1.58)}


@dataclass(frozen=True)
class Part:
    """Static power of one part at 25 °C junction, in watts, ± ``spread`` (a fraction)."""
    static_w: float
    spread: float


#: Static power per part (prefix of the part number), see docs/energy.md.
PARTS = {"xc7a35t": Part(0.07, 0.3), "xc7a100t": Part(0.10, 0.3),
         "lfe5u-85": Part(0.10, 0.5), "ice40up5k": Part(0.00009, 0.5)}


def _part(part):
    key = part.lower()
    for prefix, found in PARTS.items():
        if key.startswith(prefix):
            return prefix, found
    raise KeyError(part)


#: Per layer kind: ``(layer plan, events into it, its own spikes, its load) -> (weight rows
#: read, busy cycles)``, each (samples, steps). In a busy cycle the layer reads and writes
#: its ``P`` lanes' state and adds in each lane.
WORK = Registry("energy model")


@WORK.register("dense")
def _dense_work(layer, into, own, load):
    # each event reads one weight row per group; a pass over the groups per E events and
    # one at the end of the step; a recurrent layer's own spikes of the step before are
    # events too
    if layer.recurrent:
        shifted = np.zeros_like(into)
        shifted[:, 1:] = own[:, :-1]
        into = into + shifted
    return into * layer.groups, (-(-into // layer.events) + 1) * layer.groups


@WORK.register("conv2d")
def _conv_work(layer, into, own, load):
    # the load is the step's tap operations, each reading one weight row; then the
    # end-of-step pass over every state word
    return load, layer.step_cycles(load)


def activity(plan, events, loads=None):
    """Per-inference activity (means over the samples) of the planned accelerator.

    ``events[l]`` (samples, steps): spike events into layer ``l``, the last entry the output
    layer's spikes; ``loads[l]``: layer ``l``'s ``step_load`` (as
    :class:`~spikegen.evaluation.Evaluation` keeps them; default ``events``). Weight rows
    and busy cycles come from :data:`WORK`; each spike is written into and read from the
    next event FIFO.
    """
    events = [np.asarray(e, dtype=np.int64) for e in events]
    loads = events if loads is None else [np.asarray(x, dtype=np.int64) for x in loads]
    samples = max(len(events[0]), 1)
    rows = []
    for k, layer in enumerate(plan.layers):
        rows_read, busy = WORK.get(plan.kinds[k])(layer, events[k], events[k + 1], loads[k])
        passes = int(np.sum(busy))
        weights = int(np.sum(rows_read)) * layer.weight_width
        state = passes * layer.lanes * layer.lane_state_bits
        spikes = int(events[k + 1].sum())
        rows.append({
            "weight_read_bits": weights / samples,
            "weight_memory": layer.weight_style,
            "state_bits": state / samples,
            "state_memory": "registers" if layer.state_in_registers else "ram",
            "busy_cycles": passes / samples,
            "additions": passes * layer.lanes / samples,
            "adder_bits": layer.params.mem_bits,
            "spikes": spikes / samples,
            "spike_bits": ceil_log2(layer.outputs + 1) + 2,
        })
    return rows


def estimate(plan, events, *, family, part, clock_hz, cycles, ffs, loads=None):
    """The energy estimate per inference, in microjoules, as the report's ``energy`` tree.

    ``family`` and ``part``: the board's; ``cycles``: per inference (the cycle model's mean);
    ``ffs``: the flip-flops the clock reaches (the logic estimate's). A family or part
    without coefficients gives ``None``.
    """
    if family not in FAMILIES:
        return None
    try:
        part_name, static = _part(part)
    except KeyError:
        return None
    f = FAMILIES[family]
    rows = activity(plan, events, loads)
    pj = {"weight_reads": 0.0, "state": 0.0, "additions": 0.0, "spikes": 0.0}
    counts = {"weight_read_bits": 0.0, "state_read_write_bits": 0.0, "additions": 0.0,
              "spikes": 0.0}
    for row in rows:
        memory = f.bram_bit if row["weight_memory"] == "block" else f.lutram_bit
        pj["weight_reads"] += row["weight_read_bits"] * memory
        state = f.register_bit if row["state_memory"] == "registers" else f.lutram_bit
        pj["state"] += 2 * row["state_bits"] * state              # read, then written back
        pj["additions"] += row["additions"] * row["adder_bits"] * f.add_bit
        pj["spikes"] += 2 * row["spikes"] * row["spike_bits"] * f.lutram_bit
        counts["weight_read_bits"] += row["weight_read_bits"]
        counts["state_read_write_bits"] += 2 * row["state_bits"]
        counts["additions"] += row["additions"]
        counts["spikes"] += row["spikes"]
    # cycles in which even the busiest layer has no pass to make
    busy = max(row["busy_cycles"] for row in rows)
    pj["clock"] = cycles * ffs * f.clock_ff
    dynamic = sum(pj.values()) * 1e-6                              # pJ -> uJ
    latency_s = cycles / clock_hz
    static = static.static_w * latency_s * 1e6                     # J -> uJ
    spread = FAMILIES[family].factor
    low = dynamic / spread + static * (1 - PARTS[part_name].spread)
    high = dynamic * spread + static * (1 + PARTS[part_name].spread)
    return {
        "label": "estimate",
        "family": family,
        "part": part_name,
        "clock_hz": clock_hz,
        "energy_uj": round(dynamic + static, 6),
        "range_uj": [round(low, 6), round(high, 6)],
        "dynamic_uj": round(dynamic, 6),
        "static_uj": round(static, 6),
        "dynamic_uj_by_activity": {k: round(v * 1e-6, 6) for k, v in sorted(pj.items())},
        "activity": {**{k: round(v, 3) for k, v in counts.items()},
                     "cycles": round(cycles, 3),
                     "idle_cycles": round(max(cycles - busy, 0.0), 3)},
        "uncertainty": f"dynamic energy within x/{spread:g}, static power within "
                       f"+-{PARTS[part_name].spread:.0%}; see docs/energy.md",
    }
