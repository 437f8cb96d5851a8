"""The DiLQR actor's plan: the cheapest converged plan over its starts for a new observation, or warm-started from
the previous call's plan where the state continues it, or from its plan memory for an observation seen before; PPO's
update therefore sees the log-probabilities its rollout sampled with."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from dilqr_rl.agents.evaluation import RandomPolicy, evaluate_episodes, normalized_return
from dilqr_rl.policies import DiLQRPolicy, expert_for
from dilqr_rl.policies.dilqr_actor import DEFAULT_FOLLOW_TOLERANCE, PlanMemory
from dilqr_rl.policies.env_registry import ActorSettings, make_env
from dilqr_rl.policies.receding_horizon import shift_plan


def _policy(env_id="Pendulum-v1", **kwargs) -> DiLQRPolicy:
    return PPO(DiLQRPolicy, make_env(env_id), n_steps=16, batch_size=16, n_epochs=1, seed=0,
               policy_kwargs=dict(env_id=env_id, **kwargs)).policy


def _bottom_states() -> torch.Tensor:
    theta = torch.tensor([3.1, -3.0, 2.5, 0.4])
    return torch.stack([theta.cos(), theta.sin(), torch.tensor([0.0, 0.5, -1.0, 0.0])], -1)  # (4, 3) obs


def test_the_plan_is_the_cheapest_converged_of_the_starts():
    policy = _policy(plan_memory=0)
    control = policy.action_net
    state = policy.state_map(_bottom_states()).double()
    sol = control.solve(state)
    assert bool(sol.converged.all())
    controller = control.controller
    T = controller.config.horizon
    costs = []
    for level in (0.0, 2.0, -2.0):  # the registered starts: 0 and +-1 of the bound 2
        start = torch.full((state.shape[0], T, 1), level, dtype=torch.float64)
        each = controller(state, u_init=start)
        costs.append(torch.where(each.converged, each.cost, torch.full_like(each.cost, float("inf"))))
    torch.testing.assert_close(sol.cost, torch.stack(costs).min(0).values, rtol=1e-6, atol=1e-8)


def test_the_memory_reproduces_the_plan_of_an_observation_seen_before():
    policy = _policy()
    obs = _bottom_states()
    first = policy.action_net(policy.state_map(obs)).detach()
    assert len(policy.action_net.memory) == obs.shape[0]
    stats = policy.solver_stats.pop()
    assert stats["warm_fraction"] == 0.0
    again = policy.action_net(policy.state_map(obs)).detach()
    assert policy.solver_stats.pop()["warm_fraction"] == 1.0
    torch.testing.assert_close(again, first, rtol=0, atol=1e-4)
    without_memory = _policy(plan_memory=0)
    torch.testing.assert_close(without_memory.action_net(without_memory.state_map(obs)).detach(), first,
                               rtol=0, atol=1e-4)  # the same function of the observation


def _obs(state: torch.Tensor) -> torch.Tensor:
    """Pendulum-v1 observations (B, 3) of states (B, 2) = (angle, speed)."""
    return torch.stack([state[:, 0].cos(), state[:, 0].sin(), state[:, 1]], -1).float()


def test_a_state_the_previous_plan_predicted_is_solved_warm_from_that_plan_shifted():
    policy = _policy(follow_tolerance=0.5)  # the mechanism (Pendulum-v1's registered actor does not follow)
    control = policy.action_net
    with torch.no_grad():  # acting
        first = control.solve(policy.state_map(_bottom_states()).double())
        assert policy.solver_stats.pop()["followed_fraction"] == 0.0  # nothing to follow yet
        state = policy.state_map(_obs(first.x[:, 1])).double()  # where the plans said the pendulum goes
        followed = control.solve(state)
        assert policy.solver_stats.pop()["followed_fraction"] == 1.0
    with torch.enable_grad():  # an update re-solves from the memory, never from the previous call's plans
        assert control._following(state, [0, 1, 2, 3]) == [None] * 4
    again = control.controller(state, u_init=shift_plan(first.u.detach()))
    torch.testing.assert_close(followed.u, again.u, rtol=0, atol=1e-12)

    reset = state.clone()
    reset[:, 0] += 1.0  # the angle jumps by 1 rad > follow_tolerance (0.5): a new episode, from the starts
    with torch.no_grad():
        control.solve(followed.x[:, 1].clone())  # the previous plans' predictions are where `followed` goes
        from_starts = control.solve(reset)
    assert policy.solver_stats.pop()["followed_fraction"] == 0.5  # the first of the two calls followed
    fresh = _policy(plan_memory=0)
    torch.testing.assert_close(from_starts.u, fresh.action_net.solve(reset).u, rtol=0, atol=1e-9)


def test_following_compares_the_angle_modulo_two_pi_and_can_be_switched_off():
    policy = _policy(follow_tolerance=0.5)
    control = policy.action_net
    T = control.controller.config.horizon
    predicted = torch.tensor([[torch.pi - 0.01, 0.0], [0.0, 0.0]], dtype=torch.float64)
    control.memory.recent[2] = (predicted, torch.zeros(2, T, 1, dtype=torch.float64))
    state = torch.tensor([[-torch.pi + 0.01, 0.0], [0.0, 0.6]], dtype=torch.float64)
    off = _policy().action_net  # Pendulum-v1's registered actor: from the starts only
    assert off.follow_tolerance == 0.0
    assert _policy("dilqr_rl/CartpoleSwingUp-v0").action_net.follow_tolerance == DEFAULT_FOLLOW_TOLERANCE
    off.memory.recent[2] = control.memory.recent[2]
    with torch.no_grad():
        assert [plan is not None for plan in control._following(state, [0, 1])] == [True, False]
        assert off._following(state, [0, 1]) == [None, None]
    with pytest.raises(ValueError, match="follow_tolerance must be a finite number >= 0"):
        _policy(follow_tolerance=-1.0)


def test_plan_memory_keeps_converged_plans_and_drops_the_least_recently_used():
    memory = PlanMemory(capacity=2)
    obs = torch.arange(6.0).view(3, 2)
    keys = memory.keys(obs)
    memory.store(keys, torch.ones(3, 4, 1), torch.tensor([True, False, True]))
    assert [p is not None for p in memory.lookup(keys)] == [True, False, True]
    memory.lookup(keys[:1])  # row 0 used last
    memory.store(keys[1:2], torch.zeros(1, 4, 1), torch.tensor([True]))
    assert [p is not None for p in memory.lookup(keys)] == [True, True, False]


@pytest.mark.parametrize("plan_memory, follow_tolerance", [(100_000, 0.5), (100_000, 0.0), (0, 0.0)])
def test_ppo_update_log_probabilities_equal_the_rollouts(plan_memory, follow_tolerance):
    """Before any gradient step, evaluate_actions on the rollout buffer gives the log-probabilities the rollout
    stored: the update differentiates the same policy (from the memory's plans, or from the same starts)."""
    env_id = "Pendulum-v1"
    model = PPO(DiLQRPolicy, make_env(env_id), n_steps=24, batch_size=24, n_epochs=1, seed=0,
                policy_kwargs=dict(env_id=env_id, plan_memory=plan_memory, follow_tolerance=follow_tolerance))
    _, callback = model._setup_learn(24, callback=None)
    callback.on_training_start(locals(), globals())
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=24)
    buffer = model.rollout_buffer
    memory = model.policy.action_net.memory
    stored = len(memory) if memory is not None else 0  # the rollout's plans
    rollout = model.policy.solver_stats.pop()
    if follow_tolerance:  # the rollout followed its own plans from the second step on
        assert rollout["followed_fraction"] >= 0.5
    obs = torch.as_tensor(buffer.observations.reshape(24, -1))
    actions = torch.as_tensor(buffer.actions.reshape(24, -1))
    _, log_prob, _ = model.policy.evaluate_actions(obs, actions)
    np.testing.assert_allclose(log_prob.detach().numpy(), buffer.log_probs.reshape(24), rtol=0, atol=1e-4)
    if plan_memory:  # every rollout state was re-solved from what the memory stored for it
        assert stored == 24 and model.policy.solver_stats.pop()["warm_fraction"] == 1.0


