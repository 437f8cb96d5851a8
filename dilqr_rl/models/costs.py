"""Stage costs: weighted goal costs (ours, and the DiffMPC papers' quadratic form) and a periodic pendulum
swing-up cost."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dilqr_rl.models.base import CostModel


class GoalCost(CostModel):
    """The papers' goal cost ``C(tau) = ||w_g o (tau - tau_g)||^2`` on tau = [x; u].

    ``w_g = exp(log_weights)`` stays positive; ``goal`` (tau_g) is learnable. A goal of shape (T, N)
    makes the cost time-varying (one goal per step); a goal of shape (N,) is shared by all steps. Per-item
    goals and weights (e.g. predicted by a network) are passed to the solve instead:
    ``DiLQR(...)(x0, cost_args={"goal": goals, "weights": weights})`` with (B, N) tensors (positive weights).

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

    def model_vector(self) -> Tensor:
        """theta of the cost model loss: (w_g, tau_g) flattened."""
        return torch.cat([self.weights, self.goal.flatten()])

    def model_vector_names(self) -> list[str]:
        N = self.log_weights.numel()
        return [f"weight_{i}" for i in range(N)] + [f"goal_{i}" for i in range(self.goal.numel())]

    def _goal(self, t: Tensor | None) -> Tensor:
        if not self.time_varying:
            return self.goal
        if t is None:
            raise ValueError("this GoalCost has one goal per step (time-varying): pass the step indices t")
        return self.goal[t]

    def forward(self, x: Tensor, u: Tensor, t: Tensor | None = None, *, goal: Tensor | None = None,
                weights: Tensor | None = None) -> Tensor:
        """g(x, u) (R,); ``goal`` / ``weights`` (R, N), when given, replace the module's (per-item data:
        ``DiLQR(...)(x0, cost_args={"goal": goals})``)."""
        tau = torch.cat([x, u], dim=-1)
        w = self.weights if weights is None else weights
        return ((w * (tau - (self._goal(t) if goal is None else goal))) ** 2).sum(-1)

    def derivatives(self, x: Tensor, u: Tensor, t: Tensor | None = None, *, goal: Tensor | None = None,
                    weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        tau = torch.cat([x, u], dim=-1)
        w2 = 2.0 * (self.weights if weights is None else weights) ** 2  # (N,) or (R, N)
        c = w2 * (tau - (self._goal(t) if goal is None else goal))  # (R, N)
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


class QuadGoalCost(CostModel):
    """The cost of the DiffMPC / DiLQR imitation experiments: mpc.pytorch's ``QuadCost`` as their code
    parameterises it::

        g(tau) = 1/2 sum_i q_i tau_i^2 + sum_i p_i tau_i,   q = sigmoid(q_logit),   p = -sqrt(q) * goal
               = 1/2 ||sqrt(q) * tau - goal||^2 - 1/2 ||goal||^2

    on tau = [x; u]. The goal is reached where q_i = 1; the papers' true weights are <= 1 (the sigmoid keeps
    the learned ones in (0, 1); a weight of exactly 1, as in the true costs, is stored as an infinite logit
    and stays fixed), and their goals are nonzero only where q_i = 1. ``weights`` (q) and ``goal``
    are what a cost learner fits, alternately (``weight_parameters`` / ``goal_parameters``). The model
    loss compares (q, p): the coefficients of the quadratic, as the papers' code logs them.

    Shapes:
        weights (N,) in (0, 1], goal (N,); forward: x (R, n), u (R, m) -> (R,).
    """

    def __init__(self, weights: Tensor, goal: Tensor) -> None:
        super().__init__()
        weights, goal = torch.as_tensor(weights), torch.as_tensor(goal)
        if weights.ndim != 1 or goal.shape != weights.shape:
            raise ValueError(f"weights and goal must be vectors (N,) of the same size; got {tuple(weights.shape)} "
                             f"and {tuple(goal.shape)}")
        if not bool(((weights > 0) & (weights <= 1)).all()):
            raise ValueError(f"weights must lie in (0, 1] (they are sigmoids of q_logit); got {weights.tolist()}")
        self.q_logit = nn.Parameter(torch.logit(weights).clone())
        self.goal = nn.Parameter(goal.clone())

    @property
    def weights(self) -> Tensor:
        return torch.sigmoid(self.q_logit)

    @property
    def linear(self) -> Tensor:
        """p = -sqrt(q) * goal (N,)."""
        return -self.weights.sqrt() * self.goal

    def weight_parameters(self) -> list[nn.Parameter]:
        return [self.q_logit]

    def goal_parameters(self) -> list[nn.Parameter]:
        return [self.goal]

    def model_vector(self) -> Tensor:
        """theta of the cost model loss: (q, p)."""
        return torch.cat([self.weights, self.linear])

    def model_vector_names(self) -> list[str]:
        N = self.q_logit.numel()
        return [f"q_{i}" for i in range(N)] + [f"p_{i}" for i in range(N)]

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        tau = torch.cat([x, u], dim=-1)
        return (0.5 * self.weights * tau**2 + self.linear * tau).sum(-1)

    def derivatives(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        tau = torch.cat([x, u], dim=-1)
        q = self.weights
        return q * tau + self.linear, torch.diag_embed(q.expand_as(tau))  # (R, N), (R, N, N)
