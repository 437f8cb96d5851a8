"""``DiLQR``: a box-constrained iLQR solve as a differentiable ``nn.Module``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from dilqr_rl.control.config import GradMethod, OnUnconverged, SolverConfig
from dilqr_rl.control.derivatives import check_row_wise, stage_cost
from dilqr_rl.control.errors import NotConvergedError, UnconvergedWarning
from dilqr_rl.control.ilqr import SolverResult, solve
from dilqr_rl.control.implicit import implicit_backward
from dilqr_rl.control.problem import Problem, check_finite
from dilqr_rl.control.solution import BackwardInfo, Solution


@dataclass(frozen=True)
class _Backward:
    """Everything the autograd Function's backward needs, passed as one object."""

    problem: Problem
    result: SolverResult | None  # handed to save_for_backward, then dropped from the bundle
    weight: Tensor | None  # (B,) 1 for items that get a gradient, 0 for zeroed unconverged items
    info: BackwardInfo


class _AttachImplicitGradient(torch.autograd.Function):
    """Identity on the solution (x*, u*) whose backward is the implicit (or DiffMPC) adjoint."""

    @staticmethod
    def forward(bundle: _Backward, x_init: Tensor, x: Tensor, u: Tensor, *params: Tensor):
        return x.clone(), u.clone()

    @staticmethod
    def backward(ctx, grad_x: Tensor, grad_u: Tensor):
        b: _Backward = ctx.bundle
        x, u, F, C, lam, active, weight, *params = ctx.saved_tensors
        out = implicit_backward(b.problem, x, u, F, C, lam, active, grad_x, grad_u, tuple(params),
                                b.problem.config.grad_method, weight)
        b.info.hessian_fallback = out.fallback
        b.info.zero_gradient = out.singular
        return None, out.grad_x_init, None, None, *out.params

    @staticmethod
    def setup_context(ctx, inputs, output):
        bundle: _Backward = inputs[0]
        r = bundle.result
        ctx.bundle = _Backward(bundle.problem, None, None, bundle.info)
        ctx.save_for_backward(r.x, r.u, r.F, r.C, r.lam, r.active, bundle.weight, *inputs[4:])


