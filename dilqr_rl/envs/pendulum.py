"""Pendulum with settable mass, length and gravity and the physics and reward of Gymnasium's ``Pendulum-v1``."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from dilqr_rl.envs import raster
from dilqr_rl.envs.model_env import ModelEnv
from dilqr_rl.envs.validation import parse_choice, require_non_negative, require_positive
from dilqr_rl.models.pendulum import PendulumDynamics

MAX_TORQUE = 2.0
"""Torque bound of ``Pendulum-v1``; actions are clipped to [-MAX_TORQUE, MAX_TORQUE]."""
MAX_SPEED = 8.0
"""Angular speed clip of ``Pendulum-v1`` (part of the model)."""
DT = 0.05
"""Time step of ``Pendulum-v1``."""
RENDER_SIZE = 256
"""Side of the square ``rgb_array`` frames, in pixels."""


class PendulumObservation(str, Enum):
    """What :class:`PendulumEnv` observes."""

    TRIG = "trig"
    """[cos theta, sin theta, theta_dot] (3,), as ``Pendulum-v1``."""
    STATE = "state"
    """The raw state [theta, theta_dot] (2,); theta is not wrapped (as in ``Pendulum-v1``'s state)."""


def angle_normalize(theta: float | np.ndarray) -> float | np.ndarray:
    """The angle wrapped to [-pi, pi), as ``Pendulum-v1`` computes it."""
    return ((theta + np.pi) % (2 * np.pi)) - np.pi


def pendulum_reward(state: np.ndarray, torque: float) -> float:
    """``Pendulum-v1``'s reward ``-(angle_normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2)``.

    Computed on the state before the step and the clipped torque. Shapes: state (2,).
    """
    theta, theta_dot = float(state[0]), float(state[1])
    return -(angle_normalize(theta) ** 2 + 0.1 * theta_dot**2 + 0.001 * torque**2)


def pole_tip(theta: float, centre: float, radius: float) -> tuple[float, float]:
    """Pixel position (x, y down) of the tip of a pole of ``radius`` pixels pivoting at (centre, centre).

    theta = 0 points up and positive theta turns counter-clockwise on screen, as ``Pendulum-v1`` draws it.
    """
    return centre - radius * math.sin(theta), centre - radius * math.cos(theta)


class PendulumEnv(ModelEnv):
    """Gymnasium ``Pendulum-v1`` with settable physics, simulated by :class:`PendulumDynamics` in float64.

    - state x = (theta, theta_dot), theta = 0 upright; action: torque (1,) clipped to [-2, 2];
    - observation [cos theta, sin theta, theta_dot] float32 (``observation="trig"``) or the raw state
      [theta, theta_dot] float32 (``observation="state"``);
    - reward ``-(angle_normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2)`` on the state before the step;
    - reset: theta ~ U(-pi, pi), theta_dot ~ U(-1, 1); never terminates; truncates after
      ``max_episode_steps`` (200, as ``Pendulum-v1``).

    ``env.unwrapped.dynamics`` is a fresh ``PendulumDynamics`` with these physics (dt 0.05, speed clip 8),
    ``env.unwrapped.state`` the true state (2,) float64, ``env.unwrapped.physics`` its constructor keywords.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        mass: float = 1.0,
        length: float = 1.0,
        gravity: float = 10.0,
        observation: str | PendulumObservation = "trig",
        render_mode: str | None = None,
        max_episode_steps: int | None = 200,
    ) -> None:
        physics = {
            "mass": require_positive("mass", mass, 1.0),
            "length": require_positive("length", length, 1.0),
            "gravity": require_non_negative("gravity", gravity, 10.0),
            "dt": DT,
            "max_speed": MAX_SPEED,
        }
        self.observation_mode = parse_choice("observation", observation, PendulumObservation)
        super().__init__(PendulumDynamics, physics, MAX_TORQUE, render_mode, max_episode_steps)
        if self.observation_mode is PendulumObservation.TRIG:
            high = np.array([1.0, 1.0, MAX_SPEED], dtype=np.float32)
            self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        else:
            high = np.array([np.finfo(np.float32).max, MAX_SPEED], dtype=np.float32)
            self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self._canvas = raster.pixel_grid(RENDER_SIZE, RENDER_SIZE)

    def _initial_state(self) -> np.ndarray:
        return self.np_random.uniform(low=[-np.pi, -1.0], high=[np.pi, 1.0])

    def _observation(self) -> np.ndarray:
        theta, theta_dot = self._require_state()
        if self.observation_mode is PendulumObservation.TRIG:
            return np.array([np.cos(theta), np.sin(theta), theta_dot], dtype=np.float32)
        return np.array([theta, theta_dot], dtype=np.float32)

    def _reward(self, state: np.ndarray, u: np.ndarray, terminated: bool) -> float:
        return pendulum_reward(state, float(u[0]))

    def _terminated(self, state: np.ndarray) -> bool:
        return False

    def _draw(self, state: np.ndarray) -> np.ndarray:
        return draw_pendulum(float(state[0]), self._canvas)


def draw_pendulum(theta: float, canvas: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A frame (S, S, 3) uint8 of the pendulum at angle ``theta`` (0 upright), on the square pixel grid
    ``canvas = raster.pixel_grid(S, S)``; also draws Gymnasium's ``Pendulum-v1`` (see ``classic_render``)."""
    px, py = canvas
    size = px.shape[0]
    centre = size / 2
    image = raster.blank(size, size)
    tip = pole_tip(theta, centre, 0.4 * size)
    raster.paint(image, raster.segment_coverage(px, py, (centre, centre), tip, 0.04 * size), (0.8, 0.3, 0.3))
    raster.paint(image, raster.disc_coverage(px, py, (centre, centre), 0.02 * size), (0.0, 0.0, 0.0))
    return raster.to_uint8(image)
