"""The compiled solve and backward parts (dilqr_rl/control/kernels: ilqr.c, dynamics.c, costs.c, forms.c, forms.py)
against the PyTorch solve and modules: the C forms of the library's models, the iterates item by item, the implicit
gradient, where they apply, the errors."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import dilqr_rl.policies.dilqr_actor  # noqa: F401  (registers PeriodicQuadraticCost's C form)
from dilqr_rl import DiLQR
from dilqr_rl.control import NonFiniteError, PerStep, UnconvergedWarning, implicit, kernels
from dilqr_rl.control.config import GradMethod
from dilqr_rl.control.derivatives import cost_derivatives, dynamics_jacobians, dynamics_lagrangian_hessian
from dilqr_rl.control.ilqr import solve
from dilqr_rl.control.implicit import _compiled_backward, implicit_backward
from dilqr_rl.control.kernels import forms
from dilqr_rl.models import CartpoleDynamics, GoalCost, LinearDynamics, PendulumDynamics, PendulumSwingUpCost
from dilqr_rl.policies.env_models import ScaledControl
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from tests.control.problems import F64

pytestmark = pytest.mark.skipif(kernels._library()[0] is None, reason=f"no compiled kernel here: {kernels.status()}")

GEN = torch.Generator().manual_seed(0)


def _models():
    """(name, dynamics, cost, state scale, control bound) of every C form pairing exercised here."""
    goal2 = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.tensor([0.1, 0.0, 0.0])).to(F64)
    goal4 = GoalCost(torch.tensor([1.0, 0.3, 1.0, 0.3, 0.1]), torch.tensor([0.2, 0.0, 0.0, 0.0, 0.0])).to(F64)
    return [
        ("pendulum, periodic", PendulumDynamics(dtype=F64), PeriodicQuadraticCost((1.0, 0.1, 0.001), 0), (3.0, 6.0),
         2.0),
        ("smooth pendulum, goal", PendulumDynamics(max_speed=None, dtype=F64), goal2, (1.0, 1.0), 1.0),
        ("pendulum, swing-up", PendulumDynamics(dtype=F64), PendulumSwingUpCost().to(F64), (3.0, 6.0), 2.0),
        ("cart-pole, periodic", CartpoleDynamics(dtype=F64), PeriodicQuadraticCost((0.1, 0.01, 1.0, 0.01, 0.001), 2),
         (0.5, 0.5, 3.0, 1.0), 10.0),
        ("cart-pole, goal", CartpoleDynamics(dtype=F64), goal4, (0.5, 0.5, 0.5, 0.5), 4.0),
    ]


@pytest.mark.parametrize("name, dynamics, cost, scale, bound", _models(), ids=[m[0] for m in _models()])
def test_c_forms_match_the_modules(name, dynamics, cost, scale, bound):
    R = 64
    x = torch.tensor(scale, dtype=F64) * torch.randn(R, len(scale), generator=GEN, dtype=F64)
    u = bound * torch.randn(R, 1, generator=GEN, dtype=F64)
    lam = torch.randn(R, len(scale), generator=GEN, dtype=F64)
    f, F, H, g, c, C = kernels.evaluate_forms(dynamics, cost, x, u, lam)
    if isinstance(dynamics, PendulumDynamics) and dynamics.max_speed is not None:
        clipped = dynamics._unclipped(x, u) == 0
        assert clipped.any() and not clipped.all(), "some rows should hit the speed clip"
    with torch.no_grad():
        A, Bu = dynamics_jacobians(dynamics, x, u)  # closed forms where the module has them, else autograd
        H_ref = dynamics_lagrangian_hessian(dynamics, x, u, lam)
        c_ref, C_ref = cost_derivatives(cost, x, u, torch.zeros(R, dtype=torch.long))
        tol = {"rtol": 1e-12, "atol": 1e-12}
        torch.testing.assert_close(f, dynamics(x, u), **tol)
        torch.testing.assert_close(F, torch.cat([A, Bu], -1), **tol)
        torch.testing.assert_close(H, H_ref, **tol)
        torch.testing.assert_close(g, cost(x, u), **tol)
        torch.testing.assert_close(c, c_ref, **tol)
        torch.testing.assert_close(C, C_ref, **tol)
        torch.testing.assert_close(kernels.lagrangian_hessian(dynamics, x, u, lam), H, rtol=0, atol=0)


def _solve(monkeypatch, ctrl, x0, u0, compiled: bool):
    """The solution (no graph) and whether the compiled solve ran."""
    calls = []
    solve = kernels.ilqr_scalar
    monkeypatch.setattr(kernels, "ilqr_scalar", lambda *args: calls.append(1) or (solve(*args) if compiled else None))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)
        sol = ctrl(x0, u0)
    monkeypatch.undo()
    return sol, bool(calls) and compiled


@pytest.mark.parametrize("name, dynamics, cost, scale, bound", _models(), ids=[m[0] for m in _models()])
@pytest.mark.parametrize("max_iter, tol", [(30, 1e-5), (4, 1e-7), (200, 1e-12), (5, 0.0)],
                         ids=["rl", "unconverged", "tight", "fixed-iterations"])
def test_compiled_solve_takes_the_pytorch_iterates(monkeypatch, name, dynamics, cost, scale, bound, max_iter, tol):
    gen = torch.Generator().manual_seed(1)
    horizon = 60 if isinstance(dynamics, CartpoleDynamics) and tol == 1e-5 else 20
    ctrl = DiLQR(dynamics, cost, horizon, -bound, bound, max_iter=max_iter, tol=tol, on_unconverged="zero")
    B = 12
    x0 = torch.tensor(scale, dtype=F64) * torch.randn(B, len(scale), generator=gen, dtype=F64)
    u0 = bound * torch.randn(B, horizon, 1, generator=gen, dtype=F64)  # warm starts partly outside the box
    u0[: B // 2] = 0.0
    fast, compiled = _solve(monkeypatch, ctrl, x0, u0, compiled=True)
    reference, _ = _solve(monkeypatch, ctrl, x0, u0, compiled=False)
    assert compiled
    if tol > 0 and max_iter > 5:
        assert fast.converged.any()
    assert fast.iterations.tolist() == reference.iterations.tolist()
    assert fast.converged.tolist() == reference.converged.tolist()
    assert torch.equal(fast.active, reference.active)
    for field in ("x", "u", "cost", "kkt_residual"):
        torch.testing.assert_close(getattr(fast, field), getattr(reference, field), rtol=1e-9, atol=1e-10, msg=field)


def _spy(fn, calls: list, enabled: bool, name: str | None = None):
    """``fn`` (or None when not ``enabled``), counting its calls in ``calls`` (as 1, or as ``name`` where given)."""
    def spy(*args):
        calls.append(1 if name is None else name)
        return fn(*args) if enabled else None
    return spy


_C_PATHS = ("ilqr_scalar", "implicit_backward", "lagrangian_hessian", "psi_gradient")
"""The C forms' paths of a solve and its backward (each returns None where it does not apply)."""


