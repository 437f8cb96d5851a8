"""One trial of the ``rl`` study: ``train_rl`` of one (env, algorithm, actor, seed), then the final policy
evaluated under changed physics and from starts outside the training distribution.

The training and its evaluations are :func:`dilqr_rl.agents.rl.train_rl`'s (rl-zoo3's hyperparameters, the
env's default wrong start for the DiLQR actor, seeded evaluations normalised to a random policy, 0, and the iLQR
expert, 1). What this module adds:

- ``history.json``: the run's evaluations as curves over env steps (``timesteps``, ``return``, ``normalized``,
  ``train_seconds``, ``param/<name>``), what the summary's figures read;
- robustness: the saved ``model.zip`` loaded as ``dilqr-rl evaluate`` loads it and run on the same seeded
  episodes with every mass and length x0.7 and x1.3 and from wider starts (:func:`scaled_env`: the env registry's
  settings for the env), each return also normalised to the nominal env's references.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

PHYSICS_SCALES = (0.7, 1.3)
"""Every mass and length of the env x these (one setting each), as Actor-Critic MPC's robustness test."""

SYSID_EVERY = 500
"""Env steps between the physics fits of the ``dilqr+sysid`` actor (PPO: after every rollout of at least this)."""
ACTORS = {"dilqr": ("dilqr", ("physics",), 0), "dilqr+cost-map": ("dilqr", ("physics", "cost-map"), 0),
          "dilqr+sysid": ("dilqr", ("physics",), SYSID_EVERY), "mlp": ("mlp", ("physics",), 0)}
"""The study's actor name -> (``RLConfig.policy``, ``RLConfig.learn``, ``RLConfig.sysid_every``)."""

def scaled_env(env_id: str, scale: float = 1.0, wide: bool = False) -> Callable[[], gym.Env]:
    """A function making ``env_id`` with every mass and length x ``scale``, starting outside its training starts
    when ``wide``: the env registry's settings for it (``EnvEntry.perturbations``, e.g.
    :data:`dilqr_rl.envs.perturbations.GYM_PENDULUM`)."""
    from dilqr_rl.policies.env_registry import perturbations_of, perturbed_env

    perturbations_of(env_id)  # an id without settings fails here, not in a worker
    return lambda: perturbed_env(env_id, scale, wide)


def robustness(model_path: Path, env_id: str, episodes: int, seed: int, references: dict[str, float]
               ) -> dict[str, float]:
    """Mean return (``robust/<setting>_return``) and its normalisation to the nominal references
    (``robust/<setting>_normalized``) of the saved model under each of ``nominal``, ``x0.7``, ``x1.3`` and
    ``wide`` (see the module docstring), on ``episodes`` episodes seeded ``seed``, ``seed + 1``, ..."""
    from dilqr_rl.agents.evaluation import evaluate_episodes, load_sb3_model
    from dilqr_rl.agents.rl_monitor import normalized

    settings = {"nominal": scaled_env(env_id), **{f"x{s}": scaled_env(env_id, s) for s in PHYSICS_SCALES},
                "wide": scaled_env(env_id, wide=True)}
    out = {}
    for name, make in settings.items():
        with make() as env:
            policy = load_sb3_model(model_path, env)
        value = float(evaluate_episodes(policy, make, episodes, seed).returns.mean())
        out[f"robust/{name}_return"] = value
        out[f"robust/{name}_normalized"] = normalized(value, references)
    return out


