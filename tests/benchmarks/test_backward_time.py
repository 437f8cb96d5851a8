"""The backward-time benchmark's quick mode runs and writes its tables and plot (no timing asserts)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_script_shows_its_options():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "backward_time.py"), "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--sweep-iters" in result.stdout


def test_quick_benchmark_writes_results(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dilqr_rl.cli", "bench", "--quick", "--no-mpc", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "backward_time.json").read_text())
    modes = {r["mode"] for r in data["rows"]}
    assert modes == {"implicit", "diffmpc", "unroll"}
    assert all(r["backward_s"] > 0 for r in data["rows"])
    unroll = sorted((r["iters"], r["saved_kb"]) for r in data["rows"] if r["mode"] == "unroll")
    assert unroll[-1][1] > unroll[0][1], "unroll keeps more memory with more iterations"
    implicit = {r["iters"]: r["saved_kb"] for r in data["rows"] if r["mode"] == "implicit"}
    assert len(set(implicit.values())) == 1, "implicit keeps the same memory whatever the iterations"
    assert data["kkt"]["max_kkt_residual"] <= 1e-10
    assert (tmp_path / "backward_time.png").stat().st_size > 1000
    assert "unroll/implicit" in result.stdout
