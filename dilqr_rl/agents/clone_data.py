"""Episode data as each cloned policy trains on it: splits by whole episodes and the tensors per policy kind.

- ``mlp`` and ``dilqr`` (``loss="first"``): transitions (obs (N, *obs_shape), expert action (N, m)).
- ``dilqr`` with ``loss="plan"``: also the expert's next T actions along its episode (N, T, m) and their
  mask (N, T) (1 where step t + k is still in the episode).
- ``lstm``: whole episodes padded to the longest, (obs (E, L, d), actions (E, L, m), mask (E, L)).

Observations of the ``dilqr`` kind are float64 (the controller's dtype), the networks' float32; image
observations (uint8) stay uint8 (a batch is converted when it is used: 4000 pixel-pendulum observations are 65 MB
as uint8, 524 MB as float64). With ``states`` (the recorded true states (N, n), for a state regression) every
split gets them as its last tensor: (N, n), or (E, L, n) for ``lstm``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from dilqr_rl.agents.bc_step import split_episodes
from dilqr_rl.data.episodes import EpisodeDataset

SEGMENTS = 5
"""A single demonstration is cloned as this many consecutive pieces (:func:`segmented`)."""


def segmented(ds: EpisodeDataset, parts: int = SEGMENTS) -> EpisodeDataset:
    """One episode as ``parts`` consecutive pieces numbered as episodes: cloning splits by episode (one piece is
    held out to select the epoch), and a single demonstration has no second episode. Episodes shorter than
    ``parts`` steps give one piece per step. The metadata keep what the pieces came from (``segmented``: the number of
    demonstrations and their mean return, read by :func:`demonstrations`)."""
    if ds.n_episodes != 1:
        raise ValueError(f"segmented cuts one demonstration into pieces; the data has {ds.n_episodes} episodes")
    arrays = dict(ds.arrays)
    pieces = np.arange(len(ds)) * parts // len(ds)
    arrays["episode"] = np.unique(pieces, return_inverse=True)[1].astype(ds.episode.dtype)  # 0, 1, ... no gaps
    metadata = {**ds.metadata, "segmented": {"demonstrations": 1, "return": float(ds.episode_returns().mean())}}
    return EpisodeDataset(ds.env_id, arrays, metadata)


def demonstrations(ds: EpisodeDataset) -> tuple[int, float]:
    """(number of demonstrations, their mean return): a :func:`segmented` demonstration counts once, with its whole
    return."""
    whole = ds.metadata.get("segmented")
    if isinstance(whole, dict):
        return int(whole["demonstrations"]), float(whole["return"])
    return ds.n_episodes, float(ds.episode_returns().mean())


def episode_masks(episode_ids: np.ndarray, val_fraction: float, test_fraction: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks (N,) of the train, val and test transitions, split by whole episodes.

    The test episodes are drawn first (none when ``test_fraction`` is 0), then the validation episodes from
    the rest, each by :func:`~dilqr_rl.agents.bc_step.split_episodes` with ``seed`` (``bc-step``'s split).
    """
    if not (0.0 < val_fraction < 1.0 and 0.0 <= test_fraction < 1.0):
        raise ValueError(f"need 0 < val_fraction < 1 and 0 <= test_fraction < 1; got {val_fraction} and "
                         f"{test_fraction}")
    n_min = 3 if test_fraction > 0 else 2
    n_episodes = np.unique(episode_ids).size
    if n_episodes < n_min:
        raise ValueError(f"the data has {n_episodes} episode(s) but cloning splits by episode and needs at least "
                         f"{n_min} (train, val{', test' if n_min == 3 else ''}): collect more episodes"
                         + (", or set test_fraction 0" if n_min == 3 else ""))
    ids = episode_ids
    test = np.zeros(len(ids), dtype=bool)
    if test_fraction > 0:
        column = ids[:, None]
        _, (test_ids, _) = split_episodes(column, column, ids, test_fraction, seed, dtype=torch.float64)
        test = np.isin(ids, test_ids.long().numpy())
    rest = np.flatnonzero(~test)
    column = ids[rest][:, None]
    _, (val_ids, _) = split_episodes(column, column, ids[rest], val_fraction, seed, dtype=torch.float64)
    val = np.isin(ids, val_ids.long().numpy()) & ~test
    return ~(val | test), val, test


