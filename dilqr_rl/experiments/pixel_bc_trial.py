"""One ``pixel-bc`` trial: behaviour cloning of a pixel policy on the pixel pendulum, evaluated as SB3 loads it.

Methods (``METHODS``): ``demonstrator`` (the iLQR expert that made the demonstrations: true model and state,
the DiLQR policy's horizon, cost and solver, a cold solve at every step: the policy class can represent it),
``expert`` (``expert_for``: horizon 40, warm-started from its shifted plan: the reference the other studies
use), ``dilqr`` (:class:`~dilqr_rl.policies.DiLQRPolicy`: image encoder -> (theta, theta_dot) -> DiLQR with a
pendulum from 30% off -> first planned control, trained on actions only), ``dilqr+state`` (the same plus the
auxiliary state supervision), ``mlp`` (SB3's ``ActorCriticPolicy``: the same encoder to 32 features and an MLP)
and ``mlp+state`` (the same plus the auxiliary state supervision through a linear read-out).

The policy is trained inside a PPO model (:func:`~dilqr_rl.agents.pixel_bc.train_pixel_bc`), saved with
``model.save`` and loaded back with ``PPO.load``; the loaded model's ``predict`` is what the evaluation runs:
20 episodes of ``dilqr_rl/PixelPendulum-v0`` in lockstep, episode i reset with seed ``eval_seed + i``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from dilqr_rl.agents.evaluation import evaluate_episodes
from dilqr_rl.agents.logging import make_writer
from dilqr_rl.agents.pixel_bc import PixelBCConfig, train_pixel_bc
from dilqr_rl.data import PixelEpisodeDataset, collect_pixel_episodes
from dilqr_rl.envs import make_env
from dilqr_rl.envs.registration import PIXEL_PENDULUM_ID
from dilqr_rl.policies.expert_envs import expert_for
from dilqr_rl.policies.pixel_policies import POLICY_CLASSES, pixel_dilqr_kwargs, pixel_mlp_kwargs

METHODS = ("demonstrator", "expert", "dilqr", "dilqr+state", "mlp", "mlp+state")
REFERENCES = ("demonstrator", "expert")
"""Methods without training."""
TRUTH = {"mass": 1.0, "gravity": 10.0}


def demonstrator_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``ExpertSettings`` of the demonstrator: the DiLQR policy's horizon and iterations, one zero start."""
    return {"horizon": config["horizon"], "cold_iter": config["max_iter"], "max_iter": config["max_iter"],
            "cold_starts": (0.0,)}


class ColdExpert:
    """An :class:`~dilqr_rl.policies.ILQRExpert` that solves from its cold starts at every step (SB3 ``predict``)."""

    def __init__(self, expert) -> None:
        self.expert = expert

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = True):
        return self.expert.predict(observation)[0], None


def dataset(config: dict[str, Any]) -> PixelEpisodeDataset:
    """The seed's demonstrations from the env's own resets (``n_data`` episodes; a trial uses the first
    ``n_demos``), cached under ``data_dir``."""
    seed = 1000 * (config["seed"] + 1)
    name = (f"pixel-bc__{config['size']}px__{config['n_data']}x{config['episode_steps']}__cold-h{config['horizon']}"
            f"-i{config['max_iter']}__seed{seed}.npz")
    path = Path(config["data_dir"]) / name
    if path.is_file():
        return PixelEpisodeDataset.load(path)
    ds = collect_pixel_episodes(config["n_data"], seed=seed, steps=config["episode_steps"], size=config["size"],
                                frames=config["frames"], expert_settings=demonstrator_settings(config),
                                warm_start=False)
    ds.save(path)  # atomic: trials collecting the same data at once write the same bytes
    return ds


def make_eval_env(config: dict[str, Any]):
    return make_env(PIXEL_PENDULUM_ID, size=config["size"], frames=config["frames"],
                    max_episode_steps=config["episode_steps"])


