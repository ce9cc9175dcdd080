"""The host runtime: against a model board in Python, and end to end against the board core
simulated on Verilator behind a pseudo-terminal."""
import io
import json
import shutil

import numpy as np
import pytest

from spikegen import protocol
from spikegen.errors import SpikegenError
from spikegen.runtime import BoardLink, ProgressBar, run


# -- a board in Python: the reference model of the link, with faults --------------------------


class ModelBoard:
    """A serial-like object that answers like a board: frames are split at 0x00, decoded by
    :func:`protocol.board_parse`, and answered with a result computed by ``classify``.

    ``faults`` maps the index of a request frame (in arrival order) to ``"flip"`` (a byte of
    it is damaged), ``"drop"`` (it never arrives), ``"mute"`` (its answer is lost) or
    ``"garble"`` (its answer is damaged).
    """
    def __init__(self, *, pixels, inputs, classify, rx_buffer=256, faults=None):
        self.pixels, self.inputs, self.classify = pixels, inputs, classify
        self.rx_buffer, self.faults = rx_buffer, dict(faults or {})
        self.pending, self.out, self.frames = bytearray(), bytearray(), 0
        self.in_waiting = 0

    def write(self, data):
        self.pending += data
        while 0 in self.pending:
            cut = self.pending.index(0)
            segment, self.pending = bytes(self.pending[:cut]), self.pending[cut + 1:]
            if segment:
                self._frame(segment)
        self.in_waiting = len(self.out)

    def _frame(self, segment):
        fault = self.faults.get(self.frames)
        self.frames += 1
        if fault == "drop":
            return
        if fault == "flip":
            segment = segment[:3] + bytes([segment[3] ^ 0x10 or 1]) + segment[4:]
        frame = protocol.cobs_decode(segment)
        if not frame:
            return
        verdict = protocol.board_parse(frame, pixels=self.pixels, inputs=self.inputs)
        if verdict.info:
            answer = protocol.encode_info(verdict.seq, pixels=self.pixels, inputs=self.inputs,
                                          classes=3, rx_buffer=self.rx_buffer)
        elif verdict.code or not verdict.has_result:
            answer = protocol.encode_error(verdict.seq, verdict.code)
        else:
            answer = protocol.encode_result(verdict.seq, *self.classify(verdict.tokens))
        if fault == "mute":
            return
        if fault == "garble":
            answer = answer[:4] + bytes([answer[4] ^ 1]) + answer[5:]
        self.out += answer

    def read(self, size):
        data, self.out = bytes(self.out[:size]), self.out[size:]
        self.in_waiting = len(self.out)
        return data

    def close(self):
        pass


def count_classify(tokens):
    """The model board's 'network': class = number of spike events modulo 3."""
    spikes = sum(1 for index, eos, last in tokens if not eos)
    counts = [spikes, sum(1 for t in tokens if t[1]), len(tokens)]
    return spikes % 3, counts


def expected_counts(sample):
    spikes = int(np.sum(sample))
    return spikes % 3, [spikes, sample.shape[0], spikes + sample.shape[0]]


def random_samples(seed, n=40, steps=4, inputs=10):
    rng = np.random.default_rng(seed)
    return (rng.random((n, steps, inputs)) < 0.3).astype(np.uint8)


@pytest.mark.parametrize("faults", [
    {},
    {3: "flip", 7: "flip"},
    {2: "drop", 10: "drop"},
    {5: "mute", 6: "garble"},
    {0: "flip", 1: "drop", 2: "mute", 3: "garble", 30: "flip"},
])
def test_faults_are_reported_and_retried(faults):
    samples = random_samples(1)
    board = ModelBoard(pixels=False, inputs=10, classify=count_classify, faults=faults)
    events = []
    link = BoardLink(board, pixels=False, inputs=10, classes=3, rx_buffer=256, timeout=0.05,
                     log=events.append)
    classes, counts = link.classify(samples)
    want = [expected_counts(s) for s in samples]
    assert classes.tolist() == [cls for cls, _ in want]
    assert counts.tolist() == [c for _, c in want]
    stats = link.stats
    assert stats.requests == len(samples) + stats.retries
    if faults:
        assert stats.retries >= len(faults) and events
    else:
        assert stats.retries == 0 and not events
    if "flip" in faults.values():
        assert stats.errors.get("checksum", 0) >= 1
    if "garble" in faults.values():
        assert stats.skipped_bytes > 0


