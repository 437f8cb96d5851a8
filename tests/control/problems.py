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


X0 = {
    "pendulum": torch.tensor([[1.0, 0.3], [0.5, -0.5], [-0.4, 1.0]], dtype=F64),
    "cartpole": torch.tensor([[0.1, 0.0, 0.4, 0.0], [0.0, 0.5, -0.3, 0.2]], dtype=F64),
    "neural": torch.tensor([[1.0, 0.0], [-0.5, 0.5]], dtype=F64),
    "linear": torch.tensor([[0.0, 0.5, -1.0], [1.0, 0.0, 0.0]], dtype=F64),
}
FACTORIES = {"pendulum": pendulum, "cartpole": cartpole, "neural": neural, "linear": linear}
