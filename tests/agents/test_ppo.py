"""The PPO agent: a tiny run trains, logs ilqr/ keys, evaluates and saves a loadable checkpoint; the balancing
task's start states; the return depends on the model mass; PPO moves the mass toward the truth; one events file
per run; resume from a checkpoint."""

from __future__ import annotations

import csv
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.logger import configure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dilqr_rl.agents import ppo
from dilqr_rl.agents.ppo import PPOConfig, UniformStart, dilqr_policy_kwargs, make_env, return_vs_mass, train_ppo
from dilqr_rl.policies import DiLQRPolicy

TINY = dict(total_timesteps=64, n_envs=2, n_steps=32, batch_size=32, n_epochs=1, horizon=4, max_iter=4,
            eval_episodes=1, progress=False, env_kwargs={"max_episode_steps": 20})


def test_tiny_dilqr_run_writes_logs_and_a_loadable_checkpoint(tmp_path):
    result = train_ppo(PPOConfig(**TINY, output_dir=str(tmp_path), seed=1))
    assert result.run_dir.parent == tmp_path and result.run_dir.name.startswith("Pendulum-v1__ppo-dilqr__1__")
    (events,) = result.run_dir.glob("events.out.tfevents.*")  # SB3's logger alone: one file
    accumulator = EventAccumulator(str(events), size_guidance={"tensors": 0})
    accumulator.Reload()
    scalars = set(accumulator.Tags()["scalars"])
    assert {"eval/mean_return", "rollout/ep_rew_mean", "train/loss", "ilqr/converged_fraction", "param/mass"} <= scalars
    assert not any("param_" in tag or tag.startswith(("bc/param", "train/param")) for tag in scalars)
    assert [e.step for e in accumulator.Scalars("eval/mean_return")] == [0, 64]
    assert "hyperparameters/text_summary" in accumulator.Tags()["tensors"]
    with open(result.run_dir / "progress.csv") as f:
        rows = [row for row in csv.DictReader(f) if row["ilqr/converged_fraction"]]
    assert 0.0 < float(rows[-1]["ilqr/converged_fraction"]) <= 1.0  # measured 1.0: 4 iterations suffice
    assert 1.0 <= float(rows[-1]["ilqr/iterations"]) <= TINY["max_iter"]
    assert float(rows[-1]["param/mass"]) == pytest.approx(result.final_params["mass"], abs=0.05)
    assert result.initial_params["mass"] == pytest.approx(0.5)
    assert result.final_params["mass"] != result.initial_params["mass"]
    assert np.isfinite(result.initial_return) and np.isfinite(result.final_return)
    model = PPO.load(result.checkpoint)
    assert isinstance(model.policy, DiLQRPolicy)
    assert model.policy.controller.dynamics.mass.item() == pytest.approx(result.final_params["mass"])
    assert [row["timesteps"] for row in result.history] == [64.0]  # one rollout of 2 envs x 32 steps
    assert result.history[0]["mass"] == pytest.approx(0.5)  # logged after the rollout, before its update


@pytest.mark.filterwarnings("ignore:iLQR did not converge within max_iter=1")
def test_converged_fraction_is_measured_not_constant(tmp_path):
    """One iLQR iteration cannot confirm convergence: every solve reports unconverged after 1 iteration."""
    result = train_ppo(PPOConfig(**{**TINY, "max_iter": 1, "eval_episodes": 0}, output_dir=str(tmp_path)))
    with open(result.run_dir / "progress.csv") as f:
        last = [row for row in csv.DictReader(f) if row["ilqr/converged_fraction"]][-1]
    assert float(last["ilqr/converged_fraction"]) == 0.0 and float(last["ilqr/iterations"]) == 1.0


def test_a_failing_run_closes_its_envs_and_logger(tmp_path, monkeypatch):
    closed = []

    def record(name, close):
        def wrapped(*args, **kwargs):
            closed.append(name)
            return close(*args, **kwargs)
        return wrapped

    def make_env_recording(config):
        env = make_env(config)
        env.close = record("env", env.close)
        return env

    def configure_recording(*args, **kwargs):
        logger = configure(*args, **kwargs)
        logger.close = record("logger", logger.close)
        return logger

    def broken_learn(self, *args, **kwargs):
        raise RuntimeError("learning failed")

    monkeypatch.setattr(ppo, "make_env", make_env_recording)
    monkeypatch.setattr(ppo, "configure", configure_recording)
    monkeypatch.setattr(PPO, "learn", broken_learn)
    with pytest.raises(RuntimeError, match="learning failed"):
        train_ppo(PPOConfig(**{**TINY, "eval_episodes": 0}, output_dir=str(tmp_path)))
    assert sorted(closed) == ["env", "logger"]