def test_window_holds_the_receive_buffer():
    # Never more unanswered bytes on the way than the board's receive buffer holds.
    samples = random_samples(2, n=30, steps=8)

    class Watch(ModelBoard):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.queued, self.most = [], 0

        def write(self, data):
            self.queued.append(bytes(data))
            self.most = max(self.most, sum(len(d) for d in self.queued))

        def read(self, size):
            # answer one request per read, as a board working through its buffer would
            if self.queued:
                super().write(self.queued.pop(0))
                while self.queued and self.queued[0] == b"\x00":
                    super().write(self.queued.pop(0))
            return super().read(size)

    board = Watch(pixels=False, inputs=10, classify=count_classify)
    link = BoardLink(board, pixels=False, inputs=10, classes=3, rx_buffer=100, timeout=1.0)
    link.classify(samples)
    assert board.most <= 100


def test_permanent_errors_end_the_run():
    board = ModelBoard(pixels=False, inputs=4, classify=count_classify)
    link = BoardLink(board, pixels=False, inputs=10, classes=3)
    with pytest.raises(SpikegenError, match=r"the board refused request 0: input index out "
                                            r"of range, or the last token is not an end of "
                                            r"step; does the board run this build\?"):
        link.classify(np.ones((1, 2, 10), dtype=np.uint8))
    with pytest.raises(SpikegenError, match=r"the board does not run this build: it reports "
                                            r"inputs 4 \(the build has 10\)"):
        link.check()


def test_gives_up_after_retries():
    board = ModelBoard(pixels=False, inputs=10, classify=count_classify,
                       faults={k: "flip" for k in range(10)})
    link = BoardLink(board, pixels=False, inputs=10, classes=3, retries=3, timeout=0.05)
    with pytest.raises(SpikegenError, match=r"request 0: no good answer after 3 retries "
                                            r"\(last: checksum mismatch\)"):
        link.classify(random_samples(3, n=2))


def test_timeouts_when_the_board_is_silent():
    board = ModelBoard(pixels=False, inputs=10, classify=count_classify,
                       faults={k: "drop" for k in range(100)})
    link = BoardLink(board, pixels=False, inputs=10, classes=3, retries=2, timeout=0.02)
    with pytest.raises(SpikegenError, match=r"no good answer after 2 retries \(last: "
                                            r"timeout\)"):
        link.classify(random_samples(4, n=3))
    assert link.stats.timeouts == 3


def test_argument_errors():
    board = ModelBoard(pixels=True, inputs=5, classify=count_classify)
    with pytest.raises(SpikegenError, match=r"the receive buffer must hold at least 16 "
                                            r"bytes, not 8"):
        BoardLink(board, pixels=True, inputs=5, classes=3, rx_buffer=8)
    link = BoardLink(board, pixels=True, inputs=5, classes=3)
    with pytest.raises(SpikegenError, match=r"the samples have shape \(2, 3, 5\); the build "
                                            r"takes \(samples, inputs\) with 5 inputs"):
        link.classify(np.zeros((2, 3, 5)))
    with pytest.raises(SpikegenError, match=r"cannot open /nonexistent/tty"):
        BoardLink("/nonexistent/tty", pixels=True, inputs=5, classes=3)


