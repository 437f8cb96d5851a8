"""A DiLQR actor whose cost parameters a network predicts per state (``cost_map``): exact gradients through the
plan (float64 finite differences), training in PPO, save/load, and errors."""

from __future__ import annotations

import functools
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from torch import nn

from dilqr_rl import DiLQR
from dilqr_rl.control import kernels
from dilqr_rl.models import PendulumDynamics
from dilqr_rl.policies import DiLQRPolicy
from dilqr_rl.policies.cost_maps import GoalWeightsMap, make_cost_map
from dilqr_rl.policies.dilqr_actor import FirstControl, SolverStats
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost

F64 = torch.float64
WEIGHTS = (1.0, 0.1, 0.001)


def _kwargs(**over) -> dict:
    kw = dict(dynamics=PendulumDynamics(mass=1.3), cost=PeriodicQuadraticCost(WEIGHTS, angle_index=0),
              horizon=10, state_map="pendulum_angle", solver_options={"max_iter": 30}, log_std_init=-1.0,
              cost_map="goal_weights")
    return {**kw, **over}


def test_an_untrained_goal_weights_map_is_the_nominal_cost():
    obs = torch.tensor([[math.cos(0.4), math.sin(0.4), 0.5], [math.cos(2.5), math.sin(2.5), -1.0]])
    actions = {}
    for cost_map in ("goal_weights", None):
        policy = DiLQRPolicy(gym.spaces.Box(-8.0, 8.0, (3,), np.float32), gym.spaces.Box(-2.0, 2.0, (1,), np.float32),
                             lambda _: 1e-3, **_kwargs(cost_map=cost_map))
        actions[cost_map] = policy._predict(obs, deterministic=True)
    torch.testing.assert_close(actions["goal_weights"], actions[None], rtol=0, atol=0)


@pytest.mark.skipif(kernels._library()[0] is None, reason=f"no compiled kernel here: {kernels.status()}")
def test_a_cost_maps_per_state_costs_solve_compiled(monkeypatch):
    """The per-item weights and goal of a cost map take the compiled solve (its rollouts ran under 20 env steps/s
    on the PyTorch path); the C form's answer is the PyTorch one."""
    obs = torch.tensor([[math.cos(0.4), math.sin(0.4), 0.5], [math.cos(2.5), math.sin(2.5), -1.0]])
    policy = DiLQRPolicy(gym.spaces.Box(-8.0, 8.0, (3,), np.float32), gym.spaces.Box(-2.0, 2.0, (1,), np.float32),
                         lambda _: 1e-3, **_kwargs())
    with torch.no_grad():
        policy.action_net.cost_map.net[-1].bias.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(0))
    actions, solved, original = [], [], kernels.ilqr_scalar

    def spy(*args, compiled: bool):
        solved.append(original(*args) if compiled else None)
        return solved[-1]

    for compiled in (True, False):
        monkeypatch.setattr(kernels, "ilqr_scalar", functools.partial(spy, compiled=compiled))
        policy.action_net.forget_plans()
        actions.append(policy._predict(obs, deterministic=True))
        monkeypatch.undo()
    assert solved[0] is not None and solved[-1] is None
    torch.testing.assert_close(actions[0], actions[1], rtol=1e-5, atol=1e-6)


