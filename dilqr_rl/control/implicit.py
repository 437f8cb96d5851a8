"""The backward pass of the implicit and DiffMPC modes (derived in docs/implicit_gradient.md).

At an iLQR fixed point tau* the KKT residual of the original problem vanishes, so by the implicit
function theorem a vector-Jacobian product needs one adjoint LQR solve:

1. H_t = hess g_t(tau*_t) + hess [lam_t . f(tau*_t)]   (``diffmpc``: the cost Hessian only);
2. adjoint LQR with H, linear term gbar = d loss / d tau*, dx_1 = 0, active controls fixed;
3. d loss / d theta = d/d theta of
       Psi = sum_t dtau_t . grad g_t(tau*_t) + lam_t . (F_t dtau_t) + dlam_t . f(tau*_t)
   with tau*, lam, dtau, dlam fixed: the directional terms by one reverse pass with a graph (or the
   models' closed forms), then one reverse pass to theta;
4. d loss / d x_init from the adjoint's multiplier on dx_1 = 0.

O(T) time and memory, independent of the number of forward iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import torch
from torch import Tensor

from dilqr_rl.control import kernels
from dilqr_rl.control.config import GradMethod
from dilqr_rl.control.derivatives import Args, cost_closed_form, is_row_wise, row_jacobian, stage_cost
from dilqr_rl.control.errors import HessianFallbackWarning, warn
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


Psi = Callable[[Tensor, Tensor, Tensor], Tensor]
"""(dx, du, dlam) -> Psi(theta), differentiable in the models' parameters."""


def _closed_cost_term(problem: Problem, xr: Tensor, ur: Tensor, t: Tensor, dtau: Tensor, args: Args) -> Tensor:
    """grad g . dtau summed over the rows, from the cost's closed-form gradient."""
    c, _ = cost_closed_form(problem.cost, xr, ur, t, args)
    return (c * dtau).sum()


def _hessian_and_psi(problem: Problem, x: Tensor, u: Tensor, C: Tensor, lam: Tensor) -> tuple[Tensor, Psi]:
    """The implicit adjoint's Hessian H (B, T, N, N) and Psi, from one graph where the dynamics need autograd.

    The graph of G = d/dtau [lam . f (+ g without closed form)] gives hess[lam . f] (+ C) as its row
    Jacobian and, kept alive, Psi = G . dtau + dlam . f (+ grad g . dtau in closed form), differentiated
    in theta after the adjoint solve: the dynamics' forward and first reverse pass serve both.
    """
    dyn, cost = problem.dynamics, problem.cost
    Bsz, T, n = x.shape
    N = n + u.shape[-1]
    if not problem.dynamics_args:  # a C form gives the curvature; Psi then needs first derivatives only
        curvature = kernels.lagrangian_hessian(dyn, x.reshape(-1, n), u.reshape(Bsz * T, -1), lam.reshape(-1, n))
        if curvature is not None:
            return C + curvature.view(Bsz, T, N, N), partial(_psi, problem, x, u, lam)
    cost_closed = getattr(cost, "derivatives", None) is not None
    autograd_dynamics = getattr(dyn, "lagrangian_hessian", None) is None and is_row_wise(dyn)
    if not (autograd_dynamics and (cost_closed or is_row_wise(cost))):
        return lagrangian_hessian(problem, x, u, C, lam), partial(_psi, problem, x, u, lam)
    t = problem.step_indices(Bsz, x.device)
    with torch.enable_grad():  # the rows keep the data's graph: Psi is differentiated in it
        dyn_args, cost_args = problem.rows(problem.dynamics_args), problem.rows(problem.cost_args)
    dkeys, ckeys, nd = tuple(dyn_args), tuple(cost_args), len(dyn_args)

    def gradient_and_f(tau: Tensor, lam_r: Tensor, t_r: Tensor, *args: Tensor) -> Tensor:  # (R', N + n)
        f = dyn(tau[:, :n], tau[:, n:], **dict(zip(dkeys, args[:nd])))
        lagrangian = (lam_r * f).sum()
        if not cost_closed:
            lagrangian = lagrangian + stage_cost(cost, tau[:, :n], tau[:, n:], t_r, dict(zip(ckeys, args[nd:]))).sum()
        (G,) = torch.autograd.grad(lagrangian, tau, create_graph=True, materialize_grads=True)
        return torch.cat([G, f], -1)

    tau = torch.cat([x, u], -1).reshape(Bsz * T, N)
    aux = (lam.reshape(-1, n), t, *dyn_args.values(), *cost_args.values())
    value, J = row_jacobian(gradient_and_f, tau, aux, N, keep_graph=True)
    H = J.reshape(Bsz, T, N, N) + C if cost_closed else J.reshape(Bsz, T, N, N)

    def psi(dx: Tensor, du: Tensor, dlam: Tensor) -> Tensor:
        dtau = torch.cat([dx, du], -1).reshape(-1, N)
        out = (value[:, :N] * dtau).sum() + (dlam.reshape(-1, n) * value[:, N:]).sum()
        if cost_closed:
            out = out + _closed_cost_term(problem, tau[:, :n], tau[:, n:], t, dtau, cost_args)
        return out

    return H, psi


