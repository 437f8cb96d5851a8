"""The InvertedPendulum-v5 adapter: state order, sign conventions and action scaling, checked on MuJoCo."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest
import torch

from dilqr_rl.envs import (
    InvertedPendulumStateAdapter,
    PendulumEnv,
    cartpole_state_to_mujoco_obs,
    force_to_mujoco_action,
    mujoco_action_to_force,
    mujoco_obs_to_cartpole_state,
)
from dilqr_rl.models import CartpoleDynamics
from tests.envs.helpers import model_step


@pytest.fixture
def mujoco_env():
    env = gym.make("InvertedPendulum-v5")
    yield env
    env.close()


def set_mujoco_state(env: gym.Env, qpos: list[float], qvel: list[float]) -> None:
    env.unwrapped.set_state(np.array(qpos), np.array(qvel))


def test_obs_to_state_reorders_qpos_and_qvel(mujoco_env) -> None:
    obs, _ = mujoco_env.reset(seed=0)
    for _ in range(5):
        obs, *_ = mujoco_env.step(mujoco_env.action_space.sample())
    data = mujoco_env.unwrapped.data
    state = mujoco_obs_to_cartpole_state(obs)
    np.testing.assert_array_equal(state, [data.qpos[0], data.qvel[0], data.qpos[1], data.qvel[1]])
    np.testing.assert_array_equal(cartpole_state_to_mujoco_obs(state), obs)
    batch = np.stack([obs, 2 * obs])  # (2, 4): any leading shape
    np.testing.assert_array_equal(mujoco_obs_to_cartpole_state(batch)[1], 2 * state)


def test_positive_theta_tips_the_pole_towards_positive_x(mujoco_env) -> None:
    mujoco_env.reset(seed=0)
    set_mujoco_state(mujoco_env, [0.0, 0.1], [0.0, 0.0])
    mujoco.mj_forward(mujoco_env.unwrapped.model, mujoco_env.unwrapped.data)
    pole_centre = mujoco_env.unwrapped.data.geom("cpole").xpos
    assert pole_centre[0] > 0.0  # as the model, whose pole tip is at x + 2 l sin(theta)


def test_signs_of_the_response_match_the_model(mujoco_env) -> None:
    """Push right from rest: both carts accelerate to +x and both poles rotate to -theta; a pole tilted
    to +theta falls further to +theta in both."""
    model = CartpoleDynamics(dtype=torch.float64)
    cases = [([0.0, 0.0], 1.0), ([0.0, 0.05], 0.0)]  # (qpos, MuJoCo action)
    for qpos, action in cases:
        mujoco_env.reset(seed=0)
        set_mujoco_state(mujoco_env, qpos, [0.0, 0.0])
        obs, *_ = mujoco_env.step(np.array([action], dtype=np.float32))
        mujoco_next = mujoco_obs_to_cartpole_state(obs)
        start = mujoco_obs_to_cartpole_state([*qpos, 0.0, 0.0])
        model_next = model_step(model, start, mujoco_action_to_force([action]))
        for index in (1, 3):  # velocities
            assert np.sign(mujoco_next[index]) == np.sign(model_next[index]) != 0


def test_action_scaling_is_the_gear() -> None:
    np.testing.assert_array_equal(mujoco_action_to_force([3.0]), [300.0])
    np.testing.assert_allclose(force_to_mujoco_action(mujoco_action_to_force([-1.7])), [-1.7], rtol=1e-15)


def test_adapter_steps_like_the_wrapped_env_with_scaled_actions() -> None:
    raw = gym.make("InvertedPendulum-v5")
    adapted = InvertedPendulumStateAdapter(gym.make("InvertedPendulum-v5"))
    assert adapted.physics == {"dt": 0.04, "gear": 100.0, "force_limit": 300.0}
    assert adapted.action_space.high[0] == 300.0 and adapted.observation_space.shape == (4,)
    raw_obs, _ = raw.reset(seed=3)
    state, info = adapted.reset(seed=3)
    np.testing.assert_array_equal(state, mujoco_obs_to_cartpole_state(raw_obs))
    for force in (50.0, -120.0, 400.0):  # 400 N is clipped to the motor's 300 N
        raw_obs, raw_reward, raw_terminated, _, _ = raw.step(np.array([min(force, 300.0) / 100.0]))
        state, reward, terminated, _, info = adapted.step(np.array([force]))
        np.testing.assert_array_equal(state, mujoco_obs_to_cartpole_state(raw_obs))
        np.testing.assert_array_equal(info["state"], state)
        assert (reward, terminated) == (raw_reward, raw_terminated)


def test_adapter_rejects_other_envs() -> None:
    with pytest.raises(ValueError, match=r"wraps Gymnasium's InvertedPendulum-v5, got PendulumEnv"):
        InvertedPendulumStateAdapter(PendulumEnv())


def test_adapter_rejects_nan_forces() -> None:
    adapted = InvertedPendulumStateAdapter(gym.make("InvertedPendulum-v5"))
    adapted.reset(seed=0)
    with pytest.raises(ValueError, match=r"action is NaN"):
        adapted.step(np.array([np.nan]))


@pytest.mark.parametrize(
    ("function", "match"),
    [
        (mujoco_obs_to_cartpole_state, r"obs must end in 4 entries \[x, theta, x_dot, theta_dot\]"),
        (cartpole_state_to_mujoco_obs, r"state must end in 4 entries \[x, x_dot, theta, theta_dot\]"),
    ],
)
def test_wrong_observation_size_is_rejected(function, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        function(np.zeros(5))
