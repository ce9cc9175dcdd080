"""spikegen against Spiker+ on Spiker+'s own MNIST configuration.

Spiker+ (Carpegna et al., 2024) builds a 784-128-10 LIF accelerator with 100 time steps,
4-bit weights, a 6-bit membrane, reset by subtraction and all 128 hidden neurons updated in
parallel; it scans all 784 inputs in every step. This script builds the same configuration
with spikegen (events coding: the host rate codes the MNIST test images, about 13 % of the
inputs active per step), simulates it on Verilator through the regression harness for the
cycle count, synthesises the core with Yosys for 7-series and places and routes it on ECP5
with nextpnr, and prints both sides.

    python benchmarks/spiker_compare.py [--images 50] [--net NET.pt] [--json FILE]

Without ``--net`` the network has random weights with the statistics of a trained one; the
cycle count depends on the input activity and the hidden spikes, not on accuracy.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from spikegen import ir, loader                                     # noqa: E402
from spikegen.compiler import BuildOptions, build                   # noqa: E402
from spikegen.datasets import mnist_idx                             # noqa: E402
from spikegen.encode import rate                                    # noqa: E402
from spikegen.verify import verify                                  # noqa: E402

#: Spiker+ figures for this configuration (784-128-10, T = 100, 4-bit weights, 6-bit
#: membrane, 100 MHz): cycles measured here in simulation of its released VHDL, resources
#: from an open Yosys synth_xilinx (7-series) run of the same; see issue 5.
SPIKER_PLUS = {"cycles_per_inference": 92565, "us_at_100mhz": 925.65, "lut": 6860,
               "ff": 2390, "bram36": 14.5, "dsp": 0}

MNIST_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "datasets", "mnist")


def random_net(seed=0):
    """784-128-10 with weights of a trained network's spread (no bias)."""
    rng = np.random.default_rng(seed)
    layers = []
    for inputs, outputs, scale in ((784, 128, 0.08), (128, 10, 0.25)):
        weight = rng.normal(0.01, scale, (outputs, inputs))
        layers.append(ir.DenseLayer(weight, None, ir.LIF(beta=0.9375, threshold=1.0)))
    return ir.Network(tuple(layers), name="spiker_config")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=50, help="test images to simulate")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--events-per-cycle", "-E", type=int, choices=(1, 2), default=2)
    parser.add_argument("--net", default=None, help="a trained 784-128-10 net.pt")
    parser.add_argument("--mnist", default=MNIST_DIR, help="directory of the MNIST IDX files")
    parser.add_argument("--json", default=None, help="write spikegen's figures here")
    parser.add_argument("--no-synth", action="store_true", help="skip Yosys and nextpnr")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="spiker_compare_")
    net_path = args.net
    if net_path is None:
        net_path = os.path.join(work, "net.pt")
        loader.save(random_net(), net_path)
    data = mnist_idx(args.mnist)
    spikes = rate(data.x_test[:args.images], args.steps, seed=0)
    activity = float(spikes.mean())
    np.savez(os.path.join(work, "eval.npz"), spikes=spikes, labels=data.y_test[:args.images])

    options = BuildOptions(source=net_path, out=os.path.join(work, "build"), board=None,
                           weight_bits=4, mem_bits=6, mem_frac_bits=0, parallelism=0,
                           events_per_cycle=args.events_per_cycle,
                           max_steps=args.steps, eval=os.path.join(work, "eval.npz"),
                           steps=args.steps, hdl="verilog",
                           synth=None if args.no_synth else "xc7")
    start = time.monotonic()
    built = build(BuildOptions(**{**options.__dict__, "synth": None}))
    build_seconds = time.monotonic() - start
    if not args.no_synth:
        built = build(options)
    checked = verify(options.out, samples=args.images)
    events = spikes.sum(axis=(1, 2))
    bound = float(events.mean()) / args.events_per_cycle
    figures = {
        "images": args.images, "steps": args.steps, "input_activity": round(activity, 4),
        "input_events_per_inference": float(events.mean()),
        "cycles_per_inference": checked["cycles_per_inference"],
        "event_bound_cycles": bound,
        "events_per_cycle": args.events_per_cycle,
        "us_at_100mhz": checked["cycles_per_inference"] / 100.0,
        "mismatched_images": checked["mismatched_samples"],
        "build_seconds": round(build_seconds, 2),
    }
    if not args.no_synth:
        resources = built.synthesis["resources"]
        figures.update(lut=resources["lut"], ff=resources["ff"],
                       bram36=resources["bram36_equivalent"], dsp=resources["dsp"])
        ecp5 = build(BuildOptions(**{**options.__dict__, "synth": "ecp5",
                                     "out": os.path.join(work, "ecp5")}))
        figures["ecp5_mhz"] = ecp5.synthesis["timing"]["achieved_mhz"]

    rows = [("cycles per inference", "cycles_per_inference"), ("us at 100 MHz", "us_at_100mhz"),
            ("LUT (7-series)", "lut"), ("FF", "ff"), ("RAMB36 equivalents", "bram36"),
            ("DSP", "dsp")]
    print(f"Spiker+ configuration: 784-128-10, T={args.steps}, 4-bit weights, 6-bit membrane; "
          f"{args.images} MNIST test images, input activity {100 * activity:.1f} %")
    print(f"{'':24}{'Spiker+':>12}{'spikegen':>12}")
    for label, key in rows:
        ours = figures.get(key, "-")
        print(f"{label:24}{SPIKER_PLUS[key]:>12}{ours:>12}")
    print(f"event bound (input events / events per cycle): {bound:.0f} cycles; "
          f"ratio {figures['cycles_per_inference'] / bound:.2f}")
    if "ecp5_mhz" in figures:
        print(f"ECP5 (nextpnr, out of context): {figures['ecp5_mhz']} MHz")
    print(f"RTL mismatches against the reference: {figures['mismatched_images']} images; "
          f"build {figures['build_seconds']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
