"""Observation-to-state maps: what sits between an environment's observation and the controller's state.

A DiLQR policy plans in the state x of its dynamics model, but environments observe something else:
Pendulum-v1 gives (cos theta, sin theta, theta_dot), the pixel pendulum gives stacked images. A state map
is an ``nn.Module`` taking the (preprocessed, batched) observation to x. The fixed maps use torch operations
only: the state keeps the observation's dtype, device and gradient.

Shapes:
    IdentityStateMap: obs (B, n) -> x (B, n).
    PendulumAngleMap: obs (B, 3) = (cos theta, sin theta, theta_dot) -> x (B, 2) = (theta, theta_dot).
    PendulumFeatureMap: its inverse, x (B, 2) -> (B, 3) (e.g. a planned state to a decoder's input).
    PendulumLatentMap: a learned encoder's output z (B, 3) -> x (B, 2) = (atan2(z_1, z_0), bounded speed).
    CartpoleAngleMap: obs (B, 5) = (x, x_dot, cos theta, sin theta, theta_dot) -> x (B, 4).
    ReorderStateMap: obs (B, n) -> x (B, n) = obs[:, order].
    MLPEncoder: obs (B, *obs_shape) -> x (B, n) (the observation is flattened).
    CNNEncoder: obs (B, C, H, W) with values in [0, 1] -> x (B, n).

``make_state_map(name_or_module, observation_shape, state_dim)`` builds one by name; the error lists the
valid names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from dilqr_rl.policies.mlp import mlp


class IdentityStateMap(nn.Module):
    """The observation is the state (flattened to (B, n))."""

    def __init__(self, state_dim: int) -> None:
        super().__init__()
        self.state_dim = state_dim

    def forward(self, obs: Tensor) -> Tensor:
        return obs.flatten(1)


class PendulumAngleMap(nn.Module):
    """Exact map ``(cos theta, sin theta, theta_dot) -> (atan2(sin, cos), theta_dot)``; theta in (-pi, pi]."""

    state_dim = 2

    def forward(self, obs: Tensor) -> Tensor:
        theta = torch.atan2(obs[:, 1], obs[:, 0])
        return torch.stack([theta, obs[:, 2]], dim=-1)


class CartpoleAngleMap(nn.Module):
    """Exact map ``(x, x_dot, cos theta, sin theta, theta_dot) -> (x, x_dot, atan2(sin, cos), theta_dot)``."""

    state_dim = 4

    def forward(self, obs: Tensor) -> Tensor:
        theta = torch.atan2(obs[:, 3], obs[:, 2])
        return torch.stack([obs[:, 0], obs[:, 1], theta, obs[:, 4]], dim=-1)


class ReorderStateMap(nn.Module):
    """The state is the observation in another order, ``x = obs[:, order]`` (e.g. MuJoCo's
    [x, theta, x_dot, theta_dot] to the cart-pole model's [x, x_dot, theta, theta_dot])."""

    def __init__(self, order: Sequence[int]) -> None:
        super().__init__()
        self.order = [int(i) for i in order]
        self.state_dim = len(self.order)

    def forward(self, obs: Tensor) -> Tensor:
        return obs[:, self.order]


class PendulumLatentMap(nn.Module):
    """A learned encoder's 3 outputs z to the pendulum's state: theta = atan2(z_1, z_0) (no cut: an encoder
    outputs a point of the plane for the angle, continuous around the circle) and theta_dot = s tanh(z_2 / s),
    s = ``max_speed``, kept inside the model's speed clip (beyond it the model's derivatives in theta_dot are
    zero and an encoder stuck there gets no gradient)."""

    state_dim = 2

    def __init__(self, max_speed: float = 8.0) -> None:
        super().__init__()
        if not max_speed > 0:
            raise ValueError(f"max_speed must be positive (the model's speed clip); got {max_speed}")
        self.max_speed = float(max_speed)

    def forward(self, z: Tensor) -> Tensor:
        theta = torch.atan2(z[:, 1], z[:, 0])
        return torch.stack([theta, self.max_speed * torch.tanh(z[:, 2] / self.max_speed)], dim=-1)


class PendulumFeatureMap(nn.Module):
    """``(theta, theta_dot) -> (cos theta, sin theta, theta_dot)``: the inverse of :class:`PendulumAngleMap`."""

    state_dim = 3

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([torch.cos(x[:, 0]), torch.sin(x[:, 0]), x[:, 1]], dim=-1)


class MLPEncoder(nn.Module):
    """A learned encoder: flattened observation -> tanh MLP -> state estimate (B, n)."""

    def __init__(self, obs_dim: int, state_dim: int, hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        self.net = mlp([obs_dim, *hidden, state_dim])
        self.state_dim = state_dim

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs.flatten(1))


class CNNEncoder(nn.Module):
    """A learned image encoder for channels-first frames (e.g. the pixel pendulum's 4 x 64 x 64 stack).

    Three stride-2 convolutions (32 channels) then a linear layer to the state. Each convolution (kernel 4,
    stride 2, padding 1) halves a side rounding down, so any H, W >= 8 work. Expects images already scaled
    to [0, 1] (Stable-Baselines3 divides uint8 images by 255 unless ``normalize_images=False``).
    """

    def __init__(self, obs_shape: Sequence[int], state_dim: int, channels: int = 32) -> None:
        super().__init__()
        if len(obs_shape) != 3:
            raise ValueError(f"CNNEncoder needs channels-first images (C, H, W); got observation shape "
                             f"{tuple(obs_shape)}. Use state_map='mlp' for flat observations.")
        c, h, w = (int(s) for s in obs_shape)
        if min(h, w) < 8:
            raise ValueError(f"CNNEncoder needs images of at least 8 x 8 pixels (three stride-2 convolutions); "
                             f"got H x W = {h} x {w}. Use larger frames or state_map='mlp'.")
        self.conv = nn.Sequential(
            nn.Conv2d(c, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, c, h, w)).shape[1]  # channels * (H // 8) * (W // 8)
        self.head = nn.Linear(flat, state_dim)
        self.state_dim = state_dim

    def forward(self, obs: Tensor) -> Tensor:
        return self.head(self.conv(obs))


def _identity(shape: tuple[int, ...], n: int) -> nn.Module:
    if math.prod(shape) != n:
        raise ValueError(f"state_map='identity' needs observations of size n = {n} (the dynamics' state "
                         f"size); got observation shape {shape}. Use state_map='pendulum_angle' for "
                         "(cos, sin, theta_dot) or a learned encoder ('mlp', 'cnn').")
    return IdentityStateMap(n)


def _pendulum_angle(shape: tuple[int, ...], n: int) -> nn.Module:
    if shape != (3,) or n != 2:
        raise ValueError(f"state_map='pendulum_angle' maps observations (3,) = (cos, sin, theta_dot) to a "
                         f"2-dimensional state; got observation shape {shape} and state size n = {n}")
    return PendulumAngleMap()


STATE_MAPS: dict[str, Callable[[tuple[int, ...], int], nn.Module]] = {
    "identity": _identity,
    "pendulum_angle": _pendulum_angle,
    "mlp": lambda shape, n: MLPEncoder(math.prod(shape), n),
    "cnn": lambda shape, n: CNNEncoder(shape, n),
}
"""Named state maps: ``name -> builder(observation_shape, state_dim)``."""


def make_state_map(spec: str | nn.Module, observation_shape: Sequence[int], state_dim: int) -> nn.Module:
    """The state map named ``spec`` for this observation shape and state size, or ``spec`` itself."""
    if isinstance(spec, nn.Module):
        return spec
    if not isinstance(spec, str) or spec not in STATE_MAPS:
        valid = ", ".join(repr(k) for k in STATE_MAPS)
        raise ValueError(f"state_map must be one of {valid} or an nn.Module; got {spec!r}")
    return STATE_MAPS[spec](tuple(int(s) for s in observation_shape), int(state_dim))