def test_unconverged_items_get_a_zero_gradient_by_default():
    policy = _policy(solver_options={"max_iter": 1, "tol": 1e-12}, plan_memory=0)
    obs = _bottom_states()
    with pytest.warns(UserWarning):
        u = policy.action_net(policy.state_map(obs).double())
    u.square().sum().backward()
    assert all(p.grad is None or bool((p.grad == 0).all()) for p in policy.controller.dynamics.parameters())


CASES = {  # env id -> (episodes, max steps): a small budget; the full table is scripts/actor_returns.py
    "Pendulum-v1": (3, None),
    "dilqr_rl/Pendulum-v0": (2, None),
    "dilqr_rl/CartpoleBalance-v0": (2, 100),
    "InvertedPendulum-v5": (2, 100),
    "dilqr_rl/CartpoleSwingUp-v0": (1, 120),
}


@pytest.mark.parametrize("env_id", list(CASES))
def test_the_zero_config_actor_with_the_true_model_reaches_the_experts_return(env_id):
    torch.set_num_threads(1)
    episodes, max_steps = CASES[env_id]
    env = make_env(env_id)
    model = PPO(DiLQRPolicy, env, n_steps=8, batch_size=8, seed=0, policy_kwargs=dict(env_id=env_id))

    def mean(policy) -> float:
        return float(evaluate_episodes(policy, lambda: make_env(env_id), n_episodes=episodes, seed=0,
                                       max_steps=max_steps).returns.mean())

    random, expert = mean(RandomPolicy(env.observation_space, env.action_space)), mean(expert_for(env))
    assert normalized_return(mean(model), random, expert) >= 0.95


