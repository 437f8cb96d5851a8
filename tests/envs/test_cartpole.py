"""CartpoleEnv: stepping equals CartpoleDynamics exactly, tasks' resets, rewards, terminations and errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from dilqr_rl.envs import CartpoleEnv, swingup_cost
from dilqr_rl.envs.cartpole import EXIT_PENALTY, SWINGUP_WEIGHTS, THETA_LIMIT
from dilqr_rl.models import CartpoleDynamics
from tests.envs.helpers import float64_model, model_step, step_from

PHYSICS = {"cart_mass": 1.2, "pole_mass": 0.15, "length": 0.6, "gravity": 9.81}


def random_cases(rng: np.random.Generator, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """States on the track at all angles; forces beyond the bound too."""
    low, high = np.array([-2.0, -3.0, -8.0, -10.0]), np.array([2.0, 3.0, 8.0, 10.0])
    return list(zip(rng.uniform(low, high, (count, 4)), rng.uniform(-15.0, 15.0, (count, 1))))


@pytest.mark.parametrize("task", ["swingup", "balance"])
def test_step_equals_model_exactly(task: str) -> None:
    env = CartpoleEnv(task, **PHYSICS, force_mag=12.0)
    model = float64_model(CartpoleDynamics, **PHYSICS, dt=0.02)
    for state, action in random_cases(np.random.default_rng(0), 300):
        _, _, _, _, info = step_from(env, state, action)
        np.testing.assert_array_equal(info["state"], model_step(model, state, np.clip(action, -12.0, 12.0)))
    assert env.physics == {**PHYSICS, "dt": 0.02}
    dynamics = env.dynamics
    assert isinstance(dynamics, CartpoleDynamics) and dynamics.gravity.dtype == torch.float64
    assert dynamics.pole_mass.item() == 0.15 and dynamics.gravity.item() == 9.81  # exact, not float32-rounded


def test_matches_gymnasium_cartpole() -> None:
    """With force +-force_mag the physics is Gymnasium's CartPole-v1 (numpy, so to rounding)."""
    ours = CartpoleEnv("balance", x_limit=10.0)
    theirs = gym.make("CartPole-v1").unwrapped
    for state, _ in random_cases(np.random.default_rng(1), 50):
        for push in (0, 1):
            theirs.reset(seed=0)
            theirs.state = state.copy()
            theirs.step(push)
            _, _, _, _, info = step_from(ours, state, np.array([10.0 if push else -10.0]))
            np.testing.assert_allclose(info["state"], theirs.state, rtol=0, atol=1e-12)


def test_swingup_reset_hangs_and_balance_reset_is_upright() -> None:
    swingup, balance = CartpoleEnv("swingup"), CartpoleEnv("balance")
    hanging = np.array([swingup.reset(seed=s)[1]["state"] for s in range(100)])
    upright = np.array([balance.reset(seed=s)[1]["state"] for s in range(100)])
    assert np.all(np.abs(hanging - [0.0, 0.0, math.pi, 0.0]) <= 0.05)
    assert np.all(np.abs(upright) <= 0.05)
    assert hanging.std(axis=0).min() > 0.01  # noisy, not a fixed start


def test_swingup_reward_is_the_quadratic_cost() -> None:
    env = CartpoleEnv("swingup")
    state, force = np.array([0.5, -1.0, 3.5, 2.0]), 4.0
    _, reward, terminated, _, _ = step_from(env, state, np.array([force]))
    z = np.array([0.5, -1.0, 3.5 - 2 * math.pi, 2.0, force])
    assert not terminated
    assert reward == pytest.approx(-float(np.dot(SWINGUP_WEIGHTS, z**2)), abs=1e-12)
    assert swingup_cost(state, force) == -reward


def test_swingup_terminates_off_track_with_penalty() -> None:
    env = CartpoleEnv("swingup", x_limit=1.0)
    state = np.array([0.99, 1.0, math.pi, 0.0])  # x' = 0.99 + 0.02 * 1.0 = 1.01 > 1
    _, reward, terminated, truncated, _ = step_from(env, state, np.zeros(1))
    assert terminated and not truncated
    assert reward == pytest.approx(-swingup_cost(state, 0.0) - EXIT_PENALTY)
    _, _, terminated, _, _ = step_from(env, np.array([0.0, 0.0, math.pi / 2, 5.0]), np.zeros(1))
    assert not terminated  # the pole may be anywhere


def test_balance_terminates_on_fall_or_track_exit_and_pays_one() -> None:
    env = CartpoleEnv("balance")
    _, reward, terminated, _, _ = step_from(env, np.array([0.0, 0.0, 0.01, 0.0]), np.zeros(1))
    assert reward == 1.0 and not terminated
    _, reward, terminated, _, _ = step_from(env, np.array([0.0, 0.0, THETA_LIMIT, 1.0]), np.zeros(1))
    assert terminated and reward == 1.0
    _, _, terminated, _, _ = step_from(env, np.array([2.39, 1.0, 0.0, 0.0]), np.zeros(1))
    assert terminated


def test_trig_observation() -> None:
    env = CartpoleEnv("swingup", observation="trig")
    obs, info = env.reset(seed=3)
    x, x_dot, theta, theta_dot = info["state"]
    np.testing.assert_allclose(obs, [x, x_dot, math.cos(theta), math.sin(theta), theta_dot], rtol=1e-6)
    assert env.observation_space.shape == (5,) and env.observation_space.contains(obs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "flip"}, r"unknown task 'flip'; valid: \['swingup', 'balance'\]"),
        ({"observation": "rgb"}, r"unknown observation 'rgb'; valid: \['state', 'trig'\]"),
        ({"cart_mass": -1.0}, r"cart_mass must be a finite number > 0, got -1.0; pass e.g. cart_mass=1.0"),
        ({"pole_mass": 0.0}, r"pole_mass must be a finite number > 0, got 0.0"),
        ({"length": 0.0}, r"length must be a finite number > 0, got 0.0; pass e.g. length=0.5"),
        ({"gravity": float("nan")}, r"gravity must be a finite number >= 0, got nan"),
        ({"force_mag": -10.0}, r"force_mag must be a finite number > 0, got -10.0"),
        ({"x_limit": float("inf")}, r"x_limit must be a finite number > 0, got inf"),
    ],
)
def test_invalid_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CartpoleEnv(**kwargs)


def test_nan_action_is_rejected() -> None:
    env = CartpoleEnv("balance")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action is NaN"):
        env.step(np.array([float("nan")], dtype=np.float32))