def test_the_action_matches_finite_differences_in_the_cost_maps_weights():
    """d u_1 / d (cost map parameters) through the plan, float64, against central differences of re-solves."""
    torch.manual_seed(0)
    weights = (1.0, 0.1, 0.1)  # a control penalty that keeps the first controls off their bounds
    cost_map = GoalWeightsMap(2, torch.tensor(weights), hidden_sizes=(8,)).to(F64)
    with torch.no_grad():  # away from the zero start, so both outputs move with the state
        cost_map.net[-1].weight.normal_(0.0, 0.3)
        cost_map.net[-1].bias.normal_(0.0, 0.1)
    controller = DiLQR(PendulumDynamics(dtype=F64), PeriodicQuadraticCost(weights, 0), 10, -2.0, 2.0,
                       max_iter=200, tol=1e-12)
    actor = FirstControl(controller, SolverStats(), F64, cost_map)
    state = torch.tensor([[0.15, 0.2], [-0.2, 0.1]], dtype=F64)
    sol = controller(state, cost_args=cost_map(state))
    assert sol.all_converged and bool(((sol.u[:, 0].abs() < 1.9)).all()), "first controls inside the bounds"
    actor(state).sum().backward()
    for name, param in cost_map.named_parameters():
        direction = torch.randn(param.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
        values = []
        with torch.no_grad():
            for sign in (1.0, -1.0):
                param.add_(sign * 1e-6 * direction)
                values.append(actor(state).sum())
                param.sub_(sign * 1e-6 * direction)
        expected = (values[0] - values[1]) / 2e-6
        torch.testing.assert_close((param.grad * direction).sum(), expected, rtol=1e-6, atol=1e-10, msg=name)


def test_ppo_trains_the_cost_map_and_save_load_keeps_it(tmp_path):
    model = PPO(DiLQRPolicy, "Pendulum-v1", n_steps=64, batch_size=32, n_epochs=2, learning_rate=1e-2, seed=0,
                policy_kwargs=_kwargs())
    cost_map = model.policy.action_net.cost_map
    assert isinstance(cost_map, GoalWeightsMap) and cost_map.nominal_weights.dtype == F64
    optimized = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert all(id(p) in optimized for p in cost_map.parameters())
    before = [p.detach().clone() for p in cost_map.parameters()]
    model.learn(64)
    assert any(not torch.equal(b, a) for b, a in zip(before, cost_map.parameters()))
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", env=gym.make("Pendulum-v1"))
    obs = torch.tensor([[math.cos(0.4), math.sin(0.4), 0.5], [math.cos(2.5), math.sin(2.5), -1.0]])
    torch.testing.assert_close(loaded.policy._predict(obs, deterministic=True),
                               model.policy._predict(obs, deterministic=True))


def test_cost_map_errors():
    with pytest.raises(ValueError, match=r"cost_map must be one of 'goal_weights' or an nn.Module"):
        make_cost_map("goals", 2, PeriodicQuadraticCost(WEIGHTS, 0))
    with pytest.raises(ValueError, match="has no tensor attribute w or weights"):
        make_cost_map("goal_weights", 2, nn.Identity())

    class NoKeywords(nn.Module):
        def forward(self, x, u):
            return (x**2).sum(-1) + (u**2).sum(-1)

    policy = DiLQRPolicy(gym.spaces.Box(-8.0, 8.0, (3,), np.float32), gym.spaces.Box(-2.0, 2.0, (1,), np.float32),
                         lambda _: 1e-3, **_kwargs(cost=NoKeywords(), cost_map=GoalWeightsMap(2, torch.ones(3))))
    with pytest.raises(TypeError, match=r"NoKeywords.forward\(\) takes no argument 'weights'"):
        policy._predict(torch.zeros(1, 3), deterministic=True)


def test_periodic_cost_closed_forms_with_per_row_weights_and_goal_match_torch_func():
    from torch.func import hessian, jacrev, vmap

    gen = torch.Generator().manual_seed(0)
    cost = PeriodicQuadraticCost(WEIGHTS, angle_index=0)
    x, u = torch.randn(6, 2, generator=gen, dtype=F64), torch.randn(6, 1, generator=gen, dtype=F64)
    rows = {"weights": torch.rand(6, 3, generator=gen, dtype=F64), "goal": torch.randn(6, 3, generator=gen, dtype=F64)}
    for args in ({}, rows):
        def g(tau, *values, args=args):
            kw = {k: v.unsqueeze(0) for k, v in zip(args, values)}
            return cost(tau[:2].unsqueeze(0), tau[2:].unsqueeze(0), **kw)[0]

        tau = torch.cat([x, u], -1)
        c, C = cost.derivatives(x, u, **args)
        torch.testing.assert_close(c, vmap(jacrev(g))(tau, *args.values()), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(C, vmap(hessian(g))(tau, *args.values()), rtol=1e-12, atol=1e-12)
