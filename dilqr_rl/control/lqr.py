"""Riccati sweeps over a horizon, batched: the iLQR step (box-constrained) and the adjoint LQR.

Shapes: B batch, T horizon, n state, m control, N = n + m. F_t = [A_t B_t] (B, n, N) is the dynamics
Jacobian, C_t (B, N, N) and c_t (B, N) the quadratic and linear cost terms. The LQR in deviations is

    min sum_t 1/2 dtau_t^T C_t dtau_t + c_t^T dtau_t   s.t.  dx_1 = 0,  dx_{t+1} = F_t dtau_t,

solved backwards with the policy du_t = K_t dx_t + k_t (DiffMPC, Appendix A; Tassa et al. 2014 for the
box constraints). Quadratic forms are kept augmented with a constant 1 so that one product does the
work of two: the stage form M_t = [[C_t, c_t], [c_t^T, 0]] on [dtau; 1], the value form
P_t = [[V_t, v_t], [v_t^T, .]] on [dx; 1], and

    [[Q_t, q_t], [q_t^T, .]] = M_t + Fa_t^T P_{t+1} Fa_t,   Fa_t = [[F_t, 0], [0, 1]]   (n+1, N+1)
    P_t = L_t^T [[Q_t, q_t], [q_t^T, .]] L_t,                L_t = [[I, 0], [K_t, k_t], [0, 1]]   (N+1, n+1)
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from dilqr_rl.control import kernels
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


def _augment(C: Tensor, c: Tensor, F: Tensor) -> tuple[Tensor, Tensor]:
    """Stage forms M (B, T, N+1, N+1) and augmented dynamics Fa (B, T, n+1, N+1)."""
    M = torch.cat([torch.cat([C, c.unsqueeze(-1)], -1), torch.cat([c, torch.zeros_like(c[..., :1])], -1).unsqueeze(-2)],
                  -2)
    last = torch.zeros_like(F[..., :1, :])  # (B, T, 1, N)
    Fa = torch.cat([torch.cat([F, torch.zeros_like(F[..., :1])], -1),
                    torch.cat([last, torch.ones_like(last[..., :1])], -1)], -2)
    return M, Fa


def _identity_rows(like: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """The fixed rows [I, 0] (B, n, n+1) and [0, 1] (B, 1, n+1) of the closed-loop map L."""
    eye = torch.eye(n + 1, dtype=like.dtype, device=like.device).expand(like.shape[0], n + 1, n + 1)
    return eye[:, :n], eye[:, n:]


def _closed_loop(Kk: Tensor, rows: tuple[Tensor, Tensor]) -> Tensor:
    """L = [[I, 0], [K, k], [0, 1]] (B, N+1, n+1) from Kk = [K | k] (B, m, n+1)."""
    return torch.cat([rows[0], Kk, rows[1]], -2)


def _free_gain(Quu: Tensor, rhs: Tensor, free: Tensor) -> tuple[Tensor, Tensor]:
    """-Q_uu^{-1} rhs on the free rows, zero on the clamped ones (B, m, r); and ok (B,)."""
    if Quu.shape[-1] == 1:
        ok = (Quu[:, 0, 0] > 0) | ~free[:, 0]
        safe = torch.where(free.unsqueeze(-1) & ok.view(-1, 1, 1), Quu, torch.ones_like(Quu))
        return torch.where(free.unsqueeze(-1), -rhs / safe, 0.0), ok
    L, info = torch.linalg.cholesky_ex(masked_matrix(Quu, free))
    return -torch.cholesky_solve(torch.where(free.unsqueeze(-1), rhs, 0.0), L), info == 0


def _scalar_gains(Q_u: Tensor, neg_reg: Tensor, lower: Tensor, upper: Tensor, n: int) -> Tensor:
    """m = 1 in closed form: the box QP of one variable is the clamp of its minimizer.

    Q_u (B, 1, N+1) = [Q_ux | Q_uu | q_u], neg_reg (B, 1, 1) = -mu, lower/upper (B, 1, 1) ->
    [K_t | k_t] (B, 1, n+1). Where Q_uu + mu <= 0 the gains are meaningless; the caller flags the item.
    """
    denominator = Q_u[..., n:n + 1] - neg_reg  # Q_uu + mu (B, 1, 1)
    # A safe denominator where the stage fails: the caller zeroes those gains, and in unroll mode a division
    # by 0 there would still send NaN through the masked branch's gradient.
    g = -Q_u / torch.where(denominator > 0, denominator, torch.ones_like(denominator))  # [K | . | k]
    k_free = g[..., n + 1:]
    free = (k_free > lower) & (k_free < upper)
    return torch.cat([g[..., :n] * free, k_free.clamp(lower, upper)], -1)


def _box_gains(Q_u: Tensor, reg_eye: Tensor, lower: Tensor, upper: Tensor, k_warm: Tensor,
               iters: int) -> tuple[Tensor, Tensor]:
    """m > 1: the box QP on Q_uu + mu I for k_t, and K_t on its free rows: ([K_t | k_t] (B, m, n+1), ok (B,))."""
    n = Q_u.shape[-1] - Q_u.shape[-2] - 1
    Quu = Q_u[..., n:-1] + reg_eye
    qp = box_qp(Quu, Q_u[..., -1], lower, upper, k_warm, iters)
    K, ok_K = _free_gain(Quu, Q_u[..., :n], qp.free)
    return torch.cat([K, qp.z.unsqueeze(-1)], -1), qp.ok & qp.converged & ok_K


def _next_stage(M: Tensor, Fa: Tensor, Qa_next: Tensor, L_next: Tensor) -> Tensor:
    """[[Q_t, q_t], [q_t^T, .]] = M_t + Fa_t^T P_{t+1} Fa_t with P_{t+1} = L_{t+1}^T Qa_{t+1} L_{t+1}, as
    M_t + Phi^T Qa_{t+1} Phi with Phi = L_{t+1} Fa_t (B, N+1, N+1): three products instead of four."""
    Phi = torch.bmm(L_next, Fa)
    return torch.baddbmm(M, Phi.mT, torch.bmm(Qa_next, Phi))


def ilqr_gains(
    F: Tensor, c: Tensor, C: Tensor, u: Tensor, lo: Tensor, hi: Tensor, reg: Tensor, k_warm: Tensor,
    boxqp_iters: int = 30,
) -> StepGains:
    """Backward sweep of box-constrained iLQR (Tassa et al. 2014, Alg. 2 with the box QP of Alg. 3).

    Shapes: F (B, T, n, N), c (B, T, N), C (B, T, N, N), u, lo, hi, k_warm (B, T, m), reg (B,).
    Each stage solves the box QP on Q_uu + reg I for k_t within [lo - u_t, hi - u_t]; rows of K_t for
    clamped controls are zero. An item whose Q_uu + reg I is not positive definite at some stage, or whose
    box QP did not converge there, gets zero gains and ok False (the solver then raises its regularization).
    """
    Bsz, T, n, N = F.shape
    if N - n == 1:
        compiled = kernels.riccati_scalar(F, c, C, u, lo, hi, reg)  # the same sweep in C (graph-free, CPU)
        if compiled is not None:
            return StepGains(*compiled)
    M, Fa = _augment(C, c, F)
    M, Fa = M.unbind(1), Fa.unbind(1)
    rows = _identity_rows(F, n)
    Kks, Qus = [], []
    if N - n == 1:
        neg_reg = -reg.view(-1, 1, 1)
        lower, upper = (lo - u).unsqueeze(-1).unbind(1), (hi - u).unsqueeze(-1).unbind(1)  # T x (B, 1, 1)
        Qa, L = M[T - 1], None
        for t in reversed(range(T)):
            if L is not None:
                Qa = _next_stage(M[t], Fa[t], Qa, L)  # (B, N+1, N+1)
            Q_u = Qa[:, n:N]  # [Q_ux | Q_uu | q_u] (B, 1, N+1)
            Kk = _scalar_gains(Q_u, neg_reg, lower[t], upper[t], n)  # [K_t | k_t] (B, 1, n+1)
            L = _closed_loop(Kk, rows)
            Kks.append(Kk)
            Qus.append(Q_u)
        Q_u = torch.stack(Qus[::-1], 1)  # (B, T, 1, N+1)
        ok = (Q_u[..., 0, n] + reg.view(-1, 1) > 0).all(1)
    else:
        reg_eye = reg.view(-1, 1, 1) * torch.eye(N - n, dtype=F.dtype, device=F.device)
        lower, upper = (lo - u).unbind(1), (hi - u).unbind(1)  # bounds on the step du, T x (B, m)
        k_warm = k_warm.unbind(1)
        ok = torch.ones(Bsz, dtype=torch.bool, device=F.device)
        Qa, L = M[T - 1], None
        for t in reversed(range(T)):
            if L is not None:
                Qa = _next_stage(M[t], Fa[t], Qa, L)
            Q_u = Qa[:, n:N]  # [Q_ux | Q_uu | q_u] (B, m, N+1)
            Kk, ok_t = _box_gains(Q_u, reg_eye, lower[t], upper[t], k_warm[t], boxqp_iters)
            Kk = torch.where(ok_t.view(-1, 1, 1), Kk, 0.0)  # keep the sweep finite for failing items
            ok = ok & ok_t
            L = _closed_loop(Kk, rows)
            Kks.append(Kk)
            Qus.append(Q_u)
        Q_u = torch.stack(Qus[::-1], 1)  # (B, T, m, N+1)
    Kk = torch.where(ok.view(-1, 1, 1, 1), torch.stack(Kks[::-1], 1), 0.0)  # (B, T, m, n+1)
    k = Kk[..., n]
    linear = (k * Q_u[..., N]).sum((1, 2))
    quadratic = 0.5 * (k.unsqueeze(-2) @ Q_u[..., n:N] @ k.unsqueeze(-1)).sum((1, 2, 3))
    expected = torch.where(ok.view(-1, 1), torch.stack([linear, quadratic], -1), 0.0)
    return StepGains(Kk[..., :n], k, expected, ok)


def adjoint_lqr(H: Tensor, gbar: Tensor, F: Tensor, free: Tensor) -> AdjointSolution:
    """Solve the equality-constrained LQR of the implicit gradient (docs/implicit_gradient.md, section 4).

        min sum_t 1/2 dtau_t^T H_t dtau_t + gbar_t^T dtau_t
        s.t. dx_1 = 0, dx_{t+1} = F_t dtau_t, du_{t,i} = 0 where not free[t, i]

    Shapes: H (B, T, N, N), gbar (B, T, N), F (B, T, n, N), free (B, T, m) bool -> AdjointSolution.
    The costate recursion dlam_{t-1} = gbar_x,t + H_xt dtau_t + A_t^T dlam_t gives the multipliers, and
    d loss / d x_init is the negated multiplier of dx_1 = 0.
    """
    Bsz, T, n, N = F.shape
    if N - n == 1:
        compiled = kernels.adjoint_scalar(H, gbar, F, free)  # the same solve in C (graph-free, CPU)
        if compiled is not None:
            return AdjointSolution(*compiled)
    M, Fa = _augment(H, gbar, F)
    M, Fa_t = M.unbind(1), Fa.unbind(1)
    rows = _identity_rows(F, n)
    Ls, Quus = [], []
    Qa = M[T - 1]
    if N - n == 1:
        free_t = free.unsqueeze(-1).unbind(1)  # T x (B, 1, 1)
        for t in reversed(range(T)):
            if t < T - 1:
                Qa = _next_stage(M[t], Fa_t[t], Qa, Ls[-1])
            Q_u = Qa[:, n:N]  # [Q_ux | Q_uu | q_u] (B, 1, N+1)
            Quu = Q_u[..., n:n + 1]
            g = -Q_u / torch.where(Quu > 0, Quu, torch.ones_like(Quu))  # flagged below where Quu <= 0
            Kk = torch.where(free_t[t], torch.cat([g[..., :n], g[..., N:]], -1), 0.0)  # [K_t | k_t] on free rows
            Ls.append(_closed_loop(Kk, rows))  # [dx; du; 1] = L [dx; 1]
            Quus.append(Q_u[..., n])
        ok = ((torch.stack(Quus[::-1], 1) > 0) | ~free).all(1).all(1)
    else:
        ok = torch.ones(Bsz, dtype=torch.bool, device=F.device)
        for t in reversed(range(T)):
            if t < T - 1:
                Qa = _next_stage(M[t], Fa_t[t], Qa, Ls[-1])
            Q_u = Qa[:, n:N]
            gains, ok_t = _free_gain(Q_u[..., n:N], torch.cat([Q_u[..., :n], Q_u[..., N:]], -1), free[:, t])
            Kk = torch.where(ok_t.view(-1, 1, 1), gains, 0.0)  # [K_t | k_t] (B, m, n+1)
            ok = ok & ok_t
            Ls.append(_closed_loop(Kk, rows))
    L = torch.stack(Ls[::-1], 1)  # (B, T, N+1, n+1)
    u_rows = torch.zeros(N + 1, 1, dtype=torch.bool, device=F.device)
    u_rows[n:N] = True
    L = torch.where(u_rows & ~ok.view(-1, 1, 1, 1), 0.0, L)  # failing items: zero gains, finite solution
    # Forward: [dx_{t+1}; 1] = Fa_t L_t [dx_t; 1], one product per step; then dtau for all t at once.
    Phi = (Fa @ L).unbind(1)
    z = [torch.cat([F.new_zeros(Bsz, n, 1), F.new_ones(Bsz, 1, 1)], 1)]  # [dx_1; 1] = [0; 1]
    for t in range(T - 1):
        z.append(torch.bmm(Phi[t], z[-1]))
    dtau = (L @ torch.stack(z, 1)).squeeze(-1)[..., :N]  # (B, T, N)
    # Stationarity in x_t: gbar_x + H_x dtau + A_t^T dlam_t - dlam_{t-1} = 0, dlam_T = 0.
    stationarity = (gbar[..., :n] + (H[..., :n, :] @ dtau.unsqueeze(-1)).squeeze(-1)).unsqueeze(-1).unbind(1)
    At = F[..., :n].mT.unbind(1)
    dlam = [F.new_zeros(Bsz, n, 1)]
    for t in reversed(range(1, T)):
        dlam.append(torch.baddbmm(stationarity[t], At[t], dlam[-1]))
    dlam.reverse()  # dlam[t] pairs with f(tau_t)
    grad_x_init = torch.baddbmm(stationarity[0], At[0], dlam[0]).squeeze(-1)
    return AdjointSolution(dtau[..., :n], dtau[..., n:], torch.stack(dlam, 1).squeeze(-1), grad_x_init, ok)
