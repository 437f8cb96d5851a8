"""The papers' systems: their exact settings, the feature-state models against the angle-state ones, the
papers' quadratic cost, and the implicit gradient on the cart-pole swing-up against finite differences."""

from __future__ import annotations

import math
import typing

import pytest
import torch
from torch.func import hessian, vmap

from dilqr_rl import DiLQR
from dilqr_rl.models import (
    SYSTEMS,
    CartpoleDynamics,
    CartpoleFeatureDynamics,
    PendulumDynamics,
    PendulumFeatureDynamics,
    QuadGoalCost,
    SystemName,
    get_system,
)
from tests.control.test_gradients import _directional_fd, _loss

F64 = torch.float64


def test_cartpole_carries_the_papers_settings():
    s = get_system("cartpole")
    assert s.dynamics_cls is CartpoleFeatureDynamics and s.state_dim == 5
    assert s.model_options == {"dt": 0.05}
    assert s.true_params == {"gravity": 9.8, "cart_mass": 1.0, "pole_mass": 0.1, "length": 0.5}
    assert (s.u_lower, s.u_upper, s.horizon) == (-100.0, 100.0, 20)
    assert s.cost_cls is QuadGoalCost
    assert s.cost_weights == (0.1, 0.1, 1.0, 1.0, 0.1, 0.001) and s.cost_goal == (0, 0, 1, 0, 0, 0)
    assert s.x_init_low == (-0.5, -0.5, -math.pi, -1.0) and s.x_init_high == (0.5, 0.5, math.pi, 1.0)
    assert s.learner_params == {"gravity": 9.8, "cart_mass": 3.0, "pole_mass": 0.1, "length": 1.0}
    assert s.learnable == ("gravity", "cart_mass", "pole_mass", "length")
    assert s.learner_cost_weights == (0.5,) * 6 and s.learner_cost_goal == (0.0,) * 6


def test_pendulum_carries_the_papers_settings():
    s = get_system("pendulum")
    assert s.dynamics_cls is PendulumFeatureDynamics and s.state_dim == 3
    assert s.model_options == {"dt": 0.05}
    assert s.true_params == {"gravity": 10.0, "mass": 1.0, "length": 1.0}
    assert (s.u_lower, s.u_upper, s.horizon) == (-2.0, 2.0, 20)
    assert s.cost_cls is QuadGoalCost
    assert s.cost_weights == (1.0, 1.0, 0.1, 0.001) and s.cost_goal == (1.0, 0.0, 0.0, 0.0)
    assert s.x_init_low == (-math.pi / 2, -1.0) and s.x_init_high == (math.pi / 2, 1.0)
    assert s.learner_params == {"gravity": 15.0, "mass": 3.0, "length": 0.5}
    assert s.learnable == ("gravity", "mass", "length")


def test_nonrealizable_pendulum_expert_and_learner():
    s = get_system("pendulum-nonrealizable")
    expert = s.make_dynamics()
    assert float(expert.damping) == 1.0 and float(expert.bias) == 0.1
    learner = s.make_learner_dynamics(gravity=6.0)
    assert learner.damping.item() == 0.0 and learner.bias.item() == 0.0 and learner.gravity.item() == 6.0
    assert not learner.damping.requires_grad and learner.gravity.requires_grad


def test_system_names_literal_lists_the_registry():
    assert set(typing.get_args(SystemName)) == set(SYSTEMS)


@pytest.mark.parametrize("name", ["pendulum", "cartpole"])
def test_initial_states_are_drawn_in_angles_and_lie_on_the_circle(name):
    s = get_system(name)
    x0 = s.sample_x_init(500, torch.Generator().manual_seed(0))
    assert x0.shape == (500, s.state_dim)
    cos, sin = (x0[:, 0], x0[:, 1]) if name == "pendulum" else (x0[:, 2], x0[:, 3])
    torch.testing.assert_close(cos**2 + sin**2, torch.ones(500, dtype=F64))
    theta = torch.atan2(sin, cos)
    limit = math.pi / 2 if name == "pendulum" else math.pi
    assert float(theta.abs().max()) <= limit and float(theta.abs().max()) > 0.9 * limit


def test_feature_cartpole_is_the_angle_cartpole_on_features():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(64, 4, generator=gen, dtype=F64) * torch.tensor([1.0, 1.0, 2.0, 2.0], dtype=F64)
    u = 30 * torch.randn(64, 1, generator=gen, dtype=F64)
    params = {"gravity": 9.0, "cart_mass": 1.3, "pole_mass": 0.2, "length": 0.7}
    feature = CartpoleFeatureDynamics(**params, dt=0.05, dtype=F64)
    angle = CartpoleDynamics(**params, dt=0.05, dtype=F64)
    expected = CartpoleFeatureDynamics.from_coordinates(angle(q, u))
    torch.testing.assert_close(feature(CartpoleFeatureDynamics.from_coordinates(q), u), expected)
    back = CartpoleFeatureDynamics.to_coordinates(expected)
    torch.testing.assert_close(back[:, [0, 1, 3]], angle(q, u)[:, [0, 1, 3]])
    torch.testing.assert_close(torch.cos(back[:, 2] - angle(q, u)[:, 2]), torch.ones(64, dtype=F64))


