"""The forward solve: batched box-constrained iLQR (control-limited DDP, Tassa et al. 2014).

Per iteration: linearize the dynamics and quadratize the cost along the current trajectory, sweep the
Riccati recursion backwards with a box QP per stage, then roll the TRUE dynamics forward with
u = clamp(u_i + alpha k + K (x - x_i)) for all line-search step sizes at once and keep, per item, the
largest alpha with sufficient decrease. Levenberg-Marquardt regularization grows when a step fails and
shrinks when it succeeds. An item converges when its last control change and its KKT residual (the
projected reduced gradient) are within tolerance; converged items freeze.

The same code runs without a graph (implicit/diffmpc modes: memory flat in the iterations) or with one
(unroll mode: autograd through every iteration; step-size choices are made without gradient).
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import NamedTuple

import torch
from torch import Tensor

from dilqr_rl.control import kernels
from dilqr_rl.control.lqr import StepGains, ilqr_gains
from dilqr_rl.control.problem import Problem, check_finite, costate, raise_non_finite, reduced_gradient

_ARMIJO = 1e-4
_NOISE_EPS = 10.0  # cost changes within this many epsilons of |J| (times sqrt(T)) are rounding noise
_TOL_FLOOR_EPS = 50.0  # tolerances below this many machine epsilons cannot be met
_NEWTON_RETRY = 1e-2  # after a failed exact-Hessian sweep, retry once the KKT residual is this much smaller
_NON_FINITE = (  # what check_finite names and hints at: the initial rollout, its cost, the model derivatives
    ("the initial rollout x", "The dynamics diverge from x_init under u_init: check the model parameters, x_init "
     "and the warm start."),
    ("the cost of the initial trajectory", "Check the cost module's parameters."),
    ("the model derivatives (F, c, C)", "A dynamics or cost derivative overflowed along the trajectory."),
)


class SolverResult(NamedTuple):
    """Output of :func:`solve`.

    x (B, T, n), u (B, T, m), cost (B,); converged (B,) bool, iterations (B,) long, kkt (B,),
    active (B, T, m) bool; F (B, T, n, N), C (B, T, N, N), lam (B, T, n): the derivatives and costate at
    the returned trajectory, reused by the implicit backward pass.
    """

    x: Tensor
    u: Tensor
    cost: Tensor
    converged: Tensor
    iterations: Tensor
    kkt: Tensor
    active: Tensor
    F: Tensor
    C: Tensor
    lam: Tensor


def step_sizes(count: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The line search's step sizes (count,): 1 down to 1e-3, log-spaced (1 alone for one step). Cached (a solve at
    small batches would spend a measurable part of its time making them), but under inference mode (whose tensors
    could not be saved for a later backward): never write to the result."""
    if torch.is_inference_mode_enabled():
        return _step_sizes.__wrapped__(count, dtype, device)
    return _step_sizes(count, dtype, device)


