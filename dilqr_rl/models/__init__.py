"""Dynamics and cost models: ``nn.Module``s whose parameters are what a DiLQR layer learns.

Contract (see :mod:`dilqr_rl.models.base`):

- dynamics: ``forward(x (R, n), u (R, m)) -> (R, n)``, acting row by row;
- stage cost: ``forward(x (R, n), u (R, m)) -> (R,)``, or ``forward(x, u, t)`` with ``t (R,)`` step
  indices when the module sets ``time_varying = True``.

Optional closed forms (``jacobians``, ``lagrangian_hessian``, ``derivatives``) speed up the solver;
when absent, ``torch.func`` computes them.
"""

from dilqr_rl.models.base import CostModel, DynamicsModel
from dilqr_rl.models.cartpole import CartpoleDynamics
from dilqr_rl.models.costs import GoalCost, PendulumSwingUpCost
from dilqr_rl.models.linear import LinearDynamics
from dilqr_rl.models.pendulum import PendulumDynamics
from dilqr_rl.models.systems import SYSTEMS, SystemSpec, get_system

__all__ = [
    "SYSTEMS",
    "CartpoleDynamics",
    "CostModel",
    "DynamicsModel",
    "GoalCost",
    "LinearDynamics",
    "PendulumDynamics",
    "PendulumSwingUpCost",
    "SystemSpec",
    "get_system",
]
