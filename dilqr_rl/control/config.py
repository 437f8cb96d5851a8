"""Configuration of the iLQR layer: the gradient method, the unconverged policy, solver settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class _Choice(str, Enum):
    """A string enum whose parse error lists the valid values."""

    @classmethod
    def parse(cls, value: str | _Choice, name: str) -> _Choice:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(repr(c.value) for c in cls)
            raise ValueError(f"{name} must be one of {valid}; got {value!r}") from None


class GradMethod(_Choice):
    """How the layer's backward pass differentiates the iLQR solution."""

    IMPLICIT = "implicit"
    """Exact gradient of the fixed point: one adjoint LQR with the Lagrangian Hessian (DiLQR)."""
    DIFFMPC = "diffmpc"
    """The same adjoint with the cost Hessian only: DiffMPC's last-layer gradient (baseline)."""
    UNROLL = "unroll"
    """Autograd through every iteration of the solver (baseline; memory grows with iterations)."""
    DIFFMPC_FIXED_JACOBIAN = "diffmpc-fixed-jacobian"
    """``diffmpc`` with the dynamics Jacobian held fixed, as mpc.pytorch computes it with autograd
    Jacobians: the parameters reach the gradient only through f (a peer comparison, wrong even for linear
    dynamics given as a module)."""


class OnUnconverged(_Choice):
    """What to do when some batch items did not converge within ``max_iter``."""

    WARN = "warn"
    """Warn (``UnconvergedWarning``) and differentiate the last iterate as if it were converged."""
    RAISE = "raise"
    """Raise ``NotConvergedError``."""
    ZERO = "zero"
    """Warn and give those items a zero gradient."""


@dataclass(frozen=True)
class SolverConfig:
    """Settings of the box-constrained iLQR solve and its backward pass."""

    horizon: int
    """T, the number of planned steps (states x_1..x_T and controls u_1..u_T)."""
    grad_method: GradMethod = GradMethod.IMPLICIT
    """One of ``GradMethod``."""
    max_iter: int = 100
    """Maximum iLQR iterations per call."""
    tol: float = 1e-7
    """Convergence tolerance on the control change (inf-norm) and on the KKT residual (the projected
    gradient of the total cost w.r.t. the free controls, relative to the stage cost scale). ``0`` runs
    exactly ``max_iter`` iterations. Tolerances below the dtype's resolution are raised to it."""
    on_unconverged: OnUnconverged = OnUnconverged.WARN
    """Policy for items that did not converge; see ``OnUnconverged``."""
    line_search_steps: int = 8
    """Number of step sizes tried in parallel, alpha = 1, ..., 1e-3 (log-spaced)."""
    reg_init: float = 0.0
    """Initial Levenberg-Marquardt regularization mu added to Q_uu."""
    reg_min: float = 1e-6
    """Smallest nonzero regularization."""
    reg_max: float = 1e10
    """An item whose regularization exceeds this stops (reported as not converged)."""
    reg_factor: float = 10.0
    """Factor by which mu grows on failure and shrinks on success."""
    boxqp_iters: int = 30
    """Projected-Newton iterations of the per-stage box QP (only used for m > 1)."""
    newton_tol: float = 1e-3
    """Once an item's KKT residual (relative, as for ``tol``) is below this, its steps use the exact
    Lagrangian Hessian C_t + hess[lam_t . f] instead of iLQR's Gauss-Newton C_t, wherever that keeps Q_uu
    positive definite. The fixed point is the same; near it Gauss-Newton converges only linearly, and
    with strongly curved dynamics and large costates (swing-ups) its full step can even diverge, so the
    iterates stall at the rounding floor. ``0`` disables the switch (pure iLQR)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "grad_method", GradMethod.parse(self.grad_method, "grad_method"))
        object.__setattr__(self, "on_unconverged", OnUnconverged.parse(self.on_unconverged, "on_unconverged"))
        checks = [
            ("horizon", self.horizon >= 1, "an integer >= 1"),
            ("max_iter", self.max_iter >= 1, "an integer >= 1"),
            ("tol", self.tol >= 0, "a float >= 0 (0 runs exactly max_iter iterations)"),
            ("line_search_steps", self.line_search_steps >= 1, "an integer >= 1"),
            ("reg_init", self.reg_init >= 0, "a float >= 0"),
            ("reg_min", self.reg_min > 0, "a float > 0"),
            ("reg_max", self.reg_max > self.reg_min, "a float > reg_min"),
            ("reg_factor", self.reg_factor > 1, "a float > 1"),
            ("boxqp_iters", self.boxqp_iters >= 1, "an integer >= 1"),
            ("newton_tol", self.newton_tol >= 0, "a float >= 0 (0 disables the exact-Hessian steps)"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}; got {getattr(self, name)!r}")
