"""The layout of a build directory, and its deterministic writers and safe readers.

One home for where ``spikegen build`` puts things and how ``verify``, ``run``, the report and
the CLI find them::

    OUT/network.json                    the quantized network (spikegen.ir JSON)
    OUT/report.json                     the build report
    OUT/verify.json, OUT/run.json       what verify and run found
    OUT/hdl/verilog/spikegen_top.v      the accelerator (and hdl/vhdl/spikegen_top.vhd)
    OUT/data/eval.npz                   the evaluation data the report was made with
    OUT/board/, OUT/synth/FAMILY/       the board build, the synthesis runs
    OUT/sim/SIMULATOR/                  the verification runs
    OUT/plots/                          PNG plots

JSON is written with sorted keys and fixed indentation and ``.npz`` archives with fixed
timestamps, so the same build gives byte-identical files; archives are read without pickles.
"""
import io
import json
import os
import zipfile

import numpy as np

from .errors import SpikegenError


__all__ = ["TOP_NAME", "HDL_SUFFIX", "BuildDir", "write_json", "read_json", "load_network",
           "save_npz", "load_npz"]


#: Name of the accelerator's top module in the emitted HDL.
TOP_NAME = "spikegen_top"

#: File suffix of each HDL language.
HDL_SUFFIX = {"verilog": "v", "vhdl": "vhd"}


class BuildDir:
    """Paths inside the build directory ``root`` (relative ones with ``rel_``)."""
    def __init__(self, root):
        self.root = os.fspath(root)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def network(self):
        return self.path("network.json")

    @property
    def report(self):
        return self.path("report.json")

    @property
    def verification(self):
        return self.path("verify.json")

    @property
    def run(self):
        return self.path("run.json")

    @staticmethod
    def rel_hdl(language):
        """``hdl/LANGUAGE/spikegen_top.SUFFIX``, relative to the build directory."""
        return os.path.join("hdl", language, f"{TOP_NAME}.{HDL_SUFFIX[language]}")

    def hdl(self, language):
        return self.path(self.rel_hdl(language))

    rel_eval = os.path.join("data", "eval.npz")

    @property
    def eval(self):
        return self.path(self.rel_eval)

    @property
    def board(self):
        return self.path("board")

    def synth(self, family):
        return self.path("synth", family)

    def sim(self, simulator):
        return self.path("sim", simulator)

    @staticmethod
    def rel_plot(name):
        return os.path.join("plots", name)


def write_json(path, tree):
    """Deterministic JSON: sorted keys, fixed indentation, trailing newline."""
    with open(path, "w") as f:
        json.dump(tree, f, indent=1, sort_keys=True)
        f.write("\n")


def read_json(path, what):
    """A JSON file of the build; a one-line error naming ``what`` it should be."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise SpikegenError(f"{os.path.dirname(path) or '.'}: no {os.path.basename(path)}; "
                            f"run 'spikegen build' into it first") from None
    except (OSError, ValueError) as exc:
        raise SpikegenError(f"{path}: not {what} ({exc})") from None


def load_network(root):
    """The quantized network of the build directory ``root``."""
    from . import ir

    path = BuildDir(root).network
    tree = read_json(path, "a spikegen network description")
    try:
        return ir.from_json(tree)
    except (ValueError, KeyError, TypeError) as exc:
        raise SpikegenError(f"{path}: not a spikegen network description ({exc})") from None


def save_npz(path, arrays):
    """``np.savez`` with fixed member timestamps, so identical arrays give identical files."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, buffer.getvalue())


def load_npz(path):
    """Every array of an ``.npz`` archive, read without pickles, as a dict."""
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
