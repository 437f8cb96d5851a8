"""Stage costs: the papers' weighted goal cost and a periodic pendulum swing-up cost."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dilqr_rl.models.base import CostModel


class GoalCost(CostModel):
    """The papers' goal cost ``C(tau) = ||w_g o (tau - tau_g)||^2`` on tau = [x; u].

    ``w_g = exp(log_weights)`` stays positive; ``goal`` (tau_g) is learnable. A goal of shape (T, N)
    makes the cost time-varying (one goal per step); a goal of shape (N,) is shared by all steps.

    Shapes:
        weights (N,), goal (N,) or (T, N); forward: x (R, n), u (R, m) [, t (R,)] -> (R,).
    """

    def __init__(self, weights: Tensor, goal: Tensor) -> None:
        super().__init__()
        weights, goal = torch.as_tensor(weights), torch.as_tensor(goal)
        if weights.ndim != 1:
            raise ValueError(f"weights must be a vector (N,), got shape {tuple(weights.shape)}")
        if not bool((weights > 0).all()):
            raise ValueError(f"weights must be positive (they are stored as logs), got {weights.tolist()}")
        if goal.shape[-1] != weights.shape[0] or goal.ndim not in (1, 2):
            raise ValueError(
                f"goal must be (N,) or (T, N) with N = {weights.shape[0]} (len(weights)), "
                f"got shape {tuple(goal.shape)}"
            )
        self.log_weights = nn.Parameter(weights.log().clone())
        self.goal = nn.Parameter(goal.clone())
        self.time_varying = goal.ndim == 2

    @property
    def weights(self) -> Tensor:
        return self.log_weights.exp()

    def weight_parameters(self) -> list[nn.Parameter]:
        return [self.log_weights]

    def goal_parameters(self) -> list[nn.Parameter]:
        return [self.goal]

    def _goal(self, t: Tensor | None) -> Tensor:
        if not self.time_varying:
            return self.goal
        if t is None:
            raise ValueError("this GoalCost has one goal per step (time-varying): pass the step indices t")
        return self.goal[t]

    def forward(self, x: Tensor, u: Tensor, t: Tensor | None = None) -> Tensor:
        tau = torch.cat([x, u], dim=-1)
        return ((self.weights * (tau - self._goal(t))) ** 2).sum(-1)

    def derivatives(self, x: Tensor, u: Tensor, t: Tensor | None = None) -> tuple[Tensor, Tensor]:
        tau = torch.cat([x, u], dim=-1)
        w2 = 2.0 * self.weights**2  # (N,)
        c = w2 * (tau - self._goal(t))  # (R, N)
        C = torch.diag_embed(w2.expand_as(tau))  # (R, N, N)
        return c, C


class PendulumSwingUpCost(CostModel):
    """A smooth, periodic version of ``Pendulum-v1``'s cost for state (theta, theta_dot), control torque.

    ``g = w_theta * 2 (1 - cos theta) + w_speed * theta_dot^2 + w_u * u^2``; near the top
    ``2 (1 - cos theta) ~ theta^2``, so the defaults match the environment's reward
    ``theta^2 + 0.1 theta_dot^2 + 0.001 u^2`` there, without its jump at theta = +-pi.
    """

    def __init__(self, angle_weight: float = 1.0, speed_weight: float = 0.1, control_weight: float = 0.001):
        super().__init__()
        self.register_buffer("w", torch.tensor([angle_weight, speed_weight, control_weight]))

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        w = self.w
        return w[0] * 2.0 * (1.0 - torch.cos(x[:, 0])) + w[1] * x[:, 1] ** 2 + w[2] * u[:, 0] ** 2

    def derivatives(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        w = self.w
        c = torch.stack([w[0] * 2.0 * torch.sin(x[:, 0]), 2.0 * w[1] * x[:, 1], 2.0 * w[2] * u[:, 0]], -1)
        C = x.new_zeros(x.shape[0], 3, 3)
        C[:, 0, 0] = w[0] * 2.0 * torch.cos(x[:, 0])
        C[:, 1, 1] = 2.0 * w[1]
        C[:, 2, 2] = 2.0 * w[2]
        return c, C
