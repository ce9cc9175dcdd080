"""Host runtime: classify samples on a board over its serial link (protocol version 1).

:class:`BoardLink` streams samples to a board (or to anything that behaves like one, such as
a simulation behind a pseudo-terminal) and collects the results; :func:`run` does it for a
build directory, with the build's evaluation data or another data set, and compares what the
board answers with the bit-exact reference model.

Nothing is dropped silently. Requests are sent while the bytes of unanswered requests fit the
board's receive buffer; the board answers in order, so a request answered out of turn, an
error frame for a damaged or incomplete request, and a wait of ``timeout`` seconds with no
byte from the board all send the affected requests again, and count in :class:`LinkStats`.
A request that still fails after ``retries`` more attempts, or that the board refuses (the
build and the data disagree), ends the run with a :class:`~spikegen.errors.SpikegenError`.
"""
import bisect
import os
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import protocol
from .build_dir import BuildDir, load_network, read_json, write_json
from .errors import SpikegenError


__all__ = ["LinkStats", "BoardLink", "ProgressBar", "run", "MAX_OUTSTANDING"]


#: Largest number of unanswered requests, well inside the 256 sequence numbers, so that a late
#: answer to a request sent again can never be taken for the answer to a newer one.
MAX_OUTSTANDING = 64


@dataclass
class LinkStats:
    """What happened on the link.

    ``errors`` counts the board's error frames by name; ``lost`` the requests that were not
    answered in turn; ``timeouts`` the waits of ``timeout`` seconds with no answer; ``retries``
    the requests sent again for any of these reasons; ``stray`` the answers to requests
    already sent again; ``skipped_bytes`` the received bytes that were not part of a valid
    frame.
    """
    requests: int = 0
    retries: int = 0
    lost: int = 0
    timeouts: int = 0
    stray: int = 0
    skipped_bytes: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    errors: dict = field(default_factory=dict)

    def as_dict(self):
        return asdict(self)


_ERROR_NAMES = {protocol.OVERRUN: "overrun", protocol.CHECKSUM: "checksum",
                protocol.LENGTH: "length", protocol.TYPE: "type", protocol.COUNT: "count",
                protocol.MALFORMED: "malformed"}


def _open_serial(port, baud, read_timeout):
    try:
        import serial
    except ImportError:
        raise SpikegenError("the host runtime needs pyserial: pip install pyserial") from None
    try:
        return serial.Serial(port, baudrate=baud, timeout=read_timeout, write_timeout=10)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise SpikegenError(f"cannot open {port}: {exc}") from None


