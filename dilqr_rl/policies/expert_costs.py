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

    Shapes:
        weights (N,), N = n + m; forward: x (R, n), u (R, m) -> (R,); derivatives -> c (R, N), C (R, N, N).
    """

    def __init__(self, weights: Sequence[float], angle_index: int, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        w = torch.as_tensor(weights, dtype=dtype)
        if w.ndim != 1 or not bool((w >= 0).all()):
            raise ValueError(f"weights must be a vector of non-negative numbers; got {weights!r}")
        if not 0 <= angle_index < w.numel():
            raise ValueError(f"angle_index must index the weights (0..{w.numel() - 1}); got {angle_index}")
        self.register_buffer("w", w)
        self.angle_index = int(angle_index)

    def _split(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        z = torch.cat([x, u], dim=-1)  # (R, N)
        return z, z[:, self.angle_index]

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        z, theta = self._split(x, u)
        quadratic = (self.w * z**2).sum(-1) - self.w[self.angle_index] * theta**2
        return quadratic + self.w[self.angle_index] * 2.0 * (1.0 - torch.cos(theta))

    def derivatives(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        z, theta = self._split(x, u)
        i, wa = self.angle_index, self.w[self.angle_index]
        c = 2.0 * self.w * z  # (R, N)
        c[:, i] = wa * 2.0 * torch.sin(theta)
        diagonal = (2.0 * self.w).expand_as(z).clone()  # (R, N)
        diagonal[:, i] = wa * 2.0 * torch.cos(theta)
        return c, torch.diag_embed(diagonal)
