"""The user-module studies of issue 14 in their quick modes (torch.compile's eager backend: no compiler; no timing
asserts): benchmarks/user_module_compile.py, benchmarks/profile_user_solve.py and benchmarks/small_batch_latency.py.

The compile study runs in a process of its own: a torch.compile that fails while tracing torch.func transforms
(the study records two such failures) can leave torch's global transform state behind, and in full ``-n 2`` runs a
worker that had run it in-process failed 77 later gradient tests ("element 0 of tensors does not require grad",
"Cannot access storage of TensorWrapper" at a functorch level of -2)."""

import json
import subprocess
import sys
from pathlib import Path

from tests import SUBPROCESS_TIMEOUT_S

ROOT = Path(__file__).parents[2]


def test_quick_mode_times_every_piece_and_checks_it_against_the_eager_result(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "user_module_compile.py"), "--quick", "--backend",
                          "eager", "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                         timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    rows = json.loads((tmp_path / "user_module_compile.json").read_text())
    assert [r["piece"] for r in rows] == ["rollout", "linearisation, torch.func", "linearisation, the library's",
                                          "linearisation, make_fx of torch.func"]
    for row in rows:
        assert row["eager_ms"] > 0
        # compiled: the same numbers as eager; or the failure is reported, not raised
        assert (row["error"] is None and row["max_abs_diff"] <= 1e-12) or row["error"] is not None
    assert rows[0]["error"] is None and rows[3]["error"] is None  # these compile (here with the eager backend)
    assert "| rollout | 1 | 4 |" in out.stdout  # the table printed is the one written
    text = (tmp_path / "user_module_compile.md").read_text()
    assert "| rollout | 1 | 4 |" in text


def test_the_profile_of_a_user_module_solve_runs(capsys):
    from benchmarks.profile_user_solve import main as profile

    assert profile(["--horizon", "4", "--solves", "1", "--top", "3"]) > 0
    out = capsys.readouterr().out
    assert "B = 1, T = 4, float64, autograd:" in out and "cumulative seconds over 1 solves" in out
    assert profile(["--horizon", "4", "--solves", "1", "--top", "3", "--dtype", "float32", "--model",
                    "closed-form"]) > 0
    assert "B = 1, T = 4, float32, closed-form:" in capsys.readouterr().out


def test_the_small_batch_latency_script_times_every_kind():
    from benchmarks.small_batch_latency import main as latency

    out = latency(["--horizon", "4", "--solves", "3"])
    assert set(out) == {"float32 closed-form", "float32 autograd", "float64 closed-form", "float64 autograd"}
    assert all(ms > 0 for ms in out.values())
