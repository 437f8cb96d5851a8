"""``dilqr-rl dagger`` as a user runs it: rounds, expert labels, TensorBoard, checkpoints that evaluate; errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dilqr_rl.agents.clone_policies import load_clone_policy
from dilqr_rl.cli import main
from dilqr_rl.cli._commands import installed_command
from dilqr_rl.data import collect_episodes
from tests import SUBPROCESS_TIMEOUT_S

CLI = [sys.executable, "-m", "dilqr_rl.cli"]


@pytest.mark.parametrize("policy", ["dilqr", "lstm"])
def test_dagger_runs_rounds_and_its_learner_evaluates(policy, tmp_path):
    runs = tmp_path / "runs"
    out = subprocess.run([*CLI, "dagger", "--env-id", "Pendulum-v1", "--policy", policy, "--rounds", "2",
                          "--n-episodes", "2", "--episodes-per-round", "1", "--max-episode-steps", "30", "--epochs",
                          "1", "--eval-episodes", "2", "--no-progress", "--output-dir", str(runs)],
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    (run_dir,) = runs.iterdir()
    assert run_dir.name.startswith("Pendulum-v1__dagger__0__")
    result = json.loads((run_dir / "result.json").read_text())
    assert [row["expert_labels"] for row in result["rounds"]] == [60, 90, 120] and result["expert_labels"] == 120
    for row in result["rounds"]:
        assert f"round {row['round']}: beta {row['beta']:.3g}, {row['expert_labels']} expert labels, return " \
               f"{row['return']:.1f}" in out.stdout
    events = EventAccumulator(str(run_dir))
    events.Reload()
    assert {"rollout/beta", "bc/expert_labels", "rollout/mixture_return", "eval/mean_return", "train/loss"} <= \
        set(events.Tags()["scalars"])
    assert load_clone_policy(result["checkpoint"]) is not None
    evaluated = subprocess.run([*CLI, "evaluate", "--policy", result["checkpoint"], "--env-id", "Pendulum-v1",
                                "--episodes", "2", "--seed", "1000", "--max-steps", "30", "--no-progress",
                                "--output-dir", str(tmp_path / "eval")],
                               capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"return {result['return']:.1f}" in evaluated.stdout  # the same policy on the same episodes


@pytest.mark.parametrize(("options", "message"), [
    (["--rounds", "0"], "--rounds 0: must be >= 1"),
    (["--episodes-per-round", "0"], "--episodes-per-round 0: must be >= 1"),
    (["--beta0", "2"], "--beta0 2.0: must be in [0, 1] (the expert's share in round k is beta0^k)"),
    (["--n-episodes", "0"], "--n-episodes 0: must be >= 1"),
    (["--policy", "cnn"], "--policy cnn: expected one of dilqr, mlp, lstm"),
    (["--env-id", "Pendulum-v1", "--n-episodes", "2", "--max-episode-steps", "3", "--model-error", "g=0.1",
      "--no-progress"],
     "--model-error: unknown physical parameter(s) ['g'] of PendulumDynamics; its parameters: ['gravity', 'length', "
     "'mass']"),
])
def test_dagger_refuses_bad_options_before_the_run(options, message, tmp_path, capsys):
    assert main(["dagger", *options, "--output-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not (tmp_path / "runs").exists()


def test_sysid_refuses_pixel_envs_before_collecting(tmp_path, capsys):
    assert main(["sysid", "--env-id", "dilqr_rl/PixelPendulum-v0", "--output-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == (
        "error: --env-id dilqr_rl/PixelPendulum-v0 observes images, and sysid on episodes fits the model to state "
        "observations (Pendulum-v1, dilqr_rl/Pendulum-v0, dilqr_rl/CartpoleSwingUp-v0, InvertedPendulum-v5, ...); "
        "from pixels, clone the DiLQR actor, which learns the physics with its encoder: dilqr-rl bc-step --env-id "
        "dilqr_rl/PixelPendulum-v0 --policy dilqr\n")
    assert not (tmp_path / "runs").exists()


def test_dagger_from_pixels_as_a_user_runs_it(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["dagger", "--env-id", "dilqr_rl/PixelPendulum-v0", "--policy", "dilqr", "--rounds", "1",
                 "--n-episodes", "2", "--episodes-per-round", "1", "--max-episode-steps", "10", "--epochs", "2",
                 "--eval-episodes", "1", "--no-progress", "--output-dir", str(runs)]) == 0
    (run_dir,) = runs.iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert [row["expert_labels"] for row in result["rounds"]] == [20, 30]
    assert set(result["physics_learned"]) == {"mass", "length", "gravity"}
    out = capsys.readouterr().out
    assert (f"evaluate it: {installed_command('dilqr-rl')} evaluate --policy {result['checkpoint']} --env-id "
            "dilqr_rl/PixelPendulum-v0 --seed 1000 --episodes 1 --max-steps 10\n") in out  # the run's episodes
    assert main(["evaluate", "--policy", result["checkpoint"], "--env-id", "dilqr_rl/PixelPendulum-v0", "--episodes",
                 "1", "--seed", "1000", "--max-steps", "10", "--no-progress", "--output-dir",
                 str(tmp_path / "eval")]) == 0
    assert f"return {result['return']:.1f}" in capsys.readouterr().out  # the same policy on the same episode


def test_sysid_refuses_a_dataset_of_pixel_episodes_without_env_id(tmp_path, capsys):
    data = collect_episodes("dilqr_rl/PixelPendulum-v0", 2, seed=0, progress=False, max_episode_steps=3)
    path = data.save(tmp_path / "pixels.npz")
    assert main(["sysid", "--data", str(path), "--output-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: --data {path} holds image observations of dilqr_rl/PixelPendulum-v0, and sysid on episodes fits the "
        "model to state observations")
    assert not (tmp_path / "runs").exists()


def test_a_clone_whose_physics_never_moved_is_warned_about(capsys):
    from dilqr_rl.cli._clone import print_summary

    start = {"mass": 1.3, "length": 0.7, "gravity": 13.0}
    summary = {"physics_true": {"mass": 1.0, "length": 1.0, "gravity": 10.0}, "physics_start": start}
    print_summary({**summary, "physics_learned": dict(start)}, "Pendulum-v1")
    assert capsys.readouterr().err.startswith("warning: the learned physics are their start")
    print_summary({**summary, "physics_learned": {**start, "length": 0.8}}, "Pendulum-v1")
    assert capsys.readouterr().err == ""
    print_summary({**summary, "physics_learned": dict(start)}, "Pendulum-v1", learns_physics=False)  # --learn cost
    assert capsys.readouterr().err == ""