def test_a_bad_config_fails_before_creating_anything(tmp_path):
    with pytest.raises(ValueError, match="policy must be 'dilqr' or 'mlp'; got 'lstm'"):
        PPOConfig(**{**TINY, "policy": "lstm"}, output_dir=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_balancing_starts_are_within_the_configured_box():
    env = make_env(PPOConfig(n_envs=4, start_angle=0.2, start_speed=0.1))
    for _ in range(5):
        obs = env.reset()
        theta = np.arctan2(obs[:, 1], obs[:, 0])
        assert np.all(np.abs(theta) <= 0.2 + 1e-6) and np.all(np.abs(obs[:, 2]) <= 0.1 + 1e-6)
    wide = make_env(PPOConfig(n_envs=64, start_angle=None)).reset()
    assert np.abs(np.arctan2(wide[:, 1], wide[:, 0])).max() > 1.0  # Pendulum-v1's own starts: full circle


def test_return_depends_on_the_model_mass():
    config = PPOConfig(eval_episodes=4, max_episode_steps=40, seed=0)
    returns = return_vs_mass(config, [0.5, 1.0])
    # measured -0.13 (true mass) vs -0.51: with mass 0.5 the model thinks torque is twice as effective
    assert returns[1.0] < 0 and returns[0.5] < 2.5 * returns[1.0]


def test_ppo_moves_the_mass_toward_the_truth_and_improves_the_return(tmp_path):
    config = PPOConfig(total_timesteps=4096, n_steps=256, batch_size=256, n_epochs=5, controller_lr_scale=20.0,
                       eval_episodes=8, progress=False, output_dir=str(tmp_path))
    result = train_ppo(config)
    masses = [row["mass"] for row in result.history] + [result.final_params["mass"]]
    assert masses[0] == 0.5 and masses[-1] > 0.55
    assert result.final_return > result.initial_return


def test_same_seed_same_result(tmp_path):
    a = train_ppo(PPOConfig(**{**TINY, "eval_episodes": 0}, output_dir=str(tmp_path), seed=2))
    b = train_ppo(PPOConfig(**{**TINY, "eval_episodes": 0}, output_dir=str(tmp_path), seed=2))
    assert a.final_params == b.final_params and a.run_dir != b.run_dir


def test_mlp_baseline_runs(tmp_path):
    result = train_ppo(PPOConfig(**{**TINY, "policy": "mlp"}, output_dir=str(tmp_path)))
    assert result.final_params == {} and result.checkpoint.exists()


def test_errors():
    with pytest.raises(ValueError, match="start_angle sets Pendulum-v1's reset options and dilqr_rl/Pendulum-v0"):
        PPOConfig(env_id="dilqr_rl/Pendulum-v0")
    with pytest.raises(ValueError, match=r"start angle must be > 0 and start speed >= 0; got 0\.0, 1\.0"):
        UniformStart(gym.make("Pendulum-v1"), 0.0, 1.0)
    with pytest.raises(ValueError, match="cost must be 'goal' or 'swingup'; got 'lqr'"):
        PPOConfig(cost="lqr")
    with pytest.raises(ValueError, match=r"max_episode_steps must be >= 1, or None for the env's own limit; got 0"):
        PPOConfig(max_episode_steps=0)
    with pytest.raises(ValueError, match=r"n_envs, horizon must be >= 1; got \{'n_envs': 0, 'horizon': 0\}"):
        PPOConfig(n_envs=0, horizon=0)
    with pytest.raises(ValueError, match=r"checkpoint_freq must be >= 0 \(0: none\); got -1"):
        PPOConfig(checkpoint_freq=-1)
    with pytest.raises(ValueError, match=r"eval_episodes must be >= 0 \(0: none\); got -2"):
        PPOConfig(eval_episodes=-2)
    with pytest.raises(ValueError, match="return_vs_mass evaluates the controller: set eval_episodes > 0"):
        return_vs_mass(PPOConfig(eval_episodes=0), [1.0])
    with pytest.raises(ValueError, match="needs observations \\(cos, sin, theta_dot\\) or \\(theta, theta_dot\\)"):
        dilqr_policy_kwargs(PPOConfig(), (4,))


def test_resume_continues_from_the_latest_checkpoint(tmp_path):
    config = PPOConfig(**{**TINY, "eval_episodes": 0, "checkpoint_freq": 32}, output_dir=str(tmp_path))
    first = train_ppo(config)
    assert [p.name for p in ppo.checkpoints(first.run_dir)] == ["model_32_steps.zip", "model_64_steps.zip"]
    assert ppo.load_run_config(first.run_dir) == config
    longer = train_ppo(replace(config, total_timesteps=128), resume=first.run_dir)
    assert longer.run_dir == first.run_dir and list(tmp_path.iterdir()) == [first.run_dir]
    assert [row["timesteps"] for row in longer.history] == [128.0]
    assert longer.initial_params == first.initial_params  # the run's start, kept across calls
    assert PPO.load(longer.checkpoint).num_timesteps == 128
    with pytest.raises(FileNotFoundError, match=r"has no checkpoints/\*_steps\.zip to resume from"):
        train_ppo(config, resume=tmp_path)
