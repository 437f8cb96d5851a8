"""Expert episodes in a frame-stacking pixel environment: every frame stored once (uint8), with the true states
and the expert's actions.

``dilqr_rl/PixelPendulum-v0`` observes the last F frames (4 of 64 x 64 by default), so each frame appears in F
consecutive observations, and :class:`~dilqr_rl.data.EpisodeDataset`, which keeps ``observations`` and
``next_observations`` per transition, would hold 2 F copies of it: 656 MB of uint8 for 100 episodes x 200
steps x 4 x 64^2 (328 MB for the observations alone). Here each frame is kept once, 82 MB for the same
episodes (a few MB on disk: the archive is compressed and the frames are mostly black), and observations are
rebuilt a batch at a time by :func:`stack_observations`.

Arrays (E episodes of L steps each; the pixel pendulum never terminates, so every episode has L steps):

- ``frames`` (E, L + 1, H, W) uint8: the newest frame after the reset (t = 0) and after each step;
- ``states`` (E, L + 1, n) float64: the true state at the same times;
- ``actions`` (E, L, m) float32: the expert's action at t = 0 .. L - 1;
- ``rewards`` (E, L) float64.

The observation at time t is frames t - F + 1 .. t, clamped at 0 (after a reset every slot holds the first
frame, as the environment fills it). Files use the versioned format of :mod:`dilqr_rl.data.format` (kind
``pixel_episodes``); loading decompresses each array once, and :meth:`PixelEpisodeDataset.tensors` wraps them
without copying.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import dilqr_rl
from dilqr_rl.data.format import DatasetError, DatasetMismatchError, load_arrays, save_arrays
from dilqr_rl.envs import make_env
from dilqr_rl.envs.registration import PIXEL_PENDULUM_ID
from dilqr_rl.policies.expert_envs import expert_for

KIND = "pixel_episodes"
ARRAYS = ("frames", "states", "actions", "rewards")


class Start(str, Enum):
    """Where the episodes start (the descriptions are in :data:`STARTS`)."""

    ENV = "env"
    HANGING = "hanging"


STARTS = {
    Start.ENV: "the environment's own reset (the pixel pendulum: theta ~ U(-pi, pi), theta_dot ~ U(-1, 1))",
    Start.HANGING: "hanging down at rest, visibly off-centre: theta = pi + s U(0.1, 0.5), s = +-1 with equal "
                   "probability, theta_dot = 0 (the expert's swing-up direction follows s, so the first frame "
                   "shows which way it will swing)",
}


def stack_observations(frames: Tensor, episode: Tensor, t: Tensor, stack: int) -> Tensor:
    """The observations (frame stacks) at times ``t`` of episodes ``episode``; a new tensor of the batch only.

    Shapes: frames (E, L + 1, H, W), episode (B,) long, t (B,) long -> (B, stack, H, W), oldest frame first.
    """
    offsets = torch.arange(1 - stack, 1, device=t.device)  # (F,)
    times = (t[:, None] + offsets).clamp(min=0)  # (B, F)
    return frames[episode[:, None], times]


@dataclass
class PixelEpisodeDataset:
    """Expert episodes with frames, states and actions (see the module docstring for the arrays)."""

    env_id: str
    arrays: dict[str, np.ndarray]
    stack: int
    """F, frames per observation."""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [name for name in ARRAYS if name not in self.arrays]
        if missing:
            raise DatasetError(f"a pixel episode dataset needs arrays {list(ARRAYS)}; missing {missing}")
        E, L1 = self.arrays["frames"].shape[:2]
        shapes = {"states": (E, L1), "actions": (E, L1 - 1), "rewards": (E, L1 - 1)}
        for name, lead in shapes.items():
            if self.arrays[name].shape[:2] != lead:
                raise DatasetError(f"array {name!r} has shape {self.arrays[name].shape} but frames "
                                   f"{self.arrays['frames'].shape} need {name} to start with {lead}")

    def __repr__(self) -> str:
        E, L1, H, W = self.frames.shape
        return (f"PixelEpisodeDataset({self.env_id!r}, {E} episodes x {L1 - 1} steps, frames {H}x{W} "
                f"stacked {self.stack}, {self.frames.nbytes / 2**20:.1f} MiB of frames)")

    @property
    def frames(self) -> np.ndarray:
        return self.arrays["frames"]

    @property
    def states(self) -> np.ndarray:
        return self.arrays["states"]

    @property
    def actions(self) -> np.ndarray:
        return self.arrays["actions"]

    @property
    def rewards(self) -> np.ndarray:
        return self.arrays["rewards"]

    @property
    def n_episodes(self) -> int:
        return int(self.frames.shape[0])

    @property
    def steps(self) -> int:
        """L, steps per episode."""
        return int(self.frames.shape[1]) - 1

    def episode_returns(self) -> np.ndarray:
        """(E,) undiscounted returns."""
        return self.rewards.sum(1)

    def head(self, n: int) -> PixelEpisodeDataset:
        """The first ``n`` episodes, as views of these arrays (no copy)."""
        if not 1 <= n <= self.n_episodes:
            raise ValueError(f"n must be in 1..{self.n_episodes} (the episodes in this dataset); got {n}")
        return PixelEpisodeDataset(self.env_id, {k: v[:n] for k, v in self.arrays.items()}, self.stack,
                                   {**self.metadata, "n_episodes": n})

    def tensors(self) -> dict[str, Tensor]:
        """The arrays as torch tensors sharing their memory (``torch.from_numpy``: no copy)."""
        return {name: torch.from_numpy(array) for name, array in self.arrays.items()}

    def observations(self, episode: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Observations (B, F, H, W) uint8 at times ``t`` (B,) of episodes ``episode`` (B,), as the env shows them."""
        out = stack_observations(torch.from_numpy(self.frames), torch.as_tensor(episode, dtype=torch.long),
                                 torch.as_tensor(t, dtype=torch.long), self.stack)
        return out.numpy()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the dataset (see :mod:`dilqr_rl.data.format`); atomic."""
        return save_arrays(path, self.arrays, {**self.metadata, "kind": KIND, "env_id": self.env_id,
                                               "stack": self.stack})

    @classmethod
    def load(cls, path: str | os.PathLike, env_id: str | None = None) -> PixelEpisodeDataset:
        """Read a pixel episodes file; with ``env_id``, refuse a file for another environment."""
        arrays, metadata = load_arrays(path, KIND)
        stored = metadata.get("env_id")
        if env_id is not None and stored != env_id:
            raise DatasetMismatchError(f"{path} holds pixel episodes of {stored!r}, expected {env_id!r}; collect "
                                       f"them with dilqr_rl.data.collect_pixel_episodes({env_id!r}, ...)",
                                       stored=str(stored))
        try:
            return cls(str(stored), arrays, int(metadata["stack"]), metadata)
        except (KeyError, DatasetError) as error:
            raise DatasetError(f"{path} is not a consistent pixel episode dataset ({error}); regenerate it") from None


def _start_state(start: Start, rng: np.random.Generator) -> np.ndarray | None:
    if start is Start.ENV:
        return None
    side = rng.choice([-1.0, 1.0])
    return np.array([np.pi + side * rng.uniform(0.1, 0.5), 0.0])


def collect_pixel_episodes(n_episodes: int, seed: int = 0, steps: int = 200, start: str | Start = "env",
                           env_id: str = PIXEL_PENDULUM_ID, batch_size: int = 32,
                           expert_settings: dict[str, Any] | None = None, warm_start: bool = True,
                           **env_kwargs: Any) -> PixelEpisodeDataset:
    """Roll the iLQR expert (``expert_for``, planning on the true state) for ``n_episodes`` episodes of ``steps``
    steps, up to ``batch_size`` in lockstep; episode i is reset with seed ``seed + i`` (and with ``start =
    "hanging"`` from a state drawn by ``numpy.random.default_rng(seed + i)``). ``expert_settings`` override the
    expert's (:class:`~dilqr_rl.policies.expert.ExpertSettings`); with ``warm_start=False`` it solves from its
    cold starts at every step instead of from its shifted plan (as a ``DiLQRPolicy`` acts). ``env_kwargs`` go to
    the env (``size``, ``frames``, physics)."""
    start = _parse_start(start)
    if not isinstance(n_episodes, int) or n_episodes < 1 or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"n_episodes and steps must be integers >= 1; got {n_episodes!r} and {steps!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    parts, solves, converged = [], 0, 0
    for first in range(0, n_episodes, batch_size):
        envs = [make_env(env_id, max_episode_steps=steps, **env_kwargs)
                for _ in range(min(batch_size, n_episodes - first))]
        try:
            expert = expert_for(envs[0], **(expert_settings or {}))
            parts.append(_run_lockstep(envs, expert, seed, first, steps, start, warm_start))
            solves, converged = solves + expert.solves, converged + expert.converged_solves
            physics, stack = dict(envs[0].unwrapped.physics), int(envs[0].unwrapped.frames)
        finally:
            for env in envs:
                env.close()
    arrays = {name: np.concatenate([p[name] for p in parts]) for name in ARRAYS}
    metadata = {
        "env_id": env_id, "env_kwargs": {k: v for k, v in env_kwargs.items() if isinstance(v, (int, float, str))},
        "physics": physics, "start": start.value, "start_description": STARTS[start],
        "expert": {"name": expert.name, "settings": expert.settings.as_dict(), "solves": solves,
                   "converged_fraction": converged / max(solves, 1), "plans_from": "the true state",
                   "warm_start": warm_start},
        "n_episodes": n_episodes, "steps": steps, "seed": seed, "seeding": "episode i is reset with seed + i",
        "library_version": dilqr_rl.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return PixelEpisodeDataset(env_id, arrays, stack, metadata)


def _parse_start(start: str | Start) -> Start:
    try:
        return Start(start)
    except ValueError:
        raise ValueError(f"start must be one of {[s.value for s in Start]}; got {start!r}") from None


def _run_lockstep(envs: list, expert, seed: int, first: int, steps: int, start: Start, warm_start: bool
                  ) -> dict[str, np.ndarray]:
    """Episodes first, first + 1, ... in lockstep (one batched expert solve per step)."""
    B = len(envs)
    obs, states = [], []
    for i, env in enumerate(envs):
        x0 = _start_state(start, np.random.default_rng(seed + first + i))
        o, info = env.reset(seed=seed + first + i, options=None if x0 is None else {"state": x0})
        obs.append(o[-1])
        states.append(info["state"])
    frames, xs, actions, rewards = [np.stack(obs)], [np.stack(states)], [], []
    plans, cold = None, np.ones(B, dtype=bool)
    for _ in range(steps):
        a, plans = expert.predict_state(torch.from_numpy(xs[-1]), plans if warm_start else None, cold)
        cold[:] = False
        step = [env.step(a[i]) for i, env in enumerate(envs)]
        if any(s[2] for s in step):
            raise RuntimeError("an episode terminated early; pixel episode datasets need fixed-length episodes")
        frames.append(np.stack([s[0][-1] for s in step]))
        xs.append(np.stack([s[4]["state"] for s in step]))
        actions.append(a)
        rewards.append([s[1] for s in step])
    return {"frames": np.stack(frames, 1), "states": np.stack(xs, 1).astype(np.float64),
            "actions": np.stack(actions, 1).astype(np.float32), "rewards": np.asarray(rewards, dtype=np.float64).T}