def _spy_paths(monkeypatch, calls: list, compiled: bool) -> None:
    for name in _C_PATHS:
        monkeypatch.setattr(kernels, name, _spy(getattr(kernels, name), calls, compiled, name))


def _expected_paths(compiled: bool) -> list[str]:
    """Compiled: the solve and the whole backward in C. Else the PyTorch paths, after each C path declined: the
    solve, the backward (whose PyTorch path asks for the C curvature first)."""
    return ["ilqr_scalar", "implicit_backward"] if compiled else ["ilqr_scalar", "implicit_backward",
                                                                   "lagrangian_hessian"]


def _layer(system: str) -> tuple[DiLQR, torch.Tensor]:
    """A layer whose models have C forms and learnable parameters (the costs' too, but for the fixed swing-up
    weights), and starts x0 that require grad."""
    if system.startswith("pendulum"):
        cost = {"pendulum, periodic": PeriodicQuadraticCost((1.0, 0.1, 0.001), 0, learnable=True),
                "pendulum, goal": GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.tensor([0.1, 0.0, 0.0])).to(F64),
                "pendulum, swing-up": PendulumSwingUpCost().to(F64)}[system]
        ctrl = DiLQR(PendulumDynamics(dtype=F64), cost, 20, -2.0, 2.0, max_iter=100, tol=1e-10)
        x0 = torch.tensor([[2.5, 1.0], [0.3, -2.0], [-3.0, 0.0]], dtype=F64)
    else:
        cost = {"cart-pole, periodic": PeriodicQuadraticCost((0.1, 0.01, 1.0, 0.01, 0.001), 2),
                "cart-pole, goal": GoalCost(torch.tensor([1.0, 0.3, 1.0, 0.3, 0.1]),
                                            torch.tensor([0.2, 0.0, 0.0, 0.0, 0.0])).to(F64)}[system]
        ctrl = DiLQR(CartpoleDynamics(dtype=F64), cost, 30, -10.0, 10.0, max_iter=100, tol=1e-10)
        x0 = torch.tensor([[0.1, 0.0, 0.4, 0.0], [0.0, 0.5, -2.5, 0.2]], dtype=F64)
    return ctrl, x0.requires_grad_(True)


