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