def test_progress_bar():
    out = io.StringIO()
    board = ModelBoard(pixels=True, inputs=5, classify=count_classify)
    link = BoardLink(board, pixels=True, inputs=5, classes=3)
    link.classify(np.eye(5, dtype=np.uint8) * 200, labels=[0, 0, 0, 1, 1],
                  progress=ProgressBar(out, every=0))
    assert "[" + "#" * 30 + "] 5/5 samples, " in out.getvalue()
    # the model board answers class 0 for every sample of one pixel
    assert out.getvalue().rstrip().endswith("/s, accuracy 60.0 %")
    assert "] 1/5 samples" in out.getvalue() and "accuracy 100.0 %" in out.getvalue()


def test_run_needs_a_board_build(tmp_path):
    with pytest.raises(SpikegenError, match=r"no network.json; run 'spikegen build' into it "
                                            r"first"):
        run(str(tmp_path), "/dev/null")


# -- end to end: the host runtime, a pseudo-terminal, the board core on Verilator -------------


@pytest.fixture(scope="module")
def digits_net(tmp_path_factory):
    """A 64-32-10 LIF network trained on scikit-learn's digits (as in the demo)."""
    import torch

    from spikegen import datasets
    from spikegen.train import train

    path = tmp_path_factory.mktemp("net") / "net.pt"
    torch.save(train(datasets.digits(), hidden=(32,), steps=16, beta=0.9, epochs=30,
                     seed=0).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def conv_digits_net(tmp_path_factory):
    """A small convolutional network on the digits' 8x8 images (4C3-MP2-10, weights on a
    1/8 grid), saved with its input shape."""
    import numpy as np
    import snntorch as snn
    import torch
    from torch import nn

    import spikegen

    model = nn.Sequential(nn.Conv2d(1, 4, 3), snn.Leaky(beta=0.75, init_hidden=True),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 10),
                          snn.Leaky(beta=0.75, init_hidden=True))
    rng = np.random.default_rng(3)
    with torch.no_grad():
        for m in (model[0], model[4]):
            m.weight.copy_(torch.tensor(rng.integers(-4, 6, tuple(m.weight.shape)) / 8.0))
            m.bias.zero_()
    path = tmp_path_factory.mktemp("conv") / "conv.pt"
    spikegen.save(model, path, input_shape=(1, 8, 8))
    return path


def board_build(net, out, coding, *, board="icebreaker", samples, simulator="verilator"):
    """A build directory as ``spikegen build --board <board>`` writes it, but with the build
    plan only (no bitstream), and the Verilog of the board's core for simulation."""
    from spikegen.assemble import accelerator
    from spikegen.boards import get_board
    from spikegen.compiler import BuildOptions, build, write_json
    from spikegen.emit import verilog
    from rtl_lib.host_link import SerialAccelerator

    result = build(BuildOptions(source=str(net), out=str(out), board=None, coding=coding,
                                steps=16, eval="digits", parallelism=4))
    target = get_board(board)
    info = target.build(lambda: accelerator(result.qnet), out / "board", run_vendor=False)
    tree = json.loads((out / "report.json").read_text())
    tree["board"] = info
    write_json(out / "report.json", tree)
    core = SerialAccelerator(accelerator(result.qnet), info["divisor"],
                             rx_fifo_depth=info["rx_fifo_depth"])
    if simulator == "ghdl":
        from spikegen.emit import vhdl
        source = out / "serial_top.vhd"
        source.write_text(vhdl(core, name="serial_top"))
    else:
        source = out / "serial_top.v"
        source.write_text(verilog(core, name="serial_top"))
    return info, source


