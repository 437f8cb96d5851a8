"""C forms generated from your own modules (``kernels.codegen``): the same values and derivatives as autograd, the
same iterates and gradients as the PyTorch solve, and the PyTorch path wherever the generator cannot be sure."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from dilqr_rl import DiLQR
from dilqr_rl.bench.user_models import UserCartpole, UserPendulum, WeightedQuadCost
from dilqr_rl.control import HessianFallbackWarning, RowCouplingError, UnconvergedWarning, kernels
from dilqr_rl.control.derivatives import cost_derivatives, dynamics_jacobians, dynamics_lagrangian_hessian
from dilqr_rl.control.kernels import codegen
from dilqr_rl.models import CartpoleDynamics, CartpoleFeatureDynamics, PendulumFeatureDynamics
from tests.control.problems import F64, FeatureCost, MLPDynamics

pytestmark = pytest.mark.skipif(kernels._library()[0] is None, reason=f"no compiled kernel here: {kernels.status()}")


class OpZoo(nn.Module):
    """Dynamics (n = 3) through every kind of operation the generator translates."""

    control_dim = 1

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor([0.3, -0.2, 0.5], dtype=F64))
        self.W = nn.Parameter(0.2 * torch.arange(12, dtype=F64).reshape(3, 4).cos())
        self.register_buffer("scale", torch.tensor(0.7, dtype=F64))
        self.dt = 0.05

    def forward(self, x, u):
        tau = torch.cat([x, u], -1)                                      # cat
        h = torch.tanh(tau @ self.W.t())                                 # mm, t
        s = torch.sigmoid(x[:, 0]) + torch.exp(-x[:, 1].abs()) + torch.log(1 + x[:, 2] ** 2)
        r = torch.sqrt(1 + tau.pow(2).sum(-1)) + torch.rsqrt(2 + x.square().mean(-1))
        lit = torch.tensor([1.0, -2.0, 0.5], dtype=x.dtype)             # a literal in forward
        k = torch.where(x[:, 0] > 0, x[:, 0], 0.5 * x[:, 0]) + torch.relu(x[:, 1]) - torch.atan(u[:, 0])
        k = k + 0.1 * (torch.atan2(x[:, 1], x[:, 0]) + torch.atan2(x[:, 2], lit[1]) + torch.atan2(lit[2], u[:, 0]))
        c = torch.clamp(x[:, 2], -0.5, 0.8) + torch.cos(x[:, 1]) * torch.tan(0.3 * x[:, 0]) / (2 + x[:, 0] ** 2)
        step = torch.stack([s * self.a[0], r * self.a[1] + k, c - 1 / (3 + u[:, 0] ** 2)], -1) * lit
        out = x + self.dt * (step + self.scale * h + (x.unsqueeze(1).expand(-1, 2, -1).sum(1) * 0.1).squeeze(-1))
        return torch.sub(out, x[:, :1], alpha=0.01)                      # slice, broadcast, sub with alpha


class ZooCost(nn.Module):
    """A cost (n = 3) with weights, a goal and a log barrier-like term."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0, 0.5, 0.3, 0.1], dtype=F64))
        self.goal = nn.Parameter(torch.tensor([0.2, 0.0, -0.1, 0.0], dtype=F64))

    def forward(self, x, u):
        z = torch.cat([x, u], -1) - self.goal
        return (self.w * z**2).sum(-1) + 0.1 * torch.log(1 + x[:, 0] ** 2) + 0.05 * torch.cosh(x[:, 1])


