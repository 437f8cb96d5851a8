"""DiLQRSACPolicy and DiLQRTD3Policy in SB3's own SAC and TD3: the action is the plan, gradients to the physics
(finite differences in float64), learn moves the mass and the cost map, the TD3 target actor, save/load, errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3.common.policies as sb3_policies
import torch
from stable_baselines3 import SAC, TD3

from dilqr_rl.models import PendulumDynamics, PendulumSwingUpCost
from dilqr_rl.policies import DiLQRSACPolicy, DiLQRTD3Policy
from dilqr_rl.policies.cost_maps import GoalWeightsMap
from dilqr_rl.policies.dilqr_off_policy import SQUASH_EPS, DiLQRSACActor, DiLQRTD3Actor
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost

ALGORITHMS = {"sac": (SAC, DiLQRSACPolicy), "td3": (TD3, DiLQRTD3Policy)}
OBS_SPACE = gym.spaces.Box(-8.0, 8.0, (3,), np.float32)
ACTION_SPACE = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)


def _dynamics(mass: float = 1.5) -> PendulumDynamics:
    dyn = PendulumDynamics(mass=mass)
    dyn.length.requires_grad_(False)
    dyn.gravity.requires_grad_(False)
    return dyn


def _kwargs(**over) -> dict:
    kw = dict(dynamics=_dynamics(), cost=PendulumSwingUpCost(control_weight=0.05), horizon=5,
              state_map="pendulum_angle", solver_options={"max_iter": 5}, net_arch=[32, 32])
    return {**kw, **over}


def _model(name: str, **over):
    algorithm, policy = ALGORITHMS[name]
    return algorithm(policy, "Pendulum-v1", learning_starts=32, batch_size=32, learning_rate=1e-2,
                     policy_kwargs=_kwargs(**over), seed=0)


def _obs(*states: tuple[float, float]) -> torch.Tensor:
    return torch.tensor([[math.cos(theta), math.sin(theta), speed] for theta, speed in states])


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_the_deterministic_action_is_the_first_planned_control(name):
    """SB3's predict unscales the actor's [-1, 1] action to the action space: the env receives u_1, also at
    the bounds (SAC: within SQUASH_EPS of the scale there)."""
    policy = _model(name).policy
    obs = _obs((0.5, -0.3), (0.2, 0.3), (3.0, 0.0), (1.5, 3.0), (-1.0, -5.0))
    u_1 = policy.controller(policy.state_map(obs).double()).u[:, 0].float().detach()
    assert u_1[3:].tolist() == [[-2.0], [2.0]] and bool((u_1[:3].abs() < 1.0).all())  # two plans start on a bound
    action, _ = policy.predict(obs.numpy(), deterministic=True)
    np.testing.assert_allclose(action, u_1.numpy(), rtol=0, atol=2 * 2 * SQUASH_EPS + 1e-6)
    assert isinstance(policy.actor, DiLQRSACActor if name == "sac" else DiLQRTD3Actor)


def _central_difference(loss, parameter: torch.Tensor, eps: float = 1e-6) -> float:
    with torch.no_grad():
        parameter += eps
        up = loss().item()
        parameter -= 2 * eps
        down = loss().item()
        parameter += eps
    return (up - down) / (2 * eps)


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_the_actions_gradient_in_the_mass_matches_finite_differences_in_float64(name, monkeypatch):
    """d (action) / d mass against central differences, the policy in float64, every solve converged (tol 1e-12)
    and u_1 inside its bounds. SAC: the deterministic action, the Gaussian's mean atanh(a), and the sampled action
    and its log-probability (SAC's actor loss terms) for fixed noise; the log-probability also in log-std. TD3:
    the action. SB3's ``preprocess_obs`` casts observations to float32; the test keeps them float64."""
    monkeypatch.setattr(sb3_policies, "preprocess_obs", lambda obs, space, normalize_images=True: obs)
    policy = ALGORITHMS[name][1](OBS_SPACE, ACTION_SPACE, lambda _: 1e-3, **_kwargs(
        dynamics=PendulumDynamics(mass=1.5), solver_options={"max_iter": 100, "tol": 1e-12})).double()
    actor = policy.actor
    obs = _obs((0.2, 0.3), (-0.4, 0.1)).double()

    def converged(value: torch.Tensor) -> torch.Tensor:
        assert value.dtype == torch.float64
        assert policy.solver_stats.pop()["converged_fraction"] == 1.0
        return value.sum()

    def seeded(quantity):
        def loss() -> torch.Tensor:
            torch.manual_seed(0)
            return converged(quantity())
        return loss

    u_1 = policy.controller(policy.state_map(obs)).u[:, 0]
    assert bool((u_1.abs() < 1.5).all()), "u_1 away from the bounds +-2"
    if name == "sac":
        losses = {"deterministic action": (seeded(lambda: actor(obs, deterministic=True)), []),
                  "mean": (seeded(lambda: actor.get_action_dist_params(obs)[0]), []),
                  "sampled action": (seeded(lambda: actor.action_log_prob(obs)[0]), []),
                  "log-probability": (seeded(lambda: actor.action_log_prob(obs)[1]), [actor.log_std])}
    else:
        losses = {"action": (seeded(lambda: actor(obs)), [])}
    mass = policy.controller.dynamics.mass
    for what, (loss, others) in losses.items():
        policy.zero_grad()
        loss().backward()
        for parameter in [mass, *others]:
            analytic = parameter.grad.sum().item()
            assert analytic != 0.0, what
            assert analytic == pytest.approx(_central_difference(loss, parameter), rel=1e-6, abs=0.0), what


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_learn_moves_the_mass_and_the_cost_map_through_the_actor_loss(name):
    """A few hundred steps of SB3's own SAC / TD3 (the first 100 random): the actor loss moves the mass and
    the cost map's weights; the controller keeps its own learning rate; TD3's target actor plans the next
    observations and follows the actor by polyak averaging."""
    algorithm, policy_class = ALGORITHMS[name]
    model = algorithm(policy_class, "Pendulum-v1", learning_starts=100, batch_size=32, learning_rate=3e-3, seed=0,
                      policy_kwargs=_kwargs(dynamics=_dynamics(1.3), cost=PeriodicQuadraticCost((1.0, 0.1, 0.001), 0),
                                            cost_map="goal_weights", controller_lr_scale=5.0))
    policy = model.policy
    dynamics, cost_map = policy.controller.dynamics, policy.actor.cost_map
    assert isinstance(cost_map, GoalWeightsMap)
    base, *groups = policy.actor.optimizer.param_groups
    controller = {id(p) for group in groups for p in group["params"]}
    assert controller == {id(p) for p in policy.controller.parameters()}
    assert {id(p) for p in base["params"]} == {id(p) for p in policy.actor.parameters()} - controller
    mass_group = next(g for g in groups if g["params"][0] is dynamics.mass)
    assert not {id(p) for p in policy.critic.parameters()} & {id(p) for p in policy.actor.parameters()}
    cost_map_before = [p.detach().clone() for p in cost_map.parameters()]
    length = dynamics.length.item()
    target_solves = []
    if name == "td3":
        policy.actor_target.first_control.register_forward_hook(lambda *_: target_solves.append(1))
    model.learn(300)
    assert model.num_timesteps == 300
    moved = dynamics.mass.item() - 1.3
    assert abs(moved) > 1e-3 and dynamics.length.item() == length and dynamics.mass.dtype == torch.float64
    assert any(not torch.equal(b, a) for b, a in zip(cost_map_before, cost_map.parameters()))
    assert mass_group["lr"] == pytest.approx(5.0 * 1.3 * base["lr"])  # the scale x the mass's initial magnitude
    if name == "td3":
        target = policy.actor_target
        assert len(target_solves) == model._n_updates and not target.training  # once per gradient step
        assert 0 < abs(target.controller.dynamics.mass.item() - 1.3) < abs(moved)


def test_the_td3_target_actor_is_a_separate_copy_of_the_dilqr_actor():
    policy = _model("td3", state_map="mlp").policy
    actor, target = policy.actor, policy.actor_target
    assert isinstance(target, DiLQRTD3Actor) and target is not actor
    assert not {id(p) for p in actor.parameters()} & {id(p) for p in target.parameters()}
    for (name, a), (_, b) in zip(actor.state_dict().items(), target.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    obs = _obs((0.5, -0.3), (2.0, 1.0))
    torch.testing.assert_close(target(obs), actor(obs), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_save_load_round_trip_gives_identical_actions(name, tmp_path):
    model = _model(name, controller_lr_scale=4.0, state_map="mlp")
    model.learn(64)
    model.save(tmp_path / "model.zip")
    algorithm, policy_class = ALGORITHMS[name]
    loaded = algorithm.load(tmp_path / "model.zip")  # rebuilt from the zip alone
    obs = np.random.default_rng(0).uniform(-1, 1, size=(16, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    assert loaded.policy.controller.dynamics.mass.item() == model.policy.controller.dynamics.mass.item()
    assert loaded.policy._get_constructor_parameters()["controller_lr_scale"] == 4.0
    for a, b in zip(loaded.policy.state_dict().values(), model.policy.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    model.policy.save(tmp_path / "policy.pt")
    policy = policy_class.load(tmp_path / "policy.pt")
    np.testing.assert_array_equal(policy.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


@pytest.mark.parametrize("name", ["sac", "td3"])
def test_zero_config_plans_with_a_learnable_copy_of_the_envs_model(name, tmp_path):
    import dilqr_rl.envs  # noqa: F401  (registers our ids)

    algorithm, policy_class = ALGORITHMS[name]
    model = algorithm(policy_class, "dilqr_rl/Pendulum-v0", learning_starts=8, batch_size=8, seed=0,
                      policy_kwargs=dict(env_id="dilqr_rl/Pendulum-v0"))
    dynamics = model.policy.controller.dynamics
    assert [n for n, p in dynamics.named_parameters() if p.requires_grad] == ["mass", "length", "gravity"]
    assert not any(p.requires_grad for p in model.policy.controller.cost.parameters())
    model.save(tmp_path / "model.zip")
    loaded = algorithm.load(tmp_path / "model.zip")  # rebuilt without the env
    observation = model.get_env().reset()
    np.testing.assert_array_equal(loaded.predict(observation, deterministic=True)[0],
                                  model.predict(observation, deterministic=True)[0])


@pytest.mark.parametrize("name", ["sac", "td3"])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dynamics": None}, "{policy} needs both dynamics and cost in policy_kwargs, or neither"),
        ({"net_arch": {"pi": [64], "qf": [64]}}, r"net_arch describes the critic only \(the actor is the controller\): "
                                                 r"pass a list or dict\(qf=\[\.\.\.\]\); got keys \['pi', 'qf'\]"),
        ({"share_features_extractor": True}, "{policy} supports neither use_sde=True nor share_features_extractor"),
        ({"controller_lr_scale": -1.0}, "controller_lr_scale must be a positive finite number"),
        ({"grad_method": "adjoint"}, "grad_method must be one of 'implicit', 'diffmpc', 'unroll'"),
    ],
)
def test_bad_policy_kwargs(name, kwargs, match):
    with pytest.raises(ValueError, match=match.format(policy=ALGORITHMS[name][1].__name__)):
        _model(name, **kwargs)


def test_sac_refuses_gsde():
    with pytest.raises(ValueError, match="DiLQRSACPolicy supports neither use_sde=True"):
        SAC(DiLQRSACPolicy, "Pendulum-v1", use_sde=True, policy_kwargs=_kwargs())


@pytest.mark.parametrize("policy_class", [DiLQRSACPolicy, DiLQRTD3Policy])
def test_bad_spaces(policy_class):
    unbounded = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    with pytest.raises(ValueError, match=r"SB3's SAC and TD3 act in \[-1, 1\], scaled to the action space's bounds, "
                                         r"which must be finite; got low \[-inf\] and high \[inf\]"):
        policy_class(OBS_SPACE, unbounded, lambda _: 1e-3, **_kwargs(u_lower=-2.0, u_upper=2.0))
    with pytest.raises(ValueError, match=f"{policy_class.__name__} needs a 1-D continuous Box action space"):
        policy_class(OBS_SPACE, gym.spaces.Discrete(3), lambda _: 1e-3, **_kwargs())


def test_a_policy_without_a_model_names_the_fix():
    with pytest.raises(ValueError, match=r"DiLQRTD3Policy needs a model to plan with: policy_kwargs=dict\(env_id="
                                         r"'Pendulum-v1'\).*e\.g\. TD3\(DiLQRTD3Policy, env, "
                                         r"policy_kwargs=dict\(env_id='dilqr_rl/Pendulum-v0'\)\)"):
        DiLQRTD3Policy(OBS_SPACE, ACTION_SPACE, lambda _: 1e-3)


def test_the_envs_model_errors_name_the_policy():
    with pytest.raises(ValueError, match=r"^DiLQRSACPolicy: env_id='MountainCarContinuous-v0': no iLQR expert for "
                                         r"Continuous_MountainCarEnv"):
        SAC(DiLQRSACPolicy, "MountainCarContinuous-v0", policy_kwargs=dict(env_id="MountainCarContinuous-v0"))
