"""The row-wise autograd derivatives against torch.func (per row) and the closed forms, and the row-wise check."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dilqr_rl import DiLQR
from dilqr_rl.control import RowCouplingError
from dilqr_rl.control import derivatives as D
from dilqr_rl.models import CartpoleDynamics, GoalCost, PendulumDynamics
from tests.control.problems import F64, FeatureCost, MLPDynamics


def _rows(R, n, m=1, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(R, n, generator=gen, dtype=F64), torch.randn(R, m, generator=gen, dtype=F64),
            torch.randn(R, n, generator=gen, dtype=F64))


class _Hidden(nn.Module):
    """The same model with its closed forms out of sight."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.time_varying = getattr(inner, "time_varying", False)

    def forward(self, *args):
        return self.inner(*args)


class _PerRow(_Hidden):
    """Hides the closed forms and sets ``row_wise = False``: the solver's torch.func reference path."""

    row_wise = False


DYNAMICS = {"mlp": (MLPDynamics, 2), "cartpole": (lambda: CartpoleDynamics(dtype=F64), 4),
            "pendulum": (lambda: PendulumDynamics(max_speed=None, dtype=F64), 2)}


@pytest.fixture(params=[False, True], ids=["replicated", "one-pass-per-output"])
def strategy(request, monkeypatch):
    """Both strategies of row_jacobian: rows replicated (small R) and one reverse pass per output (large R)."""
    if request.param:
        monkeypatch.setattr(D, "_REPLICATE_MAX", 0)
    return request.param


@pytest.mark.parametrize("name", DYNAMICS)
def test_dynamics_derivatives_match_torch_func(name, strategy):
    make, n = DYNAMICS[name]
    dyn = _Hidden(make())
    x, u, lam = _rows(7, n)
    for got, ref in zip(D.dynamics_jacobians(dyn, x, u), D.dynamics_jacobians(_PerRow(dyn), x, u)):
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(D.dynamics_lagrangian_hessian(dyn, x, u, lam),
                               D.dynamics_lagrangian_hessian(_PerRow(dyn), x, u, lam), rtol=1e-12, atol=1e-12)


