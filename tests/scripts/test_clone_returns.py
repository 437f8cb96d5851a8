"""``scripts/clone_returns.py --quick``: one BC and one DAgger trial per policy, written as JSON and a table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import SUBPROCESS_TIMEOUT_S

SCRIPT = Path(__file__).parents[2] / "scripts" / "clone_returns.py"


def test_quick_run_writes_every_trial(tmp_path):
    output = tmp_path / "clone.json"
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--dagger", "1", "--episodes-per-round", "1",
                          "--output", str(output)], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    summary = json.loads(output.read_text())
    trials = [(t["policy"], t["method"]) for t in summary["trials"]]
    assert trials == [(p, m) for p in ("dilqr", "mlp", "lstm") for m in ("bc", "dagger")]
    for trial in summary["trials"]:
        assert trial["expert_labels"] == (60 if trial["method"] == "bc" else 90)
        assert {"untrained_return", "return", "normalized_return", "train_seconds"} <= set(trial)
    table = output.with_suffix(".md").read_text()
    assert table.count("\n| dilqr |") == 2 and "learned physics" in table
