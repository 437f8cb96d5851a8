"""Standard single-step behaviour cloning: an MLP from observation to action on episode data.

Loss ``||pi(o_t) - a_t^expert||^2`` (summed over the action dimensions, averaged over the batch), the
same :class:`~dilqr_rl.agents.bc.BCTrainer` loop (best-validation selection, TensorBoard, checkpoints).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from dilqr_rl.agents.bc import BCConfig, BCTrainer, load_checkpoint
from dilqr_rl.policies.baselines import MLPPolicy


@dataclass(frozen=True)
class StepPolicySpec:
    """Everything needed to rebuild a single-step MLP policy (stored in checkpoints)."""

    obs_dim: int
    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    hidden_sizes: tuple[int, ...] = (64, 64)
    init_seed: int = 0
    """Seeds the network's initial weights."""
    env_id: str | None = None
    """The env it was cloned in (``bc-step``, ``dagger``; None: not recorded, e.g. checkpoints written before it
    was)."""


def build_step_policy(spec: StepPolicySpec, dtype: torch.dtype = torch.float32) -> MLPPolicy:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.init_seed)
        policy = MLPPolicy(spec.obs_dim, spec.action_dim, list(spec.action_low), list(spec.action_high),
                           hidden_sizes=spec.hidden_sizes)
    return policy.to(dtype)


def load_step_policy(path: str | Path, dtype: torch.dtype = torch.float32) -> MLPPolicy:
    """Rebuild the MLP saved in a single-step BC checkpoint and load its weights."""
    state = load_checkpoint(path)
    try:
        spec = StepPolicySpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in state["spec"].items()})
    except TypeError as e:
        raise ValueError(f"{path} was not written by single-step BC (its spec does not match): {e}") from None
    policy = build_step_policy(spec, dtype)
    policy.load_state_dict(state["policy"])
    return policy.eval()


def split_episodes(observations: np.ndarray, actions: np.ndarray, episode_ids: np.ndarray,
                   val_fraction: float, seed: int, dtype: torch.dtype = torch.float32
                   ) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """(train, val) pairs of (obs (N, d), actions (N, m)), split by whole episodes (no leakage).

    Shapes: observations (N, d), actions (N, m), episode_ids (N,) int.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    episodes = np.unique(episode_ids)
    if episodes.size < 2:
        raise ValueError(f"need at least 2 episodes to split train/val by episode; got {episodes.size}")
    rng = np.random.default_rng(seed)
    n_val = min(max(1, round(val_fraction * episodes.size)), episodes.size - 1)
    val_mask = np.isin(episode_ids, rng.permutation(episodes)[:n_val])

    def pair(mask):
        return (torch.as_tensor(observations[mask], dtype=dtype), torch.as_tensor(actions[mask], dtype=dtype))

    return pair(~val_mask), pair(val_mask)


class StepBCTrainer(BCTrainer):
    """Single-step BC of ``obs (B, d) -> action (B, m)`` on (obs, expert action) pairs."""

    def __init__(self, policy: MLPPolicy, spec: StepPolicySpec, config: BCConfig, writer=None) -> None:
        super().__init__(policy, config, writer, spec=asdict(spec))

    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        obs, actions = batch
        return (self.policy(obs) - actions).square().sum(-1), {}