def as_observations(observations: np.ndarray, dtype: torch.dtype) -> Tensor:
    """A tensor of ``dtype``, or uint8 for uint8 images (converted a batch at a time by the policy)."""
    return torch.as_tensor(observations, dtype=torch.uint8 if observations.dtype == np.uint8 else dtype)


def transitions(observations: np.ndarray, actions: np.ndarray, mask: np.ndarray, dtype: torch.dtype
                ) -> tuple[Tensor, Tensor]:
    """(obs (N, *obs_shape), actions (N, m)) of the rows in ``mask``."""
    return (as_observations(observations[mask], dtype), torch.as_tensor(actions[mask], dtype=dtype))


def future_actions(actions: np.ndarray, episode_ids: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The actions a_t..a_{t+T-1} of each row's episode (N, T, m) and where they exist (N, T) float (the rows
    of an episode are consecutive); past the episode's end the last action is repeated with mask 0."""
    N = len(actions)
    index = np.arange(N)[:, None] + np.arange(horizon)[None]  # (N, T)
    clipped = np.minimum(index, N - 1)
    mask = (index < N) & (episode_ids[clipped] == episode_ids[:, None])
    last = np.where(mask, index, -1).max(1, keepdims=True)  # the row's last step inside its episode
    return actions[np.where(mask, index, last)], mask.astype(np.float64)


def padded_episodes(observations: np.ndarray, actions: np.ndarray, episode_ids: np.ndarray, mask: np.ndarray,
                    dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor, Tensor]:
    """The episodes with rows in ``mask`` as (obs (E, L, d), actions (E, L, m), mask (E, L)), zero-padded."""
    chosen = np.unique(episode_ids[mask])
    rows = [np.flatnonzero(episode_ids == e) for e in chosen]
    L = max((len(r) for r in rows), default=0)
    images = observations.dtype == np.uint8
    obs = np.zeros((len(rows), L, *observations.shape[1:]), dtype=np.uint8 if images else np.float64)
    act = np.zeros((len(rows), L, *actions.shape[1:]), dtype=np.float64)
    valid = np.zeros((len(rows), L))
    for i, r in enumerate(rows):
        obs[i, :len(r)], act[i, :len(r)], valid[i, :len(r)] = observations[r], actions[r], 1.0
    return (as_observations(obs, dtype), torch.as_tensor(act, dtype=dtype), torch.as_tensor(valid, dtype=dtype))


def kind_splits(kind: str, observations: np.ndarray, actions: np.ndarray, episode_ids: np.ndarray,
                masks: tuple[np.ndarray, np.ndarray, np.ndarray], horizon: int | None = None,
                states: np.ndarray | None = None) -> tuple[tuple[Tensor, ...], ...]:
    """(train, val, test) tensors of ``kind`` (module docstring); ``horizon`` adds the ``plan`` loss's targets,
    ``states`` the true states (last)."""
    if kind == "lstm":
        splits = [padded_episodes(observations, actions, episode_ids, m) for m in masks]
        if states is None:
            return tuple(splits)
        return tuple((*split, padded_episodes(states, states, episode_ids, m, torch.float64)[0])
                     for split, m in zip(splits, masks))
    dtype = torch.float64 if kind == "dilqr" else torch.float32
    if horizon is None:
        splits = [transitions(observations, actions, m, dtype) for m in masks]
    else:
        future, valid = future_actions(actions, episode_ids, horizon)
        splits = [(*transitions(observations, actions, m, dtype), torch.as_tensor(future[m], dtype=dtype),
                   torch.as_tensor(valid[m], dtype=dtype)) for m in masks]
    if states is None:
        return tuple(splits)
    return tuple((*split, torch.as_tensor(states[m], dtype=torch.float64)) for split, m in zip(splits, masks))