@pytest.mark.verilator
@pytest.mark.parametrize("net, coding, samples, faults, simulator", [
    ("digits_net", "direct", 60, ("flip:1500", "drop:4000"), "verilator"),
    ("digits_net", "events", 5, (), "verilator"),
    # a convolution behind the on-chip rate coder
    ("conv_digits_net", "rate", 4, (), "verilator"),
    # the same testbench on the VHDL: GHDL is slower, so a few samples
    pytest.param("digits_net", "direct", 3, ("flip:100",), "ghdl", marks=pytest.mark.ghdl),
])
def test_runtime_against_simulated_board(tmp_path, request, net, coding, samples, faults,
                                         simulator):
    if simulator == "ghdl" and shutil.which("ghdl") is None:
        pytest.skip("ghdl is not installed (scripts/setup.sh installs it)")
    # The real runtime opens the pseudo-terminal with pyserial; the cocotb bridge moves the
    # bytes bit by bit onto the UART pins of the board core (UART, receive buffer, host link,
    # the digits accelerator) and back. Every result equals the reference model's; the
    # damaged bytes come back as error frames or missing answers, and are sent again.
    from spikegen.sim.serial_link import simulated_board

    out = tmp_path / coding
    info, source = board_build(request.getfixturevalue(net), out, coding, samples=samples,
                               simulator=simulator)
    bar = io.StringIO()
    events = []

    def client(path):
        return run(str(out), path, samples=samples, timeout=30.0,
                   progress=ProgressBar(bar, every=0), log=events.append)

    result, line = simulated_board([source], "serial_top", tmp_path / "sim", client,
                                   divisor=info["divisor"], faults=faults,
                                   simulator=simulator)
    assert result["samples"] == samples
    assert result["mismatched_samples"] == 0
    assert result["accuracy"] == result["reference_accuracy"]
    assert f"{samples}/{samples} samples" in bar.getvalue()
    link = result["link"]
    if faults:
        # each damaged frame came back as an error frame, or went unanswered and was found
        # out by the next answer; each was sent again
        assert line["faults"] == len(faults)
        assert link["errors"].get("checksum", 0) + link["lost"] >= len(faults)
        assert link["retries"] >= len(faults) and events
    else:
        assert link["retries"] == 0 and not events
    # the line carried what the runtime sent, less the bytes the bridge dropped on purpose
    drops = sum(1 for fault in faults if fault.startswith("drop"))
    assert line["host_to_board_bytes"] == link["bytes_sent"] - drops
    assert line["board_to_host_bytes"] == link["bytes_received"]
    # how fast the simulated link goes, in cycles of the board clock
    cycles = line["sim_ns"] / line["clock_ns"]
    board_seconds = cycles / info["clock_hz"]
    summary = {
        "coding": coding, "samples": samples, "bytes_per_sample": result["bytes_per_sample"],
        "board_samples_per_second": round(samples / board_seconds, 1),
        "line_busy": round(line["rx_busy_ns"] / line["sim_ns"], 3),
        "wall_samples_per_second": result["samples_per_second"],
        "build_seconds": line["build_seconds"], "run_seconds": line["run_seconds"],
        "link": link,
    }
    (tmp_path / "throughput.json").write_text(json.dumps(summary))
    print(summary)


def test_run_refuses_builds_without_a_board(tmp_path):
    from spikegen import ir
    from spikegen.compiler import write_json
    from spikegen.quantize import quantize

    from helpers.networks import random_network

    qnet = quantize(random_network(np.random.default_rng(0), (6, 3)))
    write_json(tmp_path / "network.json", ir.to_json(qnet))
    write_json(tmp_path / "report.json", {"board": None})
    with pytest.raises(SpikegenError, match=r"was built without a board \(board none\); "
                                            r"rebuild it for one"):
        run(str(tmp_path), "/dev/null")
    write_json(tmp_path / "report.json", {"board": {"board": "arty-a7", "baud": 3_000_000}})
    with pytest.raises(SpikegenError, match=r"speaks host protocol version 0; this spikegen "
                                            r"speaks 1: rebuild it"):
        run(str(tmp_path), "/dev/null")
    write_json(tmp_path / "report.json", {"board": {"board": "arty-a7", "baud": 3_000_000,
                                                    "protocol": 1}})
    with pytest.raises(SpikegenError, match=r"no evaluation data; build with eval, or give "
                                            r"data"):
        run(str(tmp_path), "/dev/null")