class DiLQR(nn.Module):
    """Box-constrained iLQR with exact implicit gradients (Wang et al., ICML 2025).

    Solves, for each batch item,

        min_{x, u} sum_{t=1..T} g_t(x_t, u_t; theta)
        s.t. x_1 = x_init, x_{t+1} = f(x_t, u_t; theta), u_lower <= u_t <= u_upper

    and differentiates the solution with respect to ``x_init`` and every parameter of ``dynamics`` and
    ``cost`` by ``grad_method``: ``"implicit"`` (exact, O(T), independent of the iterations),
    ``"diffmpc"`` (cost Hessian only: DiffMPC's gradient) or ``"unroll"`` (autograd through every
    iteration). Bounds are constants: floats, or tensors broadcastable to (B, T, m); ``None`` is
    unbounded. The math of the backward and the comparison of the modes: docs/implicit_gradient.md; the
    forward solver: docs/forward_solver.md.

    Shapes:
        x_init (B, n), u_init (B, T, m) -> Solution with x (B, T, n), u (B, T, m), cost (B,).

    Example::

        ctrl = DiLQR(PendulumDynamics(), GoalCost(w, goal), horizon=20, u_lower=-2.0, u_upper=2.0)
        sol = ctrl(x_init)
        loss = ((sol.u - u_expert) ** 2).sum()
        loss.backward()
    """

    def __init__(
        self,
        dynamics: nn.Module,
        cost: nn.Module,
        horizon: int,
        u_lower: float | Tensor | None = None,
        u_upper: float | Tensor | None = None,
        grad_method: str | GradMethod = GradMethod.IMPLICIT,
        max_iter: int = 100,
        tol: float = 1e-7,
        on_unconverged: str | OnUnconverged = OnUnconverged.WARN,
        control_dim: int | None = None,
        **solver_options,
    ) -> None:
        super().__init__()
        if not isinstance(dynamics, nn.Module) or not isinstance(cost, nn.Module):
            raise TypeError(
                f"dynamics and cost must be torch.nn.Module instances; got {type(dynamics).__name__} and "
                f"{type(cost).__name__}. Wrap plain functions in an nn.Module with a forward()."
            )
        self.dynamics = dynamics
        self.cost = cost
        self.config = SolverConfig(horizon=horizon, grad_method=grad_method, max_iter=max_iter, tol=tol,
                                   on_unconverged=on_unconverged, **solver_options)
        self.control_dim = control_dim or getattr(dynamics, "control_dim", None)
        for name, bound in (("u_lower", u_lower), ("u_upper", u_upper)):
            if isinstance(bound, Tensor) and bound.requires_grad:
                raise ValueError(f"{name} requires grad, but bounds are constants of the layer: pass "
                                 f"{name}.detach()")
            if bound is not None and not isinstance(bound, Tensor):  # a Python number: keep it exact in float64
                bound = torch.as_tensor(bound, dtype=torch.float64)
            self.register_buffer(name, None if bound is None else bound.detach().clone())
            value = getattr(self, name)
            if value is not None and bool(torch.isnan(value).any()):
                raise ValueError(f"{name} contains NaN; a bound must be a number (+-inf for none) or None")
        if self.u_lower is not None and self.u_upper is not None:
            lo, hi = torch.broadcast_tensors(self.u_lower, self.u_upper)
            if bool((lo > hi).any()):
                raise ValueError("u_lower must be <= u_upper everywhere; got u_lower > u_upper somewhere")

    def extra_repr(self) -> str:
        c = self.config
        return f"horizon={c.horizon}, grad_method={c.grad_method.value}, max_iter={c.max_iter}, tol={c.tol}"

    def forward(self, x_init: Tensor, u_init: Tensor | None = None) -> Solution:
        cfg = self.config
        problem, u0 = self._problem(x_init, u_init)
        if cfg.grad_method is GradMethod.UNROLL:
            result = solve(problem, x_init, u0)
            x, u = result.x, result.u
            keep = self._check_convergence(result.converged)
            if keep is not None:
                mask = keep.view(-1, 1, 1)
                x, u = torch.where(mask, x, x.detach()), torch.where(mask, u, u.detach())
        else:
            with torch.no_grad():
                result = solve(problem, x_init.detach(), u0)
            keep = self._check_convergence(result.converged)
            x, u = result.x, result.u
        info = BackwardInfo()
        if cfg.grad_method is not GradMethod.UNROLL and torch.is_grad_enabled():
            params = self._learnable()
            if params or x_init.requires_grad:
                weight = torch.ones_like(result.cost) if keep is None else keep.to(result.cost.dtype)
                bundle = _Backward(problem, result, weight, info)
                x, u = _AttachImplicitGradient.apply(bundle, x_init, x, u, *params)
        cost = problem.total_cost(x, u)
        return Solution(x=x, u=u, cost=cost, converged=result.converged, iterations=result.iterations,
                        kkt_residual=result.kkt, active=result.active, backward=info)

    def _learnable(self) -> tuple[Tensor, ...]:
        seen, out = set(), []
        for p in (*self.dynamics.parameters(), *self.cost.parameters()):
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return tuple(out)

    def _check_convergence(self, converged: Tensor) -> Tensor | None:
        """Apply the unconverged policy; return the per-item gradient mask for ``zero`` (else None).

        ``tol=0`` asks for exactly ``max_iter`` iterations, with no convergence test: nothing to report.
        """
        if bool(converged.all()) or self.config.tol == 0:
            return None
        items = (~converged).nonzero().flatten().tolist()
        message = (
            f"iLQR did not converge within max_iter={self.config.max_iter} for {len(items)} of "
            f"{converged.numel()} batch items (first: {items[:10]}). Increase max_iter, loosen tol, or "
            "warm-start with u_init."
        )
        policy = self.config.on_unconverged
        if policy is OnUnconverged.RAISE:
            raise NotConvergedError(message)
        if policy is OnUnconverged.ZERO:
            warnings.warn(message + " Their gradients are zero.", UnconvergedWarning, stacklevel=5)
            return converged
        warnings.warn(message, UnconvergedWarning, stacklevel=5)
        return None

    def _problem(self, x_init: Tensor, u_init: Tensor | None) -> tuple[Problem, Tensor]:
        """Check the inputs once and build the problem with bounds expanded to (B, T, m)."""
        if not isinstance(x_init, Tensor) or x_init.ndim != 2:
            shape = tuple(x_init.shape) if isinstance(x_init, Tensor) else type(x_init).__name__
            raise ValueError(f"x_init must be a tensor of shape (B, n); got {shape}. For one state use "
                             "x_init.unsqueeze(0).")
        if x_init.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"x_init must be float32 or float64; got {x_init.dtype}")
        n = getattr(self.dynamics, "state_dim", x_init.shape[1])
        if x_init.shape[1] != n:
            raise ValueError(f"x_init has {x_init.shape[1]} state dimensions but the dynamics expect n = {n}")
        for name, p in self.named_parameters():
            if p.is_floating_point() and p.dtype != x_init.dtype:
                raise ValueError(f"parameter {name!r} is {p.dtype} but x_init is {x_init.dtype}: convert the "
                                 f"layer with .to({x_init.dtype}) or cast x_init")
        check_finite("x_init", x_init, "Pass finite initial states.")
        Bsz, T = x_init.shape[0], self.config.horizon
        m = u_init.shape[-1] if u_init is not None else self._control_dim()
        if u_init is not None:
            known = self.control_dim or (self._bound_dim() if self._bound_dim() != 1 else None)  # 1 broadcasts
            if known is not None and m != known:
                raise ValueError(f"u_init has {m} controls per step but the layer plans m = {known} (its dynamics' "
                                 f"control_dim or bounds): pass u_init of shape (B, T, m) = {(Bsz, T, known)}")
            if u_init.shape != (Bsz, T, m) or u_init.dtype != x_init.dtype:
                raise ValueError(f"u_init must be (B, T, m) = {(Bsz, T, m)} with dtype {x_init.dtype}; got "
                                 f"{tuple(u_init.shape)} {u_init.dtype}")
            check_finite("u_init", u_init, "Pass a finite warm start.")
            u0 = u_init.detach()
        else:
            u0 = x_init.new_zeros(Bsz, T, m)
        t = torch.zeros(Bsz, dtype=torch.long, device=x_init.device)
        check_row_wise("dynamics", self.dynamics, self.dynamics, x_init.detach(), u0[:, 0])
        check_row_wise("cost", self.cost, partial(stage_cost, self.cost), x_init.detach(), u0[:, 0], t)
        lo, hi = (self._bound(b, s, (Bsz, T, m), x_init) for b, s in ((self.u_lower, -1), (self.u_upper, 1)))
        return Problem(self.dynamics, self.cost, self.config, lo, hi), u0

    def _bound_dim(self) -> int | None:
        """m from a bound tensor's last dimension, if a bound has one."""
        for bound in (self.u_lower, self.u_upper):
            if bound is not None and bound.ndim > 0:
                return bound.shape[-1]
        return None

    def _control_dim(self) -> int:
        if self._bound_dim() is not None:
            return self._bound_dim()
        if self.control_dim is None:
            raise ValueError("cannot tell the control size m: give the dynamics a control_dim attribute, "
                             "pass control_dim= to DiLQR, or pass u_init")
        return int(self.control_dim)

    @staticmethod
    def _bound(bound: Tensor | None, sign: int, shape: tuple[int, int, int], like: Tensor) -> Tensor:
        if bound is None:
            return like.new_full((), sign * float("inf")).expand(shape)
        try:
            return bound.to(like).expand(shape)
        except RuntimeError:
            raise ValueError(f"a control bound of shape {tuple(bound.shape)} does not broadcast to "
                             f"(B, T, m) = {shape}") from None
