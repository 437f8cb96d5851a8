"""Cart-pole with a continuous force and the physics of Gymnasium's ``CartPole``: swing-up and balance tasks."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from dilqr_rl.envs import raster
from dilqr_rl.envs.model_env import ModelEnv
from dilqr_rl.envs.pendulum import angle_normalize
from dilqr_rl.envs.validation import parse_choice, require_non_negative, require_positive
from dilqr_rl.models.cartpole import CartpoleDynamics

DT = 0.02
"""Time step of Gymnasium's ``CartPole``."""
THETA_LIMIT = 12 * 2 * math.pi / 360
"""The balance task terminates when |theta| exceeds this (12 degrees, as ``CartPole``)."""
RESET_NOISE = 0.05
"""Initial states are drawn uniformly within +-RESET_NOISE of the task's start state."""
SWINGUP_WEIGHTS = (0.1, 0.01, 1.0, 0.01, 0.001)
"""Swing-up cost weights on (x, x_dot, angle_normalize(theta), theta_dot, force)."""
EXIT_PENALTY = math.pi**2 * 500
"""Swing-up penalty for leaving the track: the cost of hanging still for a 500-step episode, so leaving
never pays more than staying."""
RENDER_WIDTH, RENDER_HEIGHT = 600, 400


class CartpoleTask(str, Enum):
    """The task a :class:`CartpoleEnv` sets."""

    SWINGUP = "swingup"
    """Start hanging (theta = pi), reward ``-swingup_cost``, terminate only off the track."""
    BALANCE = "balance"
    """Start near upright, reward 1 per step, terminate when the pole falls or the cart leaves the track."""


class CartpoleObservation(str, Enum):
    """What a :class:`CartpoleEnv` observes."""

    STATE = "state"
    """The raw state [x, x_dot, theta, theta_dot] (4,); theta is not wrapped."""
    TRIG = "trig"
    """[x, x_dot, cos theta, sin theta, theta_dot] (5,), continuous in the angle (suits learned policies)."""


def swingup_cost(state: np.ndarray, force: float) -> float:
    """The swing-up stage cost ``sum_i w_i z_i^2`` on z = (x, x_dot, angle_normalize(theta), theta_dot, u).

    With w = :data:`SWINGUP_WEIGHTS`. Shapes: state (4,).
    """
    x, x_dot, theta, theta_dot = (float(v) for v in state)
    z = (x, x_dot, float(angle_normalize(theta)), theta_dot, force)
    return sum(w * v**2 for w, v in zip(SWINGUP_WEIGHTS, z))