def expert_robustness(env_id: str, episodes: int, seed: int, references: dict[str, float]) -> dict[str, float]:
    """The iLQR expert told the changed physics, in the changed-physics settings of :func:`robustness` (the same
    episodes and normalisation): ``expert/<setting>_normalized`` for ``nominal``, ``x0.7`` and ``x1.3``, the
    expert made for each changed env. What a controller that knows the change achieves there, so how much of an
    actor's drop is the task's. NaN where the env registry does not read the physics from the env
    (``InvertedPendulum-v5``: its model is a fit to the nominal MuJoCo model, so its expert cannot be told).

    (The expert made for the nominal env is no reference for a fixed-model controller: it warm-starts every step
    from its shifted plan, and with a 30%-wrong model those plans stall: on ``Pendulum-v1`` it scores about 0.0
    and 0.1 at x0.7 and x1.3, where the zero-config actor, which re-solves from its starts when the state leaves
    its plan, keeps most of its return.)
    """
    from dilqr_rl.agents.evaluation import evaluate_episodes
    from dilqr_rl.agents.rl_monitor import normalized
    from dilqr_rl.policies import expert_for
    from dilqr_rl.policies.env_registry import env_control

    out, nominal = {}, None
    for name, scale in (("nominal", 1.0), *((f"x{s}", s) for s in PHYSICS_SCALES)):
        make = scaled_env(env_id, scale)
        with make() as env:
            expert, physics = expert_for(env), env_control(env).dynamics.state_dict()
        nominal = physics if nominal is None else nominal
        told = scale == 1.0 or any(not torch.equal(v, nominal[k]) for k, v in physics.items())
        if not told:
            out[f"expert/{name}_normalized"] = math.nan
            continue
        value = float(evaluate_episodes(expert, make, episodes, seed).returns.mean())
        out[f"expert/{name}_normalized"] = normalized(value, references)
    return out


def steps_to(timesteps: list[float], normalized: list[float], level: float = 0.9) -> float:
    """The first evaluated env step whose normalised return is >= ``level``; NaN when none is."""
    return next((float(t) for t, v in zip(timesteps, normalized) if v >= level), float("nan"))


def run_rl_trial(config: dict[str, Any], trial_dir: str | Path) -> dict[str, Any]:
    """Train and evaluate one run (``config``: ``env_id``, ``algo``, ``actor`` in :data:`ACTORS`, ``seed``,
    ``total_timesteps``, ``eval_freq``, ``eval_episodes``, ``robust_episodes``, ``hyperparams``,
    ``max_episode_steps``, ``data_dir``: the shared folder of the random and expert references); write
    ``history.json``; return the metrics."""
    from dilqr_rl.agents.rl import RLConfig, train_rl

    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    policy, learn, sysid_every = ACTORS[config["actor"]]
    rl_config = RLConfig(env_id=config["env_id"], algo=config["algo"], policy=policy, learn=learn,
                         sysid_every=sysid_every,
                         total_timesteps=config["total_timesteps"], seed=config["seed"],
                         eval_freq=config["eval_freq"], eval_episodes=config["eval_episodes"],
                         max_episode_steps=config.get("max_episode_steps"),
                         hyperparams=dict(config.get("hyperparams") or {}), checkpoint_freq=0,
                         threads=int(config.get("threads", 1)), output_dir=config["data_dir"], progress=False)
    result = train_rl(rl_config)
    rows = result.history
    history: dict[str, list[float]] = {
        "timesteps": [r["timesteps"] for r in rows], "return": [r["eval/mean_return"] for r in rows],
        "normalized": [r["eval/normalized_return"] for r in rows], "train_seconds": [r["train_seconds"] for r in rows]}
    for name in result.final_params:
        history[f"param/{name}"] = [r.get(f"param/{name}", float("nan")) for r in rows]
    (trial_dir / "history.json").write_text(json.dumps(history))
    metrics: dict[str, Any] = dict(result.metrics())
    metrics["seconds_per_1000_steps"] = 1000.0 / result.env_steps_per_s if result.env_steps_per_s else float("nan")
    metrics["steps_to_0.9"] = steps_to(history["timesteps"], history["normalized"])
    metrics.update({f"initial/{k}": v for k, v in result.initial_params.items()})
    metrics.update({f"truth/{k}": v for k, v in result.registered_params.items()})
    metrics["zoo"] = result.hyperparameters.get("source", "")
    if config.get("robustness", True):
        metrics.update(robustness(result.checkpoint, config["env_id"], config["robust_episodes"],
                                  rl_config.eval_seed, result.references))
    return metrics
