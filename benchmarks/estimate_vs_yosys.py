"""The fit check's logic estimate against what the open tools build, on small and large
networks.

For each configuration: the 7-series core estimate (:func:`spikegen.fit.core_logic` without
the host link) against Yosys ``synth_xilinx`` LUTs, and the board estimate (with the host
link, :func:`spikegen.fit.check_fit`'s figures) against nextpnr's placed logic cells
(iCEBreaker) or LUT4s (ULX3S), where the design fits the part. Prints a table, the error of
each, and with ``--json`` writes them.

    python benchmarks/estimate_vs_yosys.py [--json FILE] [--quick]
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from spikegen.assemble import accelerator                           # noqa: E402
from spikegen.boards import get_board                               # noqa: E402
from spikegen.build_dir import TOP_NAME                             # noqa: E402
from spikegen.emit import verilog                                   # noqa: E402
from spikegen.fit import core_logic, estimate                       # noqa: E402
from spikegen.flat_top import FlatTop                               # noqa: E402
from spikegen.ir import LIF, DenseLayer, HardwareConfig, Network    # noqa: E402
from spikegen.plan import plan_network                              # noqa: E402
from spikegen.quantize import quantize                              # noqa: E402
from spikegen.synth import synthesize                               # noqa: E402


def network(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return Network(tuple(DenseLayer(rng.normal(0.05, 0.5, (b, a)), rng.normal(0, 0.1, b),
                                    LIF(beta=0.9))
                         for a, b in zip(sizes, sizes[1:])), name="calibration")


#: name, sizes, quantizer options, hardware, boards to place on
CONFIGS = [
    ("digits P=4", (64, 32, 10), {}, HardwareConfig(parallelism=4), ("icebreaker",
                                                                     "ulx3s-85f")),
    ("digits P=8", (64, 32, 10), {}, HardwareConfig(parallelism=8), ("icebreaker",)),
    ("digits P=0", (64, 32, 10), {}, HardwareConfig(), ("ulx3s-85f",)),
    ("digits P=2, 4-bit", (64, 32, 10), {"weight_bits": 4}, HardwareConfig(parallelism=2),
     ("icebreaker",)),
    ("784-128-10 P=16", (784, 128, 10), {"weight_bits": 4}, HardwareConfig(parallelism=16),
     ("ulx3s-85f",)),
    ("Spiker+ 784-128-10 P=0 E=2", (784, 128, 10),
     {"weight_bits": 4, "mem_bits": 6, "mem_frac_bits": 0},
     HardwareConfig(parallelism=0, events_per_cycle=2, max_steps=100), ()),
]


def place(qnet, board_name, work):
    """Build ``qnet`` for the board with the YoWASP tools: its placed logic."""
    board = get_board(board_name)
    info = board.build(lambda: accelerator(qnet), work)
    return info.get("utilisation", {})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--quick", action="store_true",
                        help="the small networks only (a few minutes)")
    args = parser.parse_args()
    rows = []
    configs = [c for c in CONFIGS if not args.quick or c[1][0] < 100]
    for name, sizes, options, hardware, boards in configs:
        qnet = quantize(network(sizes), hardware=hardware, **options)
        plan = plan_network(qnet)
        luts, ffs = core_logic(plan, host_link=False)
        start = time.monotonic()
        print(f"[synth_xilinx] {name}", flush=True)
        text = verilog(FlatTop(accelerator(qnet, plan)), name=TOP_NAME)
        with tempfile.TemporaryDirectory(prefix=".estimate-", dir=os.getcwd()) as work:
            got = synthesize(text, TOP_NAME, "xc7", work_dir=work)
        rows.append({"config": name, "target": "xc7 core (Yosys)", "unit": "LUT6",
                     "estimate": luts, "actual": got["lut"],
                     "error": round(luts / got["lut"] - 1, 4),
                     "seconds": round(time.monotonic() - start, 1)})
        for board_name in boards:
            board = get_board(board_name)
            est = estimate(plan, board.capacity.family, rx_fifo_depth=board.rx_fifo_depth)
            print(f"[place] {name} on the {board_name}", flush=True)
            start = time.monotonic()
            with tempfile.TemporaryDirectory(prefix=".estimate-", dir=os.getcwd()) as work:
                key = "LC" if board.capacity.family == "ice40" else "LUT4"
                try:
                    actual = place(qnet, board_name, work).get(key, {}).get("used")
                except ValueError as exc:
                    # over the part: nextpnr still says how much logic it needed
                    print(f"  {exc}", flush=True)
                    needed = re.search(r"needs ([\d,]+) (ICESTORM_LC|TRELLIS_COMB)", str(exc))
                    actual = int(needed.group(1).replace(",", "")) if needed else None
            rows.append({"config": name, "target": f"{board_name} (nextpnr)",
                         "unit": board.capacity.lut_name, "estimate": est["luts"],
                         "actual": actual,
                         "error": None if not actual else round(est["luts"] / actual - 1, 4),
                         "seconds": round(time.monotonic() - start, 1)})
        print(rows[-1], flush=True)
    print()
    print(f"{'configuration':30} {'target':26} {'estimate':>9} {'actual':>9} {'error':>7}")
    for row in rows:
        error = "-" if row["error"] is None else f"{100 * row['error']:+.0f} %"
        print(f"{row['config']:30} {row['target']:26} {row['estimate']:>9,} "
              f"{row['actual'] or 0:>9,} {error:>7}  {row['unit']}")
    errors = [abs(r["error"]) for r in rows if r["error"] is not None]
    if errors:
        print(f"largest error {100 * max(errors):.0f} %, mean {100 * np.mean(errors):.0f} %")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows}, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
