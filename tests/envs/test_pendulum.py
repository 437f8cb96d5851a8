"""PendulumEnv: stepping equals PendulumDynamics exactly, Pendulum-v1's reward, reset and errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from dilqr_rl.envs import PendulumEnv, angle_normalize, pendulum_reward
from dilqr_rl.models import PendulumDynamics
from tests.envs.helpers import float64_model, model_step, step_from

PHYSICS = {"mass": 1.3, "length": 0.8, "gravity": 9.81}


def random_cases(rng: np.random.Generator, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """States over several turns and speeds beyond the clip; torques beyond the bound too."""
    states = np.column_stack([rng.uniform(-10.0, 10.0, count), rng.uniform(-9.0, 9.0, count)])
    actions = rng.uniform(-3.0, 3.0, (count, 1))
    return list(zip(states, actions))


def test_step_equals_model_exactly() -> None:
    env = PendulumEnv(**PHYSICS)
    model = float64_model(PendulumDynamics, **PHYSICS, dt=0.05, max_speed=8.0)
    for state, action in random_cases(np.random.default_rng(0), 300):
        _, _, _, _, info = step_from(env, state, action)
        expected = model_step(model, state, np.clip(action, -2.0, 2.0))
        np.testing.assert_array_equal(info["state"], expected)
        np.testing.assert_array_equal(env.unwrapped.state, expected)


def test_exposed_dynamics_and_physics_rebuild_the_model() -> None:
    env = PendulumEnv(**PHYSICS)
    assert env.physics == {**PHYSICS, "dt": 0.05, "max_speed": 8.0}
    dynamics = env.dynamics
    assert isinstance(dynamics, PendulumDynamics)
    assert dynamics.mass.dtype == torch.float64
    assert dynamics.length.item() == PHYSICS["length"]  # exact, not float32-rounded
    assert env.dynamics is not dynamics  # a fresh copy each time: training it cannot change the env
    state, action = np.array([0.4, -1.0]), np.array([1.5])
    _, _, _, _, info = step_from(env, state, action)
    np.testing.assert_array_equal(info["state"], model_step(dynamics, state, action))


def test_matches_gymnasium_pendulum_v1() -> None:
    """Same physics and reward as Gymnasium's own implementation (numpy, so to rounding)."""
    ours = PendulumEnv(gravity=9.5)
    theirs = gym.make("Pendulum-v1", g=9.5).unwrapped
    for state, action in random_cases(np.random.default_rng(1), 100):
        theirs.reset(seed=0)
        theirs.state = state.copy()
        _, their_reward, *_ = theirs.step(action)  # float64: a float32 torque makes numpy round in float32
        _, our_reward, _, _, info = step_from(ours, state, action)
        np.testing.assert_allclose(info["state"], theirs.state, rtol=0, atol=1e-12)
        assert our_reward == pytest.approx(their_reward, abs=1e-12)


def test_reward_formula() -> None:
    env = PendulumEnv()
    state = np.array([7.0, -3.0])  # theta beyond pi: the reward wraps it
    _, reward, _, _, _ = step_from(env, state, np.array([5.0]))  # torque clipped to 2
    wrapped = 7.0 - 2 * math.pi
    assert reward == pytest.approx(-(wrapped**2 + 0.1 * 9.0 + 0.001 * 4.0), abs=1e-12)
    assert pendulum_reward(state, 2.0) == reward
    assert angle_normalize(math.pi) == pytest.approx(-math.pi)


def test_observation_modes() -> None:
    trig = PendulumEnv()
    obs, _ = trig.reset(options={"state": [0.5, -2.0]})
    np.testing.assert_allclose(obs, [math.cos(0.5), math.sin(0.5), -2.0], rtol=1e-6)
    assert obs.dtype == np.float32 and trig.observation_space.contains(obs)
    raw = PendulumEnv(observation="state")
    obs, _ = raw.reset(options={"state": [7.5, -2.0]})
    np.testing.assert_allclose(obs, [7.5, -2.0], rtol=1e-6)
    assert obs.shape == (2,) and raw.observation_space.contains(obs)


def test_reset_distribution_and_seeding() -> None:
    env = PendulumEnv()
    states = np.array([env.reset(seed=seed)[1]["state"] for seed in range(200)])
    assert np.all(np.abs(states[:, 0]) <= math.pi) and np.all(np.abs(states[:, 1]) <= 1.0)
    assert states[:, 0].min() < -2.5 and states[:, 0].max() > 2.5  # spread over the whole circle
    np.testing.assert_array_equal(env.reset(seed=7)[0], env.reset(seed=7)[0])


def test_own_time_limit_truncates() -> None:
    env = PendulumEnv(max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step(np.zeros(1))[3] for _ in range(3)]
    assert flags == [False, False, True]
    env.reset(seed=0)
    assert env.step(np.zeros(1))[3] is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mass": -1.0}, r"mass must be a finite number > 0, got -1.0; pass e.g. mass=1.0"),
        ({"length": 0.0}, r"length must be a finite number > 0, got 0.0"),
        ({"gravity": float("nan")}, r"gravity must be a finite number >= 0, got nan"),
        ({"mass": "heavy"}, r"mass must be a real number, got 'heavy'"),
        ({"observation": "pixels"}, r"unknown observation 'pixels'; valid: \['trig', 'state'\]"),
        ({"render_mode": "human"}, r"unknown render_mode 'human'; valid: \['rgb_array'\] or None"),
        ({"max_episode_steps": 0}, r"max_episode_steps must be a positive int or None"),
    ],
)
def test_invalid_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PendulumEnv(**kwargs)


def test_nan_action_is_rejected() -> None:
    env = PendulumEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action is NaN .* check it for diverging outputs"):
        env.step(np.array([np.nan]))


def test_action_with_several_numbers_is_rejected() -> None:
    env = PendulumEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must hold exactly one number \(shape \(1,\)\), got shape \(2,\)"):
        env.step(np.array([0.1, 0.2]))


def test_infinite_action_is_clipped() -> None:
    env = PendulumEnv()
    _, _, _, _, info = step_from(env, np.zeros(2), np.array([np.inf]))
    np.testing.assert_array_equal(info["state"], model_step(env.dynamics, np.zeros(2), np.array([2.0])))


def test_step_before_reset_is_rejected() -> None:
    with pytest.raises(RuntimeError, match=r"call env.reset\(\) before step\(\) or state"):
        PendulumEnv().step(np.zeros(1))


def test_invalid_reset_state_is_rejected() -> None:
    with pytest.raises(ValueError, match=r'options\["state"\] must be 2 finite numbers \(shape \(2,\)\)'):
        PendulumEnv().reset(options={"state": [0.0, np.nan]})


def test_render_without_mode_warns_and_returns_none() -> None:
    env = PendulumEnv()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match='render_mode="rgb_array"'):
        assert env.render() is None
