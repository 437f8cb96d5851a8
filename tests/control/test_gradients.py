"""Every gradient path of the layer against central finite differences of tightly converged re-solves,
and the three gradient modes against each other (float64)."""

from __future__ import annotations

import itertools

import pytest
import torch

from tests.control.problems import F64, FACTORIES, X0, linear, pendulum, without_closed_forms

# (system, closed forms hidden): the cart-pole and the neural model have none; the others run both paths
PATHS = [("pendulum", False), ("pendulum", True), ("cartpole", False), ("neural", False), ("linear", False),
         ("linear", True)]


def _factory(system, hidden=False, **kw):
    ctrl = FACTORIES[system](**kw)
    return without_closed_forms(ctrl) if hidden else ctrl


def _loss(sol, target):
    return ((sol.u - target) ** 2).sum() + 0.1 * (sol.x**2).sum()


def _target(ctrl, x0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(x0.shape[0], ctrl.config.horizon, ctrl.control_dim or 1, generator=gen, dtype=F64)


def _directional_fd(ctrl, x0, tensor, direction, target, warm, eps=1e-5):
    """(L(p + eps v) - L(p - eps v)) / (2 eps), re-solving from the base solution."""
    values = []
    with torch.no_grad():
        for sign in (1.0, -1.0):
            tensor.add_(sign * eps * direction)
            values.append(_loss(ctrl(x0, u_init=warm), target))
            tensor.sub_(sign * eps * direction)
    return (values[0] - values[1]) / (2 * eps)


def _targets(ctrl, x0):
    """(name, tensor) pairs: every parameter group of the dynamics and cost, and x_init."""
    out = [(f"dynamics.{n}", p) for n, p in ctrl.dynamics.named_parameters()]
    out += [(f"cost.{n}", p) for n, p in ctrl.cost.named_parameters()]
    return [*out, ("x_init", x0)]


@pytest.mark.parametrize(("system", "hidden"), PATHS)
def test_implicit_gradient_matches_finite_differences(system, hidden):
    ctrl = _factory(system, hidden)
    x0 = X0[system].clone().requires_grad_(True)
    target = _target(ctrl, x0)
    sol = ctrl(x0)
    assert sol.all_converged
    assert ctrl.config.horizon >= 20
    if system != "neural":
        assert sol.active.any() and not sol.active.all(), "the bounds should be partly active"
    _loss(sol, target).backward()
    warm = sol.u.detach()
    gen = torch.Generator().manual_seed(1)
    for name, tensor in _targets(ctrl, x0):
        direction = torch.randn(tensor.shape, generator=gen, dtype=F64)
        analytic = (tensor.grad * direction).sum()
        numeric = _directional_fd(ctrl, x0.detach(), tensor.data, direction, target, warm)
        rel = (analytic - numeric).abs() / numeric.abs().clamp_min(1e-8)
        assert rel <= 1e-6, f"{system} {name}: implicit {analytic.item():.10e} vs FD {numeric.item():.10e}"


@pytest.mark.parametrize(("system", "hidden"), [("pendulum", False), ("pendulum", True), ("cartpole", False)])
def test_each_physical_parameter_elementwise(system, hidden):
    """Coordinate-wise check of every scalar physical parameter (not only a random direction)."""
    ctrl = _factory(system, hidden)
    x0 = X0[system]
    target = _target(ctrl, x0)
    sol = ctrl(x0)
    _loss(sol, target).backward()
    for name, p in ctrl.dynamics.named_parameters():
        numeric = _directional_fd(ctrl, x0, p.data, torch.ones_like(p), target, sol.u.detach())
        torch.testing.assert_close(p.grad, numeric, rtol=1e-6, atol=1e-9, msg=f"{system} {name}")


def _grads(ctrl, x0, target):
    x0 = x0.clone().requires_grad_(True)
    ctrl.zero_grad()
    _loss(ctrl(x0), target).backward()
    return {name: t.grad.clone() for name, t in _targets(ctrl, x0)}


@pytest.mark.parametrize(("system", "hidden"), [("pendulum", False), ("pendulum", True), ("cartpole", False),
                                                ("neural", False)])
def test_unroll_equals_implicit_when_converged(system, hidden):
    implicit, unroll = _factory(system, hidden), _factory(system, hidden, method="unroll")
    unroll.load_state_dict(implicit.state_dict())
    target = _target(implicit, X0[system])
    gi, gu = _grads(implicit, X0[system], target), _grads(unroll, X0[system], target)
    for name in gi:
        torch.testing.assert_close(gu[name], gi[name], rtol=1e-7, atol=1e-10, msg=name)


@pytest.mark.parametrize("method", ["implicit", "diffmpc", "unroll"])
@pytest.mark.parametrize("system", ["pendulum", "linear"])
def test_autograd_path_gradients_equal_the_closed_form_path(system, method):
    """The same problem with the closed forms hidden: every gradient agrees to 1e-10 (float64)."""
    closed, autograd = _factory(system, method=method), _factory(system, True, method=method)
    target = _target(closed, X0[system])
    gc, ga = _grads(closed, X0[system], target), _grads(autograd, X0[system], target)
    for name in gc:
        torch.testing.assert_close(ga[name], gc[name], rtol=1e-10, atol=1e-10, msg=name)


def test_unroll_approaches_implicit_as_iterations_grow():
    x0 = X0["pendulum"][:1]
    implicit = pendulum(lo=-10.0, hi=10.0)
    target = _target(implicit, x0)
    exact = _grads(implicit, x0, target)["dynamics.mass"]
    errors = []
    for iters in (2, 5, 8, 15):
        unroll = pendulum(method="unroll", lo=-10.0, hi=10.0, max_iter=iters, tol=0.0)  # exactly `iters`
        g = _grads(unroll, x0, target)["dynamics.mass"]
        errors.append(((g - exact).abs() / exact.abs()).item())
    assert errors[-1] < 1e-10
    assert errors[0] > 1e-1
    assert all(b <= a for a, b in itertools.pairwise(errors)), errors


def test_diffmpc_exact_for_linear_dynamics():
    implicit, diffmpc = linear(), linear(method="diffmpc")
    diffmpc.load_state_dict(implicit.state_dict())
    target = _target(implicit, X0["linear"])
    gi, gd = _grads(implicit, X0["linear"], target), _grads(diffmpc, X0["linear"], target)
    for name in gi:
        torch.testing.assert_close(gd[name], gi[name], rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize("system", ["pendulum", "cartpole"])
def test_diffmpc_measurably_off_for_nonlinear_dynamics(system):
    implicit, diffmpc = FACTORIES[system](), FACTORIES[system](method="diffmpc")
    diffmpc.load_state_dict(implicit.state_dict())
    target = _target(implicit, X0[system])
    gi, gd = _grads(implicit, X0[system], target), _grads(diffmpc, X0[system], target)
    rel = {n: ((gd[n] - gi[n]).norm() / gi[n].norm()).item() for n in gi}
    assert max(rel.values()) > 1e-4, rel


def test_cost_gradient_is_total_derivative():
    """sol.cost is differentiable: d J*/d x_init equals the adjoint's costate at the start."""
    ctrl = pendulum(lo=-10.0, hi=10.0)
    x0 = X0["pendulum"].clone().requires_grad_(True)
    sol = ctrl(x0)
    sol.cost.sum().backward()
    numeric = torch.zeros_like(x0)
    for i in range(x0.shape[1]):
        e = torch.zeros_like(x0)
        e[:, i] = 1e-6
        with torch.no_grad():
            numeric[:, i] = (ctrl(x0.detach() + e).cost - ctrl(x0.detach() - e).cost) / 2e-6
    torch.testing.assert_close(x0.grad, numeric, rtol=1e-6, atol=1e-8)
