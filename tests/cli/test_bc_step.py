"""``dilqr-rl bc-step`` end to end as a user runs it: each policy, TensorBoard, checkpoints that reproduce the run,
returns normalised to a random policy and the expert, and every user error on one line."""

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
from dilqr_rl.agents.clone_config import POLICY_KINDS
from dilqr_rl.agents.clone_data import demonstrations, episode_masks, segmented, transitions
from dilqr_rl.agents.clone_policies import load_clone_policy
from dilqr_rl.agents.evaluation import evaluate_episodes
from dilqr_rl.cli import main
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


def test_bc_step_mlp_writes_events_and_a_checkpoint_that_reproduces_the_run(tmp_path, episodes):
    out = bc_step(tmp_path, "--policy", "mlp", *TINY)
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("dilqr_rl-Pendulum-v0__bc-step__0__")
    events = EventAccumulator(str(run_dir))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"bc/train_transitions", "bc/expert_return", "train/loss", "eval/val_loss", "eval/test_loss",
            "eval/mean_return", "eval/normalized_return", "eval/untrained_return"} <= scalars
    assert "hyperparameters/text_summary" in events.Tags()["tensors"]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["checkpoint"] == str(run_dir / "checkpoints" / "best.pt") and f"checkpoint: {result['checkpoint']}" \
        in out.stdout
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 3

    policy = load_step_policy(result["checkpoint"])  # the MLP keeps bc-step's checkpoint format
    masks = episode_masks(episodes.episode, 0.25, 0.25, seed=0)
    obs, actions = transitions(episodes.observations, episodes.actions, masks[2], torch.float32)
    assert len(obs) == 15  # one held-out episode of the four
    with torch.no_grad():
        test_loss = float((policy(obs) - actions).square().sum(-1).mean())
    assert test_loss == pytest.approx(result["test_loss"], rel=1e-5)  # the best model, on the same test split
    env = make_env(ENV_ID, max_episode_steps=15)
    try:
        returns = evaluate_episodes(policy, env, n_episodes=2, seed=100)  # one by one; the run: in lockstep
    finally:
        env.close()
    assert returns.mean_return == pytest.approx(result["return"], rel=1e-5)  # the same actions as in the run
    assert result["demonstrations_return"] == pytest.approx(episodes.episode_returns().mean())
    assert result["normalized_return"] == pytest.approx(
        (result["return"] - result["random_return"]) / (result["expert_return"] - result["random_return"]))


@pytest.mark.parametrize("policy", ["dilqr", "lstm"])
def test_bc_step_dilqr_and_lstm_from_a_dataset_in_pendulum_v1(policy, tmp_path):
    data = collect_episodes("Pendulum-v1", 3, seed=0, progress=False, max_episode_steps=40).save(tmp_path / "d.npz")
    runs = tmp_path / "runs"
    extra = ["--model-error", "mass=0.5", "length=-0.2"] if policy == "dilqr" else []
    out = bc_step(runs, "--data", str(data), "--policy", policy, "--epochs", "2", "--eval-episodes", "2",
                  "--no-progress", *extra)
    assert out.returncode == 0, out.stderr
    (run_dir,) = runs.iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["env_id"] == "Pendulum-v1" and result["expert_labels"] == 120
    line = (f"return over seeds 1000..1001: untrained {result['untrained_return']:.1f} "
            f"({result['normalized_untrained']:.2f} normalised) -> trained {result['return']:.1f}")
    assert line in out.stdout
    loaded = load_clone_policy(result["checkpoint"])
    again = evaluate_episodes(loaded, lambda: make_env("Pendulum-v1", max_episode_steps=40), 2, 1000)
    assert again.mean_return == pytest.approx(result["return"], rel=1e-6)
    events = EventAccumulator(str(run_dir))
    events.Reload()
    stored = json.loads((run_dir / "clone_config.json").read_text())  # what the run trained with, defaults resolved
    assert stored["options"]["data"] == str(data.resolve()) and stored["options"]["epochs"] == 2
    assert stored["env_id"] == "Pendulum-v1" and stored["n_episodes"] == 3
    assert stored["trainer"]["epochs"] == 2 and stored["trainer"]["batch_size"] == POLICY_KINDS[policy].batch_size
    assert stored["trainer"]["lr"] == POLICY_KINDS[policy].lr and stored["resolved"]["state_weight"] == 0.0
    if policy == "dilqr":
        assert stored["options"]["model_error"] == ["mass=0.5", "length=-0.2"] and stored["resolved"]["loss"] == "huber"
        assert result["physics_start"] == pytest.approx({"mass": 1.5, "length": 0.8, "gravity": 10.0})
        assert f"mass: true 1, start 1.5, learned {result['physics_learned']['mass']:.4g}" in out.stdout
        assert {"param/mass", "ilqr/converged_fraction", "bc/saturated_fraction"} <= set(events.Tags()["scalars"])
    else:
        assert "physics_learned" not in result


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
    assert out.stderr == "error: need 0 < --val-fraction < 1 and 0 <= --test-fraction < 1; got 1.5 and 0.0\n"


