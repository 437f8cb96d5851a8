"""``scripts/actor_returns.py``: the zero-config actor against the expert and a random policy, per env."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

from tests import SUBPROCESS_TIMEOUT_S

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "actor_returns.py"


def test_quick_run_of_one_env_prints_each_policy():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--only", "dilqr_rl/CartpoleBalance-v0"],
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if "CartpoleBalance-v0" in line]
    assert [line.split()[1].rstrip(":") for line in lines] == ["random", "expert", "actor", "actor_wrong",
                                                                "actor_from_starts"]  # this actor follows its plans


def test_unknown_env_is_a_usage_error():
    out = subprocess.run([sys.executable, str(SCRIPT), "--only", "NOPE"], capture_output=True, text=True,
                         timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 2 and "--only 'NOPE' is none of" in out.stderr


def test_committed_results_normalise_each_env_to_random_and_expert():
    with open(ROOT / "benchmarks" / "results" / "actor_returns.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_env: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_env.setdefault(row["env_id"], {})[row["policy"]] = row
    for env_id, policies in by_env.items():
        random, expert = (float(policies[k]["mean_return"]) for k in ("random", "expert"))
        for row in policies.values():
            expected = (float(row["mean_return"]) - random) / (expert - random)
            assert math.isclose(float(row["normalized"]), expected, abs_tol=2e-3), (env_id, row)