def _psi(problem: Problem, x: Tensor, u: Tensor, lam: Tensor, dx: Tensor, du: Tensor, dlam: Tensor,
         fixed_jacobian: bool = False) -> Tensor:
    """Psi(theta) of step 3, differentiable in the models' parameters only (scalar).

    The directional terms grad g . dtau and lam . (F dtau) come from the models' closed forms when they
    have them; otherwise both are d/dtau [g + lam . f] . dtau, one reverse pass with a graph (exact for
    any module, row-wise or not), which the caller's reverse pass differentiates again in theta.
    ``fixed_jacobian`` drops the parameters' path through F (mpc.pytorch's autograd-Jacobian gradient):
    the term lam . (F dtau) is then a constant and is left out.
    """
    Bsz, _, n = x.shape
    t = problem.step_indices(Bsz, x.device)
    tau = torch.cat([x, u], -1).reshape(Bsz * x.shape[1], -1).requires_grad_(True)
    dtau = torch.cat([dx, du], -1).reshape(tau.shape)
    lam, dlam = lam.reshape(-1, n), dlam.reshape(-1, n)
    xr, ur = tau[:, :n], tau[:, n:]
    dyn_args, cost_args = problem.rows(problem.dynamics_args), problem.rows(problem.cost_args)
    f = problem.dynamics(xr, ur, **dyn_args)
    psi = (dlam * f).sum()
    through_tau = []  # scalars whose gradient in tau is dotted with dtau
    if getattr(problem.cost, "derivatives", None) is not None:
        psi = psi + _closed_cost_term(problem, xr, ur, t, dtau, cost_args)
    else:
        through_tau.append(stage_cost(problem.cost, xr, ur, t, cost_args).sum())
    dyn_closed = getattr(problem.dynamics, "jacobians", None)
    if not fixed_jacobian and dyn_closed is not None:
        A, B = dyn_closed(xr, ur, **dyn_args)
        psi = psi + (lam.unsqueeze(-2) @ (A @ dx.reshape(-1, n, 1) + B @ du.reshape(-1, B.shape[-1], 1))).sum()
    elif not fixed_jacobian:
        through_tau.append((lam * f).sum())
    if through_tau:
        (grad,) = torch.autograd.grad(sum(through_tau), tau, create_graph=True, materialize_grads=True)
        psi = psi + (grad * dtau).sum()
    return psi


def _resolve_items(adj, items: Tensor, H: Tensor, gbar: Tensor, F: Tensor, free: Tensor):
    """Re-solve the adjoint for the masked items only (with Hessian ``H``) and put their solution back."""
    idx = items.nonzero().flatten()
    sub = adjoint_lqr(H[idx], gbar[idx], F[idx], free[idx])
    return type(adj)(*(full.index_copy(0, idx, part) for full, part in zip(adj, sub)))


def _warn_fallback() -> None:
    warn(
        "the reduced Lagrangian Hessian is not positive definite for some batch items (flagged in "
        "solution.backward.hessian_fallback): their gradient uses the cost Hessian (DiffMPC's "
        "approximation). The solution may be a saddle point or not converged.",
        HessianFallbackWarning,
    )


def _warn_singular() -> None:
    warn(
        "no positive definite adjoint Hessian for some batch items (flagged in "
        "solution.backward.zero_gradient; the cost is not convex in the free controls there): their "
        "gradient is zero. Check convergence, or add a control penalty to the cost.",
        HessianFallbackWarning,
    )


def _like(gradient: Tensor, parameter: Tensor) -> Tensor:
    """``gradient`` in the dtype and shape of ``parameter``."""
    if gradient.dtype is not parameter.dtype:
        gradient = gradient.to(parameter.dtype)
    return gradient if gradient.shape == parameter.shape else gradient.reshape(parameter.shape)


