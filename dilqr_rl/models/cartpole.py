"""Cart-poles with a continuous force and the physics of Gymnasium's ``CartPole`` (explicit Euler): on
(x, x_dot, theta, theta_dot), and the DiffMPC papers' version on (x, x_dot, cos theta, sin theta, theta_dot)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dilqr_rl.models.base import DynamicsModel, scalar_parameter


def cartpole_accelerations(model: nn.Module, cos: Tensor, sin: Tensor, theta_dot: Tensor, force: Tensor
                           ) -> tuple[Tensor, Tensor]:
    """Gymnasium's cart-pole equations: cart and pole accelerations (R,), (R,) from the pole angle's
    cosine and sine, its speed and the force, with ``model``'s masses, half-length and gravity."""
    total_mass = model.cart_mass + model.pole_mass
    polemass_length = model.pole_mass * model.length
    temp = (force + polemass_length * theta_dot**2 * sin) / total_mass
    inertia = model.length * (4.0 / 3.0 - model.pole_mass * cos**2 / total_mass)
    theta_acc = (model.gravity * sin - cos * temp) / inertia
    x_acc = temp - polemass_length * theta_acc * cos / total_mass
    return x_acc, theta_acc


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
        theta = x[:, 2]
        return cartpole_accelerations(self, torch.cos(theta), torch.sin(theta), x[:, 3], u[:, 0])

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        x_acc, theta_acc = self.accelerations(x, u)
        dt = self.dt
        return torch.stack(
            [x[:, 0] + dt * x[:, 1], x[:, 1] + dt * x_acc, x[:, 2] + dt * x[:, 3], x[:, 3] + dt * theta_acc],
            dim=-1,
        )


class CartpoleFeatureDynamics(DynamicsModel):
    """The cart-pole of the DiffMPC and DiLQR imitation experiments (mpc.pytorch's ``CartpoleDx``).

    State x = (cart position, cart velocity, cos theta, sin theta, theta_dot), theta = 0 upright; control
    u = (force,). The accelerations are Gymnasium's, computed from the state's own (cos, sin) features; one
    explicit Euler step of ``dt`` in (x, x_dot, theta, theta_dot) with theta = atan2(sin, cos), mapped back
    to the features. The force is not clipped (the controller's bounds do that). Learnable: ``gravity``,
    ``cart_mass``, ``pole_mass``, ``length`` (half the pole's length).
    """

    state_dim = 5
    control_dim = 1

    def __init__(
        self,
        gravity: float = 9.8,
        cart_mass: float = 1.0,
        pole_mass: float = 0.1,
        length: float = 0.5,
        dt: float = 0.05,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dt <= 0:
            raise ValueError(f"dt must be positive, got {dt}")
        self.gravity = scalar_parameter(gravity, dtype)
        self.cart_mass = scalar_parameter(cart_mass, dtype)
        self.pole_mass = scalar_parameter(pole_mass, dtype)
        self.length = scalar_parameter(length, dtype)
        self.dt = float(dt)

    @staticmethod
    def from_coordinates(q: Tensor) -> Tensor:
        """(x, x_dot, theta, theta_dot) (R, 4) -> the model's state (R, 5)."""
        return torch.stack([q[:, 0], q[:, 1], torch.cos(q[:, 2]), torch.sin(q[:, 2]), q[:, 3]], -1)

    @staticmethod
    def to_coordinates(x: Tensor) -> Tensor:
        """The state (R, 5) -> (x, x_dot, theta, theta_dot) (R, 4), theta in (-pi, pi]."""
        return torch.stack([x[:, 0], x[:, 1], torch.atan2(x[:, 3], x[:, 2]), x[:, 4]], -1)

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        pos, vel, cos, sin, theta_dot = x.unbind(-1)
        x_acc, theta_acc = cartpole_accelerations(self, cos, sin, theta_dot, u[:, 0])
        theta = torch.atan2(sin, cos) + self.dt * theta_dot
        dt = self.dt
        return torch.stack([pos + dt * vel, vel + dt * x_acc, torch.cos(theta), torch.sin(theta),
                            theta_dot + dt * theta_acc], -1)