def _pairs():
    """(name, dynamics, cost, state scale, control bound) of generated forms exercised here."""
    return [
        ("user pendulum", UserPendulum(), WeightedQuadCost(torch.tensor([1.0, 0.1, 0.01], dtype=F64),
                                                            torch.tensor([0.1, 0.0, 0.0], dtype=F64)), (3.0, 4.0), 2.0),
        ("user cart-pole", UserCartpole(), WeightedQuadCost(torch.tensor([1.0, 0.1, 1.0, 0.1, 0.01], dtype=F64),
                                                             torch.zeros(5, dtype=F64)), (0.5, 0.5, 1.0, 1.0), 10.0),
        ("neural residual", MLPDynamics(),
         WeightedQuadCost(torch.tensor([1.0, 0.5, 0.3], dtype=F64), torch.tensor([0.5, 0.0, 0.0], dtype=F64)),
         (1.0, 1.0), 1.0),
        ("wide neural residual (Psi in PyTorch)", MLPDynamics(hidden=16),
         WeightedQuadCost(torch.tensor([1.0, 0.5, 0.3], dtype=F64), torch.tensor([0.5, 0.0, 0.0], dtype=F64)),
         (1.0, 1.0), 1.0),
        ("operation zoo", OpZoo(), ZooCost(), (0.8, 0.8, 0.8), 1.5),
        ("papers' feature pendulum (atan2)", PendulumFeatureDynamics(damping=0.1, bias=0.05, dtype=F64),
         WeightedQuadCost(torch.tensor([1.0, 1.0, 0.1, 0.01], dtype=F64),
                          torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=F64)), (1.0, 1.0, 2.0), 2.0),
        ("papers' feature cart-pole (atan2)", CartpoleFeatureDynamics(dtype=F64),
         WeightedQuadCost(torch.tensor([0.1, 0.01, 1.0, 1.0, 0.01, 0.001], dtype=F64),
                          torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], dtype=F64)), (0.5, 0.5, 1.0, 1.0, 1.0), 10.0),
        ("library cart-pole, feature cost", CartpoleDynamics(dt=0.05).to(F64), FeatureCost(), (0.5, 0.5, 3.0, 1.0),
         100.0),
    ]


_IDS = [p[0] for p in _pairs()]


def test_the_zoo_uses_operations_outside_the_generator_only_where_said():
    """ZooCost's cosh is no translated operation: that cost keeps the PyTorch path and says why."""
    cost = ZooCost()
    assert kernels.cost_form(cost, 3) is None
    assert "cosh" in codegen.why_not(cost)
    assert kernels.dynamics_form(OpZoo(), 3) is not None


@pytest.mark.parametrize("name, dynamics, cost, scale, bound", _pairs(), ids=_IDS)
def test_generated_forms_match_autograd(name, dynamics, cost, scale, bound):
    gen = torch.Generator().manual_seed(0)
    R, n = 32, len(scale)
    x = torch.tensor(scale, dtype=F64) * torch.randn(R, n, generator=gen, dtype=F64)
    u = bound * torch.randn(R, 1, generator=gen, dtype=F64)
    lam = torch.randn(R, n, generator=gen, dtype=F64)
    generated_dynamics = not isinstance(dynamics, CartpoleDynamics)
    assert (kernels.dynamics_form(dynamics, n).kind >= codegen.EXTERNAL_KIND_BASE) == generated_dynamics
    cost_form = kernels.cost_form(cost, n)
    if cost_form is None:  # ZooCost: see the test above; its dynamics are still checked with a plain cost
        cost = WeightedQuadCost(torch.ones(n + 1, dtype=F64), torch.zeros(n + 1, dtype=F64))
        cost_form = kernels.cost_form(cost, n)
    assert cost_form.kind >= codegen.EXTERNAL_KIND_BASE
    f, F, H, g, c, C = kernels.evaluate_forms(dynamics, cost, x, u, lam)
    A, Bu = dynamics_jacobians(dynamics, x, u)
    H_ref = dynamics_lagrangian_hessian(dynamics, x, u, lam)
    c_ref, C_ref = cost_derivatives(cost, x, u, torch.zeros(R, dtype=torch.long))
    tol = {"rtol": 1e-12, "atol": 1e-12}
    with torch.no_grad():
        torch.testing.assert_close(f, dynamics(x, u), **tol)
        torch.testing.assert_close(g, cost(x, u), **tol)
    torch.testing.assert_close(F, torch.cat([A, Bu], -1).detach(), **tol)
    torch.testing.assert_close(H, H_ref.detach(), **tol)
    torch.testing.assert_close(c, c_ref.detach(), **tol)
    torch.testing.assert_close(C, C_ref.detach(), **tol)


