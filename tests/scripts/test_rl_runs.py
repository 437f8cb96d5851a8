"""``scripts/rl_runs.py``: the README's short ``dilqr-rl rl`` runs and their table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import SUBPROCESS_TIMEOUT_S

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "rl_runs.py"


def test_quick_runs_print_one_row_each_with_the_learned_physics(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--output-dir", str(tmp_path),
                          "--out", str(tmp_path / "results")], capture_output=True, text=True,
                         timeout=SUBPROCESS_TIMEOUT_S, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| `Pendulum-v1`")]
    assert [row.split(" | ")[1] for row in rows] == ["PPO", "TD3"]
    assert all("mass 1.3 -> " in row and "(registered 1)" in row for row in rows)  # the default wrong start
    assert len(list(tmp_path.glob("Pendulum-v1__*"))) == 2 and not (tmp_path / "results").exists()


def test_an_unknown_run_is_a_usage_error():
    out = subprocess.run([sys.executable, str(SCRIPT), "--only", "Pendulum-v1:ppo:lstm"], capture_output=True,
                         text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 2 and "unknown run(s) ['Pendulum-v1:ppo:lstm']" in out.stderr


def test_update_replaces_the_rows_of_the_only_runs_and_keeps_the_others(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    header = ("env_id,algo,policy,timesteps,untrained_normalized,final_normalized,untrained_return,final_return,"
              "env_steps_per_s,params\n")
    kept = "InvertedPendulum-v5,ppo,dilqr,2048,0.07,0.55,75.2,552.3,421.8,length 0.982 -> 0.937 (registered 0.327)\n"
    replaced = "Pendulum-v1,td3,dilqr,6000,0.478,0.99,-719.7,-154.8,49.5,mass 1.3 -> 1.02 (registered 1)\n"
    (results / "rl_runs.csv").write_text(header + replaced + kept)
    (results / "rl_runs.md").write_text("Written by `python scripts/rl_runs.py --jobs 2` (seed 0, one torch thread per "
                                        "run).\n\nold table\n")
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--only", "Pendulum-v1:td3:dilqr", "--update",
                          "--output-dir", str(tmp_path), "--out", str(results)], capture_output=True, text=True,
                         timeout=SUBPROCESS_TIMEOUT_S, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = (results / "rl_runs.csv").read_text().splitlines()
    assert rows[0] + "\n" == header and len(rows) == 3
    assert rows[1].startswith("Pendulum-v1,td3,dilqr,16,") and rows[2] + "\n" == kept  # RUNS' order, the new row
    md = (results / "rl_runs.md").read_text()
    assert md.startswith("Written by `python scripts/rl_runs.py --jobs 2`; then `python scripts/rl_runs.py --only "
                         "Pendulum-v1:td3:dilqr --update` (seed 0")
    assert "| `Pendulum-v1` | TD3 | DiLQR | 16 |" in md and "| `InvertedPendulum-v5` | PPO | DiLQR | 2048 |" in md


def test_update_needs_only_and_a_table(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--update", "--out", str(tmp_path)], capture_output=True,
                         text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 2 and "--update replaces the rows of the --only runs" in out.stderr
    out = subprocess.run([sys.executable, str(SCRIPT), "--only", "Pendulum-v1:td3:dilqr", "--update", "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 2 and "--update: no table to update at" in out.stderr
