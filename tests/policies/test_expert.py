"""The receding-horizon iLQR expert: returns on short seeded runs, SB3's evaluate_policy, errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

import dilqr_rl.envs
from dilqr_rl.envs import InvertedPendulumStateAdapter
from dilqr_rl.models import PendulumDynamics, PendulumSwingUpCost
from dilqr_rl.policies import ILQRExpert, expert_for
from dilqr_rl.policies.expert import ExpertSettings
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.receding_horizon import start_sequences


def vec(env_id: str, n: int, seed: int, **kwargs) -> DummyVecEnv:
    venv = DummyVecEnv([lambda: gym.make(env_id, **kwargs) for _ in range(n)])
    venv.seed(seed)
    return venv


def test_pendulum_v1_expert_swings_up_in_evaluate_policy() -> None:
    venv = vec("Pendulum-v1", 2, seed=0)
    expert = expert_for(venv.envs[0])
    returns, lengths = evaluate_policy(expert, venv, n_eval_episodes=2, return_episode_rewards=True)
    assert lengths == [200, 200]
    # doing nothing scores about -1200 from the bottom; a swing-up and balance about -100 to -350
    assert min(returns) > -400 and np.mean(returns) > -300, returns


def test_pendulum_v1_expert_reads_the_env_physics() -> None:
    env = gym.make("Pendulum-v1", g=9.81)
    expert = expert_for(env)
    assert expert.dynamics.gravity.item() == pytest.approx(9.81)
    assert expert.dynamics.max_speed == env.unwrapped.max_speed
    assert (expert.u_lower, expert.u_upper) == (-2.0, 2.0)


def test_predict_single_observation_and_warm_start_state() -> None:
    env = gym.make("Pendulum-v1")
    expert = expert_for(env, horizon=20)
    obs, _ = env.reset(seed=1)
    action, plan = expert.predict(obs)
    assert action.shape == (1,) and action.dtype == np.float32 and plan.shape == (1, 20, 1)
    assert env.action_space.contains(action)
    obs, *_ = env.step(action)
    action2, _ = expert.predict(obs, state=plan, episode_start=np.array([False]))
    # warm start from the shifted plan: the first action follows the previous plan's second control
    assert abs(float(action2[0]) - float(plan[0, 0, 0])) < 0.5
    with pytest.raises(ValueError, match="state must be the plan"):
        expert.predict(obs, state=np.zeros((1, 5, 1)))


def test_own_pendulum_both_observations_balance_from_near_upright() -> None:
    for observation in ("trig", "state"):
        env = gym.make("dilqr_rl/Pendulum-v0", observation=observation, max_episode_steps=40)
        expert = expert_for(env)
        obs, _ = env.reset(seed=0, options={"state": np.array([0.3, 0.0])})
        plan, start = None, np.array([True])
        for _ in range(40):
            action, plan = expert.predict(obs, plan, start)
            obs, *_ = env.step(action)
            start = np.array([False])
        theta, speed = env.unwrapped.state
        assert abs(theta) < 0.05 and abs(speed) < 0.2  # held up on the near side, not swung around


def test_cartpole_swingup_expert_swings_up_fast_variant() -> None:
    env = gym.make("dilqr_rl/CartpoleSwingUp-v0", max_episode_steps=100)
    expert = expert_for(env)
    obs, _ = env.reset(seed=0)
    plan, start, angles = None, np.array([True]), []
    for _ in range(100):
        action, plan = expert.predict(obs, plan, start)
        obs, _, terminated, _, _ = env.step(action)
        start = np.array([False])
        assert not terminated, "the cart left the track"
        angles.append(dilqr_rl.envs.angle_normalize(env.unwrapped.state[2]))
    assert abs(angles[0]) > 2.5  # it did start hanging
    assert max(abs(a) for a in angles[-10:]) < 0.2


@pytest.mark.slow
def test_cartpole_swingup_expert_full_episode() -> None:
    venv = vec("dilqr_rl/CartpoleSwingUp-v0", 2, seed=0)
    returns, lengths = evaluate_policy(expert_for(venv.envs[0]), venv, n_eval_episodes=2,
                                       return_episode_rewards=True)
    assert lengths == [500, 500]
    assert min(returns) > -500, returns  # hanging still costs about -4935 over 500 steps


def test_cartpole_balance_expert_keeps_the_pole_up() -> None:
    venv = vec("dilqr_rl/CartpoleBalance-v0", 2, seed=0, max_episode_steps=60)
    returns, _ = evaluate_policy(expert_for(venv.envs[0]), venv, n_eval_episodes=2, return_episode_rewards=True)
    assert returns == [60.0, 60.0]


def test_inverted_pendulum_expert_does_not_fall_raw_and_adapted() -> None:
    venv = vec("InvertedPendulum-v5", 2, seed=0, max_episode_steps=100)
    returns, _ = evaluate_policy(expert_for(venv.envs[0]), venv, n_eval_episodes=2, return_episode_rewards=True)
    assert returns == [100.0, 100.0]
    adapted = InvertedPendulumStateAdapter(gym.make("InvertedPendulum-v5", max_episode_steps=30))
    expert = expert_for(adapted)
    assert expert.action_scale == pytest.approx(100.0 / 95.511, rel=1e-3)  # gear / fitted gain
    returns, _ = evaluate_policy(expert, adapted, n_eval_episodes=1, return_episode_rewards=True)
    assert returns == [30.0]


@pytest.mark.slow
def test_inverted_pendulum_expert_reaches_1000() -> None:
    venv = vec("InvertedPendulum-v5", 2, seed=0)
    returns, _ = evaluate_policy(expert_for(venv.envs[0]), venv, n_eval_episodes=2, return_episode_rewards=True)
    assert returns == [1000.0, 1000.0]


def test_pixel_pendulum_expert_is_privileged_and_single_env() -> None:
    env = gym.make("dilqr_rl/PixelPendulum-v0", max_episode_steps=5)
    expert = expert_for(env, horizon=10)
    obs, _ = env.reset(seed=0)
    action, _ = expert.predict(obs)
    reference, _ = expert.predict_state(torch.from_numpy(env.unwrapped.state[None]))
    np.testing.assert_array_equal(action, reference[0])
    with pytest.raises(ValueError, match="reads the true state of the one env"):
        expert.predict(np.stack([obs, obs]))


def test_unsupported_env_lists_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"no iLQR expert for CartPoleEnv.*supported environments: Pendulum-v1"):
        expert_for(gym.make("CartPole-v1"))


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown expert setting.*valid: horizon"):
        expert_for(gym.make("Pendulum-v1"), horizn=3)
    with pytest.raises(ValueError, match="cold_starts must be"):
        ExpertSettings(cold_starts=(2.0,))
    with pytest.raises(ValueError, match="must be >= 1"):
        ExpertSettings(horizon=0)
    with pytest.raises(ValueError, match=r"cold_switches must be whole numbers of steps k >= 1.*got \(0, 3\)"):
        ExpertSettings(cold_switches=(0, 3))


def test_cold_starts_are_the_constant_levels_then_the_bang_bang_pairs() -> None:
    settings = ExpertSettings(horizon=5, cold_starts=(0.0, 0.5, -1.0), cold_switches=(1, 3, 9))
    env = gym.make("Pendulum-v1")
    expert = ILQRExpert(PendulumDynamics(dtype=torch.float64), PeriodicQuadraticCost((1.0, 0.1, 0.001), 0), -2.0,
                        3.0, lambda obs: obs, env.observation_space, env.action_space, settings)
    sequences = start_sequences(settings.cold_starts, settings.cold_switches, 5, -2.0, 3.0,
                                torch.zeros(1, dtype=torch.float64))  # (S, T, m = 1)
    expected = torch.tensor([[0.0] * 5, [1.5] * 5, [-2.0] * 5,  # 0.5 of the upper bound, all of the lower one
                             [3.0, -2.0, -2.0, -2.0, -2.0], [3.0, 3.0, 3.0, -2.0, -2.0],  # upper until k, then lower
                             [3.0] * 5,  # k = 9 >= T: a constant start at the bound
                             [-2.0, 3.0, 3.0, 3.0, 3.0], [-2.0, -2.0, -2.0, 3.0, 3.0], [-2.0] * 5],
                            dtype=torch.float64)
    torch.testing.assert_close(sequences, expected.unsqueeze(-1))
    _, plan = expert.act(torch.tensor([[3.0, 0.0], [0.1, 0.0]], dtype=torch.float64), None,
                         torch.ones(2, dtype=torch.bool))
    assert plan.shape == (2, 5, 1) and expert.solves == 2
    assert settings.as_dict()["cold_switches"] == [1, 3, 9]


def test_periodic_cost_matches_swingup_cost_and_autograd() -> None:
    cost = PeriodicQuadraticCost((1.0, 0.1, 0.001), angle_index=0)
    x = torch.randn(7, 2, dtype=torch.float64) * 3
    u = torch.randn(7, 1, dtype=torch.float64)
    reference = PendulumSwingUpCost().double()
    torch.testing.assert_close(cost(x, u), reference(x, u))
    c, C = cost.derivatives(x, u)
    for r in range(7):
        tau = torch.cat([x[r], u[r]])
        split = lambda z: cost(z[:2].unsqueeze(0), z[2:].unsqueeze(0))[0]  # noqa: E731
        torch.testing.assert_close(c[r], torch.func.grad(split)(tau))
        torch.testing.assert_close(C[r], torch.func.hessian(split)(tau))
    with pytest.raises(ValueError, match="angle_index must index"):
        PeriodicQuadraticCost((1.0, 1.0), angle_index=2)


def test_expert_is_an_ilqr_expert_with_a_readable_repr() -> None:
    expert = expert_for(gym.make("Pendulum-v1"))
    assert isinstance(expert, ILQRExpert) and "Pendulum-v1" in repr(expert)


def test_expert_plans_with_frozen_copies_and_leaves_the_callers_modules_trainable() -> None:
    env = gym.make("Pendulum-v1")
    dynamics = PendulumDynamics(dtype=torch.float64)
    cost = PeriodicQuadraticCost((1.0, 0.1, 0.001), angle_index=0)
    trainable = {name: p.requires_grad for name, p in dynamics.named_parameters()}
    expert = ILQRExpert(dynamics, cost, -2.0, 2.0, lambda obs: obs, env.observation_space, env.action_space)
    assert {name: p.requires_grad for name, p in dynamics.named_parameters()} == trainable and any(trainable.values())
    assert expert.dynamics is not dynamics and expert.cost is not cost
    assert not any(p.requires_grad for p in expert.dynamics.parameters())
    own = gym.make("dilqr_rl/Pendulum-v0")
    expert_for(own)
    assert any(p.requires_grad for p in own.unwrapped.dynamics.parameters())


def test_raw_inverted_pendulum_expert_reads_states_with_the_envs_conversion() -> None:
    expert = expert_for(gym.make("InvertedPendulum-v5"))
    assert expert.obs_to_state is dilqr_rl.envs.mujoco_obs_to_cartpole_state


def test_expert_counts_its_solves_and_the_converged_ones():
    env = gym.make("dilqr_rl/Pendulum-v0")
    x = torch.tensor([[0.1, 0.0], [-0.3, 0.5]], dtype=torch.float64)
    short = expert_for(env)  # 60 cold iterations: the cheapest of the 15 starts is kept, converged or not
    _, plan = short.act(x, None, torch.ones(2, dtype=torch.bool))
    assert short.solves == 2 and short.converged_solves == 1
    expert = expert_for(env, cold_iter=300, max_iter=50)  # enough iterations: every solve converges
    _, plan = expert.act(x, None, torch.ones(2, dtype=torch.bool))
    assert expert.solves == 2 and expert.converged_solves == 2
    expert.act(x, plan, torch.zeros(2, dtype=torch.bool))
    assert expert.solves == 4 and expert.converged_solves == 4
    env.close()


def test_relabel_state_is_the_cheaper_of_the_cold_and_the_warm_solve() -> None:
    """DAgger's labels: cold everywhere (as predict_state at an episode start), unless the warm start from the
    given plan finds a cheaper plan."""
    env = gym.make("dilqr_rl/Pendulum-v0")
    expert = expert_for(env)
    x = torch.tensor([[3.0, 0.0], [0.2, -0.5]], dtype=torch.float64)
    cold, cold_plan = expert.predict_state(x)
    actions, plan = expert.relabel_state(x)
    np.testing.assert_array_equal(actions, cold)
    np.testing.assert_array_equal(plan, cold_plan)
    bad = np.full_like(cold_plan, 2.0)  # full torque for the whole horizon: a poor warm start
    relabelled, _ = expert.relabel_state(x, bad)
    warm, _ = expert.predict_state(x, bad, np.array([False, False]))
    np.testing.assert_array_equal(relabelled, cold)  # the warm solve from it is no cheaper than the cold one
    assert not np.allclose(warm, cold)  # ... though it lands elsewhere
    assert expert.solves == 2 * 4  # every labelled state counts once
    env.close()
