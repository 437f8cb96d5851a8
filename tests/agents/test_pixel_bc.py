"""Pixel behaviour cloning: what it trains, the auxiliary state loss, the physics warm-up, the diagnostics, errors;
and the shared pieces (Adam with physics groups, StepHistory)."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from dilqr_rl.agents.logging import StepHistory
from dilqr_rl.agents.physics_optim import adam_with_physics, hold_physics
from dilqr_rl.agents.pixel_bc import PixelBCConfig, _at_bounds, state_features, train_pixel_bc
from dilqr_rl.data import collect_pixel_episodes
from dilqr_rl.envs import make_env
from dilqr_rl.policies.pixel_policies import POLICY_CLASSES, pixel_dilqr_kwargs, pixel_mlp_kwargs

ENV = "dilqr_rl/PixelPendulum-v0"


@pytest.fixture(scope="module")
def data() -> dict[str, torch.Tensor]:
    return collect_pixel_episodes(2, seed=3, steps=6, size=32, batch_size=2).tensors()


def _policy(kind: str):
    venv = DummyVecEnv([lambda: make_env(ENV, size=32, max_episode_steps=6)])
    kwargs = (pixel_dilqr_kwargs(venv.observation_space.shape, horizon=4, max_iter=3) if kind == "dilqr"
              else pixel_mlp_kwargs(8))
    torch.manual_seed(0)
    return PPO(POLICY_CLASSES[kind], venv, policy_kwargs=kwargs, seed=0, device="cpu").policy


def test_mlp_bc_trains_the_actor_only_and_logs_blocks(data):
    policy = _policy("mlp")
    critic = [p.detach().clone() for p in policy.value_net.parameters()]
    encoder = [p.detach().clone() for p in policy.features_extractor.parameters()]
    history = train_pixel_bc(policy, data["frames"], data["states"], data["actions"], 4,
                             PixelBCConfig(steps=5, batch_size=4, log_every=2))
    assert len(history["train/action_mse"]) == 3  # steps 2, 4 and the last (5)
    assert all(v == 0.0 for v in history["train/state_mse"])  # no state loss asked for
    assert all(v > 0 for v in history["train/grad_norm"])
    assert all(torch.equal(a, b) for a, b in zip(critic, policy.value_net.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(encoder, policy.features_extractor.parameters()))
    assert not policy.training  # left in evaluation mode


def test_dilqr_bc_holds_the_physics_during_the_warmup_then_moves_it(data):
    policy = _policy("dilqr")
    dynamics = policy.controller.dynamics
    config = PixelBCConfig(steps=4, batch_size=6, log_every=1, physics_warmup=2, state_weight=1.0)
    history = train_pixel_bc(policy, data["frames"], data["states"], data["actions"], 4, config,
                             [dynamics.mass, dynamics.gravity], ["mass", "gravity"])
    assert history["param/mass"][:2] == [1.3, 1.3] and history["param/gravity"][:2] == [7.0, 7.0]
    assert history["param/gravity"][-1] != 7.0
    assert all(v > 0 for v in history["train/state_mse"])


def test_state_features_and_bound_detection():
    x = torch.tensor([[0.0, 8.0], [torch.pi / 2, -4.0]])
    torch.testing.assert_close(state_features(x), torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -0.5]]),
                               atol=1e-7, rtol=0)
    low, high = torch.tensor([-2.0]), torch.tensor([2.0])
    assert _at_bounds(torch.tensor([[-2.0], [1.999], [2.0], [0.0]]), low, high).tolist() == [1.0, 0.0, 1.0, 0.0]


def test_config_errors_name_the_values():
    with pytest.raises(ValueError, match="steps, batch_size and log_every must be >= 1"):
        PixelBCConfig(steps=0)
    with pytest.raises(ValueError, match="state_weight >= 0"):
        PixelBCConfig(state_weight=-1.0)


def test_adam_with_physics_rates_and_hold():
    net = torch.nn.Linear(2, 1)
    mass, gravity = torch.nn.Parameter(torch.tensor(2.0)), torch.nn.Parameter(torch.tensor(-10.0))
    net.register_parameter("mass", mass)
    optimizer = adam_with_physics(net, [mass, gravity], lr=1e-3, physics_lr=1e-2)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-3, 2e-2, 1e-1])
    assert all(p is not mass for p in optimizer.param_groups[0]["params"])  # each parameter in one group only
    hold_physics(optimizer, True)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-3, 0.0, 0.0])
    hold_physics(optimizer, False)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-3, 2e-2, 1e-1])


def test_step_history_averages_blocks_and_keeps_the_last_step():
    log = StepHistory(every=2, last=5)
    for step in range(1, 6):
        log.add(step, {"a": float(step)}, {"p": 10.0 * step})
    assert log.history == {"a": [1.5, 3.5, 5.0], "p": [20.0, 40.0, 50.0]}