class BoardLink:
    """A serial connection to a board running a spikegen build.

    Parameters
    ----------
    port : str or serial-like
        Device path (``/dev/ttyUSB1``, a pseudo-terminal) opened with pyserial, or an open
        object with ``write``, ``read``, ``in_waiting`` and ``close``.
    pixels : bool
        The build takes pixels (on-chip input coding) rather than spike events.
    inputs, classes : int
        Sizes of the build's network.
    baud : int
        UART rate of the board.
    rx_buffer : int
        Bytes of the board's receive buffer: the most bytes of unanswered requests on the way.
    timeout : float
        Seconds without a byte from the board, while requests wait for answers, after which
        they are sent again.
    retries : int
        Extra attempts per request before giving up.
    log : callable or None
        Gets one line per link event (an error frame, a timeout, lost requests).
    """
    def __init__(self, port, *, pixels, inputs, classes, baud=3_000_000, rx_buffer=512,
                 timeout=2.0, retries=5, log=None):
        if not isinstance(rx_buffer, int) or rx_buffer < 16:
            raise SpikegenError(f"the receive buffer must hold at least 16 bytes, not "
                                f"{rx_buffer!r}")
        if not timeout > 0:
            raise SpikegenError(f"the timeout must be positive, not {timeout!r}")
        if not isinstance(retries, int) or retries < 0:
            raise SpikegenError(f"retries must be a non-negative integer, not {retries!r}")
        self.pixels, self.inputs, self.classes = bool(pixels), int(inputs), int(classes)
        self.rx_buffer, self.timeout, self.retries = rx_buffer, float(timeout), retries
        self.log = log
        if isinstance(port, (str, os.PathLike)):
            self.port = _open_serial(os.fspath(port), baud, 0.01)
            self._owns_port = True
        else:
            self.port = port
            self._owns_port = False
        self.stats = LinkStats()
        self._parser = protocol.ResponseParser(self.classes)
        self._seq = 0
        # a lone delimiter ends whatever partial frame the board may hold
        self._write(b"\x00")

    def close(self):
        if self._owns_port:
            self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests -----------------------------------------------------------------------------

    def info(self):
        """The board's description: ``version``, ``pixels``, ``inputs``, ``classes``,
        ``rx_buffer``."""
        [response] = self._exchange([("info", None)])
        return response.info

    def check(self):
        """Ask the board for its description and check it against this link's build.

        Returns
        -------
        dict
            The description; ``rx_buffer`` from it now bounds the bytes on the way.
        """
        info = self.info()
        want = {"version": protocol.PROTOCOL_VERSION, "pixels": self.pixels,
                "inputs": self.inputs, "classes": self.classes,
                "word_bytes": protocol.word_bytes(self.inputs)}
        wrong = [f"{key} {info[key]} (the build has {value})" for key, value in want.items()
                 if info[key] != value]
        if wrong:
            raise SpikegenError("the board does not run this build: it reports "
                                + ", ".join(wrong))
        self.rx_buffer = max(16, info["rx_buffer"])
        return info

    def classify(self, inputs, *, labels=None, progress=None):
        """Classify samples on the board.

        Parameters
        ----------
        inputs : array_like
            Spike trains (samples, steps, inputs) of 0/1, or pixels (samples, inputs) of
            0..255 for a build with on-chip input coding.
        labels : array_like or None
            True classes, for the accuracy so far that ``progress`` gets.
        progress : callable or None
            Called as ``progress(done, total, stats, accuracy)`` after each result
            (``accuracy`` of the results so far, or ``None`` without labels).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Classes (samples,) and spike counts (samples, classes), as the board sent them.
        """
        inputs = np.asarray(inputs)
        expected_ndim = 2 if self.pixels else 3
        if inputs.ndim != expected_ndim or inputs.shape[-1] != self.inputs:
            shape = "(samples, inputs)" if self.pixels else "(samples, steps, inputs)"
            raise SpikegenError(f"the samples have shape {inputs.shape}; the build takes "
                                f"{shape} with {self.inputs} inputs")
        requests = []
        for sample in inputs:
            payload = (protocol.encode_pixels(sample) if self.pixels
                       else protocol.encode_sample(sample))
            requests.append(("result", payload))
        tally = {"done": 0, "right": 0}

        def answered(index, response):
            tally["done"] += 1
            if labels is not None:
                tally["right"] += int(response.cls == labels[index])
            if progress is not None:
                accuracy = tally["right"] / tally["done"] if labels is not None else None
                progress(tally["done"], len(requests), self.stats, accuracy)

        responses = self._exchange(requests, on_answer=answered)
        classes = np.array([r.cls for r in responses], dtype=np.int64)
        counts = np.array([r.counts for r in responses], dtype=np.int64).reshape(
            len(responses), self.classes)
        return classes, counts

    # -- the exchange -------------------------------------------------------------------------

    def _frame(self, request, seq):
        kind, payload = request
        if kind == "info":
            return protocol.info_request(seq)
        return protocol.sample_frame(seq, payload, protocol.token_bytes(self.inputs,
                                                                        pixels=self.pixels))

    def _write(self, data):
        self.port.write(data)
        self.stats.bytes_sent += len(data)

    def _note(self, message):
        if self.log is not None:
            self.log(message)

    def _exchange(self, requests, *, on_answer=None):
        stats = self.stats
        total = len(requests)
        answers = [None] * total
        attempts = [0] * total
        pending = list(range(total))        # request indices to send, ascending
        outstanding = {}                    # seq -> (index, bytes), in sending order
        in_flight = 0
        done = 0
        started = last_heard = time.monotonic()

        def again(index, reason):
            attempts[index] += 1
            if attempts[index] > self.retries:
                raise SpikegenError(f"request {index}: no good answer after "
                                    f"{self.retries} retries (last: {reason})")
            stats.retries += 1
            bisect.insort(pending, index)

        while done < total:
            while pending and len(outstanding) < MAX_OUTSTANDING:
                index = pending[0]
                frame = self._frame(requests[index], self._seq)
                if outstanding and in_flight + len(frame) > self.rx_buffer:
                    break
                self._write(frame)
                outstanding[self._seq] = (index, len(frame))
                in_flight += len(frame)
                stats.requests += 1
                pending.pop(0)
                self._seq = (self._seq + 1) & 0xFF

            waiting = getattr(self.port, "in_waiting", 0)
            data = self.port.read(max(1, waiting))
            now = time.monotonic()
            if not data:
                if outstanding and now - last_heard > self.timeout:
                    stats.timeouts += 1
                    self._note(f"link: no answer for {self.timeout:g} s; sending "
                               f"{len(outstanding)} requests again")
                    for index, _ in outstanding.values():
                        again(index, "timeout")
                    outstanding.clear()
                    in_flight = 0
                    self._write(b"\x00")
                    last_heard = now
                continue
            last_heard = now
            stats.bytes_received += len(data)
            before = self._parser.skipped
            responses = self._parser.feed(data)
            if self._parser.skipped != before:
                stats.skipped_bytes += self._parser.skipped - before
                self._note(f"link: {self._parser.skipped - before} received bytes were not "
                           f"a valid frame")
            for response in responses:
                if response.seq not in outstanding:
                    stats.stray += 1
                    continue
                # the board answers in order: requests sent before this one are lost
                for seq in list(outstanding):
                    if seq == response.seq:
                        break
                    index, size = outstanding.pop(seq)
                    in_flight -= size
                    stats.lost += 1
                    self._note(f"link: request {index} (seq {seq}) got no answer; sending "
                               f"it again")
                    again(index, "no answer")
                index, size = outstanding.pop(response.seq)
                in_flight -= size
                kind = requests[index][0]
                if response.kind == "error":
                    name = _ERROR_NAMES.get(response.code, str(response.code))
                    stats.errors[name] = stats.errors.get(name, 0) + 1
                    meaning = protocol.ERRORS.get(response.code, "unknown error")
                    if response.code not in protocol.TRANSIENT_ERRORS:
                        raise SpikegenError(f"the board refused request {index}: {meaning}; "
                                            f"does the board run this build?")
                    self._note(f"link: request {index} (seq {response.seq}): {meaning}; "
                               f"sending it again")
                    again(index, meaning)
                elif response.kind != kind:
                    raise SpikegenError(f"the board answered request {index} with "
                                        f"{response.kind}, not {kind}")
                else:
                    answers[index] = response
                    done += 1
                    stats.seconds = time.monotonic() - started
                    if on_answer is not None:
                        on_answer(index, response)
        stats.seconds = time.monotonic() - started
        return answers


