"""The forward solve: convergence, batching, freezing, iteration control, dtypes, warm starts."""

from __future__ import annotations

import pytest
import torch

from dilqr_rl import DiLQR
from dilqr_rl.control import UnconvergedWarning
from dilqr_rl.models import GoalCost, PendulumDynamics, PendulumSwingUpCost
from tests.control.problems import F64, FACTORIES, X0, cartpole, linear, pendulum, swingup, swingup_starts


@pytest.mark.parametrize("system", ["pendulum", "cartpole", "linear"])
def test_converges_to_tight_kkt_residual(system):
    sol = FACTORIES[system](tol=1e-10)(X0[system])
    assert sol.all_converged
    assert (sol.kkt_residual <= 1e-10).all(), sol.kkt_residual
    assert sol.x.shape[:2] == sol.u.shape[:2] == (X0[system].shape[0], 20)
    assert sol.cost.shape == (X0[system].shape[0],)


def test_swingup_converges_to_rounding_level():
    """The papers' cart-pole swing-up: every start converges to a KKT residual near machine precision in a
    few dozen iterations (Gauss-Newton steps far away, exact-Hessian Newton steps near the solution)."""
    sol = swingup()(swingup_starts(40))
    assert sol.all_converged, sol.describe()
    assert float(sol.kkt_residual.max()) < 1e-12
    assert int(sol.iterations.max()) <= 60


def test_gauss_newton_alone_stalls_on_the_swingup_at_the_same_point():
    """Why the Newton phase exists: with pure iLQR steps (newton_tol=0) these starts stall for hundreds of
    iterations with a KKT residual bouncing around 1e-9..1e-8 (the Gauss-Newton fixed-point map is not a
    contraction there). The Newton phase converges to the same solution."""
    x0 = swingup_starts(40)[[4, 23, 24, 25, 28, 35]]
    with pytest.warns(UnconvergedWarning):
        gauss_newton = swingup(newton_tol=0.0, max_iter=300)(x0)
    newton = swingup()(x0)
    assert not bool(gauss_newton.converged.any())
    assert float(gauss_newton.kkt_residual.min()) > 1e-10
    assert newton.all_converged and float(newton.kkt_residual.max()) < 1e-12
    torch.testing.assert_close(gauss_newton.u, newton.u, atol=1e-5, rtol=0)


def test_solution_is_a_kkt_point_of_the_original_problem():
    """Projected gradient of the total cost (by autograd on a single-shooting rollout) vanishes."""
    ctrl = pendulum()
    x0 = X0["pendulum"]
    sol = ctrl(x0)
    u = sol.u.detach().clone().requires_grad_(True)
    xs = [x0]
    for t in range(19):
        xs.append(ctrl.dynamics(xs[-1], u[:, t]))
    x = torch.stack(xs, 1)
    J = ctrl.cost(x.reshape(-1, 2), u.reshape(-1, 1)).sum()
    (grad,) = torch.autograd.grad(J, u)
    at_lo, at_hi = u <= -1.0, u >= 1.5
    projected = torch.where((at_lo & (grad > 0)) | (at_hi & (grad < 0)), 0.0, grad)
    assert projected.abs().max() < 1e-9
    torch.testing.assert_close(sol.active, (at_lo & (grad > 0)) | (at_hi & (grad < 0)))


@pytest.mark.parametrize("system", ["pendulum", "cartpole"])
def test_batch_equals_single_solves(system):
    ctrl = FACTORIES[system]()
    x0 = X0[system]
    batch = ctrl(x0)
    for b in range(x0.shape[0]):
        single = ctrl(x0[b:b + 1])
        torch.testing.assert_close(batch.u[b], single.u[0], atol=1e-10, rtol=1e-10)
        assert batch.iterations[b] == single.iterations[0]


def test_converged_items_freeze():
    """An item that converges early stops iterating while the others go on."""
    ctrl = pendulum(lo=-10.0, hi=10.0)
    x0 = torch.tensor([[0.0, 0.0], [2.8, 0.5]], dtype=F64)  # already optimal vs a long swing
    sol = ctrl(x0)
    assert sol.all_converged
    assert sol.iterations[0] < sol.iterations[1]
    # Running more iterations does not move the frozen item.
    longer = pendulum(lo=-10.0, hi=10.0, max_iter=int(sol.iterations[1]) + 5)(x0)
    torch.testing.assert_close(longer.u[0], sol.u[0], atol=0, rtol=0)


def test_tol_zero_runs_exactly_max_iter():
    ctrl = pendulum(max_iter=7, tol=0.0)
    with pytest.warns(UserWarning, match="did not converge"):
        sol = ctrl(X0["pendulum"])
    assert sol.iterations.tolist() == [7, 7, 7]
    assert not sol.converged.any()


