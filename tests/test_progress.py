"""Feedback on long steps (:mod:`spikegen.progress`)."""
import io

from spikegen.progress import Stage


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_quiet_when_not_a_terminal():
    stream = io.StringIO()
    with Stage("[synth] Yosys synthesis", stream=stream) as stage:
        stage.update(detail="ABC")
    assert stream.getvalue() == ""


def test_a_terminal_gets_the_stage_the_time_and_a_bar():
    stream = Terminal()
    with Stage("[verify] verilator", total=8, unit="samples", stream=stream,
               every=60) as stage:
        stage.update(4)
        assert stage.line().startswith("[verify] verilator [##########..........] 4/8 "
                                       "samples 0:0")
    text = stream.getvalue()
    assert text.startswith("\r[verify] verilator") and text.endswith(" done\n")


def test_a_probe_names_the_stage_reached():
    stage = Stage("[board] toolchain", probe=lambda: "place and route (nextpnr-ice40)",
                  enabled=False)
    assert stage.line().startswith("[board] toolchain place and route (nextpnr-ice40) 0:00")


def test_a_stage_within_another_shows_in_its_line():
    stream = Terminal()
    with Stage("[verify] verilator", total=2, stream=stream, every=60) as outer:
        with Stage("[sim] Verilator model build", stream=stream):
            assert "Verilator model build" in outer.line()
        assert "model build" not in outer.line()
    assert stream.getvalue().count("\n") == 1
