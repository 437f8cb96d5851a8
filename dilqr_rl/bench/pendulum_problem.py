"""The benchmark problem of DiLQR Fig. 2: pendulum swing-up starts, goal cost, |u| <= 2, batch 20."""

from __future__ import annotations

import math

import torch

from dilqr_rl import DiLQR
from dilqr_rl.models import GoalCost, PendulumDynamics

WEIGHTS = (1.0, 0.3, 0.1)
U_MAX = 2.0


def make_layer(method: str, horizon: int, iters: int, dtype=torch.float64, device="cpu", tol=0.0) -> DiLQR:
    """DiLQR on the pendulum; ``tol=0`` runs exactly ``iters`` iterations."""
    dyn = PendulumDynamics(max_speed=None, dtype=dtype).to(device)
    cost = GoalCost(torch.tensor(WEIGHTS, dtype=dtype), torch.zeros(3, dtype=dtype)).to(device)
    return DiLQR(dyn, cost, horizon, -U_MAX, U_MAX, grad_method=method, max_iter=iters, tol=tol,
                 on_unconverged="warn")


def swing_up_starts(batch: int, seed: int = 0, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """x_init (B, 2): theta ~ U(-pi, pi), theta_dot ~ U(-1, 1)."""
    gen = torch.Generator().manual_seed(seed)
    theta = (2 * torch.rand(batch, generator=gen, dtype=dtype) - 1) * math.pi
    speed = 2 * torch.rand(batch, generator=gen, dtype=dtype) - 1
    return torch.stack([theta, speed], -1).to(device)


def imitation_loss(sol, seed: int = 1) -> torch.Tensor:
    """A fixed random quadratic loss on the plan (the kind of loss imitation learning backpropagates)."""
    gen = torch.Generator().manual_seed(seed)
    target = torch.randn(sol.u.shape, generator=gen, dtype=sol.u.dtype).to(sol.u.device)
    return ((sol.u - target) ** 2).sum() + 0.1 * (sol.x**2).sum()