@pytest.mark.parametrize("system", ["pendulum, periodic", "pendulum, goal", "pendulum, swing-up",
                                    "cart-pole, periodic", "cart-pole, goal"])
def test_the_implicit_gradient_agrees_with_either_path(monkeypatch, system):
    """Compiled: the solve and the whole backward (the adjoint with the curvature hess[lam . f], Psi's gradient in
    the parameters) from the C forms; else PyTorch (autograd for the curvature and for Psi)."""
    grads = []
    for compiled in (True, False):
        ctrl, x0 = _layer(system)
        calls = []
        _spy_paths(monkeypatch, calls, compiled)
        sol = ctrl(x0)
        ((sol.u - 0.3) ** 2).sum().backward()
        monkeypatch.undo()
        assert calls == _expected_paths(compiled) and sol.all_converged
        params = [p for p in ctrl.parameters() if p.requires_grad]
        assert len(params) >= 3 + (system.endswith("goal") or system == "pendulum, periodic")
        grads.append(torch.cat([x0.grad.flatten(), *(p.grad.flatten() for p in params)]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-8, atol=1e-10)


def _spied_swing_up_layer(compiled: bool, monkeypatch, calls: list, dtype=torch.float32
                          ) -> tuple[DiLQR, torch.Tensor]:
    """A swing-up layer in ``dtype`` whose C-form paths are spied on (run only when ``compiled``), and 4 starts."""
    _spy_paths(monkeypatch, calls, compiled)
    ctrl = DiLQR(PendulumDynamics(dtype=dtype), PendulumSwingUpCost().to(dtype), 20, -2.0, 2.0, max_iter=100)
    x0 = torch.tensor([[2.5, 1.0], [0.3, -2.0], [-3.0, 0.0], [1.0, 0.5]], dtype=dtype).requires_grad_(True)
    return ctrl, x0


def test_float32_runs_the_compiled_path_in_double_precision(monkeypatch):
    """A float32 layer takes the C solve and backward (computed in float64, returned as float32): its plan and its
    implicit gradient are the float64 layer's rounded, within float32's reach of the float32 PyTorch path's."""
    out = {}
    for key, compiled, dtype in (("c32", True, torch.float32), ("torch32", False, torch.float32),
                                 ("c64", True, F64)):
        calls = []
        ctrl, x0 = _spied_swing_up_layer(compiled, monkeypatch, calls, dtype)
        sol = ctrl(x0)
        ((sol.u - 0.3) ** 2).sum().backward()
        monkeypatch.undo()
        assert calls == _expected_paths(compiled) and sol.all_converged and sol.u.dtype == dtype, key
        grads = torch.cat([x0.grad.flatten(), *(p.grad.flatten() for p in ctrl.parameters() if p.requires_grad)])
        out[key] = (sol.u.detach().double(), grads.double())
    u64, g64 = out["c64"]
    torch.testing.assert_close(out["c32"][0], u64, rtol=0, atol=1e-5)  # measured 4e-7 (float32 PyTorch: 1e-6)
    torch.testing.assert_close(out["torch32"][0], u64, rtol=0, atol=1e-4)
    assert (out["c32"][1] - g64).norm() <= 1e-5 * g64.norm()  # measured 9e-7 (float32 PyTorch: 1.4e-6)
    assert (out["torch32"][1] - g64).norm() <= 1e-4 * g64.norm()


def test_the_compiled_backward_covers_the_models_own_leaves_only():
    """Another tensor among those to differentiate (one a model closes over, a per-item input) leaves the backward
    to PyTorch: the compiled one returns None."""
    ctrl, x0 = _layer("pendulum, goal")
    with torch.no_grad():
        sol = ctrl(x0)
        problem = ctrl._problem(x0.detach(), sol.u, None, None, keep_graph=False)[0]
        result = solve(problem, x0.detach(), sol.u)
    grad_x, grad_u = torch.randn_like(sol.x), torch.randn_like(sol.u)
    own, weight = tuple(ctrl.parameters()), torch.ones(3, dtype=F64)
    args = (problem, result.x, result.u, result.F, result.C, result.lam, result.active, grad_x, grad_u)
    out = _compiled_backward(*args, own, GradMethod.IMPLICIT, weight)
    assert [g.shape for g in out.params] == [p.shape for p in own] and out.grad_x_init.shape == x0.shape
    reference = implicit_backward(*args, own, GradMethod.IMPLICIT, weight)  # the same: it takes the compiled path
    assert all(torch.equal(a, b) for a, b in zip(out.params, reference.params))
    assert _compiled_backward(*args, (*own, torch.ones((), requires_grad=True)), GradMethod.IMPLICIT, weight) is None


class _SubclassedPendulum(PendulumDynamics):
    pass


@pytest.mark.parametrize("case", ["float16", "grad mode", "subclass", "own forward", "closed form hidden",
                                  "forward hook", "two controls", "no form"])
def test_the_compiled_solve_applies_only_to_registered_models_without_graph(case):
    dtype = torch.float16 if case == "float16" else F64
    dynamics = (_SubclassedPendulum if case == "subclass" else PendulumDynamics)(dtype=dtype)
    cost = PendulumSwingUpCost().to(dtype)
    x0 = torch.tensor([[1.0, 0.0]], dtype=dtype)
    u0 = torch.zeros(1, 10, 1, dtype=dtype)
    if case == "own forward":
        dynamics.forward = dynamics.forward
    elif case == "closed form hidden":
        dynamics.jacobians = None
    elif case == "forward hook":
        dynamics.register_forward_hook(lambda module, inputs, output: output)
    elif case == "two controls":
        u0 = torch.zeros(1, 10, 2, dtype=dtype)
    elif case == "no form":
        dynamics = LinearDynamics(torch.eye(2, dtype=F64), torch.ones(2, 1, dtype=F64))
    lo, hi = torch.full_like(u0, -1.0), torch.full_like(u0, 1.0)
    with torch.set_grad_enabled(case == "grad mode"):
        assert kernels.ilqr_scalar(dynamics, cost, x0, u0, lo, hi, torch.ones(1, dtype=dtype), (1e-7,) * 11) is None
        if case == "grad mode":
            return
        with torch.no_grad():
            assert kernels.ilqr_scalar(PendulumDynamics(dtype=F64), PendulumSwingUpCost().to(F64), x0.double(),
                                       u0[..., :1].double(), lo[..., :1].double(), hi[..., :1].double(),
                                       torch.ones(1, dtype=F64), (1e-7, 1e-14, 3, 0, 1e-6, 1e10, 10, 1e-3, 1e-4, 10,
                                                                   1e-2)) is not None


def _per_item_cases():
    """(name, dynamics, cost, cost_args of 6 items and T = 20 steps or None, state scale, bound): per-item and
    per-step cost data, and costs that vary with the step, on every cost form that takes them."""
    gen = torch.Generator().manual_seed(3)
    B, T = 6, 20

    def rand(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=gen, dtype=F64)

    pendulum, cartpole = PendulumDynamics(dtype=F64), CartpoleDynamics(dtype=F64)
    goal2 = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.tensor([0.1, 0.0, 0.0])).to(F64)
    periodic2 = PeriodicQuadraticCost((1.0, 0.1, 0.001), 0, learnable=True)
    periodic4 = PeriodicQuadraticCost((0.1, 0.01, 1.0, 0.01, 0.001), 2)
    return [
        ("goal, per-item goal and weights", pendulum, goal2,
         {"goal": rand(B, 3, scale=0.5), "weights": rand(B, 3).exp()}, (3.0, 6.0), 2.0),
        ("goal, per-step goal", pendulum, goal2, {"goal": PerStep(rand(B, T, 3, scale=0.3))}, (3.0, 6.0), 2.0),
        ("goal, time-varying", pendulum, GoalCost(torch.tensor([1.0, 0.3, 0.1]), rand(T, 3, scale=0.3)).to(F64),
         None, (3.0, 6.0), 2.0),
        ("periodic, per-item weights and goal", pendulum, periodic2,
         {"weights": periodic2.w.detach() * rand(B, 3, scale=0.3).exp(), "goal": rand(B, 3, scale=0.3)}, (3.0, 6.0),
         2.0),
        ("periodic, per-item goal only", pendulum, periodic2, {"goal": rand(B, 3, scale=0.3)}, (3.0, 6.0), 2.0),
        ("cart-pole periodic, per-item weights and goal", cartpole, periodic4,
         {"weights": periodic4.w * rand(B, 5, scale=0.3).exp(), "goal": rand(B, 5, scale=0.2)}, (0.5, 0.5, 3.0, 1.0),
         10.0),
        ("scaled cart-pole, per-item weights and goal", ScaledControl(cartpole, 3.0), ScaledControl(periodic4, 3.0),
         {"weights": periodic4.w * rand(B, 5, scale=0.3).exp(), "goal": rand(B, 5, scale=0.2)}, (0.5, 0.5, 3.0, 1.0),
         10.0),
    ]


