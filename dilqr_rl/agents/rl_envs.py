"""The environments of an actor-critic run: one env as configured (episode length, Pendulum-v1's start box), the
seeded training ``VecEnv`` with rl-zoo3's normalisation, and the random and expert reference returns.

The references are the 0 and the 1 of the normalised return: a uniform random policy and the env's iLQR expert
(:func:`~dilqr_rl.policies.expert_for`) over the evaluation episodes (seeds ``eval_seed``, ``eval_seed + 1``,
...). They depend on the env and the episodes only, so they are computed once per setting and kept in
``<output_dir>/references/`` for every later run (and copied into each run folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from dilqr_rl.agents.evaluation import RandomPolicy, evaluate_episodes
from dilqr_rl.agents.rl_config import RLConfig
from dilqr_rl.policies.env_registry import make_env
from dilqr_rl.policies.expert_envs import expert_for

REFERENCES = "references"
"""The folder of cached references under the output folder."""


class UniformStart(gym.Wrapper):
    """Pendulum-v1 starting at theta ~ U(-angle, angle), theta_dot ~ U(-speed, speed) (its ``x_init`` and
    ``y_init`` reset options, given on every reset)."""

    def __init__(self, env: gym.Env, angle: float, speed: float) -> None:
        super().__init__(env)
        if not (angle > 0 and speed >= 0):
            raise ValueError(f"start angle must be > 0 and start speed >= 0; got {angle}, {speed}")
        self.start = {"x_init": float(angle), "y_init": float(speed)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        return self.env.reset(seed=seed, options={**self.start, **(options or {})})


def env_factory(config: RLConfig) -> Callable[[], gym.Env]:
    """A function making one env as ``config`` sets it (id, episode length, start box)."""

    def make() -> gym.Env:
        kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
        env = make_env(config.env_id, **kwargs)
        if config.start_angle is not None:
            env = UniformStart(env, config.start_angle, config.start_speed)
        return env

    return make


def training_venv(config: RLConfig, n_envs: int) -> VecEnv:
    """``n_envs`` seeded copies (a DummyVecEnv, seeds ``config.seed + i``) in SB3's ``Monitor``."""
    return make_vec_env(env_factory(config), n_envs=n_envs, seed=config.seed)


def normalized_venv(venv: VecEnv, config: RLConfig, gamma: float) -> VecNormalize:
    """rl-zoo3's ``normalize: true``: SB3's ``VecNormalize`` of observations and rewards for the MLP, of rewards
    only for the DiLQR actor, which reads observations in the env's units."""
    return VecNormalize(venv, norm_obs=config.policy == "mlp", norm_reward=True, gamma=gamma)


def reference_returns(config: RLConfig) -> dict[str, Any]:
    """``{"random", "expert"}`` mean returns over the evaluation episodes, with the setting they belong to; read
    from ``<output_dir>/references/`` or computed and stored there first (one file per setting)."""
    setting = {"env_id": config.env_id, "episodes": config.eval_episodes, "seed": config.eval_seed,
               "max_episode_steps": config.max_episode_steps, "start_angle": config.start_angle,
               "start_speed": config.start_speed if config.start_angle is not None else None}
    digest = hashlib.sha1(json.dumps(setting, sort_keys=True).encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9_.+-]+", "-", config.env_id)
    path = Path(config.output_dir) / REFERENCES / f"{name}__{digest}.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("setting") == setting:
            return stored
    make = env_factory(config)
    with make() as env:
        policies = {"random": RandomPolicy(env.observation_space, env.action_space, seed=config.eval_seed),
                    "expert": expert_for(env)}
        returns = {name: evaluate_episodes(policy, make, config.eval_episodes, config.eval_seed,
                                           label=f"{name} reference").returns.tolist()
                   for name, policy in policies.items()}
    out = {"setting": setting, **{name: sum(r) / len(r) for name, r in returns.items()},
           "returns": returns}
    _write_atomic(path, json.dumps(out, indent=2))
    return out


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (parallel runs may share the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        f.write(text)
    os.replace(f.name, path)