def test_feature_pendulum_is_the_gymnasium_pendulum_on_features_without_the_speed_clip():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(64, 2, generator=gen, dtype=F64)
    u = torch.randn(64, 1, generator=gen, dtype=F64)
    feature = PendulumFeatureDynamics(gravity=9.0, mass=1.2, length=0.8, dtype=F64)
    angle = PendulumDynamics(mass=1.2, length=0.8, gravity=9.0, max_speed=None, dtype=F64)
    torch.testing.assert_close(feature(PendulumFeatureDynamics.from_coordinates(q), u),
                               PendulumFeatureDynamics.from_coordinates(angle(q, u)))


def test_feature_pendulum_damping_and_bias():
    q = torch.tensor([[0.3, 0.5]], dtype=F64)
    u = torch.tensor([[0.7]], dtype=F64)
    g, m, length, d, b, dt = 10.0, 1.0, 1.0, 1.0, 0.1, 0.05
    model = PendulumFeatureDynamics(g, m, length, damping=d, bias=b, dt=dt, dtype=F64)
    speed = 0.5 + dt * (1.5 * g / length * math.sin(0.3 + b) + 3 * 0.7 / (m * length**2) - d * 0.5)
    theta = 0.3 + dt * speed
    expected = torch.tensor([[math.cos(theta), math.sin(theta), speed]], dtype=F64)
    torch.testing.assert_close(model(PendulumFeatureDynamics.from_coordinates(q), u), expected)


def test_quad_goal_cost_value_and_closed_form_derivatives():
    q = torch.tensor([0.1, 0.4, 1.0, 0.9], dtype=F64)
    goal = torch.tensor([0.3, -1.0, 1.0, 0.0], dtype=F64)
    cost = QuadGoalCost(q, goal)
    torch.testing.assert_close(cost.weights, q)
    gen = torch.Generator().manual_seed(0)
    x, u = torch.randn(7, 3, generator=gen, dtype=F64), torch.randn(7, 1, generator=gen, dtype=F64)
    tau = torch.cat([x, u], -1)
    # 1/2 ||sqrt(q) tau - g||^2 - 1/2 ||g||^2, and p = -sqrt(q) g as the papers' code logs it
    expected = 0.5 * ((q.sqrt() * tau - goal) ** 2).sum(-1) - 0.5 * (goal**2).sum()
    torch.testing.assert_close(cost(x, u), expected)
    torch.testing.assert_close(cost.model_vector(), torch.cat([q, -q.sqrt() * goal]))

    def g(z):
        return cost(z[None, :3], z[None, 3:])[0]

    c, C = cost.derivatives(x, u)
    torch.testing.assert_close(c, vmap(torch.func.grad(g))(tau))
    torch.testing.assert_close(C, vmap(hessian(g))(tau))


@pytest.mark.parametrize(("weights", "goal", "match"), [
    ((0.5, 1.5), (0.0, 0.0), r"weights must lie in \(0, 1\]"),
    ((0.5, 0.0), (0.0, 0.0), r"weights must lie in \(0, 1\]"),
    ((0.5, 0.5), (0.0,), "weights and goal must be vectors"),
])
def test_quad_goal_cost_errors(weights, goal, match):
    with pytest.raises(ValueError, match=match):
        QuadGoalCost(torch.tensor(weights), torch.tensor(goal))


def test_implicit_gradient_on_the_swingup_at_the_papers_wrong_model_matches_finite_differences():
    """The papers' cart-pole swing-up, T = 20, from the learner's wrong initial dynamics (9.8, 3.0, 0.1,
    1.0) and a perturbed cost (weights below 1 so that every logit is finite)."""
    s = get_system("cartpole")
    dynamics = s.make_learner_dynamics()
    cost = QuadGoalCost(torch.tensor([0.1, 0.1, 0.9, 0.9, 0.1, 0.001], dtype=F64),
                        torch.tensor([0.1, 0.0, 1.0, 0.0, 0.0, 0.0], dtype=F64))
    ctrl = DiLQR(dynamics, cost, s.horizon, s.u_lower, s.u_upper, max_iter=300, tol=1e-12)
    x0 = s.sample_x_init(3, torch.Generator().manual_seed(2)).requires_grad_(True)
    target = torch.randn(3, s.horizon, 1, generator=torch.Generator().manual_seed(0), dtype=F64)
    sol = ctrl(x0)
    assert sol.all_converged and not sol.active.any(), "the swing-up's controls are unsaturated"
    _loss(sol, target).backward()
    gen = torch.Generator().manual_seed(1)
    targets = [(n, p) for n, p in dynamics.named_parameters()] + [(n, p) for n, p in cost.named_parameters()]
    for name, tensor in [*targets, ("x_init", x0)]:
        direction = torch.randn(tensor.shape, generator=gen, dtype=F64)
        analytic = (tensor.grad * direction).sum()
        numeric = _directional_fd(ctrl, x0.detach(), tensor.data, direction, target, sol.u.detach())
        rel = (analytic - numeric).abs() / numeric.abs().clamp_min(1e-8)
        assert rel <= 1e-6, f"{name}: implicit {analytic.item():.10e} vs FD {numeric.item():.10e}"