@pytest.mark.parametrize("name, dynamics, cost, cost_args, scale, bound", _per_item_cases(),
                         ids=[c[0] for c in _per_item_cases()])
def test_per_item_cost_data_takes_the_compiled_solve_with_the_pytorch_iterates(monkeypatch, name, dynamics, cost,
                                                                                cost_args, scale, bound):
    """Per-item weights and goals (a cost map's), per-step goals and time-varying costs solve in C from one
    parameter row per item and step, with the iterates of the PyTorch path (which evaluates the module's
    keywords)."""
    gen = torch.Generator().manual_seed(4)
    T, B = 20, 6
    ctrl = DiLQR(dynamics, cost, T, -bound, bound, max_iter=50, tol=1e-8, on_unconverged="zero")
    x0 = torch.tensor(scale, dtype=F64) * torch.randn(B, len(scale), generator=gen, dtype=F64)
    u0 = 0.5 * bound * torch.randn(B, T, 1, generator=gen, dtype=F64)
    solutions = []
    for compiled in (True, False):
        calls = []
        monkeypatch.setattr(kernels, "ilqr_scalar", _spy(kernels.ilqr_scalar, calls, compiled))
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UnconvergedWarning)
            solutions.append(ctrl(x0, u0, cost_args=cost_args))
        monkeypatch.undo()
        assert calls == [1]
    fast, reference = solutions
    assert fast.converged.sum() >= B - 1, name
    assert fast.iterations.tolist() == reference.iterations.tolist()
    assert torch.equal(fast.active, reference.active)
    for field in ("x", "u", "cost", "kkt_residual"):
        torch.testing.assert_close(getattr(fast, field), getattr(reference, field), rtol=1e-9, atol=1e-10, msg=field)
    if cost_args:  # the data matter: the same solve without them is another one
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UnconvergedWarning)
            assert (ctrl(x0, u0).u - fast.u).abs().max() > 1e-3


