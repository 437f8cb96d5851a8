"""Episodes of the iLQR expert in an environment: transitions for single-step behaviour cloning and SysId.

``collect_episodes(env_id, n_episodes, seed)`` runs ``expert_for(env)`` in ``n_episodes`` copies of the
environment, episode i reset with seed ``seed + i``, up to ``batch_size`` episodes in lockstep (one
batched solve per step). Where the environment reports the true state (``info["state"]``: our envs and
``InvertedPendulumStateAdapter``) the expert plans from it and the dataset stores it; otherwise the
expert plans from the observation and the dataset has no states.

Arrays are numpy, one row per transition, episodes one after another (``episode`` gives the index):
observations (N, *obs_shape), actions (N, *action_shape), rewards (N,) float64, terminated (N,) bool,
truncated (N,) bool, next_observations (N, *obs_shape), episode (N,) int64, and when available states
(N, n) and next_states (N, n) float64. :meth:`EpisodeDataset.tensors` gives torch tensors.
"""

from __future__ import annotations

import datetime
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

import dilqr_rl
from dilqr_rl.data.format import DatasetError, DatasetMismatchError, load_arrays, save_arrays
from dilqr_rl.envs import make_env
from dilqr_rl.policies.expert import ILQRExpert
from dilqr_rl.policies.expert_envs import expert_for

KIND = "episodes"
REQUIRED = ("observations", "actions", "rewards", "terminated", "truncated", "next_observations", "episode")
OPTIONAL = ("states", "next_states")


