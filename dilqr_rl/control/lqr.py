"""Riccati sweeps over a horizon, batched: the iLQR step (box-constrained) and the adjoint LQR.

Shapes: B batch, T horizon, n state, m control, N = n + m. F_t = [A_t B_t] (B, n, N) is the dynamics
Jacobian, C_t (B, N, N) and c_t (B, N) the quadratic and linear cost terms. The LQR in deviations is

    min sum_t 1/2 dtau_t^T C_t dtau_t + c_t^T dtau_t   s.t.  dx_1 = 0,  dx_{t+1} = F_t dtau_t,

solved backwards with Q_t = C_t + F_t^T V_{t+1} F_t, q_t = c_t + F_t^T v_{t+1} (V_{T+1} = 0) and the
policy du_t = K_t dx_t + k_t (DiffMPC, Appendix A; Tassa et al. 2014 for the box constraints).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from dilqr_rl.control.boxqp import box_qp, masked_matrix


class StepGains(NamedTuple):
    """Feedback gains of one iLQR step.

    K (B, T, m, n), k (B, T, m); expected (B, 2): the model's predicted cost change is
    ``alpha * expected[:, 0] + alpha**2 * expected[:, 1]``; ok (B,) False where a Q_uu block was not
    positive definite (raise the regularization and retry).
    """

    K: Tensor
    k: Tensor
    expected: Tensor
    ok: Tensor


class AdjointSolution(NamedTuple):
    """Solution of the adjoint LQR.

    dx (B, T, n), du (B, T, m); dlam (B, T, n): multiplier of dx_{t+1} = F_t dtau_t (zero at t = T);
    grad_x_init (B, n): d loss / d x_init; ok (B,) False where the reduced Hessian was not positive
    definite.
    """

    dx: Tensor
    du: Tensor
    dlam: Tensor
    grad_x_init: Tensor
    ok: Tensor


def _stage(F: Tensor, C: Tensor, c: Tensor, V: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Q (B, N, N) and q (B, N) of one stage."""
    Ft = F.transpose(-1, -2)
    return C + Ft @ V @ F, c + (Ft @ v.unsqueeze(-1)).squeeze(-1)


