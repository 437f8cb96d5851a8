"""The forward solve: convergence, batching, freezing, iteration control, dtypes, warm starts."""

from __future__ import annotations

import warnings

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


def test_tol_zero_runs_exactly_max_iter_without_warning():
    for on_unconverged in ("warn", "raise", "zero"):  # a fixed iteration count is not a failure to converge
        ctrl = pendulum(max_iter=7, tol=0.0, on_unconverged=on_unconverged)
        x0 = X0["pendulum"].clone().requires_grad_(True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sol = ctrl(x0)
        assert sol.iterations.tolist() == [7, 7, 7]
        assert not sol.converged.any()  # no convergence test ran
        sol.u.sum().backward()
        assert x0.grad.abs().sum() > 0  # "zero" does not zero the gradients of a fixed-count solve


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


def test_number_bounds_are_exact_in_float64():
    """A bound given as a Python number is not rounded through float32: the saturated controls of a float64
    solve sit at exactly 0.4, not at 0.4000000059604645."""
    sol = pendulum(lo=-0.4, hi=0.4, tol=1e-10)(X0["pendulum"])
    assert sol.active.any()
    assert sol.u.abs().max().item() == 0.4


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
            ctrl = pendulum(method=method, max_iter=iters, tol=0.0)
            sizes[method, iters] = _graph_size(ctrl(X0["pendulum"]).u)
    assert sizes["implicit", 3] == sizes["implicit", 12]
    assert sizes["unroll", 12] > 2 * sizes["unroll", 3]


def _dense_lqr(ctrl: DiLQR, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The unconstrained optimum of sum_t ||w o (tau_t - g)||^2 s.t. x_1 = x0, x_{t+1} = A x_t + B u_t, from one
    dense KKT solve over all T (n + m) variables: x (T, n), u (T, m)."""
    A, B = ctrl.dynamics.A.detach(), ctrl.dynamics.B.detach()
    W, g = torch.diag(ctrl.cost.weights.detach() ** 2), ctrl.cost.goal.detach()
    T, (n, m) = ctrl.config.horizon, B.shape
    N = n + m
    rows, rhs = [torch.cat([torch.eye(n, dtype=F64), torch.zeros(n, T * N - n, dtype=F64)], 1)], [x0]
    for t in range(T - 1):
        r = torch.zeros(n, T * N, dtype=F64)
        r[:, t * N:t * N + n], r[:, t * N + n:(t + 1) * N] = A, B
        r[:, (t + 1) * N:(t + 1) * N + n] = -torch.eye(n, dtype=F64)
        rows.append(r)
        rhs.append(torch.zeros(n, dtype=F64))
    J = torch.cat(rows)
    H = torch.block_diag(*[2 * W] * T)
    K = torch.cat([torch.cat([H, J.T], 1), torch.cat([J, torch.zeros(len(J), len(J), dtype=F64)], 1)])
    z = torch.linalg.solve(K, torch.cat([(2 * W @ g).repeat(T), *rhs]))[:T * N].view(T, N)
    return z[:, :n], z[:, n:]


def test_linear_problem_with_two_controls_matches_unconstrained_lqr_when_bounds_inactive():
    wide = linear(tol=1e-12)
    wide.u_lower.fill_(-100.0)
    wide.u_upper.fill_(100.0)
    sol = wide(X0["linear"])
    assert sol.all_converged and (sol.iterations <= 2).all()  # LQR: one Newton step
    assert not sol.active.any()
    for b, x0 in enumerate(X0["linear"]):
        x, u = _dense_lqr(wide, x0)
        torch.testing.assert_close(sol.x[b], x, atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(sol.u[b], u, atol=1e-10, rtol=1e-10)
    ctrl = linear(tol=1e-12)
    bounded = ctrl(X0["linear"])
    assert bounded.active.any() and (bounded.u.abs() <= ctrl.u_upper.double()).all()


def test_weakly_active_bounds_are_active():
    """Bounds placed exactly at the unconstrained optimum: the solution is unchanged, its controls sit on the
    bounds with multipliers ~0 (rounding of either sign), and the active set counts them (within the
    multiplier tolerance, whichever side of 0 the rounding falls)."""
    free = linear(tol=1e-12)
    free.u_lower.fill_(-100.0)
    free.u_upper.fill_(100.0)
    u = free(X0["linear"]).u.detach()
    upper = torch.where(u > 0, u, torch.full_like(u, 100.0))
    lower = torch.where(u < 0, u, torch.full_like(u, -100.0))
    ctrl = DiLQR(free.dynamics, free.cost, free.config.horizon, lower, upper, max_iter=500, tol=1e-12)
    sol = ctrl(X0["linear"])
    assert sol.all_converged
    torch.testing.assert_close(sol.u, u, atol=1e-10, rtol=1e-10)
    on_bound = ((sol.u - upper).abs() <= 1e-12) | ((sol.u - lower).abs() <= 1e-12)
    assert on_bound[:, :-1].all()  # u_T = 0 (only its own cost term): no bound there
    assert sol.active[on_bound].all()


def test_describe_summarizes_the_solve():
    text = pendulum(max_iter=7, tol=0.0)(X0["pendulum"]).describe()
    assert text.startswith("converged 0%, iterations mean 7.0 max 7, max KKT residual ")


def test_a_rejected_step_never_passes_as_convergence(monkeypatch):
    """A nearly flat cost (KKT residual below tol everywhere near the start) whose optimum is far away: when
    every line-search trial is rejected, the solver must not report the start as converged (a rejection used
    to be recorded as a step of size 0, leaving the KKT residual as the only test)."""
    import dilqr_rl.control.ilqr as ilqr
    from dilqr_rl.models import LinearDynamics

    dyn = LinearDynamics(torch.eye(1, dtype=F64), torch.ones(1, 1, dtype=F64))
    cost = GoalCost(torch.tensor([1e-5, 1e-5]), torch.tensor([1.0, 0.0])).to(F64)  # ~1e-10 * (x - 1)^2
    ctrl = DiLQR(dyn, cost, horizon=3, max_iter=20, tol=1e-7, on_unconverged="warn")
    x0 = torch.zeros(1, 1, dtype=F64)
    with torch.no_grad():
        sol = ctrl(x0)
    assert sol.all_converged and float(sol.u.abs().max()) > 0.3  # the optimum is far from the start u = 0

    choose_step = ilqr._choose_step

    def reject_all(J, Js, expected_terms, alphas, horizon):
        found, index = choose_step(J, Js, expected_terms, alphas, horizon)
        return torch.zeros_like(found), index

    monkeypatch.setattr(ilqr, "_choose_step", reject_all)
    with pytest.warns(UnconvergedWarning), torch.no_grad():
        sol = ctrl(x0)
    assert not sol.converged.any() and bool((sol.u == 0).all())
    assert float(sol.kkt_residual.max()) <= 1e-7, "the KKT residual alone would have passed"


def test_unroll_gradient_is_finite_through_failing_riccati_stages():
    """m = 1 with a cost that does not penalise the control: the last stage's Q_uu is 0 at the first
    iteration (the sweep fails there). unroll differentiates through that masked branch: it must stay finite."""
    from torch import nn

    class StateOnly(nn.Module):
        def forward(self, x, u):
            return (x**2).sum(-1) + 0.0 * u[:, 0]

    dyn = PendulumDynamics(dtype=F64)
    ctrl = DiLQR(dyn, StateOnly(), horizon=5, u_lower=-1.0, u_upper=1.0, grad_method="unroll", max_iter=4, tol=0)
    x0 = torch.tensor([[0.5, 0.1], [1.0, 0.0]], dtype=F64, requires_grad=True)
    ctrl(x0).x.sum().backward()
    assert torch.isfinite(dyn.mass.grad) and torch.isfinite(x0.grad).all()
    assert x0.grad.abs().max() > 0