class ProgressBar:
    """A one-line progress bar for :meth:`BoardLink.classify` and :func:`run`: samples done,
    samples per second, and retries and time-outs when there are any.

    Parameters
    ----------
    stream : file-like or None
        Where to draw it (standard error by default).
    width : int
        Characters of the bar.
    every : float
        Seconds between redraws (the last one is always drawn, then a new line).
    """
    def __init__(self, stream=None, *, width=30, every=0.1):
        self.stream = sys.stderr if stream is None else stream
        self.width, self.every = width, every
        self._last = 0.0

    def __call__(self, done, total, stats, accuracy=None):
        now = time.monotonic()
        if done < total and now - self._last < self.every:
            return
        self._last = now
        filled = int(self.width * done / max(total, 1))
        rate = done / stats.seconds if stats.seconds > 0 else 0.0
        events = stats.retries + stats.timeouts + stats.skipped_bytes
        line = (f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} samples, "
                f"{rate:.1f}/s"
                + ("" if accuracy is None else f", accuracy {100 * accuracy:.1f} %")
                + (f", {stats.retries} retries, {stats.timeouts} timeouts" if events else ""))
        self.stream.write(line)
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


# -- a build directory ------------------------------------------------------------------------


def _build_inputs(build_dir, qnet, *, data, samples, steps, seed):
    from . import data as _data

    coding = qnet.coding.kind
    if data is None:
        stored = BuildDir(build_dir).eval
        if not os.path.isfile(stored):
            raise SpikegenError(f"{build_dir}: no evaluation data; build with `eval`, or "
                                f"give `data`")
        data = stored
    evaluation = _data.eval_data(data, inputs=qnet.inputs, steps=steps, seed=seed,
                                 limit=samples, coding=coding,
                                 input_shape=qnet.layers[0].input_shape)
    return evaluation