class CartpoleEnv(ModelEnv):
    """Gymnasium ``CartPole`` with a continuous force, simulated by :class:`CartpoleDynamics` in float64.

    State x = (x, x_dot, theta, theta_dot), theta = 0 upright and positive towards +x; ``length`` is half
    the pole's length; one Euler step of 0.02 s. Action: force (1,) in newtons, clipped to
    [-force_mag, force_mag].

    - ``task="swingup"``: reset x ~ U(+-0.05) around (0, 0, pi, 0) (hanging); reward
      ``-swingup_cost(x_t, u_t)`` on the state before the step, minus :data:`EXIT_PENALTY` on the step
      that leaves the track; terminates only when |x| > ``x_limit``.
    - ``task="balance"``: reset x ~ U(+-0.05) around 0 (as ``CartPole``); reward 1 per step; terminates
      when |theta| > 12 degrees or |x| > ``x_limit``.

    Both truncate after ``max_episode_steps`` (500, 10 s). ``env.unwrapped.dynamics`` is a fresh
    ``CartpoleDynamics`` with these physics, ``state`` the true state (4,) float64, ``physics`` the
    model's constructor keywords.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        task: str | CartpoleTask = "swingup",
        cart_mass: float = 1.0,
        pole_mass: float = 0.1,
        length: float = 0.5,
        gravity: float = 9.8,
        force_mag: float = 10.0,
        x_limit: float = 2.4,
        observation: str | CartpoleObservation = "state",
        render_mode: str | None = None,
        max_episode_steps: int | None = 500,
    ) -> None:
        physics = {
            "cart_mass": require_positive("cart_mass", cart_mass, 1.0),
            "pole_mass": require_positive("pole_mass", pole_mass, 0.1),
            "length": require_positive("length", length, 0.5),
            "gravity": require_non_negative("gravity", gravity, 9.8),
            "dt": DT,
        }
        self.task = parse_choice("task", task, CartpoleTask)
        self.observation_mode = parse_choice("observation", observation, CartpoleObservation)
        self.x_limit = require_positive("x_limit", x_limit, 2.4)
        bound = require_positive("force_mag", force_mag, 10.0)
        super().__init__(CartpoleDynamics, physics, bound, render_mode, max_episode_steps)
        inf = np.finfo(np.float32).max  # finite bounds, as Gymnasium's CartPole
        if self.observation_mode is CartpoleObservation.STATE:
            high = np.array([2 * self.x_limit, inf, inf, inf], dtype=np.float32)
        else:
            high = np.array([2 * self.x_limit, inf, 1.0, 1.0, inf], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self._canvas: tuple[np.ndarray, np.ndarray] | None = None

    def _initial_state(self) -> np.ndarray:
        start = np.array([0.0, 0.0, math.pi if self.task is CartpoleTask.SWINGUP else 0.0, 0.0])
        return start + self.np_random.uniform(low=-RESET_NOISE, high=RESET_NOISE, size=4)

    def _observation(self) -> np.ndarray:
        x, x_dot, theta, theta_dot = self._require_state()
        if self.observation_mode is CartpoleObservation.STATE:
            return np.array([x, x_dot, theta, theta_dot], dtype=np.float32)
        return np.array([x, x_dot, np.cos(theta), np.sin(theta), theta_dot], dtype=np.float32)

    def _terminated(self, state: np.ndarray) -> bool:
        off_track = bool(abs(state[0]) > self.x_limit)
        if self.task is CartpoleTask.SWINGUP:
            return off_track
        return off_track or bool(abs(state[2]) > THETA_LIMIT)

    def _reward(self, state: np.ndarray, u: np.ndarray, terminated: bool) -> float:
        if self.task is CartpoleTask.BALANCE:
            return 1.0
        return -swingup_cost(state, float(u[0])) - (EXIT_PENALTY if terminated else 0.0)

    def _draw(self, state: np.ndarray) -> np.ndarray:
        if self._canvas is None:
            self._canvas = raster.pixel_grid(RENDER_HEIGHT, RENDER_WIDTH)
        return draw_cartpole(float(state[0]), float(state[2]), 2 * self._physics["length"], self.x_limit,
                             self._canvas)


def draw_cartpole(x: float, theta: float, pole_length: float, x_limit: float,
                  canvas: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A frame (H, W, 3) uint8 of the cart at ``x`` with the pole at ``theta`` (0 upright, positive leaning
    to +x), on the pixel grid ``canvas = raster.pixel_grid(H, W)``: the track spans +-``x_limit``, the pole
    is ``pole_length`` long (metres). Also draws Gymnasium's ``CartPole`` (see ``classic_render``)."""
    px, py = canvas
    height, width = px.shape
    scale = width / (2 * x_limit + 2.5 * pole_length)  # pixels per metre
    track_y = height / 2
    cart = (width / 2 + scale * x, track_y)
    tip = (cart[0] + scale * pole_length * math.sin(theta), track_y - scale * pole_length * math.cos(theta))
    image = raster.blank(height, width)
    ends = (width / 2 - scale * x_limit, width / 2 + scale * x_limit)
    paint = raster.paint
    paint(image, raster.segment_coverage(px, py, (ends[0], track_y), (ends[1], track_y), 1.0), (0.0,) * 3)
    paint(image, raster.box_coverage(px, py, cart, (25.0, 15.0)), (0.1, 0.1, 0.1))
    paint(image, raster.segment_coverage(px, py, cart, tip, 5.0), (0.8, 0.6, 0.4))
    paint(image, raster.disc_coverage(px, py, cart, 4.0), (0.5, 0.5, 0.8))
    return raster.to_uint8(image)
