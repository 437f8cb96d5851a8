"""``KeypointPendulumMap``: the pixel pendulum's frame stack to the pendulum's state, for a DiLQR actor.

    frames (B, F, H, W) --angle net on the last two frames--> theta_{t-1}, theta_t
                        --finite difference--> theta_dot_t = wrap(theta_t - theta_{t-1}) / dt

The angle net reads one frame: a stride-2 convolution, a convolution and a 1x1 convolution to K keypoint maps,
a spatial softmax over each map giving its expected image coordinates (a "spatial soft-argmax", after Levine
et al., 2016), and a linear layer from the 2K coordinates to a point (c, s) of the plane; theta = atan2(s, c).
The expected coordinates are sub-pixel, so the angle is precise enough for its difference to be a velocity:
the pendulum integrates theta' = theta + theta_dot' dt (semi-implicit Euler), so the difference of two
consecutive angles over dt is the current velocity exactly. After a reset the env fills every slot with the
first frame, and the map reads theta_dot = 0 there (the true speed is in [-1, 1]; one step).

The network is small (about 3k parameters, 3 M multiply-adds per frame at 64 x 64) and runs in its parameters'
dtype (float32 by default); the state comes out in the dtype the observations came in (the controller's; uint8
observations: the network's).

Shapes: obs (B, F, H, W) with pixel values in [0, 255] (the env's uint8, in any dtype), F >= 2 -> (B, 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

KEYPOINTS = 8
"""Keypoint maps of the angle net."""
CHANNELS = 16
"""Channels of its two hidden convolutions."""


def pendulum_features(states: Tensor, max_speed: float = 8.0) -> Tensor:
    """(theta, theta_dot) (B, 2) -> (cos theta, sin theta, theta_dot / max_speed) (B, 3): continuous around the
    circle and of order 1, what a network head reads and what a state regression compares (the pixel pendulum's
    speed limit is 8)."""
    return torch.stack([torch.cos(states[:, 0]), torch.sin(states[:, 0]), states[:, 1] / max_speed], -1)


class SpatialSoftArgmax(nn.Module):
    """(B, K, H, W) maps -> (B, 2K) expected (x, y) coordinates in [-1, 1] of the softmax over each map."""

    def forward(self, maps: Tensor) -> Tensor:
        B, K, H, W = maps.shape
        weights = torch.softmax(maps.flatten(2), dim=-1).view(B, K, H, W)
        ys = torch.linspace(-1.0, 1.0, H, dtype=maps.dtype, device=maps.device)
        xs = torch.linspace(-1.0, 1.0, W, dtype=maps.dtype, device=maps.device)
        x = (weights.sum(2) * xs).sum(-1)  # (B, K)
        y = (weights.sum(3) * ys).sum(-1)
        return torch.cat([x, y], dim=-1)


class FrameAngle(nn.Module):
    """One frame (B, 1, H, W) in [0, 1] -> the pole's angle as a point of the plane (B, 2) = (c, s)."""

    def __init__(self, keypoints: int = KEYPOINTS, channels: int = CHANNELS) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, keypoints, 1), SpatialSoftArgmax())
        self.head = nn.Linear(2 * keypoints, 2)

    def forward(self, frames: Tensor) -> Tensor:
        return self.head(self.features(frames))


class KeypointPendulumMap(nn.Module):
    """Frame stack -> (theta, theta_dot) (module docstring). ``dt``: the env's time step (the pixel pendulum's
    0.05); ``max_speed``: the speed clip the velocity is clamped to (the model's, 8)."""

    state_dim = 2

    def __init__(self, observation_shape: Sequence[int], dt: float = 0.05, max_speed: float = 8.0,
                 keypoints: int = KEYPOINTS, channels: int = CHANNELS) -> None:
        super().__init__()
        shape = tuple(int(s) for s in observation_shape)
        if len(shape) != 3 or shape[0] < 2 or min(shape[1:]) < 8:
            raise ValueError(f"KeypointPendulumMap reads stacks of at least 2 frames of at least 8 x 8 pixels, "
                             f"(F, H, W) with F >= 2; got observation shape {shape}. Make the env with frames >= 2.")
        if not (dt > 0 and max_speed > 0):
            raise ValueError(f"dt and max_speed must be positive; got dt={dt}, max_speed={max_speed}")
        self.observation_shape, self.dt, self.max_speed = shape, float(dt), float(max_speed)
        self.angle = FrameAngle(keypoints, channels)
        self.pixel_range = 255.0
        """The value of a white pixel in the observations it is given: 255 for the env's raw frames (the clone
        path), 1 where the caller has scaled them to [0, 1] (Stable-Baselines3's ``normalize_images``, set by
        :func:`match_image_scaling`). The network sees [0, 1] either way, so its weights serve both."""

    def angles(self, obs: Tensor) -> Tensor:
        """The angle of each of the last two frames, (B, 2) = (theta_{t-1}, theta_t), in the network's dtype."""
        if tuple(obs.shape[1:]) != self.observation_shape:
            raise ValueError(f"KeypointPendulumMap was built for observations {self.observation_shape}; got a "
                             f"batch of shape {tuple(obs.shape)}")
        B, _, H, W = obs.shape
        frames = obs[:, -2:].to(self.angle.head.weight.dtype).reshape(B * 2, 1, H, W) / self.pixel_range
        point = self.angle(frames)  # (2B, 2)
        return torch.atan2(point[:, 1], point[:, 0]).view(B, 2)

    def forward(self, obs: Tensor) -> Tensor:
        theta = self.angles(obs)
        step = torch.remainder(theta[:, 1] - theta[:, 0] + math.pi, 2 * math.pi) - math.pi
        speed = (step / self.dt).clamp(-self.max_speed, self.max_speed)
        dtype = obs.dtype if obs.dtype.is_floating_point else theta.dtype
        return torch.stack([theta[:, 1], speed], dim=-1).to(dtype)

    def features(self, state: Tensor) -> Tensor:
        """:func:`pendulum_features` of states (B, 2) with this map's speed limit: (B, 3)."""
        return pendulum_features(state, self.max_speed)


def match_image_scaling(state_map: nn.Module, normalized: bool) -> None:
    """Tell a state map that reads frames (one with ``pixel_range``, e.g. :class:`KeypointPendulumMap`) whether its
    caller scales images to [0, 1] first (``normalized``: Stable-Baselines3's ``normalize_images``); others are
    left as they are."""
    if hasattr(state_map, "pixel_range"):
        state_map.pixel_range = 1.0 if normalized else 255.0


class StateFeatures(nn.Module):
    """A learned state map followed by its ``features``: the input of an MLP or LSTM head that shares the DiLQR
    actor's encoder. ``map`` is the state map (e.g. :class:`KeypointPendulumMap`). Shapes: obs -> (B, d)."""

    def __init__(self, state_map: nn.Module) -> None:
        super().__init__()
        if not hasattr(state_map, "features"):
            raise TypeError(f"StateFeatures needs a state map with a features() method; got {type(state_map).__name__}")
        self.map = state_map

    @property
    def out_dim(self) -> int:
        return int(self.map.features(torch.zeros(1, self.map.state_dim)).shape[-1])

    def forward(self, obs: Tensor) -> Tensor:
        return self.map.features(self.map(obs).to(next(self.map.parameters()).dtype))
