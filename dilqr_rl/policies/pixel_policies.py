"""Stable-Baselines3 policies for the pixel pendulum that share one image encoder architecture.

- :func:`pixel_dilqr_kwargs`: a :class:`~dilqr_rl.policies.DiLQRPolicy` whose state map is an
  :class:`~dilqr_rl.policies.image_models.ImageEncoder` to 3 numbers followed by
  :class:`~dilqr_rl.policies.state_maps.PendulumLatentMap` to the model's state (theta, theta_dot); the
  controller plans with a learnable pendulum (mass and gravity learnable, the length known: the pendulum
  identifies only 3 g / (2 l) and 3 / (m l^2)) and the expert's cost (frozen), and its first planned control
  is the action (receding horizon: a fresh solve from zero controls at every step, as SB3's ``predict``
  keeps no warm start).
- :func:`pixel_mlp_kwargs`: SB3's ``ActorCriticPolicy`` with :class:`ImageFeatures` (the same encoder, to
  ``features_dim`` features) and MLP heads.

Both are ``policy_kwargs`` for ``PPO(policy_class, env, policy_kwargs=...)``; the models save and load as SB3
``.zip`` files and run through ``predict``.

Shapes: observation (B, F, H, W) uint8 -> action (B, 1).
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

from dilqr_rl.models.pendulum import PendulumDynamics
from dilqr_rl.policies.dilqr_policy import DiLQRPolicy
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.expert_envs import PENDULUM_WEIGHTS
from dilqr_rl.policies.image_models import ImageEncoder
from dilqr_rl.policies.state_maps import PendulumLatentMap


class ImageFeatures(BaseFeaturesExtractor):
    """SB3 features extractor: an :class:`ImageEncoder` of the (already scaled) image observation.

    Shapes: observation (B, C, H, W) in [0, 1] -> features (B, features_dim).
    """

    def __init__(self, observation_space: spaces.Box, features_dim: int = 32) -> None:
        super().__init__(observation_space, features_dim)
        self.encoder = ImageEncoder(observation_space.shape, features_dim)

    def forward(self, observations: Tensor) -> Tensor:
        return self.encoder(observations)


def pixel_state_map(observation_shape: tuple[int, ...]) -> nn.Sequential:
    """``ImageEncoder`` to 3 numbers, then ``PendulumLatentMap`` to (theta, theta_dot).

    Shapes: (B, F, H, W) in [0, 1] -> (B, 2). ``[0]`` is the encoder."""
    return nn.Sequential(ImageEncoder(observation_shape, 3), PendulumLatentMap())


def pixel_dilqr_kwargs(observation_shape: tuple[int, ...], mass: float = 1.3, gravity: float = 7.0,
                       horizon: int = 20, max_iter: int = 10) -> dict[str, Any]:
    """``policy_kwargs`` of a :class:`DiLQRPolicy` for the pixel pendulum (module docstring), planning with a
    pendulum of the given (wrong) mass and gravity."""
    dynamics = PendulumDynamics(mass=mass, gravity=gravity, dtype=torch.float64)
    dynamics.length.requires_grad_(False)
    return {"dynamics": dynamics, "cost": PeriodicQuadraticCost(PENDULUM_WEIGHTS, angle_index=0),
            "state_map": pixel_state_map(observation_shape), "horizon": horizon,
            "solver_options": {"max_iter": max_iter, "tol": 1e-6}}


def pixel_mlp_kwargs(features_dim: int = 32, hidden: tuple[int, ...] = (64, 64)) -> dict[str, Any]:
    """``policy_kwargs`` of SB3's ``ActorCriticPolicy`` with the image encoder and MLP heads (SB3's orthogonal
    initialisation off, so the encoder starts as the DiLQR policy's does)."""
    return {"features_extractor_class": ImageFeatures, "features_extractor_kwargs": {"features_dim": features_dim},
            "net_arch": {"pi": list(hidden), "vf": list(hidden)}, "ortho_init": False}


POLICY_CLASSES: dict[str, type[ActorCriticPolicy]] = {"dilqr": DiLQRPolicy, "mlp": ActorCriticPolicy}
"""Policy kind -> SB3 policy class."""
