"""``dilqr-rl rl`` and ``scripts/ppo_misspecified.py`` end to end as subprocesses: TensorBoard events, a
checkpoint that loads, the printed sweep and mass trajectory."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from stable_baselines3 import PPO

from dilqr_rl.agents.ppo import PPOConfig, checkpoints, load_run_config, make_env
from dilqr_rl.cli import main, parse
from dilqr_rl.cli._commands import installed_command
from dilqr_rl.cli.rl import Args
from dilqr_rl.policies import DiLQRPolicy
from tests import SUBPROCESS_TIMEOUT_S

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]
TINY = ["--total-timesteps", "32", "--n-envs", "1", "--n-steps", "32", "--batch-size", "32", "--n-epochs", "1",
        "--horizon", "4", "--max-iter", "4", "--eval-episodes", "0", "--no-progress", "--max-episode-steps", "16"]


def test_rl_subcommand_tiny_run(tmp_path):
    cmd = [*CLI, "rl", *TINY, "--seed", "3", "--output-dir", str(tmp_path), "--controller-lr-scale", "5",
           "--start-angle", "0.2", "--checkpoint-freq", "16"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("Pendulum-v1__ppo-dilqr__3__")
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1  # SB3's logger alone
    assert f"checkpoint: {run_dir / 'model.zip'}" in out.stdout
    evaluate = f"{installed_command('dilqr-rl')} evaluate --policy {run_dir / 'model.zip'} --env-id Pendulum-v1"
    assert f"evaluate it: {evaluate}" in out.stdout
    assert "mass: 0.5000 ->" in out.stdout
    assert [p.name for p in checkpoints(run_dir)] == ["model_16_steps.zip", "model_32_steps.zip"]
    model = PPO.load(run_dir / "model.zip")
    assert isinstance(model.policy, DiLQRPolicy)
    assert model.policy._get_constructor_parameters()["controller_lr_scale"] == 5.0
    assert load_run_config(run_dir).start_angle == 0.2


def test_none_means_the_envs_own_start_and_episode_length():
    config = parse(Args, ["--start-angle", "None", "--max-episode-steps", "None", "--n-envs", "1"], "rl", "")
    assert config.start_angle is None and config.max_episode_steps is None
    env = make_env(config)
    assert env.envs[0].spec.max_episode_steps == 200  # Pendulum-v1's registered limit
    env.close()


def test_rl_bad_options_are_one_line_errors_in_flag_terms(tmp_path, capsys):
    assert main(["rl", "--max-episode-steps", "-1", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "error: --max-episode-steps must be >= 1, or None for the env's own limit; got -1\n"
    assert main(["rl", "--env-id", "dilqr_rl/Pendulum-v0", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("error: --start-angle sets Pendulum-v1's reset options and dilqr_rl/Pendulum-v0 "
                                       "has none: use --env-id Pendulum-v1, or --start-angle None for the env's own "
                                       "starts\n")
    assert main(["rl", "--goal-weights", "1", "2", "--output-dir", str(tmp_path)]) == 2
    assert "Expected 3 values" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["rl", "--output-dir", str(blocker / "runs")]) == 2
    assert capsys.readouterr().err == (f"error: --output-dir {blocker / 'runs'}: {blocker} is a file, not a folder; "
                                       "pass a folder (it is created if missing)\n")


def test_rl_help_lists_options():
    out = subprocess.run([*CLI, "rl", "--help"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
                         env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0 and "--mass-error" in out.stdout and "Relative error" in out.stdout
    assert "--controller-lr-scale" in out.stdout and "--start-angle" in out.stdout and "--resume" in out.stdout


def test_ctrl_c_saves_and_resume_continues(tmp_path, capsys, monkeypatch):
    learn = PPO.learn

    def interrupted_learn(self, total_timesteps, callback=None, **kwargs):
        learn(self, 32, callback=callback, **kwargs)  # one rollout, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(PPO, "learn", interrupted_learn)
    args = [*TINY, "--total-timesteps", "64", "--checkpoint-freq", "0", "--output-dir", str(tmp_path)]
    assert main(["rl", *args]) == 130
    (run_dir,) = tmp_path.iterdir()
    out = capsys.readouterr().out
    assert f"saved {run_dir / 'checkpoints' / 'model_32_steps.zip'}" in out
    assert f"run folder: {run_dir}\nresume with: {installed_command('dilqr-rl')} rl --resume {run_dir}" in out
    monkeypatch.setattr(PPO, "learn", learn)
    assert main(["rl", "--resume", str(run_dir), "--horizon", "5"]) == 2
    assert capsys.readouterr().err == ("error: --resume continues a run with its own settings, but --horizon 5 (the "
                                       "run has 4): drop these options, or start a new run\n")
    assert main(["rl", "--resume", str(run_dir), "--no-progress"]) == 0
    assert f"run folder: {run_dir}" in capsys.readouterr().out
    assert PPO.load(run_dir / "model.zip").num_timesteps == 64
    assert main(["rl", "--resume", str(run_dir)]) == 2
    assert "the run already has 64 of --total-timesteps 64 steps" in capsys.readouterr().err
    assert main(["rl", "--resume", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith(f"error: --resume {tmp_path / 'nowhere'}: ")


def test_ppo_misspecified_script_quick(tmp_path):
    script = Path(__file__).parents[2] / "scripts" / "ppo_misspecified.py"
    out = subprocess.run([sys.executable, str(script), "--quick", "--no-progress", "--output-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    sweep = re.findall(r"mass +([0-9.]+): return +(-?[0-9.]+)", out.stdout)
    assert [float(m) for m, _ in sweep] == [0.5, 0.75, 1.0, 1.5, 2.0]
    assert re.search(r"^ +64 +-?[0-9.]+ +0\.5000$", out.stdout, re.MULTILINE)  # one rollout, mass 0.5 during it
    assert re.search(r"model mass: 0\.5000 -> [0-9.]+ \(true 1\.0000\)", out.stdout)
    assert re.search(r"deterministic return \(2 episodes\): -?[0-9.]+ -> -?[0-9.]+", out.stdout)
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("Pendulum-v1__ppo_misspecified_quick-dilqr__0__")
    assert list(run_dir.glob("events.out.tfevents.*")) and (run_dir / "model.zip").exists()


def test_resume_needs_a_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(PPOConfig())))
    assert main(["rl", "--resume", str(run_dir)]) == 2
    assert capsys.readouterr().err == (f"error: --resume {run_dir}: the run has no checkpoints/*_steps.zip yet (it "
                                       "stopped before its first checkpoint); start a new run\n")


def test_an_env_the_pendulum_planner_cannot_read_leaves_no_run_folder(tmp_path, capsys):
    assert main(["rl", "--env-id", "dilqr_rl/CartpoleBalance-v0", "--start-angle", "None",
                 "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("error: the PPO agent plans with a pendulum model and needs observations (cos, "
                                       "sin, theta_dot) or (theta, theta_dot); dilqr_rl/CartpoleBalance-v0 observes "
                                       "shape (4,). Use --env-id Pendulum-v1 or dilqr_rl/Pendulum-v0 (for other "
                                       "systems build PPO(DiLQRPolicy, env) yourself).\n")
    assert main(["rl", "--env-id", "NoSuchEnv-v9", "--start-angle", "None", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: --env-id NoSuchEnv-v9: no such environment")
    assert list(tmp_path.iterdir()) == []