@pytest.mark.parametrize("name, dynamics, cost, cost_args, scale, bound", _per_item_cases(),
                         ids=[c[0] for c in _per_item_cases()])
def test_per_item_cost_data_takes_the_compiled_backward_with_the_pytorch_gradients(monkeypatch, name, dynamics, cost,
                                                                                   cost_args, scale, bound):
    """The backward of those solves runs in C too, from the same parameter rows: their gradient reaches the data
    (and the module's own tensors where the data leave them in the rows) by autograd through the rows; the same
    gradients as the PyTorch backward."""
    gen = torch.Generator().manual_seed(5)
    T, B = 20, 6
    ctrl = DiLQR(dynamics, cost, T, -bound, bound, max_iter=50, tol=1e-10, on_unconverged="zero")
    x0 = torch.tensor(scale, dtype=F64) * torch.randn(B, len(scale), generator=gen, dtype=F64)
    grads = []
    for compiled in (True, False):
        data = {k: (PerStep(v.value.clone().requires_grad_(True)) if isinstance(v, PerStep)
                    else v.clone().requires_grad_(True)) for k, v in (cost_args or {}).items()}
        leaves = [x0.clone().requires_grad_(True), *(v.value if isinstance(v, PerStep) else v for v in data.values())]
        params = [p for p in ctrl.parameters() if p.requires_grad]
        calls, pytorch_adjoints = [], []
        monkeypatch.setattr(kernels, "implicit_backward", _spy(kernels.implicit_backward, calls, compiled))
        monkeypatch.setattr(implicit, "adjoint_lqr", _spy(implicit.adjoint_lqr, pytorch_adjoints, True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnconvergedWarning)
            sol = ctrl(leaves[0], cost_args=data or None)
        loss = ((sol.u - 0.3) ** 2).sum() + sol.x[..., 0].sum()
        grads.append(torch.autograd.grad(loss, leaves + params, allow_unused=True))
        monkeypatch.undo()
        assert calls == [1] and bool(pytorch_adjoints) != compiled, (compiled, pytorch_adjoints)
    assert len(grads[0]) > 1
    for fast, reference in zip(*grads):
        assert (fast is None) == (reference is None)
        if fast is not None:
            torch.testing.assert_close(fast, reference, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", ["unknown keyword", "other shape", "one weight for every coordinate",
                                  "one weight, per-item goal", "periodic, one weight"])
