"""Dynamics and cost models: ``nn.Module``s whose parameters are what a DiLQR layer learns.

Contract (see :mod:`dilqr_rl.models.base`):

- dynamics: ``forward(x (R, n), u (R, m)) -> (R, n)``, acting row by row;
- stage cost: ``forward(x (R, n), u (R, m)) -> (R,)``, or ``forward(x, u, t)`` with ``t (R,)`` step
  indices when the module sets ``time_varying = True``.

Optional closed forms (``jacobians``, ``lagrangian_hessian``, ``derivatives``) speed up the solver;
when absent, autograd computes them (models act row by row: see ``dilqr_rl.models.base``).
"""

from dilqr_rl.models.base import CostModel, DynamicsModel
from dilqr_rl.models.cartpole import CartpoleDynamics, CartpoleFeatureDynamics
from dilqr_rl.models.costs import GoalCost, PendulumSwingUpCost, QuadGoalCost
from dilqr_rl.models.linear import LinearDynamics
from dilqr_rl.models.pendulum import PendulumDynamics, PendulumFeatureDynamics
from dilqr_rl.models.systems import SYSTEMS, SystemName, SystemSpec, get_system

__all__ = [
    "SYSTEMS",
    "CartpoleDynamics",
    "CartpoleFeatureDynamics",
    "CostModel",
    "DynamicsModel",
    "GoalCost",
    "LinearDynamics",
    "PendulumDynamics",
    "PendulumFeatureDynamics",
    "PendulumSwingUpCost",
    "QuadGoalCost",
    "SystemName",
    "SystemSpec",
    "get_system",
]
