"""The benchmark problem of DiLQR Fig. 2: pendulum swing-up starts, goal cost, |u| <= 2, batch 20.

Two model kinds solve the same problem: ``closed-form`` (the shipped ``PendulumDynamics`` and ``GoalCost``,
which give the solver closed-form derivatives) and ``autograd`` (the same physics and cost written as plain
``nn.Module``s, :mod:`dilqr_rl.bench.user_models`, differentiated by autograd).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from dilqr_rl import DiLQR
from dilqr_rl.bench.user_models import UserPendulum, WeightedQuadCost
from dilqr_rl.models import GoalCost, PendulumDynamics

WEIGHTS = (1.0, 0.3, 0.1)
U_MAX = 2.0
ModelKind = Literal["closed-form", "autograd"]
MODEL_KINDS: tuple[ModelKind, ...] = ("closed-form", "autograd")


def make_models(model: ModelKind = "closed-form", dtype=torch.float64, device="cpu") -> tuple[nn.Module, nn.Module]:
    """(dynamics, cost) of the given kind; the cost is ||w o tau||^2 with w = WEIGHTS in both kinds."""
    weights = torch.tensor(WEIGHTS, dtype=dtype)
    if model == "closed-form":
        dyn, cost = PendulumDynamics(max_speed=None, dtype=dtype), GoalCost(weights, torch.zeros(3, dtype=dtype))
    elif model == "autograd":
        dyn, cost = UserPendulum(dtype), WeightedQuadCost(weights**2, torch.zeros(3, dtype=dtype))
    else:
        raise ValueError(f"model must be one of {', '.join(map(repr, MODEL_KINDS))}; got {model!r}")
    return dyn.to(device), cost.to(device)


def make_layer(method: str, horizon: int, iters: int, dtype=torch.float64, device="cpu", tol=0.0,
               model: ModelKind = "closed-form") -> DiLQR:
    """DiLQR on the pendulum; ``tol=0`` runs exactly ``iters`` iterations."""
    dyn, cost = make_models(model, dtype, device)
    return DiLQR(dyn, cost, horizon, -U_MAX, U_MAX, grad_method=method, max_iter=iters, tol=tol,
                 on_unconverged="warn", control_dim=1)


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