def test_data_the_cost_forms_do_not_take_leave_the_solve_to_pytorch(monkeypatch, case):
    """Data a C form has no slot for, and modules whose vectors broadcast over the coordinates (fewer parameters
    than the form reads), run the PyTorch solve (which passes them to the module) and give its answer."""
    B, T = 3, 10
    cost = GoalCost(torch.ones(3), torch.zeros(3)).to(F64)
    cost_args = {"goal": torch.full((B, 3), 0.2, dtype=F64)}
    if case == "unknown keyword":
        cost = _GoalWithScale(torch.ones(3), torch.zeros(3)).to(F64)
        for registry, value in ((forms._COSTS, (forms.COST_KINDS["goal"], forms._goal, forms._goal_leaves)),
                                (forms._COST_ROWS, forms._goal_rows)):
            monkeypatch.setitem(registry, _GoalWithScale, value)
        cost_args = {"scale": torch.full((B, 1), 2.0, dtype=F64)}
    elif case == "other shape":
        cost_args = {"goal": torch.full((B, 1), 0.2, dtype=F64)}  # broadcast by the module over the 3 columns
    elif case.startswith("one weight"):
        cost = GoalCost(torch.full((1,), 0.7), torch.full((1,), 0.1)).to(F64)
        cost_args = {"goal": torch.full((B, 1), 0.2, dtype=F64)} if case.endswith("goal") else None
    elif case == "periodic, one weight":
        cost, cost_args = PeriodicQuadraticCost((0.5,), 0), None
    ctrl = DiLQR(PendulumDynamics(dtype=F64), cost, T, -1.0, 1.0)
    solutions = []
    for compiled in (True, False):
        calls = []
        with monkeypatch.context() as patch:
            patch.setattr(kernels, "ilqr_scalar", _spy(kernels.ilqr_scalar, calls, compiled))
            with torch.no_grad():
                solutions.append(ctrl(torch.ones(B, 2, dtype=F64), cost_args=cost_args))
        assert calls == [1]
    assert solutions[0].all_converged
    torch.testing.assert_close(solutions[0].u, solutions[1].u, rtol=0, atol=0)  # the same path: PyTorch's
    if case == "other shape":
        with torch.no_grad():
            full = ctrl(torch.ones(B, 2, dtype=F64), cost_args={"goal": torch.full((B, 3), 0.2, dtype=F64)})
        torch.testing.assert_close(solutions[0].u, full.u, rtol=1e-9, atol=1e-12)


