"""The controller model a DiLQR policy plans with when built from an env id: ``policy_kwargs=dict(env_id=...)``.

:func:`env_model` (env, model_error) reads the env's entry in :mod:`dilqr_rl.policies.env_registry`: a learnable
copy of the model the iLQR expert of ``env`` uses (our environments' own dynamics, Gymnasium's ``Pendulum-v1``
physics read from the env, the cart-pole fitted to ``InvertedPendulum-v5``), with the physical parameters
scaled by ``1 + model_error[name]`` (a wrong start); the expert's cost (which matches the env's reward),
frozen; the expert's map from observations to model states as a fixed state map (torch operations that keep
the observation's dtype and device); and the zero-config actor's settings (horizon, starts, iterations).
Where the env's action is a scaled model control (MuJoCo), the models see ``u = action / action_scale``.
For image observations (the pixel pendulum) the state map is the registry's learned one, untrained: train it
(``bc-step --state-weight``) before acting on it. Environments the registry does not know raise ``ValueError``:
pass ``dynamics`` and ``cost``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from torch import Tensor, nn

from dilqr_rl.control.kernels import forms
from dilqr_rl.models.cartpole import CartpoleDynamics
from dilqr_rl.policies import dilqr_actor  # noqa: F401  (registers PeriodicQuadraticCost's C form)
from dilqr_rl.policies.env_registry import ActorSettings, apply_model_error, env_control, make_env
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost


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


SCALED_MASSES = {CartpoleDynamics: (0, 1)}
"""Where the masses sit in a dynamics form's parameters. In the cart-pole the force only enters as force / mass
(every other term of the accelerations is a ratio of masses), so ``model(x, a / s)`` is the model with both masses
times s: the scaled model of ``InvertedPendulum-v5`` keeps the compiled solve."""


def _scaled_dynamics_form(m: ScaledControl) -> list[float] | None:
    masses = SCALED_MASSES.get(type(m.model))
    inner = forms.dynamics_form(m.model) if masses is not None else None
    if inner is None:
        return None
    return [v * m.action_scale if i in masses else v for i, v in enumerate(inner.parameters)]


def _scaled_dynamics_leaves(m: ScaledControl, gradient: Tensor) -> list[tuple[Tensor, Tensor]]:
    scale = gradient.new_ones(gradient.shape)
    scale[list(SCALED_MASSES[type(m.model)])] = m.action_scale  # d(mass s) / d mass = s
    return forms.dynamics_form(m.model).leaves(m.model, gradient * scale)


def _scaled_cost_scale(m: ScaledControl, count: int) -> list[float]:
    """Per entry of a periodic quadratic form (angle index, w_1..w_N, goal_1..goal_N), N = n + 1, the factor that
    makes the cost of u = a / s a cost of a: w_u (a / s - goal_u)^2 = (w_u / s^2) (a - s goal_u)^2."""
    N = (count - 1) // 2
    scale = [1.0] * count
    scale[N], scale[2 * N] = 1.0 / m.action_scale**2, m.action_scale
    return scale


def _scalable(m: ScaledControl) -> bool:
    """The rescaling holds for a periodic quadratic cost whose angle is a state, not the control (index n)."""
    cost = m.model
    return isinstance(cost, PeriodicQuadraticCost) and cost.angle_index < cost.w.numel() - 1


def _scaled_cost_form(m: ScaledControl) -> list[float] | None:
    inner = forms.cost_form(m.model) if _scalable(m) else None
    if inner is None:
        return None
    return [v * s for v, s in zip(inner.parameters, _scaled_cost_scale(m, len(inner.parameters)))]


def _scaled_cost_leaves(m: ScaledControl, gradient: Tensor) -> list[tuple[Tensor, Tensor]]:
    scale = gradient.new_tensor(_scaled_cost_scale(m, gradient.numel()))
    return forms.cost_form(m.model).leaves(m.model, gradient * scale)


def _scaled_cost_rows(m: ScaledControl, t: Tensor, args: dict[str, Tensor]) -> Tensor | None:
    inner = forms.cost_rows(m.model, t, args) if _scalable(m) else None
    if inner is None:
        return None
    return inner[1] * inner[1].new_tensor(_scaled_cost_scale(m, inner[1].shape[-1]))


forms.register_dynamics(ScaledControl, "cartpole", _scaled_dynamics_form, _scaled_dynamics_leaves)
forms.register_cost(ScaledControl, "periodic_quadratic", _scaled_cost_form, _scaled_cost_leaves, _scaled_cost_rows)


@dataclass
class EnvModel:
    """What a DiLQR policy plans with by default in one environment."""

    dynamics: nn.Module
    """Learnable copy of the expert's dynamics (every parameter requires grad), with the model error applied."""
    cost: nn.Module
    """The expert's cost (frozen)."""
    state_map: nn.Module
    """Observations (B, *obs_shape) -> model states (B, n), in the observations' dtype and on their device; for
    images the registry's learned map, untrained (``EnvControl.learned_state_map``)."""
    actor: ActorSettings
    """The zero-config actor's horizon, starts and iterations."""

    def policy_kwargs(self) -> dict[str, Any]:
        """``DiLQRPolicy`` (and SAC / TD3 policy) kwargs planning with this model."""
        return dict(dynamics=self.dynamics, cost=self.cost, state_map=self.state_map, **self.actor.policy_kwargs())


def env_model(env: gym.Env | str, model_error: Mapping[str, float] | None = None) -> EnvModel:
    """The default controller model for ``env`` (an env or an env id; see the module docstring)."""
    if isinstance(env, str):
        made = make_env(env)
        try:
            return env_model(made, model_error)
        finally:
            made.close()
    c = env_control(env)
    state_map = c.state_map
    if state_map is None:
        if c.learned_state_map is None:
            raise ValueError(f"{c.name} observes images and its registry entry has no state map to learn: pass "
                             "policy_kwargs=dict(dynamics=..., cost=..., state_map='cnn')")
        state_map = c.learned_state_map(tuple(int(s) for s in env.observation_space.shape))
    dynamics = copy.deepcopy(c.dynamics).requires_grad_(True)
    apply_model_error(dynamics, model_error or {})
    cost = copy.deepcopy(c.cost).requires_grad_(False)
    if c.action_scale != 1.0:
        dynamics, cost = ScaledControl(dynamics, c.action_scale), ScaledControl(cost, c.action_scale)
    return EnvModel(dynamics, cost, state_map, c.actor)


def learnable_cost(cost: nn.Module) -> nn.Module:
    """A copy of a registered cost with learnable weights (``PeriodicQuadraticCost.learnable_copy``: log-weights),
    through a ``ScaledControl`` wrapper; ``ValueError`` for a cost without them."""
    inner = getattr(cost, "model", cost)
    if not hasattr(inner, "learnable_copy"):
        raise ValueError(f"learning the cost needs a cost with learnable weights (PeriodicQuadraticCost); this env's "
                         f"is {type(inner).__name__}")
    learned = inner.learnable_copy()
    return ScaledControl(learned, cost.action_scale) if isinstance(cost, ScaledControl) else learned
