"""SysId on expert episodes: transitions from true states or observations, the wrapped angle, the fitted actor."""

from __future__ import annotations

import math

import pytest
import torch

from dilqr_rl.agents.clone_policies import load_clone_policy
from dilqr_rl.agents.sysid import SysIdConfig, transition_loss
from dilqr_rl.agents.sysid_episodes import episode_transitions, sysid_from_episodes
from dilqr_rl.data import collect_episodes
from dilqr_rl.envs import make_env
from dilqr_rl.models.pendulum import PendulumDynamics
from dilqr_rl.policies.env_registry import env_control


@pytest.fixture(scope="module")
def pendulum_v1():
    return collect_episodes("Pendulum-v1", 3, seed=0, progress=False, max_episode_steps=30)


def test_transitions_from_observations_are_the_true_physics(pendulum_v1):
    """Pendulum-v1 reports no state: the states are atan2 of the observations, and the true model maps x_t, u_t to
    x_{t+1} up to the wrap of the angle."""
    env = make_env("Pendulum-v1")
    control = env_control(env)
    env.close()
    assert not pendulum_v1.has_states
    x, u, x_next = episode_transitions(pendulum_v1, control)
    assert x.shape == (90, 2) and u.shape == (90, 1) and x.dtype == torch.float64
    assert float(transition_loss(control.dynamics, x, u, x_next, angle_index=0)) < 1e-10


def test_the_angle_residual_is_wrapped():
    model = PendulumDynamics(dtype=torch.float64)
    x, u = torch.tensor([[math.pi - 0.01, 1.0]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    x_next = model(x, u).detach()
    across = x_next.clone()
    across[0, 0] -= 2 * math.pi  # the same state, its angle reported in (-pi, pi]
    assert float(transition_loss(model, x, u, across)) > 30
    assert float(transition_loss(model, x, u, across, angle_index=0)) < 1e-20


def test_sysid_on_episodes_identifies_the_pendulum_and_saves_an_actor(pendulum_v1, tmp_path):
    config = SysIdConfig(epochs=150, batch_size=64, lr=5e-2, progress=False)
    result = sysid_from_episodes(pendulum_v1, config, test_fraction=0.34, run_dir=tmp_path)
    learned = result["physics_learned"]
    assert result["physics_start"] == pytest.approx({"mass": 1.3, "length": 0.7, "gravity": 13.0})
    # the pendulum identifies 3 g / (2 l) and 3 / (m l^2) only
    assert 1.5 * learned["gravity"] / learned["length"] == pytest.approx(15.0, rel=1e-3)
    assert 3 / (learned["mass"] * learned["length"] ** 2) == pytest.approx(3.0, rel=1e-3)
    assert result["transitions"] == 60 and result["test_loss"] < 1e-6
    actor = load_clone_policy(result["checkpoint"])
    assert float(actor.dynamics.gravity) == pytest.approx(learned["gravity"])


def test_sysid_on_states_of_the_cartpole():
    ds = collect_episodes("dilqr_rl/CartpoleSwingUp-v0", 2, seed=0, progress=False, max_episode_steps=25)
    assert ds.has_states
    result = sysid_from_episodes(ds, SysIdConfig(epochs=300, batch_size=64, lr=0.1, progress=False),
                                 test_fraction=0.0)
    true = result["physics_true"]
    assert {k: v / true[k] for k, v in result["physics_start"].items()} == pytest.approx(
        {"cart_mass": 0.7, "pole_mass": 0.7, "length": 0.7, "gravity": 1.0})
    errors = {k: abs(v / true[k] - 1) for k, v in result["physics_learned"].items()}
    assert max(errors.values()) < 0.15 and errors["cart_mass"] < 0.01 and errors["length"] < 0.01, errors
    assert result["test_loss"] is None and result["train_loss"] < 1e-6 and result["transitions"] == 50
