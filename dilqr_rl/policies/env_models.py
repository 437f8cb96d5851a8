"""The controller model a :class:`~dilqr_rl.policies.DiLQRPolicy` starts from when none is given.

``PPO(DiLQRPolicy, env)`` with no ``policy_kwargs`` plans with :func:`env_model` ``(env)``: a learnable copy
of the model the iLQR expert of ``env`` uses (:func:`~dilqr_rl.policies.expert_for`): our environments'
own dynamics, Gymnasium's ``Pendulum-v1`` physics read from the env, the cart-pole fitted to
``InvertedPendulum-v5``; the expert's cost (which matches the env's reward), frozen; and the expert's map
from observations to model states as a fixed state map (``expert.state_map``: torch operations that keep the
observation's dtype and device). Where the env's action is a scaled model control (MuJoCo), the models see
``u = action / action_scale``. Environments the expert does not know, and the pixel pendulum (whose expert
reads the true state), raise ``ValueError``: pass ``dynamics`` and ``cost``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from torch import Tensor, nn

from dilqr_rl.policies.expert_envs import expert_for


class ScaledControl(nn.Module):
    """``model(x, a / action_scale)``: a dynamics or cost module driven by env actions a = action_scale * u.

    Shapes: x (R, n), a (R, m) -> whatever ``model`` returns.
    """

    def __init__(self, model: nn.Module, action_scale: float) -> None:
        super().__init__()
        self.model = model
        self.action_scale = float(action_scale)
        for name in ("state_dim", "control_dim"):
            if hasattr(model, name):
                setattr(self, name, getattr(model, name))

    def forward(self, x: Tensor, a: Tensor, **kwargs: Tensor) -> Tensor:
        return self.model(x, a / self.action_scale, **kwargs)


@dataclass
class EnvModel:
    """What a DiLQR policy plans with by default in one environment."""

    dynamics: nn.Module
    """Learnable copy of the expert's dynamics (every parameter requires grad)."""
    cost: nn.Module
    """The expert's cost (frozen)."""
    state_map: nn.Module
    """Observations (B, d) -> model states (B, n), in the observations' dtype and on their device."""


def env_model(env: gym.Env) -> EnvModel:
    """The default controller model for ``env`` (see the module docstring)."""
    if env.observation_space.dtype == np.uint8:
        raise ValueError("DiLQRPolicy has no default model for image observations (the pixel pendulum's expert "
                         "reads the true state): pass policy_kwargs=dict(dynamics=..., cost=..., state_map='cnn')")
    expert = expert_for(env)
    dynamics = copy.deepcopy(expert.dynamics).requires_grad_(True)
    cost = copy.deepcopy(expert.cost).requires_grad_(False)
    if expert.action_scale != 1.0:
        dynamics, cost = ScaledControl(dynamics, expert.action_scale), ScaledControl(cost, expert.action_scale)
    return EnvModel(dynamics, cost, expert.state_map)
