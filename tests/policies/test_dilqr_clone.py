"""The registry's DiLQR actor as a cloning policy: wrong start, what it learns, exact gradients of u_1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dilqr_rl.envs import make_env
from dilqr_rl.policies.dilqr_actor import DEFAULT_FOLLOW_TOLERANCE
from dilqr_rl.policies.dilqr_clone import env_actor_policy, physical_parameters
from dilqr_rl.policies.env_registry import WRONG_PENDULUM


@pytest.fixture
def env():
    env = make_env("Pendulum-v1")
    yield env
    env.close()


def test_the_default_wrong_start_and_what_is_learned(env):
    policy = env_actor_policy(env)
    assert physical_parameters(policy.dynamics) == pytest.approx(
        {name: true * (1 + WRONG_PENDULUM[name]) for name, true in (("mass", 1.0), ("length", 1.0), ("gravity", 10.0))})
    assert all(p.requires_grad for p in policy.dynamics.parameters())
    assert not any(p.requires_grad for p in policy.cost.parameters())
    both = env_actor_policy(env, {"mass": -0.3}, learn=("physics", "cost"))
    assert physical_parameters(both.dynamics) == pytest.approx({"mass": 0.7, "length": 1.0, "gravity": 10.0})
    assert [name for name, p in both.cost.named_parameters() if p.requires_grad] == ["log_w"]
    cost_only = env_actor_policy(env, learn=("cost",))
    assert not any(p.requires_grad for p in cost_only.dynamics.parameters())
    with pytest.raises(ValueError, match=r"learn names \['mass'\]; valid: \['physics', 'cost'\]"):
        env_actor_policy(env, learn=("mass",))


def test_predict_is_the_first_control_of_one_or_many_observations(env):
    policy = env_actor_policy(env, {}, plan_memory=0)
    obs = np.stack([env.reset(seed=s)[0] for s in range(3)])
    actions, state = policy.predict(obs)
    assert state is None and actions.shape == (3, 1) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 2.0)
    one, _ = policy.predict(obs[1])
    np.testing.assert_allclose(one, actions[1], rtol=1e-6)


def test_the_gradient_of_u1_in_the_mass_matches_finite_differences(env):
    policy = env_actor_policy(env, {}, plan_memory=0)  # no memory: u_1 is a function of the parameters only
    obs = torch.tensor([[np.cos(0.05), np.sin(0.05), -0.3]], dtype=torch.float64)  # near upright: u_1 not at a bound
    u1 = policy(obs)
    assert u1.abs().item() < 1.9
    u1.sum().backward()
    mass = policy.dynamics.mass
    h = 1e-5
    with torch.no_grad():
        mass += h
        up = policy(obs).item()
        mass -= 2 * h
        down = policy(obs).item()
        mass += h
    assert mass.grad.item() == pytest.approx((up - down) / (2 * h), rel=1e-4)


def test_predict_follows_its_own_plans_within_an_episode_and_not_across_episode_starts():
    env = make_env("dilqr_rl/CartpoleSwingUp-v0")  # its registered actor follows its plans
    policy = env_actor_policy(env, {})  # the true model: the plan predicts the env's next state
    tolerance = policy.actor.follow_tolerance
    assert tolerance == DEFAULT_FOLLOW_TOLERANCE > 0
    obs, _ = env.reset(seed=0)
    action, _ = policy.predict(obs, episode_start=np.array([True]))
    assert policy.solver_stats.pop()["followed_fraction"] == 0.0  # nothing to follow yet
    obs, *_ = env.step(action)
    policy.predict(obs, episode_start=np.array([False]))
    assert policy.solver_stats.pop()["followed_fraction"] == 1.0
    far = obs.copy()
    far[2] += 1.0  # the pole 1 rad from where the plan went (> the tolerance): solved from the starts
    policy.predict(far, episode_start=np.array([False]))
    assert policy.solver_stats.pop()["followed_fraction"] == 0.0
    policy.predict(obs, episode_start=np.array([False]))  # only the last call's plan (from `far`) is followed
    assert policy.solver_stats.pop()["followed_fraction"] == 0.0
    action, _ = policy.predict(obs, episode_start=np.array([False]))
    policy.solver_stats.pop()
    obs, *_ = env.step(action)
    predicted = policy._acting.recent[1][0][0]  # where the last call's plan said the cart-pole goes
    assert float((torch.as_tensor(obs, dtype=torch.float64) - predicted).abs().max()) <= tolerance  # would follow
    policy.predict(obs, episode_start=np.array([True]))  # but an episode start never follows
    assert policy.solver_stats.pop()["followed_fraction"] == 0.0
    assert len(policy.actor.memory) == 0  # acting leaves the training memory alone
    policy.forget_plans()
    policy.predict(obs)
    assert policy.solver_stats.pop()["followed_fraction"] == 0.0
