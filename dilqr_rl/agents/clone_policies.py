"""The policies single-step cloning trains, and how their checkpoints rebuild them.

Kinds (:data:`POLICY_KINDS`, each with its training defaults):

- ``dilqr``: the env's registered DiLQR actor (:func:`~dilqr_rl.policies.dilqr_clone.env_actor_policy`) from a
  wrong start of the physics, learning the physics (and optionally the cost's weights);
- ``mlp``: :class:`~dilqr_rl.policies.MLPPolicy`, observation -> action (its checkpoints keep the
  :class:`~dilqr_rl.agents.bc_step.StepPolicySpec` format of ``bc-step`` before the other kinds);
- ``lstm``: :class:`~dilqr_rl.policies.lstm_policy.LSTMPolicy` over the observation history.

On image observations (the pixel pendulum) every kind reads the frames through the env's learned state map (the
DiLQR actor's keypoint encoder, :func:`image_encoder`; the networks get its state features), so the three heads
compare on the same encoder; a state regression on the recorded true state can train it
(``CloneConfig.state_weight``).

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
from dilqr_rl.policies.baselines import MLPPolicy
from dilqr_rl.policies.dilqr_clone import LEARNABLE, env_actor_policy
from dilqr_rl.policies.env_registry import env_control, make_env
from dilqr_rl.policies.lstm_policy import LSTMPolicy
from dilqr_rl.policies.pixel_state import StateFeatures


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

    @property
    def images(self) -> bool:
        """Whether the observations are images (more than one axis): the networks then read them through the
        env's learned state map (:func:`image_encoder`)."""
        return len(self.obs_shape) > 1

    def step_spec(self) -> StepPolicySpec:
        """The ``mlp`` kind on flat observations in ``bc-step``'s own format."""
        if self.images:
            raise ValueError(f"bc-step's MLP format is for flat observations (d,); {self.env_id} has {self.obs_shape}")
        return StepPolicySpec(obs_dim=self.obs_shape[0], action_dim=self.action_dim, action_low=self.action_low,
                              action_high=self.action_high, hidden_sizes=self.hidden_sizes, init_seed=self.init_seed,
                              env_id=self.env_id)

    def checkpoint_spec(self) -> dict[str, Any]:
        """What a checkpoint stores as its spec (``mlp``: ``StepPolicySpec``, loadable by ``load_step_policy``)."""
        return asdict(self.step_spec()) if self.kind == "mlp" and not self.images else {"clone": asdict(self)}


def image_encoder(spec: ClonePolicySpec) -> StateFeatures:
    """The networks' encoder for image observations: the env's learned state map (the DiLQR actor's, e.g. the
    pixel pendulum's keypoint encoder) followed by its state features. ``ValueError`` where the registry has none."""
    env = make_env(spec.env_id, **spec.env_kwargs)
    try:
        build = env_control(env).learned_state_map
    finally:
        env.close()
    if build is None:
        raise ValueError(f"{spec.env_id} observes {spec.obs_shape} and its registry entry has no learned state map "
                         "for the networks to read it through")
    return StateFeatures(build(spec.obs_shape))


def build_clone_policy(spec: ClonePolicySpec) -> nn.Module:
    """A new policy of ``spec`` (networks seeded by ``init_seed``; the DiLQR actor from the wrong start). On image
    observations every kind reads them through the env's learned state map (:func:`image_encoder`)."""
    if spec.kind == "mlp" and not spec.images:
        return build_step_policy(spec.step_spec())
    if spec.kind in ("mlp", "lstm"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.init_seed)
            encoder = image_encoder(spec) if spec.images else None
            width = encoder.out_dim if encoder is not None else spec.obs_shape[0]
            shape = spec.obs_shape if spec.images else None
            if spec.kind == "mlp":
                return MLPPolicy(width, spec.action_dim, list(spec.action_low), list(spec.action_high),
                                 hidden_sizes=spec.hidden_sizes, encoder=encoder, observation_shape=shape)
            return LSTMPolicy(width, spec.action_dim, spec.action_low, spec.action_high,
                              hidden_size=spec.lstm_hidden, encoder=encoder, observation_shape=shape)
    env = make_env(spec.env_id, **spec.env_kwargs)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.init_seed)
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
