"""``dilqr-rl rl`` end to end as a subprocess: TensorBoard events and a checkpoint that loads."""

from __future__ import annotations

import subprocess
import sys

from stable_baselines3 import PPO

from dilqr_rl.policies import DiLQRPolicy

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_rl_subcommand_tiny_run(tmp_path):
    cmd = [*CLI, "rl", "--total-timesteps", "32", "--n-envs", "1",
           "--n-steps", "32", "--batch-size", "32", "--n-epochs", "1", "--horizon", "4", "--max-iter", "4",
           "--eval-episodes", "0", "--no-progress-bar", "--seed", "3", "--output-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("Pendulum-v1__ppo-dilqr__3__")
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert f"checkpoint: {run_dir / 'model.zip'}" in out.stdout
    assert "mass: 0.5000 ->" in out.stdout
    model = PPO.load(run_dir / "model.zip")
    assert isinstance(model.policy, DiLQRPolicy)


def test_rl_help_lists_options():
    out = subprocess.run([*CLI, "rl", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "--mass-error" in out.stdout and "relative error" in out.stdout