@pytest.mark.parametrize("algorithm", ["ppo", "sac"])
def test_predict_does_not_follow_into_a_new_episode(algorithm):
    from stable_baselines3 import SAC

    from dilqr_rl.policies import DiLQRSACPolicy

    env_id = "dilqr_rl/CartpoleSwingUp-v0"  # its registered actor follows its plans
    env = make_env(env_id)
    if algorithm == "ppo":
        policy = _policy(env_id)
    else:
        policy = SAC(DiLQRSACPolicy, env, learning_starts=0, seed=0, policy_kwargs=dict(env_id=env_id)).policy
    obs, _ = env.reset(seed=0)
    action, _ = policy.predict(obs, episode_start=np.array([True]), deterministic=True)
    policy.solver_stats.pop()
    obs, *_ = env.step(action)
    action, _ = policy.predict(obs, episode_start=np.array([False]), deterministic=True)  # continues: follows
    assert policy.solver_stats.pop()["followed_fraction"] == 1.0
    obs, *_ = env.step(action)  # the plan's first control: the true model predicts where it goes
    control = policy.action_net if algorithm == "ppo" else policy.actor.first_control
    predicted = control.memory.recent[1][0][0]
    gap = float((torch.as_tensor(obs, dtype=torch.float64) - predicted).abs().max())
    assert gap <= control.follow_tolerance  # would follow
    policy.predict(obs, episode_start=np.array([True]))  # but it is marked as a new episode
    assert policy.solver_stats.pop()["followed_fraction"] == 0.0


def test_plan_as_changes_how_the_actor_plans_and_the_policy_saves_it(tmp_path):
    policy = _policy()
    states = _bottom_states()
    policy.predict(states.numpy(), deterministic=True)
    assert len(policy.action_net.memory) == 4
    settings = ActorSettings(horizon=12, max_iter=7, starts=(0.0, 0.5), start_switches=(4,), follow_tolerance=0.25)
    policy.plan_as(settings)
    control = policy.action_net
    assert (control.controller.config.horizon, control.controller.config.max_iter) == (12, 7)
    assert (control.starts, control.start_switches, control.follow_tolerance) == ((0.0, 0.5), (4,), 0.25)
    assert len(control.memory) == 0  # the old plans (T = 20) are forgotten
    with torch.no_grad():
        assert control.solve(policy.state_map(states).double()).u.shape == (4, 12, 1)
    policy.save(tmp_path / "policy.zip")
    loaded = DiLQRPolicy.load(tmp_path / "policy.zip").action_net
    assert (loaded.controller.config.horizon, loaded.controller.config.max_iter) == (12, 7)
    assert (loaded.starts, loaded.start_switches, loaded.follow_tolerance) == ((0.0, 0.5), (4,), 0.25)
