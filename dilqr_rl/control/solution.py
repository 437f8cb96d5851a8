"""The typed result of a DiLQR solve."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class BackwardInfo:
    """Filled in by the backward pass (implicit / diffmpc modes).

    ``hessian_fallback`` (B,) bool: items whose adjoint used the cost Hessian because the Lagrangian's
    reduced Hessian was not positive definite. ``zero_gradient`` (B,) bool: items given a zero gradient
    because no adjoint Hessian was positive definite. ``None`` until a backward pass has run.
    """

    hessian_fallback: Tensor | None = None
    zero_gradient: Tensor | None = None


@dataclass
class Solution:
    """A (batched) locally optimal trajectory and diagnostics.

    Shapes:
        x (B, T, n), u (B, T, m), cost (B,): differentiable outputs.
        converged (B,) bool, iterations (B,) long, kkt_residual (B,), active (B, T, m) bool: diagnostics,
        detached. ``active`` marks controls on a bound with a multiplier of the right sign.
        exact_gradient (B,) bool: whether the backward gives the item its exact gradient. ``implicit``:
        the item converged (the fixed point's gradient); for an unconverged item the fixed-point formula is
        evaluated at the last iterate, which is no exact gradient of anything. ``unroll``: the derivative of
        the returned iterate (False only where ``on_unconverged="zero"`` zeroed it). ``diffmpc``: always
        False (an approximation by design). ``backward`` flags further items after ``backward()``.
    """

    x: Tensor
    u: Tensor
    cost: Tensor
    converged: Tensor
    iterations: Tensor
    kkt_residual: Tensor
    active: Tensor
    exact_gradient: Tensor
    backward: BackwardInfo = field(default_factory=BackwardInfo)

    @property
    def all_converged(self) -> bool:
        return bool(self.converged.all())

    def first_control(self) -> Tensor:
        """u_1 (B, m): the action an MPC policy applies."""
        return self.u[:, 0]

    def describe(self) -> str:
        """One line for logs: converged fraction, iterations, worst KKT residual."""
        it = self.iterations.to(torch.float64)
        return (
            f"converged {self.converged.float().mean().item():.0%}, iterations mean {it.mean().item():.1f} "
            f"max {int(self.iterations.max())}, max KKT residual {self.kkt_residual.max().item():.2e}"
        )
