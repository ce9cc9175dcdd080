"""The build directory: where things are, deterministic writers, safe readers."""
import numpy as np
import pytest

from spikegen.build_dir import (TOP_NAME, BuildDir, load_network, load_npz, read_json,
                                save_npz, write_json)
from spikegen.errors import SpikegenError


def test_layout(tmp_path):
    out = BuildDir(tmp_path)
    assert out.network == str(tmp_path / "network.json")
    assert out.hdl("verilog") == str(tmp_path / "hdl" / "verilog" / f"{TOP_NAME}.v")
    assert BuildDir.rel_hdl("vhdl") == f"hdl/vhdl/{TOP_NAME}.vhd"
    assert out.eval == str(tmp_path / "data" / "eval.npz")
    assert out.synth("ecp5") == str(tmp_path / "synth" / "ecp5")
    assert out.sim("ghdl") == str(tmp_path / "sim" / "ghdl")


def test_writers_are_deterministic(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "a.json").read_text() == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}\n'
    arrays = {"spikes": np.eye(3, dtype=np.uint8), "labels": np.arange(3)}
    save_npz(tmp_path / "a.npz", arrays)
    save_npz(tmp_path / "b.npz", dict(reversed(arrays.items())))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = load_npz(tmp_path / "a.npz")
    assert set(back) == {"spikes", "labels"} and np.array_equal(back["spikes"], np.eye(3))


def test_readers_refuse_what_is_not_a_build(tmp_path):
    with pytest.raises(SpikegenError, match=r"no network.json; run 'spikegen build' into it "
                                            r"first"):
        load_network(tmp_path)
    (tmp_path / "network.json").write_text("{not json")
    with pytest.raises(SpikegenError, match=r"network.json: not a spikegen network "
                                            r"description"):
        load_network(tmp_path)
    (tmp_path / "network.json").write_text('{"type": "Mystery"}')
    with pytest.raises(SpikegenError, match=r"not a spikegen network description \(Unknown IR "
                                            r"node type 'Mystery'\)"):
        load_network(tmp_path)
    (tmp_path / "report.json").write_text("[")
    with pytest.raises(SpikegenError, match=r"report.json: not a report"):
        read_json(tmp_path / "report.json", "a report")
    np.save(tmp_path / "objects.npy", np.array([{}], dtype=object), allow_pickle=True)
    import zipfile
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
        archive.write(tmp_path / "objects.npy", "objects.npy")
    with pytest.raises(ValueError, match="allow_pickle"):
        load_npz(tmp_path / "bad.npz")