class _GoalWithScale(GoalCost):
    """A goal cost with a per-item keyword the goal form has no slot for."""

    def forward(self, x, u, t=None, *, goal=None, weights=None, scale=None):
        return super().forward(x, u, t, goal=goal, weights=weights) * (1.0 if scale is None else scale[:, 0])

    def derivatives(self, x, u, t=None, *, goal=None, weights=None, scale=None):
        c, C = super().derivatives(x, u, t, goal=goal, weights=weights)
        s = 1.0 if scale is None else scale
        return c * s, C * s.unsqueeze(-1) if scale is not None else C


def test_forms_are_registered_by_exact_class():
    assert forms.dynamics_form(PendulumDynamics(dtype=F64)).kind == forms.DYNAMICS_KINDS["pendulum"]
    assert forms.dynamics_form(_SubclassedPendulum(dtype=F64)) is None
    zero_goal = [0.0] * 3
    assert forms.cost_form(PeriodicQuadraticCost((1.0, 0.1, 0.001), 0)).parameters == [0, 1.0, 0.1, 0.001, *zero_goal]
    learnable = PeriodicQuadraticCost((1.0, 0.1, 0.001), 0, learnable=True)
    assert forms.cost_form(learnable).parameters == pytest.approx([0, 1.0, 0.1, 0.001, *zero_goal], rel=1e-15)
    assert forms.cost_form(nn.Identity()) is None
    # u = a / s rescales a quadratic control term, not a periodic one: an angle that is the control has no form
    assert forms.cost_form(ScaledControl(PeriodicQuadraticCost((1.0, 0.1, 0.001), 0), 2.0)) is not None
    assert forms.cost_form(ScaledControl(PeriodicQuadraticCost((1.0, 0.1, 0.001), 2), 2.0)) is None


@pytest.mark.parametrize("case", ["initial rollout", "initial cost", "derivatives"])
def test_non_finite_values_raise_as_on_the_pytorch_path(monkeypatch, case):
    x0 = torch.tensor([[0.0, 0.0], [0.01, 0.0]], dtype=F64)
    dynamics, cost = PendulumDynamics(max_speed=None, dtype=F64), PendulumSwingUpCost().to(F64)
    if case == "initial rollout":
        x0[1] = 1.7e308  # the angle overflows a few steps on
    elif case == "initial cost":
        cost.w[1] = float("inf")
    else:
        cost.w[1] = 1e308  # the cost is finite near rest, its Hessian 2 w is not
    ctrl = DiLQR(dynamics, cost, 5, -1.0, 1.0, max_iter=3)
    messages = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(kernels, "ilqr_scalar", lambda *args: None)
        with pytest.raises(NonFiniteError) as error, torch.no_grad():
            ctrl(x0)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_the_compiled_result_is_the_solver_result_and_an_error_code():
    """``ilqr.solve`` builds its ``SolverResult`` from the compiled one by position (``SolverResult(*out[:-1])``)."""
    from dilqr_rl.control.ilqr import SolverResult
    from dilqr_rl.control.kernels import CompiledSolve

    assert CompiledSolve._fields == (*SolverResult._fields, "error")