@lru_cache(maxsize=32)
def _step_sizes(count: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    if count == 1:
        return torch.ones(1, dtype=dtype, device=device)
    return torch.logspace(0, -3, count, dtype=dtype, device=device)


def effective_tol(tol: float, dtype: torch.dtype) -> float:
    """The tolerance actually used: ``tol`` raised to the dtype's resolution (0 stays 0)."""
    return 0.0 if tol == 0 else max(tol, _TOL_FLOOR_EPS * torch.finfo(dtype).eps)


def projected_gradient(grad_u: Tensor, u: Tensor, lo: Tensor, hi: Tensor, atol: float) -> Tensor:
    """The reduced gradient with components that push a control further into its bound zeroed."""
    at_lo = u <= lo + atol * (1 + lo.abs())
    at_hi = u >= hi - atol * (1 + hi.abs())
    blocked = (at_lo & (grad_u > 0)) | (at_hi & (grad_u < 0))
    return torch.where(blocked, 0.0, grad_u)


def active_set(grad_u: Tensor, u: Tensor, lo: Tensor, hi: Tensor, atol: float, mtol: Tensor) -> Tensor:
    """Controls on a bound whose multiplier has the right sign (within ``mtol`` (B,))."""
    mtol = mtol.view(-1, 1, 1)
    at_lo = (u <= lo + atol * (1 + lo.abs())) & (grad_u > -mtol)
    at_hi = (u >= hi - atol * (1 + hi.abs())) & (grad_u < mtol)
    return at_lo | at_hi


def _line_search(problem: Problem, x_init: Tensor, x: Tensor, u: Tensor, K: Tensor, k: Tensor,
                 alphas: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Closed-loop rollouts for every step size at once: x (S, B, T, n), u (S, B, T, m), J (S, B).

    Laid out item-major inside, (B, S, ...), so the feedback of all step sizes is one batched product.
    """
    S, (Bsz, T, n) = alphas.shape[0], x.shape
    open_loop = (u.unsqueeze(2) + alphas.view(S, 1) * k.unsqueeze(2)).unbind(1)  # T x (B, S, m)
    x_t, KT = x.unsqueeze(2).unbind(1), K.mT.unbind(1)  # T x (B, 1, n), T x (B, n, m)
    lo_t, hi_t = problem.lo.unsqueeze(2).unbind(1), problem.hi.unsqueeze(2).unbind(1)  # T x (B, 1, m)
    xn = x_init.repeat_interleave(S, 0)  # rows (b, s) flattened: (B S, n)
    xs, us = [], []
    for t in range(T):
        un = torch.baddbmm(open_loop[t], xn.view(Bsz, S, n) - x_t[t], KT[t]).clamp(lo_t[t], hi_t[t])  # (B, S, m)
        xs.append(xn)
        us.append(un)
        if t < T - 1:
            xn = problem.f(xn, un.view(Bsz * S, -1), t, copies=S)
    xs, us = torch.stack(xs, 1).view(Bsz, S, T, n), torch.stack(us, 2)  # contiguous (B, S, T, .)
    return xs.transpose(0, 1), us.transpose(0, 1), problem.total_cost(xs, us).transpose(0, 1)


def _select(candidates: Tensor, index: Tensor) -> Tensor:
    """candidates (S, B, ...) at per-item index (B,) -> (B, ...)."""
    idx = index.view(1, -1, *[1] * (candidates.ndim - 2)).expand(1, *candidates.shape[1:])
    return candidates.gather(0, idx).squeeze(0)


@torch.no_grad()
def _choose_step(J: Tensor, Js: Tensor, expected_terms: Tensor, alphas: Tensor, horizon: int) -> tuple[Tensor, Tensor]:
    """Per item, the largest step size with sufficient decrease: (found (B,) bool, index (B,) long).

    J (B,) the current cost, Js (S, B) the candidates', expected_terms (B, 2) from the Riccati sweep.
    """
    a = alphas.view(-1, 1)
    expected = -(a * expected_terms[:, 0] + a**2 * expected_terms[:, 1])  # predicted decrease (S, B)
    decrease = J - Js
    # Below the cost's rounding noise a decrease cannot be measured: there, accept a step that does not
    # measurably increase the cost, so Newton steps still converge to a tight KKT point. J sums T stage
    # costs of either sign, each from its own rollout step: its rounding grows like sqrt(T).
    noise = _NOISE_EPS * horizon**0.5 * torch.finfo(J.dtype).eps * (1 + J.abs())
    armijo = (decrease > _ARMIJO * expected.clamp_min(0)) & (decrease > 0)
    unmeasurable = (expected[0] <= noise) & (decrease >= -noise)
    sufficient = (armijo | unmeasurable) & torch.isfinite(Js)
    return sufficient.any(0), sufficient.float().argmax(0)


def _next_regularization(reg: Tensor, accept: Tensor, cfg) -> Tensor:
    """Levenberg-Marquardt schedule: shrink on success (to 0 below reg_min), grow on failure."""
    reg = torch.where(accept, reg / cfg.reg_factor, torch.clamp(reg * cfg.reg_factor, min=cfg.reg_min))
    return torch.where(reg < cfg.reg_min, 0.0, reg)


def _step_gains(problem: Problem, x: Tensor, u: Tensor, F: Tensor, c: Tensor, C: Tensor, lam: Tensor,
                reg: Tensor, k_warm: Tensor, newton: Tensor) -> tuple[StepGains, Tensor]:
    """The step's gains: Newton for the items in ``newton`` (B,) bool, Gauss-Newton for the others.

    Newton uses C_t + hess[lam_t . f] with the costate lam of the current trajectory: the Hessian of the
    total cost in the controls (states eliminated through the dynamics), so its steps converge
    quadratically to the fixed point that Gauss-Newton (iLQR's C_t) approaches linearly. Where that
    Hessian is not positive definite on the controls the item takes the Gauss-Newton step instead.
    Returns the gains and the items whose Newton sweep failed (B,) bool.
    """
    sweep = partial(ilqr_gains, F, c, u=u, lo=problem.lo, hi=problem.hi, reg=reg, k_warm=k_warm,
                    boxqp_iters=problem.config.boxqp_iters)
    if not bool(newton.any()):
        return sweep(C=C), newton
    exact = torch.where(newton.view(-1, 1, 1, 1), C + problem.dynamics_curvature(x, u, lam), C)
    gains = sweep(C=exact)
    failed = newton & ~gains.ok
    if bool(failed.any()):
        fallback = sweep(C=C)
        gains = StepGains(*(torch.where(failed.view(-1, *[1] * (a.ndim - 1)), b, a) for a, b in zip(gains, fallback)))
    return gains, failed


def _compiled_solve(problem: Problem, x_init: Tensor, u_init: Tensor, tol: float, atol: float,
                    alphas: Tensor) -> SolverResult | None:
    """:func:`solve` in C (``kernels/ilqr.c``: the same iterates, item by item) where it applies: graph-free,
    float32 or float64 on the CPU, one control, models with a C form (one that takes the per-item cost data where
    the problem has them) and no per-item dynamics data; else None."""
    if problem.dynamics_args:
        return None
    cfg = problem.config
    settings = (tol, atol, cfg.max_iter, cfg.reg_init, cfg.reg_min, cfg.reg_max, cfg.reg_factor, cfg.newton_tol,
                _ARMIJO, _NOISE_EPS, _NEWTON_RETRY)
    out = kernels.ilqr_scalar(problem.dynamics, problem.cost, x_init, u_init, problem.lo, problem.hi, alphas,
                              settings, problem.cost_args)
    if out is None:
        return None
    if out.error is not None:
        for code, (name, hint) in enumerate(_NON_FINITE, 1):
            if bool((out.error == code).any()):
                raise_non_finite(name, out.error == code, hint)
    return SolverResult(*out[:-1])


def solve(problem: Problem, x_init: Tensor, u_init: Tensor) -> SolverResult:
    """Run box-constrained iLQR from the warm start ``u_init``.

    Shapes: x_init (B, n), u_init (B, T, m) -> SolverResult. Differentiable when called with grad
    enabled (unroll mode), graph-free under ``torch.no_grad()``.
    """
    cfg = problem.config
    Bsz, T = u_init.shape[:2]
    tol = effective_tol(cfg.tol, x_init.dtype)
    atol = _TOL_FLOOR_EPS * torch.finfo(x_init.dtype).eps
    alphas = step_sizes(cfg.line_search_steps, x_init.dtype, x_init.device)
    compiled = _compiled_solve(problem, x_init, u_init, tol, atol, alphas)
    if compiled is not None:
        return compiled

    u = problem.clamp(u_init)
    x = problem.rollout(x_init, u)
    check_finite(_NON_FINITE[0][0], x, _NON_FINITE[0][1])
    J = problem.total_cost(x, u)
    check_finite(_NON_FINITE[1][0], J, _NON_FINITE[1][1])

    reg = torch.full_like(J, cfg.reg_init).detach()
    k_warm = torch.zeros_like(u).detach()
    converged = torch.zeros(Bsz, dtype=torch.bool, device=x.device)
    stalled = torch.zeros_like(converged)
    iterations = torch.zeros(Bsz, dtype=torch.long, device=x.device)
    last_step = torch.full_like(J, float("inf")).detach()
    newton_level = torch.full_like(J, cfg.newton_tol).detach()  # per item: KKT level for exact-Hessian steps
    for it in range(cfg.max_iter + 1):
        F, c, C = problem.linearize(x, u)
        check_finite(_NON_FINITE[2][0], (F, c, C), _NON_FINITE[2][1])
        lam = costate(F, c)
        grad_u = reduced_gradient(F, c, lam)
        kkt = projected_gradient(grad_u, u, problem.lo, problem.hi, atol).detach().abs().amax((1, 2))
        scale = 1.0 + J.detach().abs() / T
        if tol > 0:
            small_step = last_step <= tol * (1 + u.detach().abs().amax((1, 2)))
            converged = converged | ((kkt <= tol * scale) & small_step)
        running = ~converged & ~stalled
        if it == cfg.max_iter or not bool(running.any()):
            break
        newton = running & (kkt < newton_level * scale)
        gains, newton_failed = _step_gains(problem, x, u, F, c, C, lam, reg, k_warm, newton)
        # Retry only below the residual at which the sweep failed (never where it is already 0: all
        # controls on their bounds, where the exact sweep fails for good).
        newton_level = torch.where(newton_failed, kkt / scale * _NEWTON_RETRY, newton_level)
        xs, us, Js = _line_search(problem, x_init, x, u, gains.K, gains.k, alphas)
        found, choice = _choose_step(J.detach(), Js.detach(), gains.expected.detach(), alphas, T)
        accept = running & gains.ok & found
        x_new, u_new, J_new = _select(xs, choice), _select(us, choice), _select(Js, choice)
        step = (u_new.detach() - u.detach()).abs().amax((1, 2))
        x = torch.where(accept.view(-1, 1, 1), x_new, x)
        u = torch.where(accept.view(-1, 1, 1), u_new, u)
        J = torch.where(accept, J_new, J)
        # A rejected step is no evidence of convergence (a step of size 0 would leave the KKT residual as the
        # only test): convergence needs an accepted small step. At the rounding floor steps that do not
        # measurably change the cost are accepted (_choose_step), so converged items still get one.
        last_step = torch.where(accept, step, torch.where(running, float("inf"), last_step))
        iterations = iterations + running.long()
        reg = _next_regularization(reg, accept, cfg)
        if tol > 0:
            stalled = stalled | (running & (reg > cfg.reg_max))
        reg = reg.clamp(max=cfg.reg_max)
        k_warm = gains.k.detach()
    mtol = (tol if tol > 0 else atol) * scale
    active = active_set(grad_u.detach(), u.detach(), problem.lo, problem.hi, atol, mtol)
    return SolverResult(x, u, J, converged, iterations, kkt, active, F.detach(), C.detach(), lam.detach())
