"""The timing studies' quick modes run and write their tables and plots (no timing asserts)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import SUBPROCESS_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "dilqr_rl.cli", "bench", "--quick", "--no-mpc", *args],
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


def test_script_shows_its_options():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "backward_time.py"), "--help"],
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert result.returncode == 0
    for option in ("--sweep-iters", "--study", "--model", "--scale-batches"):
        assert option in result.stdout


@pytest.mark.parametrize("model", ["closed-form", "autograd"])
def test_iterations_study_writes_results(tmp_path, model):
    result = _bench("--model", model, "--out", str(tmp_path))
    stem = f"backward_time_{model.replace('-', '_')}"
    data = json.loads((tmp_path / f"{stem}.json").read_text())
    assert data["model"] == model
    modes = {r["mode"] for r in data["rows"]}
    assert modes == {"implicit", "diffmpc", "unroll"}
    assert all(r["backward_s"] > 0 for r in data["rows"])
    unroll = sorted((r["iters"], r["saved_kb"]) for r in data["rows"] if r["mode"] == "unroll")
    assert unroll[-1][1] > unroll[0][1], "unroll keeps more memory with more iterations"
    implicit = {r["iters"]: r["saved_kb"] for r in data["rows"] if r["mode"] == "implicit"}
    assert len(set(implicit.values())) == 1, "implicit keeps the same memory whatever the iterations"
    assert data["kkt"]["max_kkt_residual"] <= 1e-10
    assert data["accuracy"]["relative_error_vs_implicit"]["unroll"] < 1e-10
    assert (tmp_path / f"{stem}.png").stat().st_size > 1000
    assert "unroll/implicit" in result.stdout and "unroll/implicit" in (tmp_path / f"{stem}.md").read_text()


def test_speed_study_reports_every_target(tmp_path):
    _bench("--study", "speed", "--out", str(tmp_path))
    data = json.loads((tmp_path / "speed.json").read_text())
    solvers = {(r["system"], r["model"], r["solver"]) for r in data["rows"]}
    assert solvers == {(p, m, s) for p, m in (("pendulum", "closed-form"), ("pendulum", "autograd"),
                                              ("cartpole", "autograd")) for s in ("implicit", "diffmpc")}
    text = (tmp_path / "speed.md").read_text()
    for measure in ("autograd / closed-form", "implicit / diffmpc backward", "ours / mpc.pytorch"):
        assert measure in text
    assert (tmp_path / "speed.png").stat().st_size > 1000


def test_scale_study_covers_the_grid(tmp_path):
    _bench("--study", "scale", "--out", str(tmp_path))
    rows = json.loads((tmp_path / "scale.json").read_text())["rows"]
    assert {(r["model"], r["B"]) for r in rows} == {(m, b) for m in ("closed-form", "autograd") for b in (1, 4)}
    assert all(r["forward_per_iter_ms"] > 0 and r["backward_ms"] > 0 for r in rows)
    assert (tmp_path / "scale.png").stat().st_size > 1000


def test_default_output_goes_under_runs_and_leaves_committed_results_alone(tmp_path):
    committed = {p: p.stat().st_mtime_ns for p in (ROOT / "benchmarks" / "results").iterdir()}
    result = _bench("--study", "scale", cwd=tmp_path)
    written = list((tmp_path / "runs" / "bench").glob("scale__*/scale.json"))
    assert len(written) == 1, result.stdout
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "benchmarks" / "results").iterdir()} == committed


def test_compiled_sweeps_script_quick_mode(tmp_path):
    from dilqr_rl.control import kernels

    if kernels._library()[0] is None:
        pytest.skip(f"no compiled kernel here: {kernels.status()}")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compiled_sweeps.py"), "--quick", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "compiled_sweeps.md").read_text()
    for case in ("riccati sweep B=8 T=20", "warm step B=8 T=20 (2 it)", "time to solution B=20 T=20"):
        assert table.count(case) == 2  # both model kinds
    rows = (tmp_path / "compiled_sweeps.csv").read_text().splitlines()
    assert rows[0] == "model,case,compiled_ms,torch_ms,speedup" and len(rows) == 9


def test_threads_script_quick_mode(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "threads.py"), "--quick", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "threads.csv").read_text().splitlines()
    assert rows[0] == "load,model,case,threads_1_ms,threads_2_ms,ratio_2_over_1"
    assert len(rows) == 1 + 2 * 2 * 2  # quiet and busy, both model kinds, two cases
    for row in rows[1:]:
        one, two, ratio = (float(v) for v in row.split(",")[3:])
        assert one > 0 and two > 0 and abs(ratio - two / one) <= 0.01 + 0.01 * ratio


def test_ppo_throughput_script_quick_mode():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ppo_throughput.py"), "--quick", "--cost-map"],
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert "Pendulum-v1, 2 envs x 32 steps" in result.stdout
    assert "MlpPolicy: " in result.stdout and "DiLQRPolicy (zero-config): " in result.stdout
    assert "with a cost map: " in result.stdout


def test_rl_physics_path_script_quick_mode(tmp_path):
    """The zero-config actor along the path from the wrong start to the true physics, and at a committed run's
    final physics (read from the committed rl study's results.csv)."""
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "rl_physics_path.py"), "--quick",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rows = [line for line in (tmp_path / "rl_physics_path.md").read_text().splitlines() if line.startswith("| path")
            or line.startswith("| PPO seed")]
    assert len(rows) == 3 and "27.86 | 4.710" in rows[0] and "15.00 | 3.000" in rows[1]


def test_clone_settings_script_quick_mode(tmp_path):
    """closed-loop-bc's DiLQR BC trial at two losses, learning rates and epoch counts, tiny; then the summary
    rewritten from its jsonl."""
    script = str(ROOT / "benchmarks" / "clone_settings.py")
    result = subprocess.run([sys.executable, script, "--quick", "--envs", "Pendulum-v1", "--losses", "huber", "first",
                             "--lrs", "0.02", "0.01", "--epochs", "1", "2", "--seeds", "1",
                             "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "clone_settings.jsonl").read_text().splitlines()]
    settings = [(loss, lr, e) for loss in ("huber", "first") for lr in (0.02, 0.01) for e in (1, 2)]
    assert [(r["loss"], r["lr"], r["epochs"], r["n"]) for r in rows] == [(*s, 1) for s in settings]
    written = (tmp_path / "clone_settings.md").read_text()
    assert all(f"| Pendulum-v1 | {loss} | {lr} | {e} | 1 |" in written for loss, lr, e in settings)
    assert "--losses first --lrs 0.01 --epochs 2 --seeds 1" in written
    again = subprocess.run([sys.executable, script, "--summarize", str(tmp_path / "clone_settings.jsonl"), "--out",
                            str(tmp_path / "again")], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
                           cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "clone_settings.md").read_text() == written
