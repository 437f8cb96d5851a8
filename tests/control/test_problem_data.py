"""Per-item problem data (``cost_args`` / ``dynamics_args``) and tensors the models close over: every tensor the
solution depends on gets its exact gradient (float64, central finite differences), in every mode."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from dilqr_rl import DiLQR
from dilqr_rl.control import PerStep, UnconvergedWarning
from dilqr_rl.models import GoalCost, PendulumDynamics
from tests.control.problems import F64, without_closed_forms

X0 = torch.tensor([[1.0, 0.3], [0.5, -0.5], [-0.4, 1.0]], dtype=F64)
MODES = ["implicit", "unroll"]


def _pendulum(method="implicit", hidden=False, horizon=12, **kw) -> DiLQR:
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.tensor([0.1, 0.0, 0.0])).to(F64)
    kw = {"max_iter": 500, "tol": 1e-13, **kw}
    ctrl = DiLQR(PendulumDynamics(max_speed=None).to(F64), cost, horizon=horizon, u_lower=-1.0, u_upper=1.5,
                 grad_method=method, **kw)
    return without_closed_forms(ctrl) if hidden else ctrl


def _loss(sol, target):
    return ((sol.u - target) ** 2).sum() + 0.1 * (sol.x**2).sum() + 0.01 * sol.cost.sum()


def _target(ctrl, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(X0.shape[0], ctrl.config.horizon, 1, generator=gen, dtype=F64)


def _fd(solve, value, direction, eps=1e-6):
    with torch.no_grad():
        return (solve(value + eps * direction) - solve(value - eps * direction)) / (2 * eps)


def _goals(horizon=None):
    """Per-item goals (B, N) or per-step goals (B, T, N), and per-item positive weights (B, N)."""
    gen = torch.Generator().manual_seed(1)
    shape = (3, 3) if horizon is None else (3, horizon, 3)
    goal = 0.3 * torch.randn(*shape, generator=gen, dtype=F64)
    weights = 0.5 + torch.rand(3, 3, generator=gen, dtype=F64)
    return goal, weights


@pytest.mark.parametrize("hidden", [False, True], ids=["closed-form", "autograd"])
@pytest.mark.parametrize("per_step", [False, True], ids=["per-item", "per-step"])
def test_per_item_goal_and_weights_match_finite_differences(hidden, per_step):
    ctrl = _pendulum(hidden=hidden)
    T = ctrl.config.horizon
    goal, weights = _goals(T if per_step else None)
    goal.requires_grad_(True)
    weights.requires_grad_(True)
    target = _target(ctrl)

    def wrap(g):
        return PerStep(g) if per_step else g

    sol = ctrl(X0, cost_args={"goal": wrap(goal), "weights": weights})
    assert sol.all_converged and bool(sol.exact_gradient.all())
    assert sol.active.any() and not sol.active.all(), "the bounds should be partly active"
    _loss(sol, target).backward()
    warm = sol.u.detach()
    gen = torch.Generator().manual_seed(2)
    for name, tensor in (("goal", goal), ("weights", weights)):
        direction = torch.randn(tensor.shape, generator=gen, dtype=F64)

        def loss_at(value, name=name):
            args = {"goal": wrap(goal.detach()), "weights": weights.detach(), name: value}
            args["goal"] = wrap(args["goal"]) if name == "goal" else args["goal"]
            return _loss(ctrl(X0, u_init=warm, cost_args=args), target)

        expected = _fd(loss_at, tensor.detach(), direction)
        got = (tensor.grad * direction).sum()
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-9, msg=name)


@pytest.mark.parametrize("hidden", [False, True], ids=["closed-form", "autograd"])
def test_modes_agree_on_per_item_data(hidden):
    goal, weights = _goals()
    grads = {}
    for method in ("implicit", "unroll", "diffmpc"):
        ctrl = _pendulum(method, hidden=hidden)
        g, w = goal.clone().requires_grad_(True), weights.clone().requires_grad_(True)
        sol = ctrl(X0, cost_args={"goal": g, "weights": w})
        _loss(sol, _target(ctrl)).backward()
        grads[method] = torch.cat([g.grad.flatten(), w.grad.flatten()])
    torch.testing.assert_close(grads["unroll"], grads["implicit"], rtol=1e-8, atol=1e-10)
    # DiffMPC's Hessian drops the dynamics' curvature: close, not equal, on the pendulum
    assert (grads["diffmpc"] - grads["implicit"]).norm() > 1e-8 * grads["implicit"].norm()
    assert torch.nn.functional.cosine_similarity(grads["diffmpc"], grads["implicit"], 0) > 0.9


class MassDynamics(nn.Module):
    """A user-written pendulum whose mass is per-item data: theta'' = -3 g / (2 l) sin(theta + pi) + 3 u / (m l^2)."""

    state_dim, control_dim = 2, 1

    def __init__(self) -> None:
        super().__init__()
        self.length = nn.Parameter(torch.tensor(1.0, dtype=F64))

    def forward(self, x, u, mass):  # mass (R,)
        th, thd = x[:, 0], x[:, 1]
        acc = 3 * 10.0 / (2 * self.length) * torch.sin(th) + 3.0 / (mass * self.length**2) * u[:, 0]
        thd = thd + 0.05 * acc
        return torch.stack([th + 0.05 * thd, thd], -1)


@pytest.mark.parametrize("method", MODES)
def test_per_item_dynamics_data_matches_finite_differences(method):
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.tensor([0.1, 0.0, 0.0])).to(F64)
    ctrl = DiLQR(MassDynamics(), cost, horizon=12, u_lower=-1.0, u_upper=1.5, grad_method=method, max_iter=500,
                 tol=1e-13)
    mass = torch.tensor([0.8, 1.0, 1.3], dtype=F64, requires_grad=True)
    target = _target(ctrl)
    sol = ctrl(X0, dynamics_args={"mass": mass})
    assert sol.all_converged
    assert sol.active.any() and not sol.active.all()
    _loss(sol, target).backward()
    warm = sol.u.detach()
    direction = torch.tensor([0.3, -1.0, 0.7], dtype=F64)
    expected = _fd(lambda m: _loss(ctrl(X0, u_init=warm, dynamics_args={"mass": m}), target), mass.detach(),
                   direction)
    torch.testing.assert_close((mass.grad * direction).sum(), expected, rtol=1e-6, atol=1e-9)
    assert ctrl.dynamics.length.grad is not None


class GoalFromNet(nn.Module):
    """A cost that closes over a goal computed outside (the issue's reproduction): not a parameter."""

    def __init__(self, goal):
        super().__init__()
        self.goal = goal
        self.w = torch.tensor([1.0, 0.3, 0.1], dtype=F64)

    def forward(self, x, u):
        tau = torch.cat([x, u], -1)
        return (self.w * (tau - self.goal) ** 2).sum(-1)


@pytest.mark.parametrize("method", ["implicit", "diffmpc", "unroll"])
def test_a_closed_over_tensor_gets_its_gradient(method):
    torch.manual_seed(0)
    net = nn.Linear(1, 3).double()
    goal = net(torch.ones(1, 1, dtype=F64))[0]
    ctrl = DiLQR(PendulumDynamics(dtype=F64), GoalFromNet(goal), horizon=10, u_lower=-2.0, u_upper=2.0,
                 grad_method=method, tol=1e-10, max_iter=200)
    x0 = torch.tensor([[1.0, 0.0]], dtype=F64)
    ctrl(x0).u.square().sum().backward()
    assert net.weight.grad is not None and net.bias.grad is not None
    assert net.bias.grad.abs().max() > 1e-3
    if method == "diffmpc":
        return
    # against finite differences of the bias through the re-solve
    direction = torch.tensor([0.2, -0.5, 1.0], dtype=F64)

    def loss_at(bias):
        with torch.no_grad():
            g = net.weight[:, 0] + bias
        return DiLQR(PendulumDynamics(dtype=F64), GoalFromNet(g), horizon=10, u_lower=-2.0, u_upper=2.0,
                     tol=1e-12, max_iter=500)(x0).u.square().sum()

    expected = _fd(loss_at, net.bias.detach(), direction)
    torch.testing.assert_close((net.bias.grad * direction).sum(), expected, rtol=1e-6, atol=1e-9)


def test_a_network_predicted_goal_trains_end_to_end():
    """A goal network learns, through the implicit gradient, the per-item goals whose plans match targets."""
    torch.manual_seed(0)
    ctrl = _pendulum(horizon=10, tol=1e-10)
    features = torch.randn(3, 4, dtype=F64)
    true_goal = torch.tensor([[0.5, 0.0, 0.0], [-0.3, 0.0, 0.0], [0.2, 0.0, 0.0]], dtype=F64)
    with torch.no_grad():
        target = ctrl(X0, cost_args={"goal": true_goal}).u
    net = nn.Linear(4, 3).double()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = ((ctrl(X0, cost_args={"goal": net(features)}).u - target) ** 2).sum()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-2 * losses[0], losses[::10]


def test_u_init_gradient_is_zero_in_implicit_and_flows_in_unroll():
    warm = torch.full((3, 12, 1), 0.2, dtype=F64, requires_grad=True)
    _loss(_pendulum()(X0, u_init=warm), _target(_pendulum())).backward()
    assert warm.grad is not None and bool((warm.grad == 0).all())
    warm = torch.full((3, 12, 1), 0.2, dtype=F64, requires_grad=True)
    ctrl = _pendulum("unroll", max_iter=2, tol=0)
    _loss(ctrl(X0, u_init=warm), _target(ctrl)).backward()
    assert warm.grad is not None and bool(torch.isfinite(warm.grad).all()) and warm.grad.abs().max() > 0


def test_exact_gradient_flags():
    x0 = torch.tensor([[3.0, 0.0], [0.1, 0.0]], dtype=F64)
    ctrl = DiLQR(PendulumDynamics(dtype=F64), GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).to(F64),
                 horizon=20, u_lower=-10.0, u_upper=10.0, max_iter=2, tol=1e-10)
    with pytest.warns(UserWarning, match="not an exact gradient"):
        sol = ctrl(x0)
    assert sol.exact_gradient.tolist() == sol.converged.tolist()
    assert not sol.exact_gradient.all()
    ctrl.config = type(ctrl.config)(**{**ctrl.config.__dict__, "grad_method": "diffmpc"})
    with pytest.warns(UserWarning):
        assert not ctrl(x0).exact_gradient.any()
    ctrl.config = type(ctrl.config)(**{**ctrl.config.__dict__, "grad_method": "unroll"})
    with pytest.warns(UserWarning):
        assert ctrl(x0).exact_gradient.all()
    ctrl.config = type(ctrl.config)(**{**ctrl.config.__dict__, "on_unconverged": "zero"})
    with pytest.warns(UserWarning):
        sol = ctrl(x0)
    assert sol.exact_gradient.tolist() == sol.converged.tolist()