def test_warm_start_from_solution_converges_immediately():
    ctrl = cartpole()
    sol = ctrl(X0["cartpole"])
    again = ctrl(X0["cartpole"], u_init=sol.u.detach())
    assert (again.iterations <= 1).all()
    torch.testing.assert_close(again.u, sol.u, atol=1e-12, rtol=1e-12)


def test_float32_solves_and_differentiates():
    ctrl64 = pendulum(tol=1e-7)
    ctrl32 = pendulum(tol=1e-7).float()
    x0 = X0["pendulum"]
    sol32 = ctrl32(x0.float())
    assert sol32.all_converged and sol32.u.dtype == torch.float32
    sol64 = ctrl64(x0)
    torch.testing.assert_close(sol32.u.double(), sol64.u, atol=1e-4, rtol=1e-4)
    sol32.u.sum().backward()
    sol64.u.sum().backward()
    g32 = ctrl32.dynamics.mass.grad.double()
    torch.testing.assert_close(g32, ctrl64.dynamics.mass.grad, atol=1e-3, rtol=1e-3)


def test_unbounded_controls():
    sol = pendulum(lo=None, hi=None, tol=1e-10)(X0["pendulum"])
    assert sol.all_converged and not sol.active.any()
    assert sol.u.abs().max() > 1.5  # the bounded problem would have clipped this


def test_tensor_bounds_per_step():
    hi = torch.linspace(0.5, 2.0, 20, dtype=F64).view(1, 20, 1)
    ctrl = pendulum(lo=-0.5, hi=hi)
    sol = ctrl(X0["pendulum"])
    assert sol.all_converged
    assert (sol.u <= hi + 1e-12).all() and (sol.u >= -0.5 - 1e-12).all()


def test_time_varying_goal_cost_gradient():
    """A goal per step (T, N): the solution tracks it and d loss / d goal matches finite differences."""
    T = 20
    goal = torch.zeros(T, 3, dtype=F64)
    goal[:, 0] = torch.linspace(0.5, 0.0, T, dtype=F64)
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1], dtype=F64), goal)
    ctrl = DiLQR(PendulumDynamics(max_speed=None).double(), cost, T, -2.0, 2.0, tol=1e-13, max_iter=200)
    x0 = torch.tensor([[0.5, 0.0]], dtype=F64)
    sol = ctrl(x0)
    assert sol.all_converged
    loss = (sol.x[..., 0] ** 2).sum()
    loss.backward()
    direction = torch.randn(goal.shape, generator=torch.Generator().manual_seed(0), dtype=F64)
    analytic = (cost.goal.grad * direction).sum()
    with torch.no_grad():
        values = []
        for s in (1, -1):
            cost.goal.add_(s * 1e-5 * direction)
            values.append((ctrl(x0, u_init=sol.u.detach()).x[..., 0] ** 2).sum())
            cost.goal.sub_(s * 1e-5 * direction)
    numeric = (values[0] - values[1]) / 2e-5
    assert abs(analytic - numeric) <= 1e-6 * abs(numeric)


def test_swing_up_with_periodic_cost_and_speed_clip():
    """The shipped swing-up cost and Gymnasium's speed clip: the solver handles both."""
    ctrl = DiLQR(PendulumDynamics().double(), PendulumSwingUpCost().double(), 60, -2.0, 2.0, max_iter=300)
    sol = ctrl(torch.tensor([[3.1, 0.0]], dtype=F64))
    assert sol.all_converged
    assert torch.cos(sol.x[0, -1, 0]) > 0.95  # ends near the top


def _graph_size(t: torch.Tensor) -> int:
    seen, stack = set(), [t.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return len(seen)


def test_implicit_graph_is_independent_of_iterations_unroll_is_not():
    sizes = {}
    for method in ("implicit", "unroll"):
        for iters in (3, 12):
            ctrl = pendulum(method=method, max_iter=iters, tol=0.0, on_unconverged="zero")
            with pytest.warns(UserWarning):
                sizes[method, iters] = _graph_size(ctrl(X0["pendulum"]).u)
    assert sizes["implicit", 3] == sizes["implicit", 12]
    assert sizes["unroll", 12] > 2 * sizes["unroll", 3]


def test_linear_problem_with_two_controls_matches_unconstrained_lqr_when_bounds_inactive():
    ctrl = linear(tol=1e-12)
    wide = linear(tol=1e-12)
    wide.u_lower.fill_(-100.0)
    wide.u_upper.fill_(100.0)
    sol = wide(X0["linear"])
    assert sol.all_converged and (sol.iterations <= 2).all()  # LQR: one Newton step
    bounded = ctrl(X0["linear"])
    assert bounded.active.any()


def test_describe_summarizes_the_solve():
    ctrl = pendulum(max_iter=7, tol=0.0, on_unconverged="zero")
    with pytest.warns(UserWarning):
        text = ctrl(X0["pendulum"]).describe()
    assert text.startswith("converged 0%, iterations mean 7.0 max 7, max KKT residual ")
