"""The policies single-step cloning trains, and how their checkpoints rebuild them.

Kinds (:data:`POLICY_KINDS`, each with its training defaults):

- ``dilqr``: the env's registered DiLQR actor (:func:`~dilqr_rl.policies.dilqr_clone.env_actor_policy`) from a
  wrong start of the physics, learning the physics (and optionally the cost's weights);
- ``mlp``: :class:`~dilqr_rl.policies.MLPPolicy`, observation -> action (its checkpoints keep the
  :class:`~dilqr_rl.agents.bc_step.StepPolicySpec` format of ``bc-step`` before the other kinds);
- ``lstm``: :class:`~dilqr_rl.policies.lstm_policy.LSTMPolicy` over the observation history.

A checkpoint of a ``dilqr`` or ``lstm`` clone stores ``{"clone": ClonePolicySpec}`` as its spec; the ``dilqr``
actor is rebuilt from the env's registry entry (``env_id`` and ``env_kwargs``) and loaded with the learned
parameters, so loading needs the env's id to be registered (``dilqr_rl.envs`` is imported).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dilqr_rl.agents.bc import load_checkpoint
from dilqr_rl.agents.bc_step import StepPolicySpec, build_step_policy, load_step_policy
from dilqr_rl.agents.clone_config import POLICY_KINDS
from dilqr_rl.policies.dilqr_clone import LEARNABLE, env_actor_policy
from dilqr_rl.policies.env_registry import make_env
from dilqr_rl.policies.lstm_policy import LSTMPolicy


@dataclass(frozen=True)
class ClonePolicySpec:
    """Everything needed to rebuild a cloned policy (stored in its checkpoints)."""

    kind: str
    """``dilqr``, ``mlp`` or ``lstm`` (:data:`POLICY_KINDS`)."""
    env_id: str
    obs_shape: tuple[int, ...]
    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments the env was made with (e.g. an observation mode of our envs)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """MLP hidden widths."""
    lstm_hidden: int = 64
    """LSTM hidden size."""
    model_error: dict[str, float] | None = None
    """The DiLQR actor's wrong start ``{parameter: relative error}``; None: the env's registered default."""
    learn: tuple[str, ...] = ("physics",)
    """What the DiLQR actor learns (``physics``, ``cost``)."""
    init_seed: int = 0
    """Seeds the networks' initial weights."""

    def __post_init__(self) -> None:
        if self.kind not in POLICY_KINDS:
            raise ValueError(f"unknown policy kind {self.kind!r}; valid: {list(POLICY_KINDS)}")
        unknown = sorted(set(self.learn) - set(LEARNABLE))
        if unknown or not self.learn:
            raise ValueError(f"learn must name some of {list(LEARNABLE)}; got {list(self.learn)}")

    @classmethod
    def for_env(cls, kind: str, env_id: str, env: gym.Env, **settings: Any) -> ClonePolicySpec:
        """The spec of a ``kind`` clone acting in ``env`` (made from ``env_id``)."""
        space = env.action_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"cloning needs a 1-D Box action space; {env_id} has {space}")
        return cls(kind=kind, env_id=env_id, obs_shape=tuple(int(s) for s in env.observation_space.shape),
                   action_dim=int(space.shape[0]),
                   action_low=tuple(float(v) for v in np.broadcast_to(space.low, space.shape)),
                   action_high=tuple(float(v) for v in np.broadcast_to(space.high, space.shape)), **settings)

    def step_spec(self) -> StepPolicySpec:
        """The ``mlp`` kind in ``bc-step``'s own format."""
        if len(self.obs_shape) != 1:
            raise ValueError(f"the MLP clone needs flat observations (d,); {self.env_id} has {self.obs_shape}")
        return StepPolicySpec(obs_dim=self.obs_shape[0], action_dim=self.action_dim, action_low=self.action_low,
                              action_high=self.action_high, hidden_sizes=self.hidden_sizes, init_seed=self.init_seed)

    def checkpoint_spec(self) -> dict[str, Any]:
        """What a checkpoint stores as its spec (``mlp``: ``StepPolicySpec``, loadable by ``load_step_policy``)."""
        return asdict(self.step_spec()) if self.kind == "mlp" else {"clone": asdict(self)}


def build_clone_policy(spec: ClonePolicySpec) -> nn.Module:
    """A new policy of ``spec`` (networks seeded by ``init_seed``; the DiLQR actor from the wrong start)."""
    if spec.kind == "mlp":
        return build_step_policy(spec.step_spec())
    if spec.kind == "lstm":
        if len(spec.obs_shape) != 1:
            raise ValueError(f"the LSTM clone needs flat observations (d,); {spec.env_id} has {spec.obs_shape}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.init_seed)
            return LSTMPolicy(spec.obs_shape[0], spec.action_dim, spec.action_low, spec.action_high,
                              hidden_size=spec.lstm_hidden)
    env = make_env(spec.env_id, **spec.env_kwargs)
    try:
        return env_actor_policy(env, spec.model_error, spec.learn)
    finally:
        env.close()


def is_clone_checkpoint(spec: Mapping[str, Any]) -> bool:
    """Whether a checkpoint's spec is a ``dilqr`` or ``lstm`` clone's (``mlp`` clones are ``StepPolicySpec``s)."""
    return "clone" in spec


def spec_from_checkpoint(spec: Mapping[str, Any]) -> ClonePolicySpec:
    stored = dict(spec["clone"])
    for name in ("obs_shape", "action_low", "action_high", "hidden_sizes", "learn"):
        stored[name] = tuple(stored[name])
    return ClonePolicySpec(**stored)


def load_clone_policy(path: str | Path) -> nn.Module:
    """Rebuild a cloned policy (any kind, and ``bc-step``'s MLPs) from its checkpoint, in evaluation mode."""
    state = load_checkpoint(path)
    if not is_clone_checkpoint(state["spec"]):
        return load_step_policy(path)
    try:
        spec = spec_from_checkpoint(state["spec"])
    except (TypeError, KeyError) as e:
        raise ValueError(f"{path} holds a clone checkpoint whose spec does not match this version: {e}") from None
    policy = build_clone_policy(spec)
    policy.load_state_dict(state["policy"])
    return policy.eval()