@dataclass
class EpisodeDataset:
    """Expert transitions in ``env_id`` (see the module docstring for the arrays and their shapes)."""

    env_id: str
    arrays: dict[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        if name in OPTIONAL:
            raise AttributeError(f"this dataset has no {name!r}: {self.env_id} does not report the true state")
        raise AttributeError(name)

    def __len__(self) -> int:
        return len(self.arrays["rewards"])

    def __repr__(self) -> str:
        states = ", with states" if self.has_states else ""
        return f"EpisodeDataset({self.env_id!r}, {self.n_episodes} episodes, {len(self)} transitions{states})"

    @property
    def n_episodes(self) -> int:
        return int(self.arrays["episode"].max()) + 1 if len(self) else 0

    @property
    def has_states(self) -> bool:
        return "states" in self.arrays

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of each episode (n_episodes,)."""
        return np.bincount(self.arrays["episode"], weights=self.arrays["rewards"], minlength=self.n_episodes)

    def episode_lengths(self) -> np.ndarray:
        return np.bincount(self.arrays["episode"], minlength=self.n_episodes)

    def tensors(self, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """The arrays as torch tensors; floating arrays cast to ``dtype``, others kept."""
        out = {}
        for name, array in self.arrays.items():
            tensor = torch.from_numpy(array)
            out[name] = tensor.to(dtype) if tensor.is_floating_point() else tensor
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the dataset (see :mod:`dilqr_rl.data.format`); atomic."""
        return save_arrays(path, self.arrays, {**self.metadata, "kind": KIND, "env_id": self.env_id})

    @classmethod
    def load(cls, path: str | os.PathLike, env_id: str | None = None) -> EpisodeDataset:
        """Read an episodes file; with ``env_id``, refuse a file for another environment."""
        arrays, metadata = load_arrays(path, KIND)
        stored = metadata.get("env_id")
        if env_id is not None and stored != env_id:
            raise DatasetMismatchError(f"{path} holds episodes of {stored!r}, expected {env_id!r}; generate "
                                       f"them with `dilqr-rl collect --kind episodes --env-id {env_id}`")
        missing = [name for name in REQUIRED if name not in arrays]
        if missing:
            raise DatasetError(f"{path} lacks arrays {missing}; the file is corrupted. Regenerate it.")
        return cls(env_id=str(stored), arrays=arrays, metadata=metadata)


def collect_episodes(
    env_id: str,
    n_episodes: int,
    seed: int = 0,
    progress: bool = True,
    batch_size: int = 32,
    expert_settings: dict[str, Any] | None = None,
    **env_kwargs: Any,
) -> EpisodeDataset:
    """Roll the expert for ``n_episodes`` episodes (see the module docstring); ``env_kwargs`` go to
    ``gymnasium.make`` (e.g. ``max_episode_steps``, physics of our envs)."""
    if not isinstance(n_episodes, int) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer >= 1; got {n_episodes!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    rows: list[dict[str, np.ndarray]] = []
    expert_name, settings, physics = None, None, None
    experts: list[ILQRExpert] = []
    with ExitStack() as open_bar:
        bar = None
        for first in range(0, n_episodes, batch_size):
            with ExitStack() as open_envs:
                envs = []
                for _ in range(min(batch_size, n_episodes - first)):
                    envs.append(make_env(env_id, **env_kwargs))
                    open_envs.callback(envs[-1].close)
                if bar is None:  # steps of all episodes, as far as the time limit tells
                    limit = getattr(envs[0].spec, "max_episode_steps", None)
                    bar = open_bar.enter_context(tqdm(total=limit and limit * n_episodes, desc=f"episodes {env_id}",
                                                      unit="step", disable=not progress))
                expert = expert_for(envs[0], **(expert_settings or {}))
                experts.append(expert)
                expert_name, settings, physics = expert.name, expert.settings.as_dict(), _physics(envs[0])
                rows.extend(_run_batch(envs, expert, seed, first, bar))
    arrays = {name: np.concatenate([r[name] for r in rows]) for name in rows[0]}
    solves = sum(e.solves for e in experts)
    metadata = {
        "env_id": env_id,
        "env_kwargs": {k: v for k, v in env_kwargs.items() if isinstance(v, (int, float, str, bool, type(None)))},
        "physics": physics,
        "expert": {"name": expert_name, "settings": settings, "solves": solves,
                   "converged_fraction": sum(e.converged_solves for e in experts) / max(solves, 1),
                   "convergence_note": "receding-horizon: each step's solve runs at most settings.max_iter "
                                       "warm-started iterations (cold_iter from a cold start), so a step may act "
                                       "on an unconverged plan by design"},
        "n_episodes": n_episodes,
        "seed": seed,
        "seeding": "episode i is reset with seed + i",
        "batch_size": batch_size,
        "library_version": dilqr_rl.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return EpisodeDataset(env_id=env_id, arrays=arrays, metadata=metadata)


def _physics(env: gym.Env) -> dict[str, Any]:
    """What we know of the env's physics: our envs' ``physics``, Gymnasium pendulum constants, or {}."""
    for candidate in (env, env.unwrapped):
        physics = getattr(candidate, "physics", None)
        if isinstance(physics, dict):
            return {k: v for k, v in physics.items() if isinstance(v, (int, float, type(None)))}
    u = env.unwrapped
    names = ("g", "m", "l", "dt", "max_speed", "max_torque")
    if all(hasattr(u, n) for n in names):
        return {n: float(getattr(u, n)) for n in names}
    return {}


def _run_batch(envs: list[gym.Env], expert: ILQRExpert, seed: int, first: int, bar: tqdm
               ) -> list[dict[str, np.ndarray]]:
    """Run episodes first, first + 1, ... (one per env, reset with seed + index) in lockstep."""
    B = len(envs)
    obs, infos = zip(*(env.reset(seed=seed + first + i) for i, env in enumerate(envs)))
    obs, infos = list(obs), list(infos)
    with_states = all("state" in info for info in infos)
    logs: list[dict[str, list]] = [{k: [] for k in (*REQUIRED[:-1], *OPTIONAL)} for _ in range(B)]
    plans = np.zeros((B, expert.settings.horizon, expert.control_dim))
    active, started = list(range(B)), np.ones(B, dtype=bool)
    while active:
        if with_states:
            x = torch.from_numpy(np.stack([infos[i]["state"] for i in active]))
            actions, new_plans = expert.predict_state(x, plans[active], started[active])
        else:
            actions, new_plans = expert.predict(np.stack([obs[i] for i in active]), plans[active], started[active])
        plans[active], started[active] = new_plans, False
        still = []
        for j, i in enumerate(active):
            next_obs, reward, terminated, truncated, info = envs[i].step(actions[j])
            log = logs[i]
            for key, value in (("observations", obs[i]), ("actions", actions[j]), ("rewards", reward),
                               ("terminated", terminated), ("truncated", truncated),
                               ("next_observations", next_obs)):
                log[key].append(value)
            if with_states:
                log["states"].append(infos[i]["state"])
                log["next_states"].append(info["state"])
            obs[i], infos[i] = next_obs, info
            bar.update(1)
            if terminated or truncated:
                limit = getattr(envs[i].spec, "max_episode_steps", None)
                if limit:  # an episode that ended early: its remaining steps count as done
                    bar.update(max(limit - len(log["rewards"]), 0))
            else:
                still.append(i)
        active = still
    return [_to_arrays(log, first + i, with_states) for i, log in enumerate(logs)]


def _to_arrays(log: dict[str, list], index: int, with_states: bool) -> dict[str, np.ndarray]:
    out = {key: np.asarray(log[key]) for key in REQUIRED[:-1]}
    out["rewards"] = out["rewards"].astype(np.float64)
    out["terminated"], out["truncated"] = out["terminated"].astype(bool), out["truncated"].astype(bool)
    if with_states:
        out["states"] = np.asarray(log["states"], dtype=np.float64)
        out["next_states"] = np.asarray(log["next_states"], dtype=np.float64)
    out["episode"] = np.full(len(out["rewards"]), index, dtype=np.int64)
    return out
