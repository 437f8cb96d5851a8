"""Jacobians and Hessians of the models along a trajectory.

Every function here acts on rows: R = B*T flattened (batch, time) pairs, n state, m control, N = n + m.
A model's closed forms (``jacobians``, ``lagrangian_hessian``, ``derivatives``) are used when present;
otherwise ``torch.func`` computes the derivative, vectorized over the rows.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import hessian, jacfwd, jacrev, vmap


def stage_cost(cost: nn.Module, x: Tensor, u: Tensor, t: Tensor) -> Tensor:
    """g_t(x, u) for every row: x (R, n), u (R, m), t (R,) long -> (R,)."""
    if getattr(cost, "time_varying", False):
        return cost(x, u, t)
    return cost(x, u)


def dynamics_jacobians(dynamics: nn.Module, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """A = df/dx (R, n, n) and B = df/du (R, n, m)."""
    closed_form = getattr(dynamics, "jacobians", None)
    if closed_form is not None:
        return closed_form(x, u)

    def f(xr: Tensor, ur: Tensor) -> Tensor:
        return dynamics(xr.unsqueeze(0), ur.unsqueeze(0)).squeeze(0)

    return vmap(jacfwd(f, argnums=(0, 1)))(x, u)


def cost_derivatives(cost: nn.Module, x: Tensor, u: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Gradient c (R, N) and Hessian C (R, N, N) of the stage cost in tau = [x; u]."""
    closed_form = getattr(cost, "derivatives", None)
    if closed_form is not None:
        return closed_form(x, u, t) if getattr(cost, "time_varying", False) else closed_form(x, u)
    n = x.shape[-1]

    def g(tau: Tensor, tr: Tensor) -> Tensor:
        return stage_cost(cost, tau[:n].unsqueeze(0), tau[n:].unsqueeze(0), tr.unsqueeze(0)).squeeze(0)

    def grad_twice(tau: Tensor, tr: Tensor) -> tuple[Tensor, Tensor]:
        c = jacrev(g)(tau, tr)
        return c, c

    C, c = vmap(jacfwd(grad_twice, has_aux=True))(torch.cat([x, u], -1), t)
    return c, C


def dynamics_lagrangian_hessian(dynamics: nn.Module, x: Tensor, u: Tensor, lam: Tensor) -> Tensor:
    """Hessian of lam . f(tau) in tau = [x; u] (R, N, N); the term DiffMPC's gradient drops."""
    closed_form = getattr(dynamics, "lagrangian_hessian", None)
    if closed_form is not None:
        return closed_form(x, u, lam)
    n = x.shape[-1]

    def weighted(tau: Tensor, lr: Tensor) -> Tensor:
        return (lr * dynamics(tau[:n].unsqueeze(0), tau[n:].unsqueeze(0)).squeeze(0)).sum()

    return vmap(hessian(weighted))(torch.cat([x, u], -1), lam)