def _solve_and_grad(monkeypatch, ctrl: DiLQR, x0: torch.Tensor, generated: bool):
    """The solution, the gradient of a loss in x0 and every parameter, and how many compiled solves ran."""
    monkeypatch.setenv("DILQR_RL_CODEGEN", "1" if generated else "0")
    calls = []
    solve = kernels.ilqr_scalar
    monkeypatch.setattr(kernels, "ilqr_scalar", lambda *a, **k: (lambda out: calls.append(out is not None) or out)(
        solve(*a, **k)))
    params = [p for p in ctrl.parameters() if p.requires_grad]
    for p in params:
        p.grad = None
    x0 = x0.clone().requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)
        warnings.simplefilter("ignore", HessianFallbackWarning)  # unconverged items: both paths flag the same
        sol = ctrl(x0)
        ((sol.u - 0.2) ** 2).sum().add(sol.x[..., 0].sum()).backward()
    monkeypatch.undo()
    grads = torch.cat([x0.grad.flatten(), *(p.grad.flatten() for p in params)])
    return sol, grads, sum(calls)


@pytest.mark.parametrize("name, dynamics, cost, scale, bound", _pairs(), ids=_IDS)
@pytest.mark.parametrize("max_iter, tol", [(100, 1e-10), (3, 1e-10)], ids=["converged", "unconverged"])
def test_the_generated_solve_takes_the_pytorch_iterates_and_gradients(monkeypatch, name, dynamics, cost, scale, bound,
                                                                      max_iter, tol):
    gen = torch.Generator().manual_seed(1)
    n = len(scale)
    x0 = 0.5 * torch.tensor(scale, dtype=F64) * torch.randn(4, n, generator=gen, dtype=F64)
    ctrl = DiLQR(dynamics, cost, 20, -bound, bound, max_iter=max_iter, tol=tol)
    fast, fast_grad, compiled = _solve_and_grad(monkeypatch, ctrl, x0, generated=True)
    reference, reference_grad, pytorch_compiled = _solve_and_grad(monkeypatch, ctrl, x0, generated=False)
    expect_generated = kernels.cost_form(cost, n) is not None
    assert bool(compiled) == expect_generated and pytorch_compiled == 0
    assert fast.iterations.tolist() == reference.iterations.tolist()
    assert fast.converged.tolist() == reference.converged.tolist()
    for field in ("x", "u", "cost"):
        torch.testing.assert_close(getattr(fast, field), getattr(reference, field), rtol=1e-9, atol=1e-10, msg=field)
    torch.testing.assert_close(fast_grad, reference_grad, rtol=1e-8, atol=1e-10)


def test_the_generated_gradient_matches_finite_differences(monkeypatch):
    """Central differences of the solution map in the user cart-pole's four physical parameters."""
    monkeypatch.setenv("DILQR_RL_CODEGEN", "1")
    dynamics = UserCartpole()
    cost = WeightedQuadCost(torch.tensor([1.0, 0.1, 1.0, 0.1, 0.01], dtype=F64), torch.zeros(5, dtype=F64))
    cost.requires_grad_(False)
    ctrl = DiLQR(dynamics, cost, 20, -10.0, 10.0, max_iter=200, tol=1e-12)
    x0 = torch.tensor([[0.1, 0.0, 0.6, 0.0], [0.0, 0.3, -0.4, 0.2]], dtype=F64)
    assert kernels.dynamics_form(dynamics, 4).kind >= codegen.EXTERNAL_KIND_BASE

    def loss() -> torch.Tensor:
        sol = ctrl(x0)
        assert sol.all_converged
        return ((sol.u - 0.2) ** 2).sum() + sol.x[..., 2].sum()

    loss().backward()
    params = list(dynamics.parameters())
    grads = torch.stack([p.grad for p in params])
    fd = []
    with torch.no_grad():
        for p in params:
            h = 1e-6 * max(1.0, abs(p.item()))
            p += h
            up = loss()
            p -= 2 * h
            down = loss()
            p += h
            fd.append((up - down) / (2 * h))
    torch.testing.assert_close(grads, torch.stack(fd), rtol=1e-6, atol=1e-8)


