"""Shipped models: physics equal to Gymnasium's formulas, closed forms equal to torch.func, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.func import hessian, jacfwd, vmap

from dilqr_rl.models import (
    CartpoleDynamics,
    GoalCost,
    LinearDynamics,
    PendulumDynamics,
    PendulumSwingUpCost,
    get_system,
)

F64 = torch.float64
GEN = torch.Generator().manual_seed(0)


def _rows(n, m, R=64, scale=2.0):
    return scale * torch.randn(R, n, generator=GEN, dtype=F64), scale * torch.randn(R, m, generator=GEN, dtype=F64)


def _autodiff_jacobians(model, x, u):
    return vmap(jacfwd(lambda a, b: model(a[None], b[None])[0], argnums=(0, 1)))(x, u)


def _gym_pendulum_step(th, thdot, u, g=10.0, m=1.0, l=1.0, dt=0.05, max_speed=8.0):
    """Gymnasium Pendulum-v1's step (copied formula, numpy float64)."""
    newthdot = thdot + (3 * g / (2 * l) * np.sin(th) + 3.0 / (m * l**2) * u) * dt
    newthdot = np.clip(newthdot, -max_speed, max_speed)
    return np.array([th + newthdot * dt, newthdot])


def _gym_cartpole_step(s, force, gravity=9.8, masscart=1.0, masspole=0.1, length=0.5, tau=0.02):
    x, x_dot, theta, theta_dot = s
    total_mass = masspole + masscart
    polemass_length = masspole * length
    costheta, sintheta = np.cos(theta), np.sin(theta)
    temp = (force + polemass_length * theta_dot**2 * sintheta) / total_mass
    thetaacc = (gravity * sintheta - costheta * temp) / (length * (4.0 / 3.0 - masspole * costheta**2 / total_mass))
    xacc = temp - polemass_length * thetaacc * costheta / total_mass
    return np.array([x + tau * x_dot, x_dot + tau * xacc, theta + tau * theta_dot, theta_dot + tau * thetaacc])


def test_pendulum_equals_gymnasium_formula():
    model = PendulumDynamics(mass=1.3, length=0.8, gravity=9.0, dtype=F64)
    x, u = _rows(2, 1, scale=3.0)
    out = model(x, u).detach().numpy()
    for r in range(x.shape[0]):
        expected = _gym_pendulum_step(*x[r].numpy(), u[r, 0].item(), g=9.0, m=1.3, l=0.8)
        np.testing.assert_allclose(out[r], expected, rtol=1e-14, atol=1e-14)


