"""Models as a user would write them: plain ``nn.Module``s with no closed-form derivatives.

The solver differentiates these by autograd (the row-wise path of ``dilqr_rl.control.derivatives``).
The physics match the shipped models (``PendulumDynamics(max_speed=None)``, ``CartpoleDynamics``) and the
cost matches ``GoalCost``, so the two model kinds of the benchmark solve the same problem.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _scalar(value: float, dtype: torch.dtype) -> nn.Parameter:
    return nn.Parameter(torch.tensor(value, dtype=dtype))


class UserPendulum(nn.Module):
    """Gymnasium ``Pendulum-v1`` physics without the speed clip; learnable m, l, g. x = (theta, theta_dot)."""

    control_dim = 1

    def __init__(self, dtype: torch.dtype = torch.float64, dt: float = 0.05) -> None:
        super().__init__()
        self.m, self.l, self.g = _scalar(1.0, dtype), _scalar(1.0, dtype), _scalar(10.0, dtype)
        self.dt = dt

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        theta, speed = x[:, 0], x[:, 1]
        acc = 3 * self.g / (2 * self.l) * torch.sin(theta) + 3.0 / (self.m * self.l**2) * u[:, 0]
        speed = speed + acc * self.dt
        return torch.stack([theta + speed * self.dt, speed], -1)


class UserCartpole(nn.Module):
    """Gymnasium ``CartPole`` equations with a continuous force (explicit Euler); learnable masses, length,
    gravity. x = (position, velocity, angle, angular velocity), angle 0 upright."""

    control_dim = 1

    def __init__(self, dtype: torch.dtype = torch.float64, dt: float = 0.05) -> None:
        super().__init__()
        self.cart_mass, self.pole_mass = _scalar(1.0, dtype), _scalar(0.1, dtype)
        self.length, self.gravity = _scalar(0.5, dtype), _scalar(9.8, dtype)
        self.dt = dt

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        theta, theta_dot = x[:, 2], x[:, 3]
        cos, sin = torch.cos(theta), torch.sin(theta)
        total = self.cart_mass + self.pole_mass
        temp = (u[:, 0] + self.pole_mass * self.length * theta_dot**2 * sin) / total
        theta_acc = (self.gravity * sin - cos * temp) / (self.length * (4.0 / 3.0 - self.pole_mass * cos**2 / total))
        x_acc = temp - self.pole_mass * self.length * theta_acc * cos / total
        dt = self.dt
        return torch.stack([x[:, 0] + dt * x[:, 1], x[:, 1] + dt * x_acc, theta + dt * theta_dot,
                            theta_dot + dt * theta_acc], -1)


class WeightedQuadCost(nn.Module):
    """g(x, u) = sum_i w_i (tau_i - goal_i)^2 on tau = [x; u]; learnable w and goal."""

    def __init__(self, weights: Tensor, goal: Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(weights).clone())
        self.goal = nn.Parameter(torch.as_tensor(goal).clone())

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        return (self.w * (torch.cat([x, u], -1) - self.goal) ** 2).sum(-1)
