"""Feedback on long steps: the stage and the time elapsed, and a bar when the work is known.

Synthesis, place and route, a simulator's model build and a long verification run for tens of
seconds in tools that print nothing useful meanwhile. :class:`Stage` redraws one line on
standard error twice a second while such a step runs::

    [synth] place and route (nextpnr-ice40) 0:41
    [verify] [##########..........] 100/200 samples 0:12

and leaves a last line with the time taken. It draws nothing when standard error is not a
terminal (logs, CI, pytest), so output stays quiet and deterministic there.
"""
import sys
import threading
import time


__all__ = ["Stage"]


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


class Stage:
    """One long step shown on the terminal, as a context manager.

    Parameters
    ----------
    label : str
        What runs (e.g. ``"[synth] Yosys synth_ice40"``).
    total : int or None
        The amount of work, when known: :meth:`update` then draws a bar of ``done/total``.
    probe : callable or None
        Called at each redraw; a string it returns replaces the stage's description (e.g.
        the tool a build script has reached, judged from the files it wrote).
    stream : file-like or None
        Standard error by default.
    enabled : bool or None
        Draw at all; by default when ``stream`` is a terminal.
    every : float
        Seconds between redraws.

    A stage entered while another one is drawn (a simulator's model build within a
    verification) shows as the outer stage's description instead of a line of its own.
    """
    _active = []
    def __init__(self, label, *, total=None, probe=None, stream=None, enabled=None,
                 every=0.5, unit=""):
        self.label, self.total, self.probe, self.unit = label, total, probe, unit
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled, self.every = enabled, every
        self.done, self.detail = 0, ""
        self._stop = threading.Event()
        self._thread = None
        self._started = None
        self._width = 0

    def update(self, done=None, detail=None):
        """Record progress: ``done`` units of ``total``, or a new ``detail``."""
        if done is not None:
            self.done = done
        if detail is not None:
            self.detail = detail

    def line(self):
        """The line as drawn now (also without a terminal, for tests)."""
        if self.probe is not None:
            found = self.probe()
            if found:
                self.detail = found
        parts = [self.label]
        if self.detail:
            parts.append(self.detail)
        if self.total:
            filled = int(20 * min(self.done, self.total) / self.total)
            parts.append(f"[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total}"
                         + (f" {self.unit}" if self.unit else ""))
        started = self._started if self._started is not None else time.monotonic()
        parts.append(_clock(time.monotonic() - started))
        return " ".join(parts)

    def _draw(self, text, end=""):
        pad = max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad + end)
        self.stream.flush()

    def _run(self):
        while not self._stop.wait(self.every):
            self._draw(self.line())

    def __enter__(self):
        self._started = time.monotonic()
        self._outer = None
        if Stage._active:
            self._outer = Stage._active[-1]
            self._saved = self._outer.detail
            self._outer.detail = self.label.split("] ", 1)[-1]
            return self
        if self.enabled:
            Stage._active.append(self)
            self._draw(self.line())
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind, value, traceback):
        if self._outer is not None:
            self._outer.detail = self._saved
            return False
        if self in Stage._active:
            Stage._active.remove(self)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._draw(self.line() + (" failed" if kind is not None else " done"), end="\n")
        return False