class NoKeyword(nn.Module):
    def forward(self, x, u):
        return (x**2).sum(-1) + (u**2).sum(-1)


class ClosedFormWithoutKeyword(GoalCost):
    def derivatives(self, x, u, t=None):
        return super().derivatives(x, u, t)


@pytest.mark.parametrize(
    ("cost", "args", "error", "match"),
    [
        (NoKeyword(), {"goal": torch.zeros(3, 3, dtype=F64)}, TypeError,
         r"NoKeyword\.forward\(\) takes no argument 'goal'"),
        (ClosedFormWithoutKeyword(torch.ones(3), torch.zeros(3)).to(F64), {"goal": torch.zeros(3, 3, dtype=F64)},
         TypeError, r"derivatives\(\) takes no argument 'goal'"),
        (None, {"goal": torch.zeros(2, 3, dtype=F64)}, ValueError, r"shape \(2, 3\); expected a \(B, \.\.\.\)"),
        (None, {"goal": PerStep(torch.zeros(3, 5, 3, dtype=F64))}, ValueError, r"PerStep value \(B, T, \.\.\.\)"),
        (None, {"goal": torch.zeros(3, 3)}, ValueError, "is torch.float32 .* but x_init is torch.float64"),
        (None, {"goal": [0.0, 0.0, 0.0]}, TypeError, "must be a floating-point tensor"),
        (None, {"goal": torch.full((3, 3), float("nan"), dtype=F64)}, ValueError, r"cost_args\['goal'\] is NaN"),
    ],
)
def test_problem_data_errors(cost, args, error, match):
    ctrl = _pendulum(horizon=12)
    if cost is not None:
        ctrl.cost = cost
    with pytest.raises(error, match=match):
        ctrl(X0, cost_args=args)


