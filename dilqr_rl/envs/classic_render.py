"""Frames of Gymnasium's ``Pendulum-v1`` and ``CartPole`` drawn with numpy, without pygame.

Gymnasium draws its classic-control environments with pygame, which this package does not depend on:
``render()`` of ``gymnasium.make("Pendulum-v1", render_mode="rgb_array")`` raises
``DependencyNotInstalled`` without it. :class:`NumpyRender` draws those frames with the renderer of our own
pendulum and cart-pole (:func:`~dilqr_rl.envs.pendulum.draw_pendulum`,
:func:`~dilqr_rl.envs.cartpole.draw_cartpole`) from the unwrapped env's ``state``; :func:`with_numpy_render`
applies it where it has a drawer (:func:`~dilqr_rl.envs.make_env` does for ``render_mode="rgb_array"``).
Gymnasium's other pygame environments (``Acrobot``, ``MountainCar``, the toy-text ones) are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv as GymPendulumEnv

from dilqr_rl.envs import raster
from dilqr_rl.envs.cartpole import RENDER_HEIGHT, RENDER_WIDTH, draw_cartpole
from dilqr_rl.envs.pendulum import RENDER_SIZE, draw_pendulum

Canvas = tuple[np.ndarray, np.ndarray]


def _pendulum_frame(env: GymPendulumEnv, canvas: Canvas) -> np.ndarray:
    return draw_pendulum(float(env.state[0]), canvas)


def _cartpole_frame(env: CartPoleEnv, canvas: Canvas) -> np.ndarray:
    x, _, theta, _ = (float(v) for v in env.state)
    return draw_cartpole(x, theta, 2 * env.length, env.x_threshold, canvas)  # env.length is half the pole


DRAWERS: dict[type[gym.Env], tuple[tuple[int, int], Callable[[gym.Env, Canvas], np.ndarray]]] = {
    GymPendulumEnv: ((RENDER_SIZE, RENDER_SIZE), _pendulum_frame),
    CartPoleEnv: ((RENDER_HEIGHT, RENDER_WIDTH), _cartpole_frame),
}
"""Unwrapped Gymnasium env class -> (frame height and width, drawer of its ``state``)."""


class NumpyRender(gym.Wrapper):
    """``render()`` draws the unwrapped env's state with numpy: (H, W, 3) uint8, the env's own ``render``
    (and pygame) is never called. For an env made with ``render_mode="rgb_array"`` whose unwrapped class is
    in :data:`DRAWERS`."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        if type(env.unwrapped) not in DRAWERS:
            raise ValueError(f"NumpyRender draws {', '.join(c.__name__ for c in DRAWERS)}; got "
                             f"{type(env.unwrapped).__name__}")
        if env.render_mode != "rgb_array":
            raise ValueError(f"NumpyRender draws rgb_array frames: make the env with render_mode='rgb_array' "
                             f"(it has render_mode={env.render_mode!r})")
        (height, width), self._drawer = DRAWERS[type(env.unwrapped)]
        self._canvas = raster.pixel_grid(height, width)

    def render(self) -> np.ndarray:
        """The current frame (H, W, 3) uint8."""
        if getattr(self.env.unwrapped, "state", None) is None:
            raise gym.error.ResetNeeded("Cannot call env.render() before calling env.reset()")
        return self._drawer(self.env.unwrapped, self._canvas)


def with_numpy_render(env: gym.Env) -> gym.Env:
    """``env`` in :class:`NumpyRender` if it renders ``rgb_array`` frames and has a drawer; else ``env``."""
    if env.render_mode == "rgb_array" and type(env.unwrapped) in DRAWERS:
        return NumpyRender(env)
    return env