def test_float32_modules_solve_in_double_precision(monkeypatch):
    dynamics = UserPendulum(dtype=torch.float32)
    cost = WeightedQuadCost(torch.tensor([1.0, 0.1, 0.01]), torch.tensor([0.1, 0.0, 0.0]))
    x0 = torch.tensor([[2.5, 0.0], [0.3, -1.0]])
    fast, fast_grad, compiled = _solve_and_grad(monkeypatch, DiLQR(dynamics, cost, 20, -2.0, 2.0, max_iter=100), x0,
                                                generated=True)
    assert compiled and fast.u.dtype == torch.float32
    dynamics64 = UserPendulum(dtype=F64)
    cost64 = WeightedQuadCost(cost.w.detach().double(), cost.goal.detach().double())
    reference, reference_grad, _ = _solve_and_grad(
        monkeypatch, DiLQR(dynamics64, cost64, 20, -2.0, 2.0, max_iter=100), x0.double(), generated=True)
    torch.testing.assert_close(fast.u.double(), reference.u, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast_grad.double(), reference_grad, rtol=1e-5, atol=1e-5)


def test_parameters_are_read_at_every_solve_and_plain_attributes_trace_again():
    dynamics = UserPendulum()
    x, u = torch.tensor([[0.4, -0.2]], dtype=F64), torch.tensor([[0.7]], dtype=F64)
    lam = torch.ones(1, 2, dtype=F64)
    cost = WeightedQuadCost(torch.ones(3, dtype=F64), torch.zeros(3, dtype=F64))
    for change in ("none", "mass", "mass through .data", "dt"):
        if change == "mass":
            with torch.no_grad():
                dynamics.m.fill_(1.7)  # a value: read at the call, no new trace
        elif change == "mass through .data":
            dynamics.m.data.fill_(1.9)  # no trace in the tensor's version: still read
        elif change == "dt":
            dynamics.dt = 0.1  # a plain attribute is part of the trace: traced again
        f = kernels.evaluate_forms(dynamics, cost, x, u, lam)[0]
        with torch.no_grad():
            torch.testing.assert_close(f, dynamics(x, u), rtol=1e-14, atol=1e-14)


class _Closing(nn.Module):
    """A cost closing over a tensor (e.g. a goal a network predicted): the PyTorch path reads and differentiates it."""

    def __init__(self, goal: torch.Tensor) -> None:
        super().__init__()
        self.holder = {"goal": goal}

    def forward(self, x, u):
        return ((torch.cat([x, u], -1) - self.holder["goal"]) ** 2).sum(-1)


class _Global(nn.Module):
    def forward(self, x, u):
        return ((torch.cat([x, u], -1) - _GOAL) ** 2).sum(-1)


_GOAL = torch.tensor([0.3, 0.0, 0.0], dtype=F64)


class _Branching(UserPendulum):
    def forward(self, x, u):
        if bool(x[:, 0].sum() > 0):  # data-dependent Python control flow
            return super().forward(x, u)
        return super().forward(x, -u)


class _Coupled(UserPendulum):
    def forward(self, x, u):
        return super().forward(x - x.mean(0, keepdim=True), u)


class _WithList(UserPendulum):
    def __init__(self) -> None:
        super().__init__()
        self.gains = [1.0, 2.0]  # not a plain value the trace could key on


class _ClosedForm(UserPendulum):
    def jacobians(self, x, u):
        raise AssertionError("not called in this test")


def _hooked() -> UserPendulum:
    module = UserPendulum()
    module.register_forward_hook(lambda m, inputs, output: output)
    return module


@pytest.mark.parametrize("case", ["closure", "global", "branch", "coupled rows", "list attribute", "closed form",
                                  "hook", "switched off", "unsupported operation"])
