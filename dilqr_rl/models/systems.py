"""Named control problems shared by experts, datasets and learners.

A :class:`SystemSpec` fixes everything a demonstration dataset depends on: the dynamics model and its
true physical parameters, the imitation cost (the papers' goal cost), the control bounds, the horizon
and the distribution of initial states. ``get_system("pendulum")`` / ``get_system("cartpole")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from dilqr_rl.models.base import DynamicsModel
from dilqr_rl.models.cartpole import CartpoleDynamics
from dilqr_rl.models.costs import GoalCost
from dilqr_rl.models.pendulum import PendulumDynamics


@dataclass(frozen=True)
class SystemSpec:
    """A control problem: model class and true parameters, goal cost, bounds, horizon, x_init range."""

    name: str
    dynamics_cls: type[DynamicsModel]
    true_params: dict[str, float]
    """Physical parameters of the true system (constructor keywords of ``dynamics_cls``)."""
    learnable: tuple[str, ...]
    """Parameters a ``dx`` learner fits by default; the others stay at their true values. Any subset of
    ``true_params`` can be chosen instead (``make_dynamics(learnable=...)``)."""
    cost_weights: tuple[float, ...]
    """w_g of the goal cost, one per entry of tau = [x; u]."""
    cost_goal: tuple[float, ...]
    """tau_g of the goal cost."""
    u_lower: float
    u_upper: float
    horizon: int
    x_init_low: tuple[float, ...]
    """Initial states are drawn uniformly from the box [x_init_low, x_init_high]."""
    x_init_high: tuple[float, ...]
    model_options: dict[str, float | None] = field(default_factory=dict)
    """Fixed, non-learnable constructor options (time step, speed clip)."""

    def make_dynamics(
        self, dtype: torch.dtype = torch.float64, learnable: tuple[str, ...] | None = None, **params: float
    ) -> DynamicsModel:
        """The dynamics with the true parameters, overridden by ``params`` (e.g. a wrong initial model).

        Only the ``learnable`` parameters (default: the spec's) require grad.
        """
        learnable = self.learnable if learnable is None else tuple(learnable)
        unknown = (set(params) | set(learnable)) - set(self.true_params)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)} for {self.name}; valid: "
                             f"{sorted(self.true_params)}")
        model = self.dynamics_cls(**{**self.true_params, **params}, **self.model_options, dtype=dtype)
        for name, p in model.named_parameters():
            p.requires_grad_(name in learnable)
        return model

    def make_cost(self, dtype: torch.dtype = torch.float64, weights=None, goal=None) -> GoalCost:
        """The goal cost with the true weights and goal (or the given ones)."""
        w = torch.as_tensor(self.cost_weights if weights is None else weights, dtype=dtype)
        g = torch.as_tensor(self.cost_goal if goal is None else goal, dtype=dtype)
        return GoalCost(w, g).to(dtype)

    def sample_x_init(
        self, count: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
    ) -> Tensor:
        """(count, n) initial states, uniform in the documented box."""
        low = torch.tensor(self.x_init_low, dtype=dtype)
        high = torch.tensor(self.x_init_high, dtype=dtype)
        return low + (high - low) * torch.rand(count, low.numel(), generator=generator, dtype=dtype)


SYSTEMS: dict[str, SystemSpec] = {
    "pendulum": SystemSpec(
        name="pendulum",
        dynamics_cls=PendulumDynamics,
        true_params={"mass": 1.0, "length": 1.0, "gravity": 10.0},
        # The pendulum's dynamics depend on (mass, length, gravity) only through 3 g / (2 l) and
        # 3 / (m l^2): all three are not identifiable from data, so the length is known by default.
        # The papers learn all three: pass learnable=("mass", "length", "gravity").
        learnable=("mass", "gravity"),
        cost_weights=(1.0, 0.3, 0.1),
        cost_goal=(0.0, 0.0, 0.0),
        u_lower=-2.0,
        u_upper=2.0,
        horizon=20,
        x_init_low=(-2.0, -1.0),
        x_init_high=(2.0, 1.0),
        model_options={"dt": 0.05, "max_speed": 8.0},
    ),
    "cartpole": SystemSpec(
        name="cartpole",
        dynamics_cls=CartpoleDynamics,
        true_params={"cart_mass": 1.0, "pole_mass": 0.1, "length": 0.5, "gravity": 9.8},
        learnable=("cart_mass", "length", "gravity"),
        cost_weights=(0.5, 0.1, 1.0, 0.1, 0.05),
        cost_goal=(0.0, 0.0, 0.0, 0.0, 0.0),
        u_lower=-10.0,
        u_upper=10.0,
        horizon=25,
        x_init_low=(-0.5, -0.5, -math.pi / 4, -0.5),
        x_init_high=(0.5, 0.5, math.pi / 4, 0.5),
        model_options={"dt": 0.02},
    ),
}


def get_system(name: str) -> SystemSpec:
    """The named system; the error lists the valid names."""
    try:
        return SYSTEMS[name]
    except KeyError:
        raise ValueError(f"unknown system {name!r}; valid: {sorted(SYSTEMS)}") from None
