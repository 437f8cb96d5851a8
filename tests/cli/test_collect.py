"""``dilqr-rl collect`` as a subprocess: tiny runs that write files which load back."""

from __future__ import annotations

import subprocess
import sys

from dilqr_rl.data import EpisodeDataset, PlanDataset


def collect(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dilqr_rl.cli", "collect", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_collect_plans_to_the_default_path(tmp_path) -> None:
    result = collect("--kind", "plans", "--system", "pendulum-upright", "--n-train", "3", "--n-val", "1", "--n-test",
                     "2", "--seed", "5", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "runs" / "data" / "plans__pendulum-upright__3-1-2__seed5.npz"
    assert f"wrote {path.relative_to(tmp_path)}" in result.stdout
    ds = PlanDataset.load(path, system="pendulum-upright")
    assert len(ds.split("test")) == 2 and ds.metadata["seed"] == 5


def test_collect_episodes_with_output(tmp_path) -> None:
    out = tmp_path / "eps.npz"
    result = collect("--kind", "episodes", "--env-id", "dilqr_rl/CartpoleBalance-v0", "--n-episodes", "2",
                     "--max-episode-steps", "5", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "episodes dilqr_rl/CartpoleBalance-v0" in result.stderr  # the progress bar
    ds = EpisodeDataset.load(out, env_id="dilqr_rl/CartpoleBalance-v0")
    assert len(ds) == 10 and ds.has_states


def test_collect_unknown_system_fails_with_a_message(tmp_path) -> None:
    result = collect("--system", "acrobot", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("error: unknown system 'acrobot'")
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()
