"""The user-module studies of issue 14 in their quick modes (torch.compile's eager backend: no compiler; no timing
asserts): benchmarks/user_module_compile.py and benchmarks/profile_user_solve.py."""

import json

from benchmarks.user_module_compile import main


def test_quick_mode_times_every_piece_and_checks_it_against_the_eager_result(tmp_path):
    rows = main(["--quick", "--backend", "eager", "--out", str(tmp_path)])
    assert [r["piece"] for r in rows] == ["rollout", "linearisation, torch.func", "linearisation, the library's",
                                          "linearisation, make_fx of torch.func"]
    for row in rows:
        assert row["eager_ms"] > 0
        # compiled: the same numbers as eager; or the failure is reported, not raised
        assert (row["error"] is None and row["max_abs_diff"] <= 1e-12) or row["error"] is not None
    assert rows[0]["error"] is None and rows[3]["error"] is None  # these compile (here with the eager backend)
    stored = json.loads((tmp_path / "user_module_compile.json").read_text())
    assert [(r["piece"], r["max_abs_diff"], r["error"]) for r in stored] == \
        [(r["piece"], r["max_abs_diff"], r["error"]) for r in rows]
    text = (tmp_path / "user_module_compile.md").read_text()
    assert "| rollout | 1 | 4 |" in text


def test_the_profile_of_a_user_module_solve_runs(capsys):
    from benchmarks.profile_user_solve import main as profile

    assert profile(["--horizon", "4", "--solves", "1", "--top", "3"]) > 0
    out = capsys.readouterr().out
    assert "B = 1, T = 4:" in out and "cumulative seconds over 1 solves" in out
