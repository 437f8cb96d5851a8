"""The env registry: one entry per environment, read by the expert and by the zero-config DiLQR actor."""

from __future__ import annotations

import inspect

import gymnasium as gym
import pytest

from dilqr_rl.envs import InvertedPendulumStateAdapter
from dilqr_rl.models import PendulumDynamics
from dilqr_rl.policies import expert_for
from dilqr_rl.policies.env_models import env_model
from dilqr_rl.policies.env_registry import (
    ENVS,
    STATE_ENV_IDS,
    SUPPORTED,
    ActorSettings,
    apply_model_error,
    env_control,
    make_env,
)
from dilqr_rl.policies.pixel_state import KeypointPendulumMap

ENV_IDS = ("Pendulum-v1", "dilqr_rl/Pendulum-v0", "dilqr_rl/PixelPendulum-v0", "dilqr_rl/CartpoleSwingUp-v0",
           "dilqr_rl/CartpoleBalance-v0", "InvertedPendulum-v5")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_supported_env_has_one_entry_that_the_expert_and_the_actor_share(env_id):
    env = make_env(env_id)
    assert sum(entry.matches(env) for entry in ENVS) >= 1
    assert env_id in SUPPORTED
    control = env_control(env)
    expert = expert_for(env)
    assert expert.settings == control.expert
    assert (expert.u_lower, expert.u_upper) == (control.u_lower, control.u_upper)
    assert isinstance(control.actor, ActorSettings)
    if env.observation_space.dtype != "uint8":
        model = env_model(env)
        inner = getattr(model.dynamics, "model", model.dynamics)
        expert_params = dict(expert.dynamics.named_parameters())
        for name, p in inner.named_parameters():  # the true model, copied and learnable
            assert p.requires_grad and p.item() == expert_params[name].item()
        assert model.actor == control.actor
        assert model.state_map is control.state_map or type(model.state_map) is type(control.state_map)


def test_the_adapter_and_raw_mujoco_envs_differ_only_in_maps_and_scale():
    raw, adapted = env_control(gym.make("InvertedPendulum-v5")), env_control(
        InvertedPendulumStateAdapter(gym.make("InvertedPendulum-v5")))
    assert raw.actor == adapted.actor and raw.expert == adapted.expert
    assert raw.action_scale != adapted.action_scale


def test_model_error_scales_named_parameters_and_refuses_bad_input():
    model = apply_model_error(PendulumDynamics(mass=1.0, length=2.0, gravity=10.0), {"mass": -0.3, "length": 0.5})
    assert (float(model.mass), float(model.length), float(model.gravity)) == pytest.approx((0.7, 3.0, 10.0))
    with pytest.raises(ValueError, match=r"unknown physical parameter\(s\) \['mas'\] of PendulumDynamics; its "
                                         r"parameters: \['gravity', 'length', 'mass'\]"):
        apply_model_error(PendulumDynamics(), {"mas": 0.1})
    with pytest.raises(ValueError, match=r"relative model errors must be finite and > -1"):
        apply_model_error(PendulumDynamics(), {"mass": -1.0})


def test_env_model_from_an_id_applies_the_model_error():
    model = env_model("Pendulum-v1", {"gravity": 0.1})
    assert float(model.dynamics.gravity) == pytest.approx(10.0 * 1.1)
    kwargs = model.policy_kwargs()
    assert kwargs["horizon"] == model.actor.horizon and kwargs["solver_options"]["max_iter"] == model.actor.max_iter


def test_unknown_envs_list_the_supported_ones():
    with pytest.raises(ValueError, match=r"no iLQR expert for CartPoleEnv.*supported environments: Pendulum-v1"):
        env_control(gym.make("CartPole-v1"))


def test_the_pixel_pendulum_model_has_the_learned_keypoint_state_map():
    model = env_model("dilqr_rl/PixelPendulum-v0")
    assert isinstance(model.state_map, KeypointPendulumMap)
    assert model.state_map.observation_shape == (4, 64, 64) and model.state_map.dt == 0.05
    assert any(p.requires_grad for p in model.state_map.parameters())


def test_the_registry_lists_each_id_once_and_the_rl_command_reads_its_state_envs():
    from dilqr_rl.agents.rl_config import RLConfig, rl_env_ids

    assert sorted(SUPPORTED) == sorted(ENV_IDS) and len(set(SUPPORTED)) == len(SUPPORTED)
    assert rl_env_ids() == STATE_ENV_IDS == tuple(i for i in SUPPORTED if i != "dilqr_rl/PixelPendulum-v0")
    source = inspect.getsource(RLConfig)
    start = source.index('"""', source.index("    env_id: str")) + 3
    documented = " ".join(source[start:source.index('"""', start)].split())  # what `dilqr-rl rl --help` shows
    for env_id in STATE_ENV_IDS:  # a new entry is trained by `dilqr-rl rl` and named in its help
        assert RLConfig(env_id=env_id).env_id == env_id and env_id in documented
