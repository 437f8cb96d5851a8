"""Gymnasium's Pendulum-v1 and CartPole-v1 render with our numpy renderer through make_env (no pygame)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from dilqr_rl.envs import make_env, raster
from dilqr_rl.envs.cartpole import draw_cartpole
from dilqr_rl.envs.classic_render import NumpyRender
from dilqr_rl.envs.pendulum import draw_pendulum


def test_pendulum_v1_frames_are_our_pendulum_drawn_at_its_state() -> None:
    env = make_env("Pendulum-v1", render_mode="rgb_array")
    assert isinstance(env, NumpyRender)
    env.reset(seed=0)
    first = env.render()
    env.step(np.array([2.0], dtype=np.float32))
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == first.shape and frame.shape[2] == 3
    np.testing.assert_array_equal(frame, draw_pendulum(float(env.unwrapped.state[0]),
                                                       raster.pixel_grid(*frame.shape[:2])))
    assert not np.array_equal(frame, first)


def test_cartpole_v1_frames_show_the_pole_leaning_the_way_theta_says() -> None:
    env = make_env("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0, options={"low": 0.2, "high": 0.2})  # x = x_dot = theta = theta_dot = 0.2: leans to +x
    frame = env.render()
    x, _, theta, _ = env.unwrapped.state
    np.testing.assert_array_equal(frame, draw_cartpole(x, theta, 1.0, 2.4, raster.pixel_grid(*frame.shape[:2])))
    pole = np.argwhere(np.all(np.abs(frame.astype(int) - (204, 153, 102)) < 20, axis=-1))  # the pole's colour
    top, bottom = pole[pole[:, 0].argmin()], pole[pole[:, 0].argmax()]
    assert top[1] > bottom[1]  # the tip is right of the hinge


def test_only_rgb_array_envs_with_a_drawer_are_wrapped() -> None:
    assert not isinstance(make_env("Pendulum-v1"), NumpyRender)
    assert not isinstance(make_env("dilqr_rl/Pendulum-v0", render_mode="rgb_array"), NumpyRender)
    with pytest.raises(ValueError, match="NumpyRender draws rgb_array frames: make the env with render_mode='rgb_a"):
        NumpyRender(gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="NumpyRender draws PendulumEnv, CartPoleEnv; got AcrobotEnv"):
        NumpyRender(gym.make("Acrobot-v1", render_mode="rgb_array"))


def test_render_before_reset_is_refused() -> None:
    with pytest.raises(gym.error.ResetNeeded, match=r"before calling env\.reset"):
        make_env("CartPole-v1", render_mode="rgb_array").render()