def build_model(config: dict[str, Any]) -> PPO:
    """A PPO model holding the trial's policy (its rollout settings matter only for a later fine-tuning)."""
    kind = config["method"].split("+")[0]
    venv = DummyVecEnv([lambda: make_eval_env(config)])
    if kind == "dilqr":
        kwargs = pixel_dilqr_kwargs(venv.observation_space.shape, config["start_mass"], config["start_gravity"],
                                    config["horizon"], config["max_iter"])
    else:
        kwargs = pixel_mlp_kwargs(config["features_dim"])
    return PPO(POLICY_CLASSES[kind], venv, policy_kwargs=kwargs, n_steps=256, batch_size=64, seed=config["seed"],
               device=config.get("device", "cpu"))


def _evaluate(policy, config: dict[str, Any], env=None) -> dict[str, Any]:
    """Returns over the evaluation episodes: in lockstep, or one by one in ``env`` when given."""
    start = time.perf_counter()
    result = evaluate_episodes(policy, env if env is not None else (lambda: make_eval_env(config)),
                               config["eval_episodes"], config["eval_seed"])
    returns = result.returns.tolist()
    return {"mean_return": result.mean_return, "se_return": float(np.std(returns, ddof=1) / np.sqrt(len(returns))),
            "returns": returns, "eval_seconds": time.perf_counter() - start}


def _run_reference(config: dict[str, Any]) -> dict[str, Any]:
    """The experts read the true state of the one env they were built for, so their episodes run one by one."""
    env = make_eval_env(config)
    try:
        if config["method"] == "expert":
            return _evaluate(expert_for(env), config, env)
        return _evaluate(ColdExpert(expert_for(env, **demonstrator_settings(config))), config, env)
    finally:
        env.close()


def run_pixel_bc_trial(config: dict[str, Any], trial_dir: str | Path) -> dict[str, Any]:
    """Train (except ``expert``), save, load through SB3 and evaluate one method; return the metrics."""
    if config["method"] not in METHODS:
        raise ValueError(f"unknown method {config['method']!r}; valid: {list(METHODS)}")
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if config["method"] in REFERENCES:
        metrics = _run_reference(config)
        (trial_dir / "history.json").write_text("{}")
        (trial_dir / "result.json").write_text(json.dumps(metrics, indent=1))
        return metrics
    data = dataset(config).head(config["n_demos"])
    torch.manual_seed(config["seed"])
    model = build_model(config)
    policy = model.policy
    dilqr = config["method"].startswith("dilqr")
    physics = [policy.controller.dynamics.mass, policy.controller.dynamics.gravity] if dilqr else []
    names = list(TRUTH) if dilqr else []
    head = None if dilqr or config["state_weight"] == 0 else torch.nn.Linear(config["features_dim"], 3)
    tensors = data.tensors()
    writer = make_writer(trial_dir, config)
    train_config = PixelBCConfig(steps=config["steps"], batch_size=config["batch_size"], lr=config["lr"],
                                 physics_lr=config["physics_lr"], physics_warmup=config["physics_warmup"],
                                 state_weight=config["state_weight"], seed=config["seed"],
                                 device=config.get("device", "cpu"))
    try:
        history = train_pixel_bc(policy, tensors["frames"], tensors["states"], tensors["actions"], data.stack,
                                 train_config, physics, names, head, writer)
    finally:
        writer.close()
    model.save(trial_dir / "model.zip")
    loaded = PPO.load(trial_dir / "model.zip", device=config.get("device", "cpu"))
    metrics = _evaluate(loaded, config)
    metrics.update({f"param_{n}": p.item() for n, p in zip(names, physics)})
    metrics["train_seconds"] = float(np.mean(history["train/step_seconds"]) * config["steps"])
    metrics["final_action_mse"] = history["train/action_mse"][-1]
    metrics["final_state_mse"] = history["train/state_mse"][-1]
    for key in ("grad_norm", "saturated_fraction"):
        metrics[f"first_{key}"], metrics[f"final_{key}"] = history[f"train/{key}"][0], history[f"train/{key}"][-1]
    metrics["demo_return"] = float(data.episode_returns().mean())
    metrics["wall_time_s"] = time.perf_counter() - started
    (trial_dir / "history.json").write_text(json.dumps(history))
    (trial_dir / "result.json").write_text(json.dumps(metrics, indent=1))
    return metrics
