"""spikegen explore: a sweep on a local Ray, its cache, its failing points, its files."""
import csv
import json
import os

import pytest

from spikegen.cli import main
from spikegen.pareto import dominates, front_flags

from helpers.networks import saved_network_and_data


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (explore uses a running Ray and leaves it running)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def small_net(tmp_path):
    path, data = saved_network_and_data(tmp_path, samples=20, steps=8)
    return str(path), str(data)


def _explore(net, data, out, *sweeps):
    argv = ["explore", net, "--eval", data, "--board", "arty-a7", "--out", str(out)]
    for sweep in sweeps:
        argv += ["--sweep", sweep]
    return main(argv)


def test_four_points_then_a_rerun_computes_nothing(tmp_path, small_net, local_ray, capsys):
    net, data = small_net
    out = tmp_path / "sweep"
    assert _explore(net, data, out, "weight-bits=4,8", "P=3,0") == 0
    printed = capsys.readouterr().out
    assert "4 computed, 0 from the cache, 0 failed" in printed
    assert "Pareto front" in printed
    tree = json.loads((out / "results.json").read_text())
    assert tree["engine"] == "ray" and tree["ray_version"]
    assert tree["resources_from"] == "estimate"
    points = tree["points"]
    assert [p["options"] for p in points] == [
        {"weight-bits": 4, "parallelism": 3}, {"weight-bits": 4, "parallelism": 0},
        {"weight-bits": 8, "parallelism": 3}, {"weight-bits": 8, "parallelism": 0}]
    for p in points:
        assert p["error"] is None and 0 <= p["accuracy"] <= 1
        assert p["lut"] > 0 and p["energy_uj"] > 0 and p["fits"] is True
    # all lanes: fewer cycles than 3 lanes, more logic
    assert points[1]["cycles_per_inference"] < points[0]["cycles_per_inference"]
    assert points[1]["lut"] > points[0]["lut"] or points[3]["lut"] > points[2]["lut"]
    # the front: exactly the points nobody dominates over accuracy, LUTs and energy
    costs = ("lut", "energy_uj")
    for p in points:
        assert p["pareto"] == (not any(dominates(q, p, costs) for q in points))
    rows = list(csv.reader((out / "results.csv").read_text().splitlines()))
    assert rows[0][:3] == ["weight-bits", "parallelism", "accuracy"]
    assert len(rows) == 5 and rows[1][:2] == ["4", "3"]
    assert (out / "pareto.png").stat().st_size > 0

    first = (out / "results.json").read_bytes()
    assert _explore(net, data, out, "weight-bits=4,8", "P=3,0") == 0
    assert "0 computed, 4 from the cache" in capsys.readouterr().out
    assert (out / "results.json").read_bytes() == first

    # a sweep killed half way: only the point whose cache file is missing runs again
    os.remove(out / "points" / f"{points[2]['key']}.json")
    assert _explore(net, data, out, "weight-bits=4,8", "P=3,0") == 0
    assert "1 computed, 3 from the cache" in capsys.readouterr().out
    assert (out / "results.json").read_bytes() == first


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, small_net, local_ray,
                                                           capsys):
    net, data = small_net
    out = tmp_path / "sweep"
    assert _explore(net, data, out, "weight-bits=6,20") == 0
    printed = capsys.readouterr().out
    assert "1 failed" in printed
    assert "failed: weight-bits=20: --weight-bits must be an integer from 2 to 16" in printed
    good, bad = json.loads((out / "results.json").read_text())["points"]
    assert good["error"] is None and good["accuracy"] is not None
    assert bad["error"] == "--weight-bits must be an integer from 2 to 16, not 20"
    assert bad["accuracy"] is None and bad["pareto"] is False
    # a failed point is computed again on the next run, the good one comes from the cache
    assert _explore(net, data, out, "weight-bits=6,20") == 0
    assert "1 computed, 1 from the cache, 1 failed" in capsys.readouterr().out


@pytest.mark.parametrize("sweep,message", [
    ("wieght-bits=4", "unknown build option 'wieght-bits'; NAME is spelled as in "
                      "'spikegen build'"),
    ("out=a,b", "'out' is not a build option a sweep can vary"),
    ("weight-bits=4,x", "'x' is not an integer"),
    ("weight-bits=0", "0 is not a positive integer"),
    ("coding=events,spikes", "--coding: invalid choice: 'spikes'"),
    ("events-per-cycle=1,3", "--events-per-cycle: invalid choice: 3"),
    ("no-reset-delay=1", "--no-reset-delay takes no value"),
    ("weight-bits", "'weight-bits' is not NAME=V1,V2,..."),
])
def test_sweep_names_and_values_are_checked_as_the_build_flags(small_net, capsys, sweep,
                                                               message):
    net, data = small_net
    with pytest.raises(SystemExit) as exit:
        main(["explore", net, "--eval", data, "--sweep", sweep])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "argument --sweep" in err


@pytest.mark.parametrize("argv,message", [
    (["--sweep", "P=1,2"], "--eval is needed"),
    (["--eval", "x.npz", "--board", "none", "--sweep", "P=1"], "--board is needed"),
    (["--eval", "x.npz", "--sweep", "P=1", "--sweep", "parallelism=2"], "--sweep names "
                                                                        "an option twice"),
])
def test_explore_errors_are_one_line(small_net, capsys, argv, message):
    net, _ = small_net
    assert main(["explore", net, *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_front_by_hand():
    rows = [{"accuracy": 0.9, "lut": 100, "energy_uj": 1.0},
            {"accuracy": 0.8, "lut": 200, "energy_uj": 2.0},      # dominated by the first
            {"accuracy": 0.95, "lut": 300, "energy_uj": 1.0},
            {"accuracy": 0.5, "lut": 50, "energy_uj": 3.0},
            {"accuracy": None, "lut": None, "energy_uj": None, "error": "failed"}]
    assert front_flags(rows) == [True, False, True, True, False]
    assert front_flags(rows, ("energy_uj",)) == [False, False, True, False, False]
