"""``PeriodicQuadraticCost(learnable=True)``: log-weights the plan's gradient reaches (float64 finite differences),
the same cost as the fixed one, the copy a trainer makes, errors."""

from __future__ import annotations

import pytest
import torch

from dilqr_rl import DiLQR
from dilqr_rl.models import PendulumDynamics
from dilqr_rl.policies.dilqr_actor import FirstControl, SolverStats
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost

F64 = torch.float64
WEIGHTS = (1.0, 0.1, 0.1)  # a control penalty that keeps the first controls off their bounds


def test_learnable_weights_are_the_same_cost_and_a_parameter():
    fixed = PeriodicQuadraticCost(WEIGHTS, angle_index=0)
    learnable = fixed.learnable_copy()
    assert [name for name, _ in learnable.named_parameters()] == ["log_w"] and not list(fixed.parameters())
    x, u = torch.randn(5, 2, dtype=F64), torch.randn(5, 1, dtype=F64)
    torch.testing.assert_close(learnable(x, u), fixed(x, u))
    for a, b in zip(learnable.derivatives(x, u), fixed.derivatives(x, u)):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(learnable.w, torch.tensor(WEIGHTS, dtype=F64))


def test_the_action_matches_finite_differences_in_the_log_weights():
    """d u_1 / d log_w through the plan (implicit gradient), float64, against central differences of re-solves."""
    cost = PeriodicQuadraticCost(WEIGHTS, 0, learnable=True)
    controller = DiLQR(PendulumDynamics(dtype=F64), cost, 10, -2.0, 2.0, max_iter=200, tol=1e-12)
    actor = FirstControl(controller, SolverStats(), F64)
    state = torch.tensor([[0.15, 0.2], [-0.2, 0.1]], dtype=F64)
    assert controller(state).all_converged
    actor(state).sum().backward()
    direction = torch.tensor([0.7, -0.4, 0.5], dtype=F64)
    values = []
    with torch.no_grad():
        for sign in (1.0, -1.0):
            cost.log_w.add_(sign * 1e-6 * direction)
            values.append(actor(state).sum())
            cost.log_w.sub_(sign * 1e-6 * direction)
    expected = (values[0] - values[1]) / 2e-6
    assert abs(float(expected)) > 1e-3  # the plan depends on the weights
    torch.testing.assert_close((cost.log_w.grad * direction).sum(), expected, rtol=1e-6, atol=1e-10)


def test_learnable_weights_must_be_positive():
    with pytest.raises(ValueError, match=r"learnable weights are exp\(log_w\) and must be positive; got \[1.0, 0.0"):
        PeriodicQuadraticCost((1.0, 0.0, 0.1), 0, learnable=True)


def test_learnable_cost_of_a_registered_model_keeps_its_control_scale():
    from torch import nn

    from dilqr_rl.policies.env_models import ScaledControl, env_model, learnable_cost

    cost = env_model("InvertedPendulum-v5").cost  # MuJoCo: the cost is driven by env actions
    learned = learnable_cost(cost)
    assert isinstance(learned, ScaledControl) and learned.action_scale == cost.action_scale
    assert [name for name, _ in learned.named_parameters()] == ["model.log_w"] and learned.model is not cost.model
    x, a = torch.randn(4, 4, dtype=F64), torch.randn(4, 1, dtype=F64)
    torch.testing.assert_close(learned(x, a), cost(x, a))
    with pytest.raises(ValueError, match="learning the cost needs a cost with learnable weights "
                                         r"\(PeriodicQuadraticCost\); this env's is Identity"):
        learnable_cost(nn.Identity())