@pytest.mark.parametrize("method", ["implicit", "diffmpc"])
def test_the_compiled_backward_flags_and_zeroes_the_items_pytorchs_does(monkeypatch, method):
    """From hanging at rest with almost no control penalty (a stationary point where neither Hessian is positive
    definite on the controls), next to a start near the top (a strict minimum) and an item whose gradient the layer
    zeroes (unconverged, ``on_unconverged="zero"``: no flags): the C backward falls back, zeroes and warns for the
    same items as the PyTorch backward, and gives the same gradients."""
    out = []
    for compiled in (True, False):
        ctrl = DiLQR(PendulumDynamics(dtype=F64), PendulumSwingUpCost(1.0, 0.0, 1e-4).double(), 30, -2.0, 2.0,
                     tol=1e-10, grad_method=method, on_unconverged="zero")
        x0 = torch.tensor([[torch.pi, 0.0], [0.05, 0.0], [1.0, 6.0]], dtype=F64, requires_grad=True)
        calls = []
        _spy_paths(monkeypatch, calls, compiled)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sol = ctrl(x0)
            sol.u.sum().backward()
        monkeypatch.undo()
        assert calls[:2] == ["ilqr_scalar", "implicit_backward"]
        messages = [str(w.message)[:40] for w in caught]
        out.append((messages, sol.backward.hessian_fallback.tolist(), sol.backward.zero_gradient.tolist(),
                    sol.converged.tolist(), x0.grad, ctrl.dynamics.mass.grad))
    (messages, fallback, zero, converged, grad, mass), reference = out
    assert (messages, fallback, zero, converged) == reference[:4]
    assert converged == [True, True, False] and messages[-1].startswith("no positive definite adjoint")
    assert zero == [True, False, False] and fallback == [method == "implicit", False, False]
    torch.testing.assert_close(grad, reference[4], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(mass, reference[5], rtol=1e-10, atol=1e-12)
    assert (grad[0] == 0).all() and (grad[1] != 0).all() and (grad[2] == 0).all()


def test_a_cost_buffer_made_by_a_network_keeps_its_graph_for_the_callers_backward(monkeypatch):
    """A cost's weights computed by a network (a buffer with a history) and per-item goals, with a loss that uses the
    solution's cost too: the backward's inner gradient through the rows must not free the network's graph, which
    the caller's backward still needs. Both paths, the same gradients."""
    net = nn.Linear(1, 3).double()
    grads = []
    for compiled in (True, False):
        cost = PeriodicQuadraticCost((1.0, 0.1, 0.001), 0)
        ctrl = DiLQR(PendulumDynamics(dtype=F64), cost, 10, -2.0, 2.0, max_iter=100, tol=1e-12)
        cost.w = net(torch.ones(1, 1, dtype=F64))[0].exp()
        goal = torch.full((3, 3), 0.2, dtype=F64, requires_grad=True)
        x0 = torch.tensor([[1.0, 0.5], [-2.0, 1.0], [0.3, -1.0]], dtype=F64)
        calls = []
        monkeypatch.setattr(kernels, "implicit_backward", _spy(kernels.implicit_backward, calls, compiled))
        sol = ctrl(x0, cost_args={"goal": goal})
        loss = ((sol.u - 0.3) ** 2).sum() + sol.cost.sum()
        grads.append(torch.autograd.grad(loss, [goal, *net.parameters()]))
        monkeypatch.undo()
        assert calls == [1]
    for fast, reference in zip(*grads):
        torch.testing.assert_close(fast, reference, rtol=1e-8, atol=1e-10)


def test_a_rows_function_giving_other_rows_leaves_the_solve_to_pytorch(monkeypatch):
    """A registered rows function whose table has another row count than items x steps would send the C strides
    past its end: the cost has no table then, and the PyTorch path solves."""
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).to(F64)
    monkeypatch.setitem(forms._COST_ROWS, GoalCost, lambda m, t, args: forms._goal_rows(m, t, args)[:1])
    assert kernels.cost_table(cost, {"goal": torch.zeros(2, 5, 3, dtype=F64)}, 2, 5, 2) is None
    with torch.no_grad():
        sol = DiLQR(PendulumDynamics(dtype=F64), cost, 5, -1.0, 1.0)(torch.ones(2, 2, dtype=F64),
                                                                     cost_args={"goal": torch.zeros(2, 3, dtype=F64)})
    assert sol.all_converged
