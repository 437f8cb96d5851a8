"""Named control problems shared by experts, datasets and learners.

A :class:`SystemSpec` fixes everything a demonstration dataset and a learner depend on: the dynamics model
and its true physical parameters, the imitation cost, the control bounds, the horizon, the distribution of
initial states, and the wrong model a learner starts from.

The papers' systems (DiffMPC, Amos et al. 2018, Sec. 5.3-5.4; DiLQR, Wang et al. 2025, Sec. 5.2):

- ``pendulum`` and ``cartpole``: the imitation benchmarks exactly as the papers' public code
  (locuslab/differentiable-mpc ``imitation_nonconvex`` with mpc.pytorch's ``env_dx``; the DiLQR authors'
  fork keeps them) defines them. The texts give only the model classes, which parameters are learned, the
  goal-cost form, the optimizers and the data sizes; time steps, bounds, horizons, weights, goals, the
  initial-state distributions and the learners' initial models come from the code. The texts disagree on
  the cart-pole: the ICML DiLQR text learns three parameters (cart mass, gravity, length); the DiLQR
  workshop text, the DiffMPC text and both codes learn four (and the pole mass). We learn four by default.
- ``pendulum-nonrealizable``: DiffMPC Sec. 5.4. The expert pendulum has damping and a bias
  (g, m, l, d, b) = (10, 1, 1, 1, 0.1) (from the code); the learner's model class lacks both.

Our own settings, used by the environments' experts, the demo and the examples:

- ``pendulum-upright``: Gymnasium's pendulum on (theta, theta_dot), starts within 2 rad of upright,
  |u| <= 2 (most controls saturate: DiffMPC's gradient is nearly exact here).
- ``cartpole-balance``: Gymnasium's cart-pole on (x, x_dot, theta, theta_dot), dt 0.02, |F| <= 10, the
  pole within pi/4 of upright (nearly linear: DiffMPC's gradient is nearly exact here too).

``get_system(name)`` returns one; ``SYSTEMS`` holds them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from dilqr_rl.models.base import DynamicsModel
from dilqr_rl.models.cartpole import CartpoleDynamics, CartpoleFeatureDynamics
from dilqr_rl.models.costs import GoalCost, QuadGoalCost
from dilqr_rl.models.pendulum import PendulumDynamics, PendulumFeatureDynamics


@dataclass(frozen=True)
class SystemSpec:
    """A control problem: model class and true parameters, goal cost, bounds, horizon, x_init range, and
    the model a learner starts from."""

    name: str
    dynamics_cls: type[DynamicsModel]
    true_params: dict[str, float]
    """Physical parameters of the true system (constructor keywords of ``dynamics_cls``)."""
    learnable: tuple[str, ...]
    """Parameters a ``dx`` learner fits by default; the others stay at their values. Any subset of
    ``true_params`` can be chosen instead (``make_dynamics(learnable=...)``)."""
    cost_weights: tuple[float, ...]
    """The cost's weights, one per entry of tau = [x; u] (see ``cost_cls``)."""
    cost_goal: tuple[float, ...]
    """The cost's goal tau_g."""
    u_lower: float
    u_upper: float
    horizon: int
    x_init_low: tuple[float, ...]
    """Initial states are drawn uniformly from the box [x_init_low, x_init_high] in the coordinates of
    ``dynamics_cls.from_coordinates`` (angles, for the papers' feature-state models), else of the state."""
    x_init_high: tuple[float, ...]
    model_options: dict[str, float | None] = field(default_factory=dict)
    """Fixed, non-learnable constructor options (time step, speed clip)."""
    cost_cls: type[nn.Module] = GoalCost
    """``GoalCost`` (ours: sum_i (w_i (tau_i - g_i))^2) or ``QuadGoalCost`` (the papers' code:
    1/2 ||sqrt(q) tau - g||^2), built as ``cost_cls(weights, goal)``."""
    learner_params: dict[str, float] = field(default_factory=dict)
    """The wrong dynamics a learner starts from (the papers' initial models), overriding ``true_params``;
    also zeroes what the learner's model class lacks (the non-realizable pendulum's damping and bias).
    Empty: learners start from a seeded random perturbation of the truth."""
    learner_cost_weights: tuple[float, ...] | None = None
    """The weights a cost learner starts from (the papers' code: sigmoid(0) = 0.5); ``None``: perturbed."""
    learner_cost_goal: tuple[float, ...] | None = None
    """The goal a cost learner starts from (the papers' code: 0); ``None``: perturbed."""

    @property
    def state_dim(self) -> int:
        return int(self.dynamics_cls.state_dim)

    @property
    def control_dim(self) -> int:
        return int(self.dynamics_cls.control_dim)

    @property
    def has_learner_start(self) -> bool:
        """Whether the system documents the learners' initial model (the papers' systems do)."""
        return bool(self.learner_params) or self.learner_cost_weights is not None

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

    def make_learner_dynamics(
        self, dtype: torch.dtype = torch.float64, learnable: tuple[str, ...] | None = None, **params: float
    ) -> DynamicsModel:
        """The learner's model: ``learner_params`` over the truth, then ``params`` over both."""
        return self.make_dynamics(dtype, learnable, **{**self.learner_params, **params})

    def make_cost(self, dtype: torch.dtype = torch.float64, weights=None, goal=None) -> nn.Module:
        """The cost with the true weights and goal (or the given ones)."""
        w = torch.as_tensor(self.cost_weights if weights is None else weights, dtype=dtype)
        g = torch.as_tensor(self.cost_goal if goal is None else goal, dtype=dtype)
        return self.cost_cls(w, g).to(dtype)

    def sample_x_init(
        self, count: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
    ) -> Tensor:
        """(count, n) initial states, uniform in the documented box (then mapped to the model's state)."""
        low = torch.tensor(self.x_init_low, dtype=dtype)
        high = torch.tensor(self.x_init_high, dtype=dtype)
        q = low + (high - low) * torch.rand(count, low.numel(), generator=generator, dtype=dtype)
        from_coordinates = getattr(self.dynamics_cls, "from_coordinates", None)
        return q if from_coordinates is None else from_coordinates(q)


