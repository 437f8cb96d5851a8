"""``scripts/expert_returns.py``: ``--quick`` writes one row per case with finite returns and, where timed, a
positive time per step; an unknown ``--only`` env is an argparse error."""

from __future__ import annotations

import csv
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests import SUBPROCESS_TIMEOUT_S

SCRIPT = Path(__file__).parents[2] / "scripts" / "expert_returns.py"


def load_script():
    """The script as a module (registered in ``sys.modules`` first, as its dataclass needs)."""
    name = "scripts_expert_returns"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_quick_run_writes_a_row_per_case(tmp_path):
    script = load_script()
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expert_returns_quick.csv", "expert_returns_quick.md"]
    with open(tmp_path / "expert_returns_quick.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == script.COLUMNS
        rows = list(reader)
    n = script.QUICK_EPISODES
    assert [(r["env_id"], r["seeds"]) for r in rows] == [(c.env_id, f"{c.seed}..{c.seed + n - 1}")
                                                         for c in script.CASES]
    for row, case in zip(rows, script.CASES, strict=True):
        assert int(row["episodes"]) == n and float(row["mean_length"]) == script.QUICK_STEPS, row
        returns = [float(row[k]) for k in ("mean_return", "std_return", "min_return", "max_return")]
        assert all(math.isfinite(v) for v in returns), row
        assert float(row["min_return"]) <= float(row["mean_return"]) <= float(row["max_return"]), row
        if case.timed_episodes:
            assert int(row["timed_steps"]) == script.QUICK_STEPS, row
            assert math.isfinite(float(row["ms_per_step"])) and float(row["ms_per_step"]) > 0, row
        else:
            assert (row["ms_per_step"], row["timed_steps"]) == ("-", "0"), row
        assert row["settings"].startswith("T="), row
    table = (tmp_path / "expert_returns_quick.md").read_text()
    assert "--quick" in table and table.count(f"| `{rows[0]['env_id']}` |") == 3
    assert len([line for line in table.splitlines() if line.startswith("| `")]) == len(rows)


def test_only_an_unknown_env_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script().main(["--only", "NOPE"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: --only 'NOPE' is none of [" in err and "'Pendulum-v1'" in err


def test_readme_experts_table_is_the_committed_csv():
    """The README's experts table copies ``benchmarks/results/expert_returns.csv`` cell for cell."""
    root = Path(__file__).parents[2]
    with open(root / "benchmarks" / "results" / "expert_returns.csv", newline="") as f:
        expected = [[f"`{r['env_id']}`", r["seeds"], r["episodes"], f"{r['mean_return']} +- {r['std_return']}",
                     r["min_return"], r["mean_length"], r["ms_per_step"], r["settings"]] for r in csv.DictReader(f)]
    readme = (root / "README.md").read_text()
    section = readme[readme.index("Experts: `dilqr_rl.policies.expert_for(env)`"):]
    table = section[section.index("\n|"):section.index("\n\n", section.index("\n|"))]
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in table.strip().splitlines()[2:]]
    assert [row[:8] for row in rows] == expected
