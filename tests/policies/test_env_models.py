"""The default controller model of an env: its state map keeps the observation's dtype, device and gradient."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import dilqr_rl.envs
from dilqr_rl.policies import expert_for
from dilqr_rl.policies.env_models import env_model

ENVS = {  # name -> (make, whether the map only copies entries: then it is bit-exact)
    "Pendulum-v1": (lambda: gym.make("Pendulum-v1"), False),
    "Pendulum-v0 trig": (lambda: gym.make("dilqr_rl/Pendulum-v0"), False),
    "Pendulum-v0 state": (lambda: gym.make("dilqr_rl/Pendulum-v0", observation="state"), True),
    "CartpoleSwingUp-v0 state": (lambda: gym.make("dilqr_rl/CartpoleSwingUp-v0"), True),
    "CartpoleSwingUp-v0 trig": (lambda: gym.make("dilqr_rl/CartpoleSwingUp-v0", observation="trig"), False),
    "InvertedPendulum-v5": (lambda: gym.make("InvertedPendulum-v5"), True),
    "InvertedPendulum-v5 adapter": (
        lambda: dilqr_rl.envs.InvertedPendulumStateAdapter(gym.make("InvertedPendulum-v5")), True),
}


@pytest.mark.parametrize("name", list(ENVS))
def test_default_state_map_keeps_float64_device_and_gradient(name):
    make, copies_entries = ENVS[name]
    env = make()
    state_map = env_model(env).state_map
    obs = np.random.default_rng(0).normal(size=(8, *env.observation_space.shape))  # float64
    expected = torch.from_numpy(expert_for(env).obs_to_state(obs))  # the expert's numpy map, float64
    observation = torch.from_numpy(obs).requires_grad_(True)
    state = state_map(observation)
    assert state.dtype == torch.float64
    if copies_entries:
        assert torch.equal(state, expected)
    else:  # atan2: torch's and numpy's may differ in the last bit
        torch.testing.assert_close(state, expected, rtol=1e-15, atol=0.0)
    state.sum().backward()  # no round trip through numpy: the gradient reaches the observation
    assert observation.grad is not None and bool(observation.grad.abs().sum() > 0)
    assert state_map(observation.float()).dtype == torch.float32
    assert state_map(observation.detach().to("meta")).device.type == "meta"  # torch operations only