def _papers_cost_start(size: int) -> dict[str, tuple[float, ...]]:
    """The papers' code starts cost learners at q = sigmoid(0) = 0.5 and goal 0 in every entry."""
    return {"learner_cost_weights": (0.5,) * size, "learner_cost_goal": (0.0,) * size}


SYSTEMS: dict[str, SystemSpec] = {
    "pendulum": SystemSpec(
        name="pendulum",
        dynamics_cls=PendulumFeatureDynamics,  # state (cos th, sin th, th_dot), as the papers' code
        true_params={"gravity": 10.0, "mass": 1.0, "length": 1.0},  # code (mpc.pytorch PendulumDx)
        learnable=("gravity", "mass", "length"),  # both texts
        cost_cls=QuadGoalCost,  # code; the texts write ||w_g o (tau - tau_g)||^2
        cost_weights=(1.0, 1.0, 0.1, 0.001),  # code: goal weights (1, 1, 0.1), control penalty 0.001
        cost_goal=(1.0, 0.0, 0.0, 0.0),  # code: upright
        u_lower=-2.0,  # code: max torque 2
        u_upper=2.0,
        horizon=20,  # code: mpc_T = 20
        x_init_low=(-math.pi / 2, -1.0),  # code: th ~ U(-pi/2, pi/2), th_dot ~ U(-1, 1)
        x_init_high=(math.pi / 2, 1.0),
        model_options={"dt": 0.05},  # code
        learner_params={"gravity": 15.0, "mass": 3.0, "length": 0.5},  # code
        **_papers_cost_start(4),  # code
    ),
    "cartpole": SystemSpec(
        name="cartpole",
        dynamics_cls=CartpoleFeatureDynamics,  # state (x, x_dot, cos th, sin th, th_dot), as the papers' code
        true_params={"gravity": 9.8, "cart_mass": 1.0, "pole_mass": 0.1, "length": 0.5},  # code
        learnable=("gravity", "cart_mass", "pole_mass", "length"),  # DiffMPC text, workshop text, code (ICML: 3)
        cost_cls=QuadGoalCost,  # code
        cost_weights=(0.1, 0.1, 1.0, 1.0, 0.1, 0.001),  # code
        cost_goal=(0.0, 0.0, 1.0, 0.0, 0.0, 0.0),  # code: upright, cart at 0
        u_lower=-100.0,  # code: force_mag 100
        u_upper=100.0,
        horizon=20,  # code: mpc_T = 20
        x_init_low=(-0.5, -0.5, -math.pi, -1.0),  # code: swing-up from any angle
        x_init_high=(0.5, 0.5, math.pi, 1.0),
        model_options={"dt": 0.05},  # code
        learner_params={"gravity": 9.8, "cart_mass": 3.0, "pole_mass": 0.1, "length": 1.0},  # code
        **_papers_cost_start(6),  # code
    ),
    "pendulum-nonrealizable": SystemSpec(
        name="pendulum-nonrealizable",
        dynamics_cls=PendulumFeatureDynamics,
        true_params={"gravity": 10.0, "mass": 1.0, "length": 1.0, "damping": 1.0, "bias": 0.1},  # code
        learnable=("gravity", "mass", "length"),  # the learner's class lacks damping and bias
        cost_cls=QuadGoalCost,
        cost_weights=(1.0, 1.0, 0.1, 0.001),
        cost_goal=(1.0, 0.0, 0.0, 0.0),
        u_lower=-2.0,
        u_upper=2.0,
        horizon=20,
        x_init_low=(-math.pi / 2, -1.0),
        x_init_high=(math.pi / 2, 1.0),
        model_options={"dt": 0.05},
        # code: (5, 1, 1) + (3, 1, 1) * (U(0, 1) - 0.5) per seed, around this center
        learner_params={"gravity": 5.0, "mass": 1.0, "length": 1.0, "damping": 0.0, "bias": 0.0},
    ),
    "pendulum-upright": SystemSpec(
        name="pendulum-upright",
        dynamics_cls=PendulumDynamics,
        true_params={"mass": 1.0, "length": 1.0, "gravity": 10.0},
        # The pendulum's dynamics depend on (mass, length, gravity) only through 3 g / (2 l) and
        # 3 / (m l^2): all three are not identifiable from data, so the length is known by default.
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
    "cartpole-balance": SystemSpec(
        name="cartpole-balance",
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


SystemName = Literal["pendulum", "cartpole", "pendulum-nonrealizable", "pendulum-upright", "cartpole-balance"]
"""The names in ``SYSTEMS``, for typed configs (a test keeps the two in step)."""


def get_system(name: str) -> SystemSpec:
    """The named system; the error lists the valid names."""
    try:
        return SYSTEMS[name]
    except KeyError:
        raise ValueError(f"unknown system {name!r}; valid: {sorted(SYSTEMS)}") from None