def test_closed_forms_match_the_autograd_path():
    model = PendulumDynamics(max_speed=None, dtype=F64)
    x, u, lam = _rows(9, 2)
    for got, ref in zip(D.dynamics_jacobians(_Hidden(model), x, u), model.jacobians(x, u)):
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(D.dynamics_lagrangian_hessian(_Hidden(model), x, u, lam),
                               model.lagrangian_hessian(x, u, lam), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("time_varying", [False, True])
def test_cost_derivatives_and_fused_linearization_match(time_varying, strategy):
    goal = torch.randn(4, 3, dtype=F64) if time_varying else torch.randn(3, dtype=F64)
    for cost, n in ((GoalCost(torch.tensor([1.0, 0.3, 0.1], dtype=F64), goal), 2), (FeatureCost(), 4)):
        if n == 4 and time_varying:
            continue
        x, u, _ = _rows(8, n)
        t = torch.arange(8) % 4
        hidden = _Hidden(cost)
        ref = cost.derivatives(x, u, t) if hasattr(cost, "derivatives") else D.cost_derivatives(_PerRow(cost), x, u, t)
        for got, want in zip(D.cost_derivatives(hidden, x, u, t), ref):
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        dyn = _Hidden(DYNAMICS["mlp" if n == 2 else "cartpole"][0]())
        F, c, C = D.linearization(dyn, hidden, x, u, t)
        A, B = D.dynamics_jacobians(_PerRow(dyn), x, u)
        torch.testing.assert_close(F, torch.cat([A, B], -1), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(c, ref[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(C, ref[1], rtol=1e-12, atol=1e-12)


def test_derivatives_are_differentiable_in_grad_mode(strategy):
    """Unroll mode differentiates through the derivatives: their parameter gradients match torch.func's."""
    dyn = MLPDynamics()
    x, u, lam = _rows(5, 2)
    grads = []
    for module in (dyn, _PerRow(dyn)):
        A, B = D.dynamics_jacobians(module, x, u)
        H = D.dynamics_lagrangian_hessian(module, x, u, lam)
        grads.append(torch.autograd.grad(A.sum() + (B**2).sum() + H.sum(), list(dyn.parameters()),
                                         materialize_grads=True))
    for got, ref in zip(*grads):
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


def test_models_linear_in_tau_have_zero_curvature():
    lin = nn.Linear(3, 2).to(F64)

    class Linear(nn.Module):
        def forward(self, x, u):
            return lin(torch.cat([x, u], -1))

    x, u, lam = _rows(4, 2)
    assert (D.dynamics_lagrangian_hessian(Linear(), x, u, lam) == 0).all()
    A, B = D.dynamics_jacobians(Linear(), x, u)
    torch.testing.assert_close(torch.cat([A, B], -1), lin.weight.expand(4, 2, 3))


class _BatchNormDynamics(nn.Module):
    """x' = x + 0.1 BN(W [x; u]): BatchNorm couples the rows in training mode, not in eval mode."""

    control_dim = 1

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(3, 2).to(F64)
        self.norm = nn.BatchNorm1d(2).to(F64)

    def forward(self, x, u):
        return x + 0.1 * torch.tanh(self.norm(self.linear(torch.cat([x, u], -1))))


def _layer(dynamics, cost=None):
    cost = cost or GoalCost(torch.ones(3, dtype=F64), torch.zeros(3, dtype=F64))
    return DiLQR(dynamics, cost, 5, -1.0, 1.0, max_iter=50, tol=1e-8)


def test_row_coupling_is_detected_and_names_the_fix():
    x0 = torch.tensor([[0.5, 0.0], [-0.3, 0.2], [0.1, 0.4]], dtype=F64)
    with pytest.raises(RowCouplingError, match=r"dynamics module \(_BatchNormDynamics\) does not act row by row.*"
                                               r"module\.eval\(\).*row_wise = False"):
        _layer(_BatchNormDynamics().train())(x0)
    sol = _layer(_BatchNormDynamics().eval())(x0)  # running statistics: row-wise
    assert sol.all_converged


def test_row_coupling_in_the_cost_and_dropout_are_detected():
    class DropoutCost(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.5)

        def forward(self, x, u):
            return (self.drop(torch.cat([x, u], -1)) ** 2).sum(-1)

    dyn = PendulumDynamics(max_speed=None, dtype=F64)
    x0 = torch.tensor([[0.5, 0.0], [-0.3, 0.2]], dtype=F64)
    with pytest.raises(RowCouplingError, match=r"the cost module \(DropoutCost\)"):
        _layer(dyn, DropoutCost())(x0)
    assert _layer(dyn, DropoutCost().eval())(x0).all_converged


def test_row_wise_false_skips_the_check_and_uses_torch_func():
    """A module that declares row_wise = False is differentiated row by row with torch.func; on a row-wise
    model that gives the same solution as the default path."""
    x0 = torch.tensor([[0.5, 0.0], [-0.3, 0.2]], dtype=F64)
    default = _layer(_BatchNormDynamics().eval())(x0)
    per_row = _BatchNormDynamics().eval()
    per_row.row_wise = False
    torch.testing.assert_close(_layer(per_row)(x0).u, default.u, rtol=1e-10, atol=1e-12)


def test_a_cost_of_the_wrong_shape_gets_the_shape_error_not_a_coupling_error():
    class SummedCost(nn.Module):
        def forward(self, x, u):
            return (x**2).sum()

    with pytest.raises(ValueError, match="the cost module must return one value per row"):
        _layer(PendulumDynamics(dtype=F64), SummedCost())(torch.zeros(2, 2, dtype=F64))


def test_the_row_check_runs_again_when_a_submodule_changes_mode():
    """The check is cached per module, its submodules' train/eval modes and the row layout: a module that
    passed in eval mode is checked again (and refused) once its BatchNorm is back in training mode."""
    x0 = torch.tensor([[0.5, 0.0], [0.2, 0.1], [-0.3, 0.4]], dtype=F64)
    dynamics = _BatchNormDynamics().eval()
    layer = _layer(dynamics)
    layer(x0)
    layer(x0)  # cached: passes again
    dynamics.norm.train()
    with pytest.raises(RowCouplingError, match="does not act row by row"):
        layer(x0)
