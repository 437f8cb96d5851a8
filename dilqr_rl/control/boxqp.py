"""Batched box-constrained QP by projected Newton (Tassa, Mansard, Todorov 2014, Alg. 3).

    min_z 1/2 z^T Q z + q^T z   s.t.  lo <= z <= hi

Used once per stage of the iLQR backward sweep on Q_uu. With m = 1 the solution is the clamp of the
unconstrained minimizer, computed in closed form.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

_ARMIJO = 0.1
_STEPS = 0.5 ** torch.arange(12, dtype=torch.float64)  # projected line-search step sizes


class BoxQPResult(NamedTuple):
    """z (B, m) the minimizer; free (B, m) bool, the controls not clamped at a bound by the objective;
    ok (B,) bool, False where the free block of Q is not positive definite; converged (B,) bool, False where
    the Newton step left at z is not negligible (sqrt(eps) relative) because the iteration budget ran out or
    no projected step decreased the objective enough (z is then the last iterate, not the minimizer)."""

    z: Tensor
    free: Tensor
    ok: Tensor
    converged: Tensor


def masked_matrix(Q: Tensor, free: Tensor) -> Tensor:
    """Q restricted to the free set, identity on clamped rows/columns (B, m, m)."""
    both = free.unsqueeze(-1) & free.unsqueeze(-2)
    eye = torch.eye(Q.shape[-1], dtype=Q.dtype, device=Q.device).expand_as(Q)
    return torch.where(both, Q, eye)


def _objective(Q: Tensor, q: Tensor, z: Tensor) -> Tensor:
    return 0.5 * (z.unsqueeze(-2) @ Q @ z.unsqueeze(-1)).squeeze(-1).squeeze(-1) + (q * z).sum(-1)


def _clamped(z: Tensor, grad: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    return ((z <= lo) & (grad > 0)) | ((z >= hi) & (grad < 0))


def box_qp(Q: Tensor, q: Tensor, lo: Tensor, hi: Tensor, z0: Tensor, iters: int = 30) -> BoxQPResult:
    """Solve the box QP for each batch item.

    Shapes: Q (B, m, m), q (B, m), lo, hi, z0 (B, m) -> BoxQPResult.
    ``z0`` warm-starts the search (it is clamped into the box first).
    """
    if Q.shape[-1] == 1:
        return _box_qp_scalar(Q[..., 0, 0], q[..., 0], lo[..., 0], hi[..., 0])
    z = torch.minimum(torch.maximum(z0, lo), hi)
    ok = torch.ones(Q.shape[:-2], dtype=torch.bool, device=Q.device)
    stuck = torch.zeros_like(ok)
    steps = _STEPS.to(Q)
    tiny = torch.finfo(Q.dtype).eps
    for _ in range(iters + 1):  # the last pass only tests the final iterate
        grad = q + (Q @ z.unsqueeze(-1)).squeeze(-1)
        free = ~_clamped(z, grad, lo, hi)
        L, info = torch.linalg.cholesky_ex(masked_matrix(Q, free))
        ok = ok & (info == 0)
        target = -torch.cholesky_solve(torch.where(free, grad, 0.0).unsqueeze(-1), L).squeeze(-1)
        direction = torch.where(free & ok.unsqueeze(-1), target, 0.0)
        size, scale = direction.abs().amax(-1), 1 + z.abs().amax(-1)
        converged = ok & (size <= tiny**0.5 * scale)  # the Newton step left is negligible
        done = (ok & (size <= tiny * scale)) | stuck | ~ok  # iterate to the rounding floor, or until stuck
        if bool(done.all()) or _ == iters:
            break
        # Projected Armijo line search, all step sizes at once: (S, B, m).
        trial = torch.minimum(torch.maximum(z + steps.view(-1, *[1] * z.ndim) * direction, lo), hi)
        f0 = _objective(Q, q, z)
        decrease = f0 - _objective(Q, q, trial)  # (S, B)
        sufficient = decrease >= _ARMIJO * -(grad * (trial - z)).sum(-1)
        stuck = stuck | (~done & ~sufficient.any(0))  # no step size decreases enough: stop, unconverged
        chosen = trial.gather(0, sufficient.float().argmax(0).view(1, -1, 1).expand(1, *z.shape)).squeeze(0)
        z = torch.where((done | stuck).unsqueeze(-1), z, chosen)
    grad = q + (Q @ z.unsqueeze(-1)).squeeze(-1)
    return BoxQPResult(z, ~_clamped(z, grad, lo, hi), ok, converged)


def _box_qp_scalar(Q: Tensor, q: Tensor, lo: Tensor, hi: Tensor) -> BoxQPResult:
    ok = Q > 0
    unconstrained = -q / torch.where(ok, Q, torch.ones_like(Q))
    z = torch.minimum(torch.maximum(unconstrained, lo), hi)
    free = (unconstrained > lo) & (unconstrained < hi)
    return BoxQPResult(z.unsqueeze(-1), free.unsqueeze(-1), ok, ok)
