"""The DiLQR policy's actor reports each kind of solver warning once per training run, not once per step."""

from __future__ import annotations

import warnings

import torch

from dilqr_rl import DiLQR
from dilqr_rl.control import HessianFallbackWarning, UnconvergedWarning
from dilqr_rl.models import GoalCost, PendulumDynamics
from dilqr_rl.policies.dilqr_actor import FirstControl, SolverStats

F64 = torch.float64


class IndefiniteLagrangian(PendulumDynamics):
    """A pendulum whose Lagrangian Hessian term makes every adjoint fall back to the cost Hessian."""

    def lagrangian_hessian(self, x, u, lam):
        return -100.0 * torch.eye(3, dtype=x.dtype).expand(x.shape[0], 3, 3)


def test_fallback_and_unconverged_warnings_are_shown_once_over_many_steps():
    """The README's PPO example printed 20 HessianFallbackWarnings: the actor's forward entered
    warnings.catch_warnings at every step, which resets Python's once-per-place registry."""
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).double()
    actor = FirstControl(DiLQR(IndefiniteLagrangian(max_speed=None).double(), cost, 10, max_iter=2),
                         SolverStats(), F64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for seed in range(6):
            state = torch.randn(4, 2, generator=torch.Generator().manual_seed(seed), dtype=F64) + 2.0
            actor(state).sum().backward()
    counts = {c: sum(issubclass(w.category, c) for w in caught) for c in (HessianFallbackWarning, UnconvergedWarning)}
    assert counts == {HessianFallbackWarning: 1, UnconvergedWarning: 1}, [str(w.message)[:80] for w in caught]
    assert actor.stats.items == 24 and actor.stats.converged < 24


def test_the_actors_warnings_name_the_users_line():
    """The actor's UnconvergedWarning and the backward's HessianFallbackWarning point at the line that called the
    actor and at the backward() call, not into torch's module machinery or the package."""
    import sys

    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).double()
    actor = FirstControl(DiLQR(IndefiniteLagrangian(max_speed=None).double(), cost, 10, max_iter=2),
                         SolverStats(), F64)
    state = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=F64) + 2.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action = actor(state); line_call = sys._getframe().f_lineno  # noqa: E702
        action.sum().backward(); line_backward = sys._getframe().f_lineno  # noqa: E702
    where = {w.category: (w.filename, w.lineno) for w in caught}
    assert where[UnconvergedWarning] == (__file__, line_call)
    assert where[HessianFallbackWarning] == (__file__, line_backward)