def test_no_form_where_the_generator_cannot_be_sure(monkeypatch, case):
    n = 2
    dynamics: nn.Module = UserPendulum()
    cost: nn.Module = WeightedQuadCost(torch.ones(3, dtype=F64), torch.zeros(3, dtype=F64))
    if case == "closure":
        cost = _Closing(torch.tensor([0.3, 0.0, 0.0], dtype=F64, requires_grad=True))
    elif case == "global":
        cost = _Global()
    elif case == "unsupported operation":
        cost = ZooCost()
        n = 3
    else:
        dynamics = {"branch": _Branching, "coupled rows": _Coupled, "list attribute": _WithList,
                    "closed form": _ClosedForm, "hook": _hooked, "switched off": UserPendulum}[case]()
    if case == "switched off":
        monkeypatch.setenv("DILQR_RL_CODEGEN", "0")
    module, role = (cost, kernels.cost_form) if case in ("closure", "global", "unsupported operation") else (
        dynamics, kernels.dynamics_form)
    assert role(module, n) is None
    if case == "coupled rows":  # the PyTorch path still refuses it, as before
        with pytest.raises(RowCouplingError):
            DiLQR(dynamics, cost, 10, -2.0, 2.0)(torch.tensor([[0.5, 0.0], [1.0, 0.0]], dtype=F64))
    if case == "closure":  # and still gives the closed-over tensor its exact gradient
        goal = cost.holder["goal"]
        sol = DiLQR(UserPendulum(), cost, 10, -2.0, 2.0, max_iter=100, tol=1e-12)(torch.tensor([[0.5, 0.0]], dtype=F64))
        sol.u.sum().backward()
        assert goal.grad is not None and goal.grad.abs().sum() > 0


def test_psi_gradient_in_c_up_to_its_parameter_limit():
    """The implicit gradient's Psi in the parameters comes from the generated forms where the module has at most
    MAX_PSI_PARAMETERS entries (50 here), from PyTorch above (98); the gradients agree either way (tests above)."""
    gen = torch.Generator().manual_seed(2)
    R = 6
    x, dx, lam, dlam = (torch.randn(R, 2, generator=gen, dtype=F64) for _ in range(4))
    u, du = (torch.randn(R, 1, generator=gen, dtype=F64) for _ in range(2))
    cost = WeightedQuadCost(torch.ones(3, dtype=F64), torch.zeros(3, dtype=F64))
    small, wide = MLPDynamics(hidden=8), MLPDynamics(hidden=16)
    assert sum(p.numel() for p in small.parameters()) <= codegen.MAX_PSI_PARAMETERS
    assert sum(p.numel() for p in wide.parameters()) > codegen.MAX_PSI_PARAMETERS
    pairs = kernels.psi_gradient(small, cost, x, u, dx, du, lam, dlam)
    assert {id(leaf) for leaf, _ in pairs} == {id(p) for p in [*small.parameters(), *cost.parameters()]}
    assert kernels.psi_gradient(wide, cost, x, u, dx, du, lam, dlam) is None
    # the reference: d/dp of sum_r dlam . f + lam . (F dtau) + c . dtau by autograd
    tau = torch.cat([x, u], -1).requires_grad_(True)
    f = small(tau[:, :2], tau[:, 2:])
    (G,) = torch.autograd.grad((lam * f).sum(), tau, create_graph=True)
    (c,) = torch.autograd.grad(cost(tau[:, :2], tau[:, 2:]).sum(), tau, create_graph=True)
    dtau = torch.cat([dx, du], -1)
    psi = (dlam * f).sum() + (G * dtau).sum() + (c * dtau).sum()
    leaves = [leaf for leaf, _ in pairs]
    reference = torch.autograd.grad(psi, leaves)
    for (_, gradient), expected in zip(pairs, reference):
        torch.testing.assert_close(gradient, expected, rtol=1e-12, atol=1e-12)


def test_a_tensor_set_as_a_model_attribute_gets_its_gradient_on_the_compiled_path():
    """The layer skips its search for closed-over tensors only where both modules have C forms and hold no plain
    tensor attribute: a network's output put in place of the pendulum's mass still gets its exact gradient."""
    from dilqr_rl.models import GoalCost, PendulumDynamics

    w = torch.tensor(1.2, dtype=F64, requires_grad=True)
    dynamics = PendulumDynamics(max_speed=None, dtype=F64)
    del dynamics.mass
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.tensor([0.1, 0.0, 0.0])).to(F64).requires_grad_(False)
    ctrl = DiLQR(dynamics, cost, 10, -2.0, 2.0, max_iter=200, tol=1e-12)
    x0 = torch.tensor([[1.0, 0.0], [-0.5, 0.5]], dtype=F64)

    def loss(value: torch.Tensor) -> torch.Tensor:
        dynamics.mass = value * 1.0  # a non-leaf tensor, as a network's output would be
        assert kernels.dynamics_form(dynamics, 2) is not None  # its C form reads the value
        return ctrl(x0).u.square().sum()

    loss(w).backward()
    with torch.no_grad():
        h = 1e-6
        fd = (loss(w + h) - loss(w - h)) / (2 * h)
    torch.testing.assert_close(w.grad, fd, rtol=1e-6, atol=1e-9)


