"""A non-editable install carries the board definitions and the testbenches."""
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_boards_and_testbenches(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("spikegen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("spikegen/cli.py", "spikegen/reference.py", "spikegen/boards/arty_a7.py",
                 "spikegen/sim/accelerator_tb.py", "spikegen/sim/runner.py",
                 "rtl_lib/fc_layer.py", "rtl_lib/lif.py"):
        assert name in names, name
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "spikegen = spikegen.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