def _compiled_backward(problem: Problem, x: Tensor, u: Tensor, F: Tensor, C: Tensor, lam: Tensor, active: Tensor,
                       grad_x: Tensor, grad_u: Tensor, params: tuple[Tensor, ...], method: GradMethod,
                       weight: Tensor) -> ImplicitGradient | None:
    """:func:`implicit_backward` in one C call (``kernels.implicit_backward``) where the models have C forms (the
    cost's may take the problem's per-item data: a table of its parameters row by row, whose gradient reaches the
    data and the module's tensors by autograd), the problem has no per-item dynamics data and every tensor in
    ``params`` gets its gradient from the forms or the table (or is a parameter of the cost that the table does not
    depend on: the data replace it, and it gets none); else None (a tensor neither reaches, e.g. one the dynamics
    close over: the PyTorch backward differentiates it)."""
    if problem.dynamics_args or method not in (GradMethod.IMPLICIT, GradMethod.DIFFMPC):
        return None
    with torch.enable_grad():  # a table of the cost's parameters keeps the graph of the data it is made from
        out = kernels.implicit_backward(problem.dynamics, problem.cost, x, u, F, C, lam, active, grad_x, grad_u,
                                        weight, method is GradMethod.IMPLICIT, bool(params), problem.cost_args)
    if out is None:
        return None
    pairs = list(out.leaves)
    if out.table is not None and out.table.requires_grad:
        grads = torch.autograd.grad(out.table, params, out.table_gradient, allow_unused=True,
                                    retain_graph=True)  # the rows' history may be the caller's graph too
        pairs += [(p, g) for p, g in zip(params, grads) if g is not None]
    by_leaf: dict[int, Tensor] = {}
    for leaf, gradient in pairs:
        by_leaf[id(leaf)] = by_leaf[id(leaf)] + gradient if id(leaf) in by_leaf else gradient
    # A cost parameter the rows do not depend on (the data replace it) does not change the solution: no gradient.
    unused = {id(p) for p in problem.cost.parameters()} if out.table is not None else set()
    if any(id(p) not in by_leaf and id(p) not in unused for p in params):
        return None
    if out.flagged and bool(out.fallback.any()):
        _warn_fallback()
    if out.flagged and bool(out.singular.any()):
        _warn_singular()
    grads = tuple(_like(by_leaf[id(p)], p) if id(p) in by_leaf else None for p in params)
    return ImplicitGradient(out.grad_x_init, grads, out.fallback, out.singular)


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
    compiled = _compiled_backward(problem, x, u, F, C, lam, active, grad_x, grad_u, params, method, weight)
    if compiled is not None:
        return compiled
    with torch.no_grad():
        w = weight.view(-1, 1, 1)
        gbar = torch.cat([grad_x * w, grad_u * w], -1)
        free = ~active
        ignored = weight == 0
        if method is GradMethod.IMPLICIT:
            H, psi = _hessian_and_psi(problem, x, u, C, lam)
        else:
            H = C
            psi = partial(_psi, problem, x, u, lam, fixed_jacobian=method is GradMethod.DIFFMPC_FIXED_JACOBIAN)
        adj = adjoint_lqr(H, gbar, F, free)
        fallback = ~adj.ok & ~ignored & (method is GradMethod.IMPLICIT)  # the other modes use no Lagrangian Hessian
        if bool(fallback.any()):
            _warn_fallback()
            adj = _resolve_items(adj, fallback, C, gbar, F, free)
        singular = ~adj.ok & ~ignored
        if bool(singular.any()):
            _warn_singular()
            keep = (~singular).to(gbar.dtype).view(-1, 1, 1)
            adj = adj._replace(dx=adj.dx * keep, du=adj.du * keep, dlam=adj.dlam * keep,
                               grad_x_init=adj.grad_x_init * keep[:, 0])
    grads: tuple[Tensor | None, ...] = ()
    if params:
        with torch.enable_grad():
            value = psi(adj.dx, adj.du, adj.dlam)
            if value.requires_grad:  # retain: Psi's history may be the caller's graph too (a buffer made by a net)
                grads = torch.autograd.grad(value, params, allow_unused=True, retain_graph=True)
            else:  # no parameter reaches Psi
                grads = (None,) * len(params)
    return ImplicitGradient(adj.grad_x_init, grads, fallback, singular)