def test_a_plain_attribute_that_keeps_changing_stops_being_compiled(monkeypatch):
    """Plain attributes are compiled in: a class whose dt takes more than MAX_STRUCTURES_PER_CLASS values keeps the
    PyTorch path for new ones (and says why), instead of compiling every value."""

    class Drifting(UserPendulum):
        pass

    monkeypatch.setattr(codegen, "MAX_STRUCTURES_PER_CLASS", 2)
    dynamics = Drifting()
    built = []
    for dt in (0.05, 0.06, 0.07):
        dynamics.dt = dt
        built.append(kernels.dynamics_form(dynamics, 2) is not None)
    assert built == [True, True, False]
    assert "register_buffer" in codegen.why_not(dynamics)
    dynamics.dt = 0.05  # a structure it had: its library is still loaded, so it is traced again, not compiled
    assert kernels.dynamics_form(dynamics, 2) is not None


class _Two(nn.Module):
    """f = x + 0.1 (k x + s.c u): a parameter of its own and one of a submodule."""

    control_dim = 1

    def __init__(self) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor([0.5], dtype=F64))
        self.s = nn.Module()
        self.s.c = nn.Parameter(torch.tensor([2.0], dtype=F64))

    def forward(self, x, u):
        return x + 0.1 * (self.k * x + self.s.c * u)


class _ClassStep(nn.Module):
    control_dim = 1
    dt = 0.05  # a class attribute

    def forward(self, x, u):
        return x + self.dt * torch.cat([x[:, 1:], u], -1)


