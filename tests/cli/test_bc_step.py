"""``dilqr-rl bc-step`` end to end as a subprocess: TensorBoard events, a checkpoint that reproduces the run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dilqr_rl.agents.bc import load_checkpoint
from dilqr_rl.agents.bc_step import load_step_policy
from dilqr_rl.agents.evaluation import evaluate_episodes
from dilqr_rl.cli import main
from dilqr_rl.cli._errors import CLIError
from dilqr_rl.cli.bc_step import split_data
from dilqr_rl.data import EpisodeDataset, collect_episodes, collect_plans
from dilqr_rl.envs import make_env
from tests import SUBPROCESS_TIMEOUT_S

ENV_ID = "dilqr_rl/Pendulum-v0"
TINY = ["--n-episodes", "4", "--max-episode-steps", "15", "--epochs", "3", "--batch-size", "16",
        "--hidden-sizes", "16", "--val-fraction", "0.25", "--test-fraction", "0.25", "--eval-episodes", "2",
        "--eval-seed", "100", "--no-progress"]


def bc_step(tmp_path, *extra):
    return subprocess.run([sys.executable, "-m", "dilqr_rl.cli", "bc-step", "--output-dir", str(tmp_path), *extra],
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)


@pytest.fixture(scope="module")
def episodes():
    """The dataset TINY collects (same env, episodes, time limit and seed)."""
    return collect_episodes(ENV_ID, 4, seed=0, progress=False, max_episode_steps=15)


def test_bc_step_writes_events_and_a_checkpoint_that_reproduces_the_run(tmp_path, episodes):
    out = bc_step(tmp_path, *TINY)
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("dilqr_rl-Pendulum-v0__bc-step__0__")
    events = EventAccumulator(str(run_dir))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"bc/train_transitions", "bc/expert_return", "train/loss", "eval/val_loss", "eval/test_loss",
            "eval/mean_return"} <= scalars
    assert "hyperparameters/text_summary" in events.Tags()["tensors"]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["checkpoint"] == str(run_dir / "checkpoints" / "best.pt") and f"checkpoint: {result['checkpoint']}" \
        in out.stdout
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 3

    policy = load_step_policy(result["checkpoint"])
    _, _, (obs, actions) = split_data(episodes, 0.25, 0.25, seed=0)
    assert len(obs) == 15  # one held-out episode of the four
    with torch.no_grad():
        test_loss = float((policy(obs) - actions).square().sum(-1).mean())
    assert test_loss == pytest.approx(result["test_loss"], rel=1e-5)  # the best model, on the same test split
    env = make_env(ENV_ID, max_episode_steps=15)
    try:
        returns = evaluate_episodes(policy, env, n_episodes=2, seed=100)  # one by one; the run: in lockstep
    finally:
        env.close()
    assert returns.mean_return == pytest.approx(result["mean_return"], rel=1e-5)  # the same actions as in the run
    assert result["expert_return"] == pytest.approx(episodes.episode_returns().mean())


def test_bc_step_reports_user_errors_on_one_line(tmp_path, episodes):
    data = episodes.save(tmp_path / "episodes.npz")
    runs = tmp_path / "runs"
    out = bc_step(runs, "--data", str(data), "--env-id", "Pendulum-v1", "--no-progress")
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert f"--data {data} holds episodes of {ENV_ID}, not Pendulum-v1: drop --env-id" in out.stderr
    assert not runs.exists()  # refused before a run directory was made
    plans = collect_plans("pendulum-upright", n_train=1, n_val=1, n_test=0, progress=False).save(tmp_path / "p.npz")
    out = bc_step(runs, "--data", str(plans), "--no-progress")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr == (f"error: --data {plans} holds plans, not episodes: use it with dilqr-rl bc / sysid --data, "
                          "or create episodes with dilqr-rl collect --kind episodes ...\n")
    out = bc_step(runs, "--val-fraction", "1.5", "--no-progress")
    assert out.stderr == "error: need 0 < --val-fraction < 1 and 0 <= --test-fraction < 1; got 1.5 and 0.2\n"


def test_split_data_refuses_too_few_episodes_and_bad_fractions(episodes):
    one_episode = EpisodeDataset(ENV_ID, {**episodes.arrays, "episode": np.zeros_like(episodes.episode)})
    with pytest.raises(CLIError, match=r"has 1 episode\(s\) but bc-step splits by episode and needs at least 3"):
        split_data(one_episode, 0.25, 0.25, seed=0)
    with pytest.raises(ValueError, match=r"need 0 < val_fraction < 1 and 0 <= test_fraction < 1; got 0\.0"):
        split_data(episodes, 0.0, 0.25, seed=0)


def test_bc_step_refuses_bad_counts_and_envs_before_collecting(tmp_path, capsys):
    runs = tmp_path / "runs"
    for option, message in ((["--epochs", "0"], "--epochs must be >= 1; got 0"),
                            (["--epochs", "-5"], "--epochs must be >= 1; got -5"),
                            (["--batch-size", "0"], "--batch-size must be >= 1; got 0"),
                            (["--max-episode-steps", "0"], "--max-episode-steps must be >= 1; got 0"),
                            (["--hidden-sizes", "16", "0"], "need --lr > 0 and --hidden-sizes >= 1; got --lr 0.001 "
                                                            "and --hidden-sizes 16 0")):
        assert main(["bc-step", *option, "--output-dir", str(runs)]) == 2
        assert capsys.readouterr().err == f"error: {message}\n"
    assert main(["bc-step", "--env-id", "CartPole-v1", "--no-progress", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith("error: --env-id CartPole-v1: no iLQR expert for CartPoleEnv")
    assert main(["bc-step", "--env-id", "NoSuchEnv-v9", "--no-progress", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith("error: --env-id NoSuchEnv-v9: no such environment")
    assert not runs.exists()