def test_one_demonstration_is_cloned_as_consecutive_pieces(tmp_path, episodes, capsys):
    one = EpisodeDataset(ENV_ID, {**episodes.arrays, "episode": np.zeros_like(episodes.episode)},
                         dict(episodes.metadata)).save(tmp_path / "one.npz")
    runs = tmp_path / "runs"
    assert main(["bc-step", "--data", str(one), "--test-fraction", "0.2", "--epochs", "1", "--eval-episodes", "0",
                 "--no-progress", "--output-dir", str(runs)]) == 0
    assert "one demonstration: cloned as 5 consecutive pieces of it, one held out to select the epoch\n" in \
        capsys.readouterr().out
    (run_dir,) = runs.iterdir()
    assert json.loads((run_dir / "clone_config.json").read_text())["n_episodes"] == 5  # the pieces
    result = json.loads((run_dir / "result.json").read_text())  # one demonstration, with its whole return
    assert result["demonstrations"] == 1 and result["expert_labels"] == len(episodes)
    assert result["demonstrations_return"] == pytest.approx(float(episodes.rewards.sum()))


def test_segments_of_a_short_demonstration_are_numbered_without_gaps(episodes):
    short = EpisodeDataset(ENV_ID, {k: v[:3] for k, v in episodes.arrays.items()}, dict(episodes.metadata))
    pieces = segmented(short)
    assert pieces.episode.tolist() == [0, 1, 2] and pieces.n_episodes == 3
    assert demonstrations(pieces) == (1, pytest.approx(float(short.rewards.sum())))


def test_bc_step_refuses_unknown_parameters_before_the_run(tmp_path, episodes, capsys):
    runs = tmp_path / "runs"
    data = episodes.save(tmp_path / "episodes.npz")
    assert main(["bc-step", "--data", str(data), "--model-error", "mas=0.3", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err == (
        "error: --model-error: unknown physical parameter(s) ['mas'] of PendulumDynamics; its parameters: "
        "['gravity', 'length', 'mass']\n")
    assert not runs.exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--epochs", "0"], "--epochs 0: must be >= 1"),
    (["--epochs", "-5"], "--epochs -5: must be >= 1"),
    (["--batch-size", "0"], "--batch-size 0: must be >= 1"),
    (["--max-episode-steps", "0"], "--max-episode-steps 0: must be >= 1"),
    (["--n-episodes", "0"], "--n-episodes 0: must be >= 1"),
    (["--hidden-sizes", "16", "0"], "--hidden-sizes must be >= 1; got 16 0"),
    (["--lr", "0"], "--lr 0.0: must be > 0"),
    (["--policy", "cnn"], "--policy cnn: expected one of dilqr, mlp, lstm"),
    (["--loss", "all"], "--loss all: expected one of huber, first, plan"),
    (["--learn", "mass"], "--learn mass: expected one or more of physics, cost"),
    (["--policy", "mlp", "--model-error", "mass=0.3"],
     "--model-error sets the DiLQR actor, and --policy mlp has none: drop it, or use --policy dilqr"),
    (["--model-error", "mass"], "--model-error 'mass' is not NAME=REL (a physical parameter and its relative "
                                "error), e.g. --model-error mass=-0.3 length=-0.3"),
    (["--model-error", "mass=-2"], "--model-error 'mass=-2': the relative error must be a finite number > -1 (the "
                                   "model's value is true x (1 + REL), which must stay positive); got -2"),
    (["--eval-episodes", "-1"], "--eval-episodes must be >= 0 (0 skips the evaluation); got -1"),
    (["--lr-schedule", "step"], "unknown --lr-schedule 'step'; valid: ['constant', 'cosine']"),
    (["--threads", "0"], "--threads must be >= 1 (torch CPU threads); got 0. Small problems run fastest with "
                         "--threads 1."),
])
def test_bc_step_refuses_bad_options(options, message, tmp_path, capsys):
    assert main(["bc-step", *options, "--output-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not (tmp_path / "runs").exists()


def test_bc_step_refuses_envs_before_collecting(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["bc-step", "--env-id", "CartPole-v1", "--no-progress", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith("error: --env-id CartPole-v1: no iLQR expert for CartPoleEnv")
    assert main(["bc-step", "--env-id", "NoSuchEnv-v9", "--no-progress", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith("error: --env-id NoSuchEnv-v9: no such environment")
    assert not runs.exists()