def run(build_dir, port, *, data=None, samples=None, steps=16, seed=0, baud=None, timeout=2.0,
        retries=5, progress=None, log=None, serial_port=None):
    """Classify a build's evaluation data (or ``data``) on the board at ``port``.

    The board's description is checked against the build first. The results are compared
    with the bit-exact reference model: a board that runs the build correctly gives the same
    class and spike counts for every sample.

    Parameters
    ----------
    build_dir : str
        A ``spikegen build`` directory with a board (``report.json`` names it).
    port : str
        Serial device of the board (``/dev/ttyUSB1``).
    data : str or None
        ``digits``, ``mnist-idx:DIR`` or an ``.npz`` (see :mod:`spikegen.data`); by default
        the build's ``data/eval.npz``.
    samples : int or None
        Use only the first ``samples`` samples.
    steps, seed : int
        Rate coding of a data set on the host (``events`` builds).
    baud : int or None
        UART rate; by default the build's.
    timeout : float
        Seconds of silence after which unanswered requests are sent again.
    retries : int
        Extra attempts per request.
    progress : callable or None
        ``progress(done, total, stats, accuracy)``, e.g. a :class:`ProgressBar`.
    log : callable or None
        Gets one line per link event.
    serial_port : serial-like or None
        An open port to use instead of opening ``port``.

    Returns
    -------
    dict
        ``samples``, ``source``, ``board``, ``accuracy`` (if the data has labels),
        ``mismatched_samples`` (results that differ from the reference model),
        ``samples_per_second``, ``bytes_per_sample``, and the link statistics; also written
        to ``build_dir/run.json``.
    """
    from . import reference

    qnet = load_network(build_dir)
    report = read_json(BuildDir(build_dir).report, "a spikegen report")
    board = report.get("board")
    if not board:
        raise SpikegenError(f"{build_dir} was built without a board (`board` none); "
                            f"rebuild it for one")
    if board.get("protocol", 0) != protocol.PROTOCOL_VERSION:
        raise SpikegenError(f"{build_dir} speaks host protocol version "
                            f"{board.get('protocol', 0)}; this spikegen speaks "
                            f"{protocol.PROTOCOL_VERSION}: rebuild it")
    if samples is not None and samples < 1:
        raise SpikegenError(f"`samples` must be at least 1, not {samples}")
    evaluation = _build_inputs(build_dir, qnet, data=data, samples=samples, steps=steps,
                               seed=seed)
    inputs = evaluation.inputs
    if qnet.coding.kind == "events" and inputs.shape[1] > qnet.hardware.max_steps:
        raise SpikegenError(f"{inputs.shape[1]} time steps exceed the build's `max_steps` "
                            f"({qnet.hardware.max_steps})")
    expected = reference.simulate(qnet, inputs)

    pixels = qnet.coding.kind != "events"
    link = BoardLink(serial_port if serial_port is not None else port, pixels=pixels,
                     inputs=qnet.inputs, classes=qnet.outputs,
                     baud=board["baud"] if baud is None else baud,
                     rx_buffer=board.get("rx_fifo_depth", 512), timeout=timeout,
                     retries=retries, log=log)
    try:
        link.check()
        classes, counts = link.classify(inputs, labels=evaluation.labels, progress=progress)
    finally:
        link.close()

    stats = link.stats
    # counts wider than 16 bits saturate on the wire
    reference_counts = np.minimum(expected.counts, 0xFFFF)
    bad = (classes != expected.predicted) | (counts != reference_counts).any(axis=1)
    result = {
        "board": board["board"],
        "port": os.fspath(port) if port is not None else None,
        "samples": int(len(classes)),
        "source": evaluation.source,
        "mismatched_samples": int(bad.sum()),
        "samples_per_second": round(len(classes) / max(stats.seconds, 1e-9), 2),
        "bytes_per_sample": round(stats.bytes_sent / max(len(classes), 1), 1),
        "link": stats.as_dict(),
    }
    if evaluation.labels is not None:
        result["accuracy"] = float(np.mean(classes == evaluation.labels))
        result["reference_accuracy"] = float(np.mean(expected.predicted == evaluation.labels))
    write_json(BuildDir(build_dir).run, result)
    return result