def test_cartpole_equals_gymnasium_formula():
    model = CartpoleDynamics(cart_mass=1.2, pole_mass=0.2, length=0.6, gravity=9.5, dtype=F64)
    x, u = _rows(4, 1)
    out = model(x, u).detach().numpy()
    for r in range(x.shape[0]):
        expected = _gym_cartpole_step(x[r].numpy(), u[r, 0].item(), 9.5, 1.2, 0.2, 0.6)
        np.testing.assert_allclose(out[r], expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("max_speed", [None, 8.0, 1.0])
def test_pendulum_closed_forms_match_autodiff(max_speed):
    model = PendulumDynamics(mass=1.3, length=0.8, max_speed=max_speed).double()
    x, u = _rows(2, 1)
    A, B = model.jacobians(x, u)
    A_ad, B_ad = _autodiff_jacobians(model, x, u)
    torch.testing.assert_close(A, A_ad)
    torch.testing.assert_close(B, B_ad)
    lam = torch.randn(x.shape[0], 2, generator=GEN, dtype=F64)
    H = vmap(hessian(lambda tau, l: (l * model(tau[None, :2], tau[None, 2:])[0]).sum()))(torch.cat([x, u], -1), lam)
    torch.testing.assert_close(model.lagrangian_hessian(x, u, lam), H)


def test_linear_closed_forms_match_autodiff():
    A0 = torch.randn(3, 3, generator=GEN, dtype=F64)
    B0 = torch.randn(3, 2, generator=GEN, dtype=F64)
    model = LinearDynamics(A0, B0)
    x, u = _rows(3, 2)
    A, B = model.jacobians(x, u)
    A_ad, B_ad = _autodiff_jacobians(model, x, u)
    torch.testing.assert_close(A, A_ad)
    torch.testing.assert_close(B, B_ad)
    assert (model.lagrangian_hessian(x, u, x) == 0).all()


@pytest.mark.parametrize("time_varying", [False, True])
def test_goal_cost_derivatives_match_autodiff(time_varying):
    goal = torch.randn(5, 3, generator=GEN, dtype=F64) if time_varying else torch.randn(3, generator=GEN, dtype=F64)
    cost = GoalCost(torch.tensor([1.0, 0.5, 0.1], dtype=F64), goal)
    x, u = _rows(2, 1, R=5)
    t = torch.arange(5)
    c, C = cost.derivatives(x, u, t)

    def g(tau, tr):
        return cost(tau[None, :2], tau[None, 2:], tr[None])[0]

    tau = torch.cat([x, u], -1)
    torch.testing.assert_close(c, vmap(torch.func.grad(g))(tau, t))
    torch.testing.assert_close(C, vmap(hessian(g))(tau, t))
    expected = ((cost.weights * (tau - (goal[t] if time_varying else goal))) ** 2).sum(-1)
    torch.testing.assert_close(cost(x, u, t), expected)


def test_swing_up_cost_derivatives_and_value_near_top():
    cost = PendulumSwingUpCost().double()
    x, u = _rows(2, 1)
    c, C = cost.derivatives(x, u)
    tau = torch.cat([x, u], -1)
    g = lambda z: cost(z[None, :2], z[None, 2:])[0]  # noqa: E731
    torch.testing.assert_close(c, vmap(torch.func.grad(g))(tau))
    torch.testing.assert_close(C, vmap(hessian(g))(tau))
    small = torch.tensor([[1e-3, 0.5]], dtype=F64)
    reward_cost = 1e-3**2 + 0.1 * 0.25 + 0.001 * 1.0
    assert math.isclose(cost(small, torch.ones(1, 1, dtype=F64)).item(), reward_cost, rel_tol=1e-6)


def test_physical_parameters_and_systems():
    spec = get_system("pendulum-upright")
    model = spec.make_dynamics(mass=1.5)
    assert model.physical_parameters()["mass"].item() == 1.5
    assert model.mass.requires_grad and model.gravity.requires_grad and not model.length.requires_grad
    assert all(p.requires_grad for p in spec.make_dynamics(learnable=("mass", "length", "gravity")).parameters())
    cart = get_system("cartpole-balance").make_dynamics()
    assert not cart.pole_mass.requires_grad and cart.cart_mass.requires_grad
    x0 = spec.sample_x_init(100, torch.Generator().manual_seed(0))
    assert x0.shape == (100, 2) and (x0[:, 0].abs() <= 2.0).all()


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: GoalCost(torch.tensor([1.0, -1.0, 1.0]), torch.zeros(3)), "weights must be positive"),
        (lambda: GoalCost(torch.ones(3), torch.zeros(4)), r"goal must be \(N,\) or \(T, N\) with N = 3"),
        (lambda: GoalCost(torch.ones(3, 1), torch.zeros(3)), r"weights must be a vector \(N,\)"),
        (lambda: GoalCost(torch.ones(3), torch.zeros(5, 3))(torch.zeros(1, 2), torch.zeros(1, 1)),
         "one goal per step .* pass the step indices t"),
        (lambda: LinearDynamics(torch.ones(2, 3), torch.ones(2, 1)), r"A must be a square \(n, n\) matrix"),
        (lambda: LinearDynamics(torch.eye(2), torch.ones(3, 1)), r"B must be \(n, m\) with n = 2 rows"),
        (lambda: PendulumDynamics(dt=0.0), "dt must be positive"),
        (lambda: PendulumDynamics(max_speed=-1.0), "max_speed must be positive or None"),
        (lambda: CartpoleDynamics(dt=-0.1), "dt must be positive"),
        (lambda: get_system("acrobot"), r"unknown system 'acrobot'; valid: \['cartpole', 'cartpole-balance', "),
        (lambda: get_system("pendulum-upright").make_dynamics(mas=1.0), r"unknown parameters \['mas'\] for pendulum"),
    ],
)
def test_model_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()
