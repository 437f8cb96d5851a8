"""The PPO agent: a tiny run trains, logs ilqr/ keys, evaluates and saves a loadable checkpoint."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from stable_baselines3 import PPO

from dilqr_rl.agents.ppo import PPOConfig, dilqr_policy_kwargs, train_ppo
from dilqr_rl.policies import DiLQRPolicy

TINY = dict(total_timesteps=64, n_envs=2, n_steps=32, batch_size=32, n_epochs=1, horizon=4, max_iter=4,
            eval_episodes=1, progress_bar=False, env_kwargs={"max_episode_steps": 20})


def test_tiny_dilqr_run_writes_logs_and_a_loadable_checkpoint(tmp_path):
    result = train_ppo(PPOConfig(**TINY, output_dir=str(tmp_path), seed=1))
    assert result.run_dir.parent == tmp_path and result.run_dir.name.startswith("Pendulum-v1__ppo-dilqr__1__")
    assert list(result.run_dir.glob("events.out.tfevents.*"))
    with open(result.run_dir / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["ilqr/converged_fraction"]) >= 0.0
    assert float(rows[-1]["ilqr/param_mass"]) == pytest.approx(result.final_params["mass"], abs=0.05)
    assert result.initial_params["mass"] == pytest.approx(0.5)
    assert result.final_params["mass"] != result.initial_params["mass"]
    assert np.isfinite(result.initial_return) and np.isfinite(result.final_return)
    model = PPO.load(result.checkpoint)
    assert isinstance(model.policy, DiLQRPolicy)
    assert model.policy.controller.dynamics.mass.item() == pytest.approx(result.final_params["mass"])


def test_same_seed_same_result(tmp_path):
    a = train_ppo(PPOConfig(**{**TINY, "eval_episodes": 0}, output_dir=str(tmp_path), seed=2))
    b = train_ppo(PPOConfig(**{**TINY, "eval_episodes": 0}, output_dir=str(tmp_path), seed=2))
    assert a.final_params == b.final_params and a.run_dir != b.run_dir


def test_mlp_baseline_runs(tmp_path):
    result = train_ppo(PPOConfig(**{**TINY, "policy": "mlp"}, output_dir=str(tmp_path)))
    assert result.final_params == {} and result.checkpoint.exists()


def test_errors():
    with pytest.raises(ValueError, match="needs observations \\(cos, sin, theta_dot\\) or \\(theta, theta_dot\\)"):
        dilqr_policy_kwargs(PPOConfig(), (4,))
    with pytest.raises(ValueError, match="policy must be 'dilqr' or 'mlp'; got 'lstm'"):
        train_ppo(PPOConfig(**{**TINY, "policy": "lstm"}, output_dir="/tmp/unused-dilqr-runs"))
