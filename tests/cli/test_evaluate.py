"""``dilqr-rl evaluate``: the expert, a PPO model.zip and its checkpoints, BC checkpoints; errors before any episode."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from dataclasses import asdict

import imageio.v2 as imageio
import pytest

from dilqr_rl.agents.bc import save_checkpoint
from dilqr_rl.agents.bc_sequence import SequencePolicySpec, build_sequence_policy
from dilqr_rl.agents.ppo import PPOConfig, train_ppo
from dilqr_rl.cli import main
from dilqr_rl.data import collect_plans
from tests import SUBPROCESS_TIMEOUT_S

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    """A tiny ``dilqr-rl rl`` run: model.zip and checkpoints/model_32_steps.zip."""
    config = PPOConfig(total_timesteps=32, n_envs=1, n_steps=32, batch_size=32, n_epochs=1, horizon=4, max_iter=4,
                       eval_episodes=0, progress=False, output_dir=str(tmp_path_factory.mktemp("runs")))
    return train_ppo(config).run_dir


def test_evaluate_the_expert_with_a_gif(tmp_path):
    gif = tmp_path / "ep.gif"
    cmd = [*CLI, "evaluate", "--episodes", "2", "--max-steps", "10", "--video", str(gif),
           "--output-dir", str(tmp_path / "runs")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert len(result["returns"]) == 2 and len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    assert len(imageio.mimread(gif)) == 11
    assert "return" in out.stdout and "seeds 0..1" in out.stdout


def test_every_artefact_of_rl_evaluates(ppo_run, tmp_path, capsys):
    for path in (ppo_run / "model.zip", ppo_run / "checkpoints" / "model_32_steps.zip"):
        assert main(["evaluate", "--policy", str(path), "--env-id", "Pendulum-v1", "--episodes", "2",
                     "--max-steps", "5", "--no-progress", "--output-dir", str(tmp_path)]) == 0
        assert f"{path} on Pendulum-v1: return" in capsys.readouterr().out
    assert main(["evaluate", "--policy", str(ppo_run / "model.zip"), "--env-id", "dilqr_rl/CartpoleBalance-v0",
                 "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    model = ppo_run / "model.zip"
    assert err.startswith(f"error: --policy {model} does not fit --env-id dilqr_rl/CartpoleBalance-v0: ")
    assert "was trained on observations (3,) and actions (1,)" in err


def test_a_bc_step_checkpoint_on_the_wrong_env_is_a_user_error(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["bc-step", "--n-episodes", "3", "--max-episode-steps", "5", "--epochs", "1", "--eval-episodes", "0",
                 "--test-fraction", "0", "--no-progress", "--output-dir", str(runs)]) == 0
    (best,) = runs.glob("*/checkpoints/best.pt")
    capsys.readouterr()
    assert main(["evaluate", "--policy", str(best), "--env-id", "dilqr_rl/CartpoleBalance-v0",
                 "--output-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --policy {best} does not fit --env-id dilqr_rl/CartpoleBalance-v0: {best} was "
                          "trained on observations (3,) and actions (1,), but dilqr_rl/CartpoleBalance-v0 has "
                          "observations (4,)")


def test_user_errors_come_before_any_episode(tmp_path, capsys, monkeypatch):
    runs = tmp_path / "runs"
    assert main(["evaluate", "--policy", str(tmp_path / "best.pt"), "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --policy {tmp_path / 'best.pt'}: no such file; pass 'expert'")
    assert main(["evaluate", "--video", str(tmp_path / "v.avi"), "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err == (f"error: --video {tmp_path / 'v.avi'}: unsupported video format '.avi'; use "
                                       ".gif or .mp4\n")
    assert main(["evaluate", "--threads", "0", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err == ("error: --threads must be >= 1 (torch CPU threads); got 0. Small problems run "
                                       "fastest with --threads 1.\n")
    assert main(["evaluate", "--env-id", "NoSuchEnv-v9", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith("error: --env-id NoSuchEnv-v9: ")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["evaluate", "--output-dir", str(blocker)]) == 2
    assert capsys.readouterr().err == (f"error: --output-dir {blocker}: this is a file, not a folder; pass a folder "
                                       "(it is created if missing)\n")
    assert main(["evaluate", "--policy", "expert", "--env-id", "CartPole-v1", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith("error: --policy expert: no iLQR expert for CartPoleEnv")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "imageio_ffmpeg"
                        else find_spec(name, *a))
    assert main(["evaluate", "--video", str(tmp_path / "v.mp4"), "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err == (f"error: --video {tmp_path / 'v.mp4'}: writing MP4 needs imageio-ffmpeg, which "
                                       "is not installed: pip install 'dilqr_rl[video]' (or imageio-ffmpeg), or write "
                                       "a .gif\n")
    assert not runs.exists()


def test_bc_checkpoints_evaluate_and_a_planner_for_another_env_is_a_user_error(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["bc", "--n-train", "2", "--n-val", "1", "--n-test", "1", "--epochs", "1", "--no-progress",
                 "--output-dir", str(runs)]) == 0
    (run_dir,) = runs.iterdir()
    capsys.readouterr()
    for name in ("best.pt", "last.pt"):
        assert main(["evaluate", "--policy", str(run_dir / "checkpoints" / name), "--episodes", "2", "--max-steps",
                     "3", "--no-progress", "--output-dir", str(runs)]) == 0
    best = run_dir / "checkpoints" / "best.pt"
    assert main(["evaluate", "--policy", str(best), "--env-id", "dilqr_rl/CartpoleBalance-v0",
                 "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err == (
        f"error: --policy {best} plans in the 2 states of pendulum-upright, which --env-id dilqr_rl/CartpoleBalance-v0 "
        "(observations (4,)) does not observe: pass --env-id dilqr_rl/Pendulum-v0\n")


def test_a_planner_on_the_wrong_env_is_told_which_envs_run_it(tmp_path, capsys):
    for system in ("cartpole-balance", "cartpole"):
        spec = SequencePolicySpec(system=system)
        save_checkpoint(tmp_path / f"{system}.pt", {"spec": asdict(spec), "policy": build_sequence_policy(spec)
                                                    .state_dict()})
    balance, papers = tmp_path / "cartpole-balance.pt", tmp_path / "cartpole.pt"
    assert main(["evaluate", "--policy", str(balance), "--env-id", "dilqr_rl/Pendulum-v0",
                 "--output-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == (
        f"error: --policy {balance} plans in the 4 states of cartpole-balance, which --env-id dilqr_rl/Pendulum-v0 "
        "(observations (3,)) does not observe: pass --env-id dilqr_rl/CartpoleSwingUp-v0 or "
        "dilqr_rl/CartpoleBalance-v0\n")
    assert main(["evaluate", "--policy", str(papers), "--env-id", "dilqr_rl/CartpoleBalance-v0",
                 "--output-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == (
        f"error: --policy {papers} plans in the 5 states of cartpole, which --env-id dilqr_rl/CartpoleBalance-v0 "
        "(observations (4,)) does not observe, and neither does any other environment: cartpole is an imitation "
        "benchmark, measured by the test loss of its plans ('dilqr-rl bc' prints test_loss). Policies of pendulum, "
        "pendulum-nonrealizable, pendulum-upright, cartpole-balance run in environments (dilqr-rl bc --system ...)\n")
    assert not (tmp_path / "runs").exists()


def test_a_dataset_or_a_stray_file_as_the_policy_is_a_one_line_error(tmp_path):
    data = collect_plans("pendulum-upright", n_train=1, n_val=1, n_test=0, progress=False).save(tmp_path / "p.npz")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"hello")
    err = {}
    for policy in (data, garbage):
        out = subprocess.run([*CLI, "evaluate", "--policy", str(policy), "--output-dir", str(tmp_path / "runs")],
                             capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        err[policy] = out.stderr
    assert err[garbage].startswith(f"error: --policy {garbage}: {garbage} is not a dilqr_rl BC checkpoint")
    assert err[data].startswith(f"error: --policy {data}: this is a dataset (dilqr-rl collect writes .npz), not a "
                                 "policy; pass 'expert'")
    assert err[data].endswith(f"To learn a policy from it: dilqr-rl bc --data {data} (plans) or dilqr-rl bc-step "
                               f"--data {data} (episodes)\n")
    assert not (tmp_path / "runs").exists()


def test_files_that_are_not_policies(tmp_path, capsys):
    import torch

    not_bc = tmp_path / "weights.pt"
    torch.save({"weights": 1}, not_bc)
    assert main(["evaluate", "--policy", str(not_bc), "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: --policy {not_bc}: {not_bc} is not a dilqr_rl BC checkpoint (expected "
                                       "format 'dilqr_rl.bc/1'); pass 'expert' (the iLQR expert of the env), a BC "
                                       "checkpoint (.pt: dilqr-rl bc, bc-step, dagger, sysid) or an SB3 PPO, A2C, "
                                       "SAC or TD3 model (.zip: dilqr-rl rl's model.zip or checkpoints/*_steps.zip, "
                                       "or model.save)\n")
    not_sb3 = tmp_path / "archive.zip"
    with zipfile.ZipFile(not_sb3, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert main(["evaluate", "--policy", str(not_sb3), "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --policy {not_sb3}: {not_sb3} is not a Stable-Baselines3 PPO, "
                                              "A2C, SAC or TD3 model (no 'data' entry in the archive)")
    for option in (["--episodes", "0"], ["--max-steps", "0"]):
        assert main(["evaluate", *option]) == 2
    assert capsys.readouterr().err == ("error: --episodes must be >= 1; got 0\n"
                                       "error: --max-steps must be >= 1, or None for the env's limit; got 0\n")


def test_a_ppo_model_on_pendulum_v1_with_a_video(ppo_run, tmp_path, capsys):
    """``dilqr-rl rl``'s default env, Gymnasium's Pendulum-v1, draws its frames without pygame."""
    gif = tmp_path / "ep.gif"
    assert main(["evaluate", "--policy", str(ppo_run / "model.zip"), "--env-id", "Pendulum-v1", "--episodes", "2",
                 "--max-steps", "4", "--video", str(gif), "--no-progress", "--output-dir", str(tmp_path / "r")]) == 0
    assert len(imageio.mimread(gif)) == 5
    (run_dir,) = (tmp_path / "r").iterdir()
    assert json.loads((run_dir / "result.json").read_text())["video"] == str(gif)


@pytest.mark.skipif(importlib.util.find_spec("pygame") is not None, reason="pygame draws Acrobot")
def test_an_env_that_cannot_draw_frames_fails_before_any_episode(tmp_path, capsys, monkeypatch):
    import dilqr_rl.agents.evaluation

    def no_episodes(*args, **kwargs):
        raise AssertionError("an episode ran before the frames were checked")

    monkeypatch.setattr(dilqr_rl.agents.evaluation, "evaluate_episodes", no_episodes)
    runs = tmp_path / "runs"
    assert main(["evaluate", "--env-id", "Acrobot-v1", "--video", str(tmp_path / "v.gif"),
                 "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err == (
        "error: --env-id Acrobot-v1 cannot draw video frames here: Gymnasium draws AcrobotEnv with pygame (pygame "
        "is not installed, run `pip install \"gymnasium[classic-control]\"`), and this package draws only "
        "Pendulum-v1 and CartPole-v1 without it; install pygame, or evaluate without --video\n")
    assert not runs.exists()


@pytest.mark.parametrize("algorithm", ["SAC", "TD3"])
def test_sac_and_td3_models_of_a_dilqr_actor_evaluate_and_record(algorithm, tmp_path, capsys):
    """A ``model.save`` of SAC(DiLQRSACPolicy) / TD3(DiLQRTD3Policy) loads as that algorithm (read from its policy
    class), evaluates and records a video."""
    import gymnasium as gym
    import stable_baselines3

    from dilqr_rl.agents.evaluation import load_policy
    from dilqr_rl.models import PendulumDynamics, PendulumSwingUpCost
    from dilqr_rl.policies import DiLQRSACPolicy, DiLQRTD3Policy

    policy = {"SAC": DiLQRSACPolicy, "TD3": DiLQRTD3Policy}[algorithm]
    kwargs = dict(dynamics=PendulumDynamics(), cost=PendulumSwingUpCost(), horizon=4, state_map="pendulum_angle",
                  solver_options={"max_iter": 4})
    model = getattr(stable_baselines3, algorithm)(policy, "Pendulum-v1", learning_starts=8, batch_size=8, seed=0,
                                                  policy_kwargs=kwargs)
    model.learn(16)
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = load_policy(path, gym.make("Pendulum-v1"))
    assert type(loaded) is type(model) and isinstance(loaded.policy, policy)
    assert main(["evaluate", "--policy", str(path), "--env-id", "Pendulum-v1", "--episodes", "2", "--max-steps", "4",
                 "--no-progress", "--output-dir", str(tmp_path / "r")]) == 0
    assert f"{path} on Pendulum-v1: return" in capsys.readouterr().out
    gif = tmp_path / "ep.gif"
    assert main(["video", "--policy", str(path), "--env-id", "Pendulum-v1", "--output", str(gif), "--max-steps",
                 "3"]) == 0
    assert len(imageio.mimread(gif)) == 4
