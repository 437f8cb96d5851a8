"""The backward pass of the implicit and DiffMPC modes (derived in docs/implicit_gradient.md).

At an iLQR fixed point tau* the KKT residual of the original problem vanishes, so by the implicit
function theorem a vector-Jacobian product needs one adjoint LQR solve:

1. H_t = hess g_t(tau*_t) + hess [lam_t . f(tau*_t)]   (``diffmpc``: the cost Hessian only);
2. adjoint LQR with H, linear term gbar = d loss / d tau*, dx_1 = 0, active controls fixed;
3. d loss / d theta = d/d theta of
       Psi = sum_t dtau_t . grad g_t(tau*_t) + lam_t . (F_t dtau_t) + dlam_t . f(tau*_t)
   with tau*, lam, dtau, dlam fixed: one forward-mode JVP of f and g, then one reverse pass;
4. d loss / d x_init from the adjoint's multiplier on dx_1 = 0.

O(T) time and memory, independent of the number of forward iterations.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
from torch import Tensor
from torch.func import jvp

from dilqr_rl.control.config import GradMethod
from dilqr_rl.control.derivatives import stage_cost
from dilqr_rl.control.errors import HessianFallbackWarning
from dilqr_rl.control.lqr import adjoint_lqr
from dilqr_rl.control.problem import Problem


class ImplicitGradient(NamedTuple):
    """grad_x_init (B, n); params: one gradient (or None) per parameter; fallback (B,) bool: items whose
    adjoint used the cost Hessian; singular (B,) bool: items given a zero gradient because no adjoint
    Hessian was positive definite on the free controls."""

    grad_x_init: Tensor
    params: tuple[Tensor | None, ...]
    fallback: Tensor
    singular: Tensor


def lagrangian_hessian(problem: Problem, x: Tensor, u: Tensor, C: Tensor, lam: Tensor) -> Tensor:
    """H_t = C_t + hess [lam_t . f] (B, T, N, N) at the solution."""
    return C + problem.dynamics_curvature(x, u, lam)


def _directional(problem: Problem, x: Tensor, u: Tensor, dx: Tensor, du: Tensor, t: Tensor):
    """Per row: grad g . dtau (R,), f (R, n) and F dtau (R, n), differentiable in the parameters.

    Uses the models' closed-form derivatives when they have them (a small graph), else forward-mode AD.
    """
    cost_closed = getattr(problem.cost, "derivatives", None)
    if cost_closed is not None:
        c, _ = cost_closed(x, u, t) if getattr(problem.cost, "time_varying", False) else cost_closed(x, u)
        dg = (c * torch.cat([dx, du], -1)).sum(-1)
    else:
        _, dg = jvp(lambda xr, ur: stage_cost(problem.cost, xr, ur, t), (x, u), (dx, du))
    dyn_closed = getattr(problem.dynamics, "jacobians", None)
    if dyn_closed is not None:
        A, B = dyn_closed(x, u)
        f = problem.dynamics(x, u)
        df = (A @ dx.unsqueeze(-1) + B @ du.unsqueeze(-1)).squeeze(-1)
    else:
        f, df = jvp(problem.dynamics, (x, u), (dx, du))
    return dg, f, df


def _psi(problem: Problem, x: Tensor, u: Tensor, lam: Tensor, dx: Tensor, du: Tensor, dlam: Tensor,
         fixed_jacobian: bool = False) -> Tensor:
    """Psi(theta) of step 3, differentiable in the models' parameters only (scalar). ``fixed_jacobian``
    drops the parameters' path through F (mpc.pytorch's autograd-Jacobian gradient)."""
    Bsz, _, n = x.shape
    m = u.shape[-1]
    t = problem.step_indices(Bsz, x.device)
    dg, f, df = _directional(problem, x.reshape(-1, n), u.reshape(-1, m), dx.reshape(-1, n), du.reshape(-1, m), t)
    if fixed_jacobian:
        df = df.detach()
    return dg.sum() + (lam.reshape(-1, n) * df).sum() + (dlam.reshape(-1, n) * f).sum()


def _resolve_items(adj, items: Tensor, H: Tensor, gbar: Tensor, F: Tensor, free: Tensor):
    """Re-solve the adjoint for the masked items only (with Hessian ``H``) and put their solution back."""
    idx = items.nonzero().flatten()
    sub = adjoint_lqr(H[idx], gbar[idx], F[idx], free[idx])
    return type(adj)(*(full.index_copy(0, idx, part) for full, part in zip(adj, sub)))


def _items(mask: Tensor) -> list[int]:
    return mask.nonzero().flatten().tolist()[:10]


def implicit_backward(
    problem: Problem, x: Tensor, u: Tensor, F: Tensor, C: Tensor, lam: Tensor, active: Tensor,
    grad_x: Tensor, grad_u: Tensor, params: tuple[Tensor, ...], method: GradMethod, weight: Tensor,
) -> ImplicitGradient:
    """Vector-Jacobian product of the solution map (x_init, theta) -> (x*, u*).

    Shapes: x, grad_x (B, T, n); u, grad_u (B, T, m); F (B, T, n, N); C (B, T, N, N); lam (B, T, n);
    active (B, T, m) bool; weight (B,): 0 for items whose gradient is zeroed (their adjoint is not
    checked). ``params`` are the tensors to differentiate (the models' parameters).

    Where the adjoint's reduced Hessian is not positive definite the item falls back to the cost Hessian
    (implicit mode), and where that fails too (a non-convex cost at a point that is no strict local
    minimum) the item gets a zero gradient; both warn and are flagged.
    """
    with torch.no_grad():
        w = weight.view(-1, 1, 1)
        gbar = torch.cat([grad_x * w, grad_u * w], -1)
        free = ~active
        ignored = weight == 0
        H = lagrangian_hessian(problem, x, u, C, lam) if method is GradMethod.IMPLICIT else C
        adj = adjoint_lqr(H, gbar, F, free)
        fallback = ~adj.ok & ~ignored
        if method is GradMethod.IMPLICIT and bool(fallback.any()):
            warnings.warn(
                f"the reduced Lagrangian Hessian is not positive definite for batch items {_items(fallback)}: "
                "their gradient uses the cost Hessian (DiffMPC's approximation). The solution may be a saddle "
                "point or not converged.", HessianFallbackWarning, stacklevel=4,
            )
            adj = _resolve_items(adj, fallback, C, gbar, F, free)
        singular = ~adj.ok & ~ignored
        if bool(singular.any()):
            warnings.warn(
                f"no positive definite adjoint Hessian for batch items {_items(singular)} (the cost is not "
                "convex in the free controls there): their gradient is zero. Check convergence, or add a "
                "control penalty to the cost.", HessianFallbackWarning, stacklevel=4,
            )
            keep = (~singular).to(gbar.dtype).view(-1, 1, 1)
            adj = adj._replace(dx=adj.dx * keep, du=adj.du * keep, dlam=adj.dlam * keep,
                               grad_x_init=adj.grad_x_init * keep[:, 0])
    grads: tuple[Tensor | None, ...] = ()
    if params:
        with torch.enable_grad():
            psi = _psi(problem, x, u, lam, adj.dx, adj.du, adj.dlam,
                       fixed_jacobian=method is GradMethod.DIFFMPC_FIXED_JACOBIAN)
            grads = torch.autograd.grad(psi, params, allow_unused=True)
    return ImplicitGradient(adj.grad_x_init, grads, fallback, singular)