def test_problem_data_mapping_is_checked():
    with pytest.raises(TypeError, match="cost_args must be a mapping"):
        _pendulum()(X0, cost_args=[torch.zeros(3, 3, dtype=F64)])


def test_an_unconverged_gradient_is_flagged_not_exact():
    """The README's figures: a swing-up stopped after 2 iterations. The implicit formula at the last iterate
    matches neither finite differences of what the solver returned nor the converged gradient, and the
    solution says so; converged, it matches finite differences."""

    def make(max_iter, mass=1.0):
        cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).to(F64)
        return DiLQR(PendulumDynamics(mass=mass, dtype=F64), cost, horizon=20, u_lower=-10.0, u_upper=10.0,
                     max_iter=max_iter, tol=1e-10, on_unconverged="warn")

    x0 = torch.tensor([[3.0, 0.0]], dtype=F64)
    grads, fds, flags = [], [], []
    for max_iter in (2, 500):
        ctrl = make(max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnconvergedWarning)
            sol = ctrl(x0)
            sol.u.square().sum().backward()
            fds.append(_fd(lambda m, k=max_iter: make(k, float(m))(x0).u.square().sum(), torch.tensor(1.0, dtype=F64),
                           torch.tensor(1.0, dtype=F64)))
        grads.append(float(ctrl.dynamics.mass.grad))
        flags.append(bool(sol.exact_gradient[0]))
    assert flags == [False, True]
    assert grads[0] == pytest.approx(1228.7, rel=1e-3) and fds[0] == pytest.approx(47.9, rel=1e-2)
    assert grads[1] == pytest.approx(468.13, rel=1e-4) and fds[1] == pytest.approx(grads[1], rel=1e-6)
