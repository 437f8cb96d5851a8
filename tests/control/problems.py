"""Small control problems shared by the control-core tests (float64 unless said)."""

from __future__ import annotations

import torch
from torch import nn

from dilqr_rl import DiLQR
from dilqr_rl.models import CartpoleDynamics, GoalCost, LinearDynamics, PendulumDynamics

F64 = torch.float64


class MLPDynamics(nn.Module):
    """A small neural residual model: x' = x + dt * tanh-MLP(x, u)."""

    state_dim = 2
    control_dim = 1

    def __init__(self, seed: int = 0, hidden: int = 8) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.l1 = nn.Linear(3, hidden).to(F64)
        self.l2 = nn.Linear(hidden, 2).to(F64)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=F64))

    def forward(self, x, u):
        return x + 0.1 * self.l2(torch.tanh(self.l1(torch.cat([x, u], -1))))


def pendulum(method="implicit", horizon=20, lo=-1.0, hi=1.5, **kw) -> DiLQR:
    dyn = PendulumDynamics(max_speed=None).to(F64)
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.tensor([0.1, 0.0, 0.0])).to(F64)
    kw = {"max_iter": 500, "tol": 1e-13, **kw}
    return DiLQR(dyn, cost, horizon=horizon, u_lower=lo, u_upper=hi, grad_method=method, **kw)


def cartpole(method="implicit", horizon=20, **kw) -> DiLQR:
    dyn = CartpoleDynamics().to(F64)
    cost = GoalCost(torch.tensor([1.0, 0.3, 1.0, 0.3, 0.1]), torch.tensor([0.2, 0.0, 0.0, 0.0, 0.0])).to(F64)
    kw = {"max_iter": 500, "tol": 1e-13, **kw}
    return DiLQR(dyn, cost, horizon=horizon, u_lower=-4.0, u_upper=4.0, grad_method=method, **kw)


def neural(method="implicit", horizon=20, **kw) -> DiLQR:
    cost = GoalCost(torch.tensor([1.0, 0.5, 0.3]), torch.tensor([0.5, 0.0, 0.0])).to(F64)
    kw = {"max_iter": 500, "tol": 1e-13, **kw}
    return DiLQR(MLPDynamics(), cost, horizon=horizon, u_lower=-1.0, u_upper=1.0, grad_method=method, **kw)


def linear(method="implicit", horizon=20, m=2, **kw) -> DiLQR:
    gen = torch.Generator().manual_seed(3)
    A = torch.eye(3, dtype=F64) + 0.1 * torch.randn(3, 3, generator=gen, dtype=F64)
    B = 0.3 * torch.randn(3, m, generator=gen, dtype=F64)
    cost = GoalCost(torch.ones(3 + m, dtype=F64), torch.cat([torch.ones(3, dtype=F64), torch.zeros(m, dtype=F64)]))
    kw = {"max_iter": 500, "tol": 1e-13, **kw}
    return DiLQR(LinearDynamics(A, B), cost, horizon=horizon, u_lower=-0.4, u_upper=0.4, grad_method=method, **kw)


class FeatureCost(nn.Module):
    """A user-written swing-up cost (no closed forms): 1/2 q . phi^2 - sqrt(q) g . phi on the cart-pole
    features phi = (x, x_dot, cos th, sin th, th_dot, u), goal upright; the papers' swing-up cost."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Parameter(torch.tensor([0.1, 0.1, 1.0, 1.0, 0.1, 0.001], dtype=F64))
        self.goal = nn.Parameter(torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], dtype=F64))

    def forward(self, x, u):
        phi = torch.stack([x[:, 0], x[:, 1], torch.cos(x[:, 2]), torch.sin(x[:, 2]), x[:, 3], u[:, 0]], -1)
        return (0.5 * self.q * phi**2 - self.q.sqrt() * self.goal * phi).sum(-1)


def swingup(method="implicit", horizon=20, **kw) -> DiLQR:
    """The papers' cart-pole swing-up (dt 0.05, +-100 N, T = 20) on the angle state: strongly nonlinear,
    controls mostly unsaturated, large costates."""
    kw = {"max_iter": 500, "tol": 1e-8, **kw}
    return DiLQR(CartpoleDynamics(dt=0.05).to(F64), FeatureCost(), horizon=horizon, u_lower=-100.0,
                 u_upper=100.0, grad_method=method, **kw)


def swingup_starts(count: int, seed: int = 0) -> torch.Tensor:
    """x, x_dot ~ U(-0.5, 0.5), theta ~ U(-pi, pi), theta_dot ~ U(-1, 1): (count, 4)."""
    gen = torch.Generator().manual_seed(seed)
    half = torch.tensor([0.5, 0.5, torch.pi, 1.0], dtype=F64)
    return half * (2 * torch.rand(count, 4, generator=gen, dtype=F64) - 1)


def without_closed_forms(ctrl: DiLQR) -> DiLQR:
    """The same layer with the models' closed-form derivatives hidden: the solver takes the autograd path."""
    for module, names in ((ctrl.dynamics, ("jacobians", "lagrangian_hessian")), (ctrl.cost, ("derivatives",))):
        for name in names:
            setattr(module, name, None)
    return ctrl


X0 = {
    "pendulum": torch.tensor([[1.0, 0.3], [0.5, -0.5], [-0.4, 1.0]], dtype=F64),
    "cartpole": torch.tensor([[0.1, 0.0, 0.4, 0.0], [0.0, 0.5, -0.3, 0.2]], dtype=F64),
    "neural": torch.tensor([[1.0, 0.0], [-0.5, 0.5]], dtype=F64),
    "linear": torch.tensor([[0.0, 0.5, -1.0], [1.0, 0.0, 0.0]], dtype=F64),
}
FACTORIES = {"pendulum": pendulum, "cartpole": cartpole, "neural": neural, "linear": linear}
