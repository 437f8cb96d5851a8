"""Cart-pole with a continuous force and the physics of Gymnasium's ``CartPole`` (Euler integrator)."""

from __future__ import annotations

import torch
from torch import Tensor

from dilqr_rl.models.base import DynamicsModel, scalar_parameter


class CartpoleDynamics(DynamicsModel):
    """Gymnasium ``CartPole`` equations of motion with the force as a continuous control.

    State x = (cart position, cart velocity, pole angle, pole angular velocity), theta = 0 upright;
    control u = (force in newtons,). ``length`` is half the pole's length, as in Gymnasium. One explicit
    Euler step of ``dt``. Learnable: ``cart_mass``, ``pole_mass``, ``length``, ``gravity``.
    """

    state_dim = 4
    control_dim = 1

    def __init__(
        self,
        cart_mass: float = 1.0,
        pole_mass: float = 0.1,
        length: float = 0.5,
        gravity: float = 9.8,
        dt: float = 0.02,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dt <= 0:
            raise ValueError(f"dt must be positive, got {dt}")
        self.cart_mass = scalar_parameter(cart_mass, dtype)
        self.pole_mass = scalar_parameter(pole_mass, dtype)
        self.length = scalar_parameter(length, dtype)
        self.gravity = scalar_parameter(gravity, dtype)
        self.dt = float(dt)

    def accelerations(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """Cart and pole accelerations (R,), (R,)."""
        theta, theta_dot = x[:, 2], x[:, 3]
        cos, sin = torch.cos(theta), torch.sin(theta)
        total_mass = self.cart_mass + self.pole_mass
        polemass_length = self.pole_mass * self.length
        temp = (u[:, 0] + polemass_length * theta_dot**2 * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.pole_mass * cos**2 / total_mass)
        )
        x_acc = temp - polemass_length * theta_acc * cos / total_mass
        return x_acc, theta_acc

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        x_acc, theta_acc = self.accelerations(x, u)
        dt = self.dt
        return torch.stack(
            [x[:, 0] + dt * x[:, 1], x[:, 1] + dt * x_acc, x[:, 2] + dt * x[:, 3], x[:, 3] + dt * theta_acc],
            dim=-1,
        )
