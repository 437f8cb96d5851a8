"""Stage costs the experts plan with: quadratic costs that treat one state coordinate as an angle."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class PeriodicQuadraticCost(nn.Module):
    """``g(x, u) = sum_i w_i z_i^2`` on z = [x; u], with the angle coordinate's square made periodic.

    For the coordinate ``angle_index`` the term ``w theta^2`` becomes ``w 2 (1 - cos theta)``, which equals
    ``w theta^2`` to fourth order near theta = 0 (upright) and has no jump at theta = +-pi, so a planner
    sees the same cost for every winding of the pole. With weights (1, 0.1, 0.001) on the pendulum this is
    :class:`~dilqr_rl.models.PendulumSwingUpCost`; on the cart-pole it smooths the swing-up reward.

    Per-item weights and goals (one per row) are keyword arguments: ``g = sum_i w_i (z_i - goal_i)^2``, the
    angle term ``w 2 (1 - cos(theta - goal_theta))``.

    ``learnable=True`` makes the weights learnable as log-weights: ``w`` is then ``exp(log_w)`` of a parameter
    ``log_w`` (the weights must be positive, and stay so); otherwise ``w`` is a fixed buffer. ``cost.w`` reads the
    weights either way; :meth:`learnable_copy` turns a fixed cost into a learnable one.

    Shapes:
        weights (N,), N = n + m; forward: x (R, n), u (R, m) [, weights (R, N), goal (R, N)] -> (R,);
        derivatives -> c (R, N), C (R, N, N).
    """

    def __init__(self, weights: Sequence[float] | Tensor, angle_index: int, dtype: torch.dtype = torch.float64,
                 learnable: bool = False) -> None:
        super().__init__()
        w = torch.as_tensor(weights, dtype=dtype).detach().clone()
        if w.ndim != 1 or not bool((w >= 0).all()):
            raise ValueError(f"weights must be a vector of non-negative numbers; got {weights!r}")
        if not 0 <= angle_index < w.numel():
            raise ValueError(f"angle_index must index the weights (0..{w.numel() - 1}); got {angle_index}")
        if learnable:
            if not bool((w > 0).all()):
                raise ValueError(f"learnable weights are exp(log_w) and must be positive; got {w.tolist()}: give a "
                                 "zero weight a small positive value, or keep the weights fixed")
            self.log_w = nn.Parameter(w.log())
        else:
            self.register_buffer("w", w)
        self.angle_index = int(angle_index)

    def __getattr__(self, name: str) -> Tensor | nn.Module:
        if name == "w" and "log_w" in self._parameters:  # learnable: the weights (N,) = exp(log_w)
            return self._parameters["log_w"].exp()
        return super().__getattr__(name)

    def learnable_copy(self) -> PeriodicQuadraticCost:
        """A new cost with these weights as learnable log-weights (same angle index and dtype)."""
        w = self.w.detach()
        return PeriodicQuadraticCost(w, self.angle_index, dtype=w.dtype, learnable=True)

    def _split(self, x: Tensor, u: Tensor, goal: Tensor | None) -> tuple[Tensor, Tensor]:
        z = torch.cat([x, u], dim=-1)  # (R, N)
        if goal is not None:
            z = z - goal
        return z, z[:, self.angle_index]

    def forward(self, x: Tensor, u: Tensor, *, weights: Tensor | None = None, goal: Tensor | None = None) -> Tensor:
        """g (R,); ``weights`` (R, N) and ``goal`` (R, N), when given, replace the module's weights and the
        goal 0 per row (per-item data of the solve: ``cost_args``, e.g. from a policy's cost map)."""
        w = self.w if weights is None else weights
        z, theta = self._split(x, u, goal)
        wa = w[..., self.angle_index]
        return (w * z**2).sum(-1) - wa * theta**2 + wa * 2.0 * (1.0 - torch.cos(theta))

    def derivatives(self, x: Tensor, u: Tensor, *, weights: Tensor | None = None,
                    goal: Tensor | None = None) -> tuple[Tensor, Tensor]:
        z, theta = self._split(x, u, goal)
        i = self.angle_index
        w = (self.w if weights is None else weights).expand_as(z)  # (R, N)
        angle = torch.zeros_like(z[:1]).index_fill_(1, torch.tensor([i], device=z.device), 1.0).bool()  # (1, N)
        c = torch.where(angle, w * 2.0 * torch.sin(theta).unsqueeze(-1), 2.0 * w * z)  # (R, N)
        diagonal = torch.where(angle, w * 2.0 * torch.cos(theta).unsqueeze(-1), 2.0 * w)  # (R, N)
        return c, torch.diag_embed(diagonal)
