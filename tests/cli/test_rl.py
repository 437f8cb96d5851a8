"""``dilqr-rl rl`` and ``scripts/ppo_misspecified.py`` end to end as subprocesses: TensorBoard events, a
checkpoint that loads, the printed sweep and mass trajectory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from stable_baselines3 import PPO

from dilqr_rl.agents.ppo import make_env
from dilqr_rl.cli import main
from dilqr_rl.cli.rl import Args, config_from_args
from dilqr_rl.policies import DiLQRPolicy

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_rl_subcommand_tiny_run(tmp_path):
    cmd = [*CLI, "rl", "--total-timesteps", "32", "--n-envs", "1",
           "--n-steps", "32", "--batch-size", "32", "--n-epochs", "1", "--horizon", "4", "--max-iter", "4",
           "--eval-episodes", "0", "--no-progress-bar", "--seed", "3", "--output-dir", str(tmp_path),
           "--controller-lr-scale", "5", "--start-angle", "0.2", "--max-episode-steps", "16"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("Pendulum-v1__ppo-dilqr__3__")
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert f"checkpoint: {run_dir / 'model.zip'}" in out.stdout
    assert "mass: 0.5000 ->" in out.stdout
    model = PPO.load(run_dir / "model.zip")
    assert isinstance(model.policy, DiLQRPolicy)
    assert model.policy._get_constructor_parameters()["controller_lr_scale"] == 5.0


def test_zero_start_angle_and_episode_steps_mean_the_envs_own():
    config = config_from_args(Args(start_angle=0.0, max_episode_steps=0, n_envs=1))
    assert config.start_angle is None and config.max_episode_steps is None
    env = make_env(config)
    assert env.envs[0].spec.max_episode_steps == 200  # Pendulum-v1's registered limit
    env.close()


def test_rl_bad_options_are_one_line_errors(tmp_path, capsys):
    assert main(["rl", "--max-episode-steps", "-1", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "error: max_episode_steps must be >= 1 or None (the env's own limit); got -1\n"
    assert main(["rl", "--env-id", "dilqr_rl/Pendulum-v0", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: start_angle sets Pendulum-v1's reset options")
    assert list(tmp_path.iterdir()) == []


def test_rl_help_lists_options():
    out = subprocess.run([*CLI, "rl", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "--mass-error" in out.stdout and "relative error" in out.stdout
    assert "--controller-lr-scale" in out.stdout and "--start-angle" in out.stdout


def test_ppo_misspecified_script_quick(tmp_path):
    script = Path(__file__).parents[2] / "scripts" / "ppo_misspecified.py"
    out = subprocess.run([sys.executable, str(script), "--quick", "--no-progress-bar", "--output-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    sweep = re.findall(r"mass +([0-9.]+): return +(-?[0-9.]+)", out.stdout)
    assert [float(m) for m, _ in sweep] == [0.5, 0.75, 1.0, 1.5, 2.0]
    assert re.search(r"^ +64 +-?[0-9.]+ +0\.5000$", out.stdout, re.MULTILINE)  # one rollout, mass 0.5 during it
    assert re.search(r"model mass: 0\.5000 -> [0-9.]+ \(true 1\.0000\)", out.stdout)
    assert re.search(r"deterministic return \(2 episodes\): -?[0-9.]+ -> -?[0-9.]+", out.stdout)
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("Pendulum-v1__ppo_misspecified_quick-dilqr__0__")
    assert list(run_dir.glob("events.out.tfevents.*")) and (run_dir / "model.zip").exists()
