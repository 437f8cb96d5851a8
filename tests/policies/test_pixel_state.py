"""The pixel pendulum's keypoint state map: the velocity as the angles' difference, its errors, and the exact
gradient of the DiLQR actor's first control through it (float64, central finite differences)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dilqr_rl.envs import make_env
from dilqr_rl.policies.dilqr_clone import env_actor_policy
from dilqr_rl.policies.pixel_state import KeypointPendulumMap, StateFeatures, pendulum_features

ENV = "dilqr_rl/PixelPendulum-v0"


def _observations(size: int, seeds=range(3), steps: int = 2) -> np.ndarray:
    """Frame stacks after ``steps`` random steps from each seed's reset (the frames differ: a velocity shows)."""
    obs = []
    for seed in seeds:
        env = make_env(ENV, size=size)
        o, _ = env.reset(seed=seed)
        for _ in range(steps):
            o, *_ = env.step(env.action_space.sample())
        obs.append(o)
    return np.stack(obs)


def test_the_velocity_is_the_wrapped_angle_difference_over_dt():
    torch.manual_seed(0)
    state_map = KeypointPendulumMap((4, 32, 32), dt=0.05)
    obs = torch.as_tensor(_observations(32))
    theta = state_map.angles(obs)
    state = state_map(obs)
    step = torch.remainder(theta[:, 1] - theta[:, 0] + math.pi, 2 * math.pi) - math.pi
    torch.testing.assert_close(state[:, 0], theta[:, 1])
    torch.testing.assert_close(state[:, 1], (step / 0.05).clamp(-8, 8))
    assert state.dtype == torch.float32 and state_map(obs.double()).dtype == torch.float64
    reset = torch.as_tensor(make_env(ENV, size=32).reset(seed=0)[0])[None]  # every slot holds the first frame
    assert state_map(reset)[0, 1].item() == 0.0
    features = StateFeatures(state_map)
    torch.testing.assert_close(features(obs), pendulum_features(state))
    assert features.out_dim == 3


@pytest.mark.parametrize(("shape", "message"), [
    ((1, 32, 32), r"stacks of at least 2 frames of at least 8 x 8 pixels.*got observation shape \(1, 32, 32\)"),
    ((32, 32), r"got observation shape \(32, 32\)"),
])
def test_bad_observation_shapes_are_refused(shape, message):
    with pytest.raises(ValueError, match=message):
        KeypointPendulumMap(shape)
    with pytest.raises(ValueError, match=r"built for observations \(4, 16, 16\); got a batch of shape \(2, 4, 8, 8\)"):
        KeypointPendulumMap((4, 16, 16))(torch.zeros(2, 4, 8, 8))


def test_first_control_gradient_through_the_encoder_matches_finite_differences():
    """obs -> keypoint map -> x_init -> DiLQR (implicit backward) -> u_1: d u_1 / d (the map's head) in float64."""
    env = make_env(ENV, size=16)
    policy = env_actor_policy(env, {"mass": 0.1})
    torch.manual_seed(1)
    policy.state_map = KeypointPendulumMap((4, 16, 16)).double()
    with torch.no_grad():  # read the pole near upright, where the plan's first control is inside its bounds
        policy.state_map.angle.head.weight.mul_(0.05)
        policy.state_map.angle.head.bias.copy_(torch.tensor([1.0, 0.005]))
    policy.actor.memory = None  # every solve from the starts: u_1 a function of the parameters only
    obs = torch.as_tensor(_observations(16, seeds=[3, 4]), dtype=torch.float64)
    head = policy.state_map.angle.head.weight
    direction = torch.randn_like(head)

    def u1() -> torch.Tensor:
        return policy.solve(obs).first_control()[:, 0]

    weights = torch.tensor([1.0, -0.5], dtype=torch.float64)
    loss = (u1() * weights).sum()
    (grad,) = torch.autograd.grad(loss, head)
    eps = 1e-6
    with torch.no_grad():
        head += eps * direction
        plus = (u1() * weights).sum()
        head -= 2 * eps * direction
        minus = (u1() * weights).sum()
        head += eps * direction
    fd = (plus - minus) / (2 * eps)
    assert abs(fd.item()) > 1e-4, "the first controls are at a bound here: the check would be vacuous"
    assert (grad * direction).sum().item() == pytest.approx(fd.item(), rel=1e-4, abs=1e-8)


@pytest.mark.parametrize("algorithm", ["PPO", "SAC"])
def test_sb3_policies_give_the_keypoint_map_the_states_the_clone_path_does(algorithm):
    """SB3 scales uint8 frames to [0, 1] before the features extractor (``normalize_images``); the map is told, so
    the same weights give the same state from the env's raw frames in SB3 as in the clone path."""
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.preprocessing import preprocess_obs

    from dilqr_rl.policies import DiLQRPolicy, DiLQRSACPolicy

    env = make_env(ENV)  # the default 64 x 64 frames: env_id builds the map for them
    policy_class, algo = (DiLQRPolicy, PPO) if algorithm == "PPO" else (DiLQRSACPolicy, SAC)
    extra = {"n_steps": 8, "batch_size": 8} if algorithm == "PPO" else {"buffer_size": 16}
    model = algo(policy_class, env, policy_kwargs={"env_id": ENV}, seed=0, device="cpu", **extra)
    state_map = model.policy.state_map if algorithm == "PPO" else model.policy.actor.state_map
    assert isinstance(state_map, KeypointPendulumMap) and state_map.pixel_range == 1.0
    raw = torch.as_tensor(_observations(64))
    scaled = preprocess_obs(raw, env.observation_space, normalize_images=True)
    assert float(scaled.max()) <= 1.0
    clone_path = KeypointPendulumMap((4, 64, 64))
    clone_path.load_state_dict(state_map.state_dict())
    torch.testing.assert_close(state_map(scaled), clone_path(raw))
    state_map.pixel_range = 255.0  # what SB3 gave it before: frames 255 times too dark
    assert not torch.allclose(state_map(scaled), clone_path(raw))


def test_a_map_built_for_other_frames_is_refused_when_the_policy_is_built():
    from stable_baselines3 import PPO

    from dilqr_rl.policies import DiLQRPolicy

    env = make_env(ENV, size=32)  # env_id's map reads the default 64 x 64 frames
    with pytest.raises(ValueError, match=r"reads observations of shape \(4, 64, 64\) but the env gives \(4, 32, 32\)"
                       r".*state_map=KeypointPendulumMap\(\(4, 32, 32\)\)"):
        PPO(DiLQRPolicy, env, policy_kwargs={"env_id": ENV}, n_steps=8, batch_size=8, device="cpu")
    model = PPO(DiLQRPolicy, env, policy_kwargs={"env_id": ENV, "state_map": KeypointPendulumMap((4, 32, 32))},
                n_steps=8, batch_size=8, device="cpu")
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert action.shape == (1,)
