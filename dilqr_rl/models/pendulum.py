"""Pendulums: the physics of Gymnasium's ``Pendulum-v1`` on (theta, theta_dot), and the DiffMPC papers'
pendulum on the features (cos theta, sin theta, theta_dot). theta = 0 is upright in both."""

from __future__ import annotations

import torch
from torch import Tensor

from dilqr_rl.models.base import DynamicsModel, scalar_parameter


class PendulumDynamics(DynamicsModel):
    """Semi-implicit Euler pendulum of Gymnasium ``Pendulum-v1``.

    State x = (theta, theta_dot), control u = (torque,)::

        theta_dot' = clip(theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, -max_speed, max_speed)
        theta'     = theta + theta_dot' dt

    The torque is not clipped here (the controller's bounds do that); pass ``max_speed=None`` for the
    smooth model without the speed clip. Learnable: ``mass``, ``length``, ``gravity`` (unconstrained, so
    learning can report non-physical values).
    """

    state_dim = 2
    control_dim = 1

    def __init__(
        self,
        mass: float = 1.0,
        length: float = 1.0,
        gravity: float = 10.0,
        dt: float = 0.05,
        max_speed: float | None = 8.0,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dt <= 0:
            raise ValueError(f"dt must be positive, got {dt}")
        if max_speed is not None and max_speed <= 0:
            raise ValueError(f"max_speed must be positive or None, got {max_speed}")
        self.mass = scalar_parameter(mass, dtype)
        self.length = scalar_parameter(length, dtype)
        self.gravity = scalar_parameter(gravity, dtype)
        self.dt = float(dt)
        self.max_speed = None if max_speed is None else float(max_speed)

    def _coefficients(self) -> tuple[Tensor, Tensor]:
        a = 1.5 * self.gravity / self.length
        b = 3.0 / (self.mass * self.length * self.length)
        return a, b

    def _speed(self, x: Tensor, u: Tensor) -> Tensor:
        a, b = self._coefficients()
        return x[:, 1] + (a * torch.sin(x[:, 0]) + b * u[:, 0]) * self.dt

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        speed = self._speed(x, u)
        if self.max_speed is not None:
            speed = speed.clamp(-self.max_speed, self.max_speed)
        return torch.stack([x[:, 0] + speed * self.dt, speed], dim=-1)

    def _unclipped(self, x: Tensor, u: Tensor) -> Tensor:
        """1 where the speed clip is inactive, 0 where it saturates (R,)."""
        if self.max_speed is None:
            return torch.ones_like(x[:, 0])
        return (self._speed(x, u).abs() < self.max_speed).to(x.dtype)

    def jacobians(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self._coefficients()
        dt = self.dt
        s = self._unclipped(x, u)
        ds_dth = s * a * torch.cos(x[:, 0]) * dt  # (R,)
        ds_du = s * b * dt
        row_speed = torch.stack([ds_dth, s], dim=-1)  # (R, 2)
        row_theta = torch.stack([1.0 + ds_dth * dt, s * dt], dim=-1)
        A = torch.stack([row_theta, row_speed], dim=-2)  # (R, 2, 2)
        B = torch.stack([ds_du * dt, ds_du], dim=-1).unsqueeze(-1)  # (R, 2, 1)
        return A, B

    def lagrangian_hessian(self, x: Tensor, u: Tensor, lam: Tensor) -> Tensor:
        a, _ = self._coefficients()
        dt = self.dt
        s = self._unclipped(x, u)
        d2_speed = -s * a * torch.sin(x[:, 0]) * dt  # d^2 speed / d theta^2
        H = x.new_zeros(x.shape[0], 3, 3)
        H[:, 0, 0] = (lam[:, 0] * dt + lam[:, 1]) * d2_speed
        return H


class PendulumFeatureDynamics(DynamicsModel):
    """The pendulum of the DiffMPC and DiLQR imitation experiments (mpc.pytorch's ``PendulumDx``).

    State x = (cos theta, sin theta, theta_dot), control u = (torque,); explicit Euler in the speed, then
    the angle::

        theta_dot' = theta_dot + dt (3 g / (2 l) sin(theta + bias) + 3 u / (m l^2) - damping theta_dot)
        theta'     = atan2(sin theta, cos theta) + dt theta_dot'
        x'         = (cos theta', sin theta', theta_dot')

    sin(theta + bias) is computed from the state's own (cos, sin) features, so with ``bias = 0`` it is the
    state's sin theta, exactly as the papers' code writes the simple pendulum. The torque is not clipped
    (the controller's bounds do that). Learnable: ``gravity``, ``mass``, ``length``; ``damping`` and ``bias``
    (zero by default) make the non-realizable expert of DiffMPC Sec. 5.4. Note: the papers' code applies the
    damping to the angle (``- d * theta``); the DiffMPC text calls it a damping term, and here it acts on
    the angular velocity.
    """

    state_dim = 3
    control_dim = 1

    def __init__(
        self,
        gravity: float = 10.0,
        mass: float = 1.0,
        length: float = 1.0,
        damping: float = 0.0,
        bias: float = 0.0,
        dt: float = 0.05,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dt <= 0:
            raise ValueError(f"dt must be positive, got {dt}")
        self.gravity = scalar_parameter(gravity, dtype)
        self.mass = scalar_parameter(mass, dtype)
        self.length = scalar_parameter(length, dtype)
        self.damping = scalar_parameter(damping, dtype)
        self.bias = scalar_parameter(bias, dtype)
        self.dt = float(dt)

    @staticmethod
    def from_coordinates(q: Tensor) -> Tensor:
        """(theta, theta_dot) (R, 2) -> the model's state (cos theta, sin theta, theta_dot) (R, 3)."""
        return torch.stack([torch.cos(q[:, 0]), torch.sin(q[:, 0]), q[:, 1]], -1)

    @staticmethod
    def to_coordinates(x: Tensor) -> Tensor:
        """The state (R, 3) -> (theta, theta_dot) (R, 2), theta in (-pi, pi]."""
        return torch.stack([torch.atan2(x[:, 1], x[:, 0]), x[:, 2]], -1)

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        cos, sin, speed = x.unbind(-1)
        sin_biased = sin * torch.cos(self.bias) + cos * torch.sin(self.bias)
        acc = (1.5 * self.gravity / self.length * sin_biased + 3.0 * u[:, 0] / (self.mass * self.length**2)
               - self.damping * speed)
        speed = speed + self.dt * acc
        theta = torch.atan2(sin, cos) + self.dt * speed
        return torch.stack([torch.cos(theta), torch.sin(theta), speed], -1)