def _matches_autograd(dynamics: nn.Module, n: int) -> None:
    gen = torch.Generator().manual_seed(5)
    x, u, lam = torch.randn(4, n, generator=gen, dtype=F64), torch.randn(4, 1, generator=gen, dtype=F64), torch.ones(
        4, n, dtype=F64)
    cost = WeightedQuadCost(torch.ones(n + 1, dtype=F64), torch.zeros(n + 1, dtype=F64))
    f, F = kernels.evaluate_forms(dynamics, cost, x, u, lam)[:2]
    A, Bu = dynamics_jacobians(dynamics, x, u)
    with torch.no_grad():
        torch.testing.assert_close(f, dynamics(x, u), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(F, torch.cat([A, Bu], -1).detach(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("change", ["parameter becomes a buffer", "tied parameters", "class attribute", "clamp"])
def test_the_form_follows_the_module_after_a_change(monkeypatch, change):
    """A change the trace depends on traces again: where each tensor sits (parameter or buffer, tied), the plain
    attributes of the module's classes; and clamp with lo > hi gives hi, as torch does."""
    if change == "clamp":
        class Clamped(UserPendulum):
            def forward(self, x, u):
                return super().forward(x, torch.clamp(u, 0.5, -0.5))  # lo > hi: torch gives hi everywhere

        _matches_autograd(Clamped(), 2)
        return
    dynamics = _ClassStep() if change == "class attribute" else _Two()
    _matches_autograd(dynamics, 2)
    if change == "parameter becomes a buffer":
        value = dynamics.k.detach().clone()
        del dynamics.k
        dynamics.register_buffer("k", value + 0.3)
    elif change == "tied parameters":
        dynamics.s.c = dynamics.k
    else:
        monkeypatch.setattr(_ClassStep, "dt", 0.2)
    _matches_autograd(dynamics, 2)
    assert kernels.dynamics_form(dynamics, 2) is not None


class _BoolSum(UserPendulum):
    def forward(self, x, u):
        either = ((x[:, :1] > 0) + (u > 0)).to(x.dtype)  # bool + bool is a logical or in torch
        return super().forward(x, u * (1 + either))


class _IntFill(UserPendulum):
    def forward(self, x, u):
        return super().forward(x, u + torch.full_like(u, 2.7, dtype=torch.long))


class _BatchSize(UserPendulum):
    def forward(self, x, u):
        return super().forward(x, u * x.shape[0])


@pytest.mark.parametrize("module, reason", [(_BoolSum, "bool"), (_IntFill, "int64"), (_BatchSize, "batch size")],
                         ids=["bool arithmetic", "integer fill", "batch size"])
def test_no_form_for_what_the_scalar_statements_would_get_wrong(module, reason):
    dynamics = module()
    assert kernels.dynamics_form(dynamics, 2) is None
    assert reason in codegen.why_not(dynamics)


def test_no_form_under_a_global_forward_hook():
    handle = nn.modules.module.register_module_forward_hook(lambda m, inputs, output: output)
    try:
        assert kernels.dynamics_form(UserPendulum(), 2) is None
    finally:
        handle.remove()
    assert kernels.dynamics_form(UserPendulum(), 2) is not None


class _CoupledFromRowThree(nn.Module):
    """Rows 3 and on feed every row: traces of 2 and 3 rows see no coupling, so it gets a form."""

    state_dim, control_dim = 2, 1

    def forward(self, x, u):
        drift = 0.1 * x[3:, 1].sum()
        return torch.stack([x[:, 0] + 0.05 * x[:, 1], x[:, 1] + 0.05 * u[:, 0] + drift], -1)


def test_the_layer_still_checks_the_rows_of_a_module_with_a_generated_form():
    """A generated form was checked on its traces only: the layer's own row-coupling check on the batch still runs
    (only the library's forms skip it), and refuses the coupling the traces could not see."""
    dynamics = _CoupledFromRowThree()
    cost = WeightedQuadCost(torch.tensor([1.0, 0.3, 0.1], dtype=F64), torch.zeros(3, dtype=F64))
    assert kernels.dynamics_form(dynamics, 2) is not None
    x0 = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    with pytest.raises(RowCouplingError), torch.no_grad():
        DiLQR(dynamics, cost, 5, -2.0, 2.0)(x0)


class _Heading(nn.Module):
    """Dynamics (n = 3) that steer a heading atan2(y, x) of the state's first two coordinates."""

    state_dim, control_dim = 3, 1

    def forward(self, x, u):
        h = torch.atan2(x[:, 1], x[:, 0])
        return torch.stack([x[:, 0] + 0.1 * torch.cos(h + u[:, 0]), x[:, 1] + 0.1 * torch.sin(h + u[:, 0]),
                            x[:, 2] + 0.1 * u[:, 0]], -1)


def test_atan2_at_the_origin_has_torchs_zero_derivatives():
    """atan2's derivatives at y = x = 0 are 0, as torch's autograd gives them (not NaN, which would make the whole
    row's derivatives NaN and a solve from a state at rest fail): the Jacobians match autograd's there, and a solve
    from the origin converges with a finite gradient. (Autograd's second derivatives there are NaN; the form's 0.)"""
    dynamics = _Heading()
    cost = WeightedQuadCost(torch.tensor([1.0, 1.0, 0.1, 0.1], dtype=F64), torch.tensor([1.0, 1.0, 0.0, 0.0],
                                                                                        dtype=F64))
    x = torch.tensor([[0.0, 0.0, 0.5], [-0.0, 0.0, 0.1], [0.3, -0.2, 0.1], [-0.4, 0.0, 0.2]], dtype=F64)
    u = torch.tensor([[0.3], [0.1], [0.2], [-0.1]], dtype=F64)
    lam = torch.ones_like(x)
    f, F, H, *_ = kernels.evaluate_forms(dynamics, cost, x, u, lam)
    A, Bu = dynamics_jacobians(dynamics, x, u)
    with torch.no_grad():
        torch.testing.assert_close(f, dynamics(x, u), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(F, torch.cat([A, Bu], -1).detach(), rtol=1e-12, atol=1e-12)
    assert torch.isfinite(H).all()
    torch.testing.assert_close(H[2:], dynamics_lagrangian_hessian(dynamics, x, u, lam)[2:].detach(), rtol=1e-12,
                               atol=1e-12)
    x0 = torch.zeros(2, 3, dtype=F64, requires_grad=True)
    sol = DiLQR(dynamics, cost, 10, -1.0, 1.0, max_iter=100)(x0)
    sol.u.sum().backward()
    assert sol.all_converged and torch.isfinite(x0.grad).all()