def _value(Q: Tensor, q: Tensor, K: Tensor, k: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Value function V (B, n, n), v (B, n) of the closed loop du = K dx + k (any K, k)."""
    Qxx, Qxu, Qux, Quu = Q[:, :n, :n], Q[:, :n, n:], Q[:, n:, :n], Q[:, n:, n:]
    qx, qu = q[:, :n], q[:, n:]
    Kt = K.transpose(-1, -2)
    V = Qxx + Kt @ Quu @ K + Kt @ Qux + Qxu @ K
    v = qx + ((Kt @ Quu + Qxu) @ k.unsqueeze(-1)).squeeze(-1) + (Kt @ qu.unsqueeze(-1)).squeeze(-1)
    return 0.5 * (V + V.transpose(-1, -2)), v


def _free_gain(Quu: Tensor, Qux: Tensor, free: Tensor) -> tuple[Tensor, Tensor]:
    """-Q_uu^{-1} Q_ux on the free rows, zero on the clamped ones (B, m, n); and ok (B,)."""
    if Quu.shape[-1] == 1:
        ok = (Quu[:, 0, 0] > 0) | ~free[:, 0]
        safe = torch.where(free.unsqueeze(-1) & ok.view(-1, 1, 1), Quu, torch.ones_like(Quu))
        return torch.where(free.unsqueeze(-1), -Qux / safe, 0.0), ok
    L, info = torch.linalg.cholesky_ex(masked_matrix(Quu, free))
    K = -torch.cholesky_solve(torch.where(free.unsqueeze(-1), Qux, 0.0), L)
    return K, info == 0


def ilqr_gains(
    F: Tensor, c: Tensor, C: Tensor, u: Tensor, lo: Tensor, hi: Tensor, reg: Tensor, k_warm: Tensor,
    boxqp_iters: int = 30,
) -> StepGains:
    """Backward sweep of box-constrained iLQR (Tassa et al. 2014, Alg. 2 with the box QP of Alg. 3).

    Shapes: F (B, T, n, N), c (B, T, N), C (B, T, N, N), u, lo, hi, k_warm (B, T, m), reg (B,).
    Each stage solves the box QP on Q_uu + reg I for k_t within [lo - u_t, hi - u_t]; rows of K_t for
    clamped controls are zero.
    """
    Bsz, T, n, N = F.shape
    m = N - n
    V, v = F.new_zeros(Bsz, n, n), F.new_zeros(Bsz, n)
    eye = torch.eye(m, dtype=F.dtype, device=F.device)
    ok = torch.ones(Bsz, dtype=torch.bool, device=F.device)
    expected = F.new_zeros(Bsz, 2)
    Ks, ks = [], []
    for t in reversed(range(T)):
        Q, q = _stage(F[:, t], C[:, t], c[:, t], V, v)
        Quu = Q[:, n:, n:] + reg.view(-1, 1, 1) * eye  # (B, m, m)
        qp = box_qp(Quu, q[:, n:], lo[:, t] - u[:, t], hi[:, t] - u[:, t], k_warm[:, t], boxqp_iters)
        K, ok_K = _free_gain(Quu, Q[:, n:, :n], qp.free)
        ok_t = (qp.ok & ok_K).unsqueeze(-1)
        k = torch.where(ok_t, qp.z, 0.0)
        K = torch.where(ok_t.unsqueeze(-1), K, 0.0)
        ok = ok & ok_t.squeeze(-1)
        V, v = _value(Q, q, K, k, n)
        expected = expected + torch.stack(
            [(k * q[:, n:]).sum(-1), 0.5 * (k.unsqueeze(-2) @ Q[:, n:, n:] @ k.unsqueeze(-1)).view(-1)], -1
        )
        Ks.append(K)
        ks.append(k)
    return StepGains(torch.stack(Ks[::-1], 1), torch.stack(ks[::-1], 1), expected, ok)


def adjoint_lqr(H: Tensor, gbar: Tensor, F: Tensor, free: Tensor) -> AdjointSolution:
    """Solve the equality-constrained LQR of the implicit gradient (DESIGN.md section 3, step 2).

        min sum_t 1/2 dtau_t^T H_t dtau_t + gbar_t^T dtau_t
        s.t. dx_1 = 0, dx_{t+1} = F_t dtau_t, du_{t,i} = 0 where not free[t, i]

    Shapes: H (B, T, N, N), gbar (B, T, N), F (B, T, n, N), free (B, T, m) bool -> AdjointSolution.
    The costate recursion dlam_{t-1} = gbar_x,t + H_xt dtau_t + A_t^T dlam_t gives the multipliers, and
    d loss / d x_init is the negated multiplier of dx_1 = 0.
    """
    Bsz, T, n, _ = F.shape
    V, v = F.new_zeros(Bsz, n, n), F.new_zeros(Bsz, n)
    ok = torch.ones(Bsz, dtype=torch.bool, device=F.device)
    Ks, ks = [], []
    for t in reversed(range(T)):
        Q, q = _stage(F[:, t], H[:, t], gbar[:, t], V, v)
        gains, ok_t = _free_gain(Q[:, n:, n:], torch.cat([Q[:, n:, :n], q[:, n:].unsqueeze(-1)], -1), free[:, t])
        gains = torch.where(ok_t.view(-1, 1, 1), gains, 0.0)  # (B, m, n + 1) = [K_t | k_t]
        ok = ok & ok_t
        # At the stage minimizer the value is V = Q_xx + Q_xu K, v = q_x + Q_xu k.
        Vv = torch.cat([Q[:, :n, :n], q[:, :n].unsqueeze(-1)], -1) + Q[:, :n, n:] @ gains
        V, v = 0.5 * (Vv[..., :n] + Vv[..., :n].transpose(-1, -2)), Vv[..., n]
        Ks.append(gains[..., :n])
        ks.append(gains[..., n])
    Ks, ks = Ks[::-1], ks[::-1]
    dx = [F.new_zeros(Bsz, n)]
    du = []
    for t in range(T):
        du.append((Ks[t] @ dx[t].unsqueeze(-1)).squeeze(-1) + ks[t])
        if t < T - 1:
            dx.append((F[:, t] @ torch.cat([dx[t], du[t]], -1).unsqueeze(-1)).squeeze(-1))
    dx, du = torch.stack(dx, 1), torch.stack(du, 1)
    dtau = torch.cat([dx, du], -1)
    # Stationarity in x_t: gbar_x + H_x dtau + A_t^T dlam_t - dlam_{t-1} = 0, dlam_T = 0.
    stationarity = gbar[..., :n] + (H[..., :n, :] @ dtau.unsqueeze(-1)).squeeze(-1)  # (B, T, n)
    A = F[..., :n]
    dlam = [F.new_zeros(Bsz, n)]
    for t in reversed(range(1, T)):
        dlam.append(stationarity[:, t] + (A[:, t].transpose(-1, -2) @ dlam[-1].unsqueeze(-1)).squeeze(-1))
    dlam = torch.stack(dlam[::-1], 1)  # dlam[:, t] pairs with f(tau_t)
    grad_x_init = stationarity[:, 0] + (A[:, 0].transpose(-1, -2) @ dlam[:, 0].unsqueeze(-1)).squeeze(-1)
    return AdjointSolution(dx, du, dlam, grad_x_init, ok)
