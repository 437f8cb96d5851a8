"""The optimal-control problem a solve works on, and the trajectory-level functions on it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from dilqr_rl.control.config import SolverConfig
from dilqr_rl.control.derivatives import Args, dynamics_lagrangian_hessian, linearization, stage_cost
from dilqr_rl.control.errors import NonFiniteError


@dataclass(frozen=True)
class Problem:
    """min sum_t g_t(x_t, u_t; a_t) s.t. x_1 = x_init, x_{t+1} = f(x_t, u_t; d_t), lo <= u_t <= hi.

    ``dynamics_args`` d and ``cost_args`` a are per-item (and per-step) problem data, passed to the
    models as keyword arguments, one row per row of x and u.

    Shapes: lo, hi (B, T, m); every value of dynamics_args and cost_args (B, T, ...) (expanded views are
    fine).
    """

    dynamics: nn.Module
    cost: nn.Module
    config: SolverConfig
    lo: Tensor
    hi: Tensor
    dynamics_args: Args = field(default_factory=dict)
    cost_args: Args = field(default_factory=dict)

    def with_args(self, dynamics_args: Args, cost_args: Args) -> Problem:
        """The same problem with other per-item data (e.g. copies that require grad)."""
        return replace(self, dynamics_args=dynamics_args, cost_args=cost_args)

    @staticmethod
    def rows(args: Args, copies: int = 1, t: int | None = None) -> dict[str, Tensor]:
        """Per-row values of ``args`` (each (B, T, ...)) for rows laid out as (B, copies) at step ``t``, or as
        (B, copies, T) when ``t`` is None: {name: (B * copies [* T], ...)}."""
        out = {}
        for name, value in args.items():
            if t is not None:
                value = value[:, t : t + 1]  # (B, 1, ...)
            if copies > 1:
                value = value.unsqueeze(1).expand(value.shape[0], copies, *value.shape[1:]).flatten(0, 1)
            out[name] = value.flatten(0, 1)
        return out

    def f(self, x: Tensor, u: Tensor, t: int, copies: int = 1) -> Tensor:
        """x_{t+1} = f(x_t, u_t) for rows (B * copies, .) at step t."""
        if not self.dynamics_args:
            return self.dynamics(x, u)
        return self.dynamics(x, u, **self.rows(self.dynamics_args, copies, t))

    def stage(self, x: Tensor, u: Tensor, t: int) -> Tensor:
        """g_t(x_t, u_t) (B,) for the rows (B, .) of step t."""
        steps = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        return stage_cost(self.cost, x, u, steps, self.rows(self.cost_args, t=t))

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def clamp(self, u: Tensor) -> Tensor:
        """Project controls u (B, T, m) onto the box."""
        return torch.minimum(torch.maximum(u, self.lo), self.hi)

    def step_indices(self, rows_per_step: int, device: torch.device) -> Tensor:
        """t (rows_per_step * T,) for rows laid out as (..., T)."""
        return torch.arange(self.horizon, device=device).repeat(rows_per_step)

    def total_cost(self, x: Tensor, u: Tensor) -> Tensor:
        """sum_t g_t: x (..., T, n), u (..., T, m) -> (...)."""
        lead = x.shape[:-2]
        xr, ur = x.reshape(-1, x.shape[-1]), u.reshape(-1, u.shape[-1])
        R = xr.shape[0]
        args = self.rows(self.cost_args, R // (self.lo.shape[0] * self.horizon)) if self.cost_args else {}
        if getattr(self.cost, "time_varying", False):  # step indices only where the cost uses them
            g = stage_cost(self.cost, xr, ur, self.step_indices(R // self.horizon, x.device), args)
        else:
            g = self.cost(xr, ur, **args)
        if g.shape != (R,):
            raise ValueError(
                f"the cost module must return one value per row, shape ({R},); "
                f"got {tuple(g.shape)}. Sum over the state/control dimensions inside forward()."
            )
        return g.view(*lead, self.horizon).sum(-1)

    def rollout(self, x_init: Tensor, u: Tensor) -> Tensor:
        """States x (B, T, n) from x_init (B, n) under controls u (B, T, m) (open loop)."""
        xs = [x_init]
        for t in range(self.horizon - 1):
            xs.append(self.f(xs[-1], u[:, t], t))
        return torch.stack(xs, 1)

    def linearize(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """F = [A B] (B, T, n, N), c (B, T, N), C (B, T, N, N) along the trajectory."""
        Bsz, T, n = x.shape
        m = u.shape[-1]
        F, c, C = linearization(self.dynamics, self.cost, x.reshape(-1, n), u.reshape(-1, m),
                                self.step_indices(Bsz, x.device), self.rows(self.dynamics_args),
                                self.rows(self.cost_args))
        return F.reshape(Bsz, T, n, n + m), c.reshape(Bsz, T, n + m), C.reshape(Bsz, T, n + m, n + m)

    def dynamics_curvature(self, x: Tensor, u: Tensor, lam: Tensor) -> Tensor:
        """hess_tau [lam_t . f(tau_t)] (B, T, N, N): the second-order dynamics term that the Gauss-Newton
        (iLQR) Hessian drops. Added to C it gives the Lagrangian Hessian of the problem."""
        Bsz, T, n = x.shape
        m = u.shape[-1]
        Hf = dynamics_lagrangian_hessian(self.dynamics, x.reshape(-1, n), u.reshape(-1, m), lam.reshape(-1, n),
                                         self.rows(self.dynamics_args))
        return Hf.view(Bsz, T, n + m, n + m)


def costate(F: Tensor, c: Tensor) -> Tensor:
    """Multipliers lam (B, T, n) of x_{t+1} = f(tau_t): lam_T = 0, lam_{t-1} = c_x,t + A_t^T lam_t."""
    n = F.shape[-2]
    c_x = c[..., :n].unsqueeze(-1).unbind(1)  # T x (B, n, 1)
    At = F[..., :n].mT.unbind(1)
    lam = [c.new_zeros(c.shape[0], n, 1)]
    for t in reversed(range(1, F.shape[1])):
        lam.append(torch.baddbmm(c_x[t], At[t], lam[-1]))
    return torch.stack(lam[::-1], 1).squeeze(-1)


def reduced_gradient(F: Tensor, c: Tensor, lam: Tensor) -> Tensor:
    """d J / d u_t (B, T, m) of the total cost through the dynamics: c_u,t + B_t^T lam_t."""
    n = F.shape[-2]
    return c[..., n:] + (F[..., n:].transpose(-1, -2) @ lam.unsqueeze(-1)).squeeze(-1)


def check_finite(name: str, value: Tensor | tuple[Tensor, ...], hint: str) -> None:
    """Raise NonFiniteError naming the batch items (first dim) where ``value`` (or any of the tensors) is NaN
    or infinite. The tensors are first checked through the sum of all their entries (no copies): a NaN or an
    infinity anywhere makes it non-finite (and so may an overflow of finite entries: then they are checked one by
    one)."""
    values = value if isinstance(value, tuple) else (value,)
    total = values[0].sum() if len(values) == 1 else sum(v.sum() for v in values)
    if math.isfinite(total.item()):
        return
    if len(values) == 1 and bool(torch.isfinite(values[0]).all()):
        return
    bad = ~torch.cat([torch.isfinite(v.reshape(v.shape[0], -1)).all(-1, keepdim=True) for v in values], -1).all(-1)
    if bool(bad.any()):
        raise_non_finite(name, bad, hint)


def raise_non_finite(name: str, bad: Tensor, hint: str) -> None:
    """Raise NonFiniteError naming the batch items where ``bad`` (B,) bool is True."""
    items = bad.nonzero().flatten().tolist()
    shown = items[:10] + (["..."] if len(items) > 10 else [])
    raise NonFiniteError(f"{name} is NaN or infinite for batch items {shown}. {hint}")
