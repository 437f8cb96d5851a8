"""DiLQRPolicy in Stable-Baselines3: learn, gradients to the physics, save/load, state maps, errors."""

from __future__ import annotations

import copy
import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3.common.policies as sb3_policies
import torch
from stable_baselines3 import A2C, PPO

from dilqr_rl.control.errors import UnconvergedWarning
from dilqr_rl.envs import PixelPendulumEnv
from dilqr_rl.models import GoalCost, PendulumDynamics, PendulumSwingUpCost
from dilqr_rl.policies import DiLQRPolicy, expert_for
from dilqr_rl.policies.state_maps import CNNEncoder, MLPEncoder, PendulumAngleMap, make_state_map


def _dynamics(mass: float = 1.5) -> PendulumDynamics:
    dyn = PendulumDynamics(mass=mass)
    dyn.length.requires_grad_(False)
    dyn.gravity.requires_grad_(False)
    return dyn


def _kwargs(**over) -> dict:
    kw = dict(dynamics=_dynamics(), cost=PendulumSwingUpCost(control_weight=0.05), horizon=5,
              state_map="pendulum_angle", solver_options={"max_iter": 5}, log_std_init=-1.0)
    return {**kw, **over}


def _ppo(**over) -> PPO:
    return PPO(DiLQRPolicy, "Pendulum-v1", n_steps=64, batch_size=32, n_epochs=2, learning_rate=1e-2,
               policy_kwargs=_kwargs(**over), seed=0)


def test_ppo_learns_and_gradient_reaches_the_mass():
    model = _ppo()
    mass_before = model.policy.controller.dynamics.mass.item()
    length_before = model.policy.controller.dynamics.length.item()
    model.learn(128)
    assert model.num_timesteps == 128
    assert model.policy.controller.dynamics.mass.item() != pytest.approx(mass_before, abs=1e-6)
    assert model.policy.controller.dynamics.length.item() == length_before  # frozen: not learnable
    assert model.policy.controller.dynamics.mass.dtype == torch.float64


def test_mass_gradient_is_nonzero_for_an_unsaturated_state():
    model = _ppo()
    policy = model.policy
    obs = torch.tensor([[math.cos(0.2), math.sin(0.2), 0.0]])
    _, log_prob, _ = policy.evaluate_actions(obs, torch.zeros(1, 1))
    log_prob.sum().backward()
    assert policy.controller.dynamics.mass.grad is not None
    assert policy.controller.dynamics.mass.grad.abs().item() > 0


def _central_difference(loss, parameter: torch.Tensor, eps: float = 1e-6) -> float:
    with torch.no_grad():
        parameter += eps
        up = loss().item()
        parameter -= 2 * eps
        down = loss().item()
        parameter += eps
    return (up - down) / (2 * eps)


def test_mean_action_and_log_prob_match_finite_differences_in_float64(monkeypatch):
    """d (mean action) and d (evaluate_actions' log-probability) / d (mass, length, gravity, log-std) against
    central finite differences, the whole policy in float64 and every solve converged (tol 1e-12). The state
    (theta 0.2, speed 0.3) keeps u_1 inside its bounds. SB3's ``preprocess_obs`` casts observations to float32;
    the test keeps them float64. The two agree to about 1e-9 here."""
    monkeypatch.setattr(sb3_policies, "preprocess_obs", lambda obs, space, normalize_images=True: obs)
    policy = DiLQRPolicy(gym.spaces.Box(-8.0, 8.0, (3,), np.float32), gym.spaces.Box(-2.0, 2.0, (1,), np.float32),
                         lambda _: 1e-3, **_kwargs(dynamics=PendulumDynamics(mass=1.5),
                                                   solver_options={"max_iter": 100, "tol": 1e-12})).double()
    obs = torch.tensor([[math.cos(0.2), math.sin(0.2), 0.3]], dtype=torch.float64)
    action = torch.tensor([[0.1]], dtype=torch.float64)

    def converged(value: torch.Tensor) -> torch.Tensor:
        assert value.dtype == torch.float64
        assert policy.solver_stats.pop()["converged_fraction"] == 1.0
        return value.sum()

    def mean() -> torch.Tensor:
        return converged(policy.get_distribution(obs).distribution.mean)

    def log_prob() -> torch.Tensor:
        return converged(policy.evaluate_actions(obs, action)[1])

    assert abs(mean().item()) < 1.5  # u_1 away from the bounds +-2
    dynamics = policy.controller.dynamics
    for loss, parameters in ((mean, [dynamics.mass, dynamics.length, dynamics.gravity]),
                             (log_prob, [dynamics.mass, dynamics.length, dynamics.gravity, policy.log_std])):
        policy.zero_grad()
        loss().backward()
        for parameter in parameters:
            analytic = parameter.grad.item()
            assert analytic != 0.0
            assert analytic == pytest.approx(_central_difference(loss, parameter), rel=1e-6, abs=0.0)


def test_an_a2c_update_moves_the_mass_down_its_policy_loss():
    """One A2C update (one rollout of 16 steps) moves the mass so that A2C's policy loss on that rollout,
    re-evaluated at the parameters it was collected with but the updated mass, is lower."""
    model = A2C(DiLQRPolicy, "Pendulum-v1", n_steps=16, policy_kwargs=_kwargs(), seed=0)
    initial = copy.deepcopy(model.policy.state_dict())
    mass = model.policy.controller.dynamics.mass
    before = mass.item()
    model.learn(16)
    assert model.num_timesteps == 16
    after = mass.item()
    assert after != pytest.approx(before, abs=1e-6)
    model.policy.load_state_dict(initial)
    rollout = next(model.rollout_buffer.get(batch_size=None))

    def policy_loss(value: float) -> float:
        with torch.no_grad():
            mass.fill_(value)
            _, log_prob, _ = model.policy.evaluate_actions(rollout.observations, rollout.actions)
        return -(rollout.advantages * log_prob).mean().item()

    assert policy_loss(after) < policy_loss(before)


def test_policy_kwargs_are_not_mutated_by_training():
    kwargs = _kwargs()
    model = PPO(DiLQRPolicy, "Pendulum-v1", n_steps=64, batch_size=32, n_epochs=2, learning_rate=1e-2,
                policy_kwargs=kwargs, seed=0)
    model.learn(64)
    assert kwargs["dynamics"].mass.item() == 1.5
    assert model.policy.controller.dynamics is not kwargs["dynamics"]


def test_save_load_round_trip_gives_identical_actions(tmp_path):
    model = _ppo()
    model.learn(64)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip")
    obs = np.random.default_rng(0).uniform(-1, 1, size=(16, 3)).astype(np.float32)
    a, _ = model.predict(obs, deterministic=True)
    b, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a, b)
    assert loaded.policy.controller.dynamics.mass.item() == model.policy.controller.dynamics.mass.item()
    torch.testing.assert_close(loaded.policy.log_std, model.policy.log_std)


def test_policy_save_load_round_trip(tmp_path):
    model = _ppo()
    model.policy.controller.dynamics.mass.data.fill_(0.77)
    model.policy.save(tmp_path / "policy.pt")
    policy = DiLQRPolicy.load(tmp_path / "policy.pt")
    assert policy.controller.dynamics.mass.item() == pytest.approx(0.77)
    obs = torch.tensor([[1.0, 0.1, 0.3]])
    torch.testing.assert_close(policy._predict(obs, deterministic=True),
                               model.policy._predict(obs, deterministic=True))


def _lr_factors(optimizer) -> dict[int, float]:
    """id(parameter) -> its controller group's lr / group 0's lr, checking one parameter per controller group."""
    base, *controller = optimizer.param_groups
    assert all(len(group["params"]) == 1 for group in controller)
    return {id(group["params"][0]): group["lr"] / base["lr"] for group in controller}


def test_controller_parameters_have_their_own_learning_rate_through_a_schedule():
    """Each controller parameter in a group of its own, the physical ones at rates relative to their initial
    magnitude (mass 1.5: 30 x 1.5; the frozen length and gravity too, 1 and 10), the cost's at the scale."""
    model = PPO(DiLQRPolicy, "Pendulum-v1", n_steps=32, batch_size=32, n_epochs=1,
                learning_rate=lambda progress: 1e-3 * (1 + progress) / 2,
                policy_kwargs=_kwargs(controller_lr_scale=30.0), seed=0)
    policy = model.policy
    base = policy.optimizer.param_groups[0]
    controller = {id(p) for p in policy.controller.parameters()}
    assert not {id(p) for p in base["params"]} & controller
    assert len(base["params"]) + len(controller) == len(list(policy.parameters()))
    dynamics = policy.controller.dynamics
    expected = {id(dynamics.mass): 30 * 1.5, id(dynamics.length): 30 * 1.0, id(dynamics.gravity): 30 * 10.0,
                **{id(p): 30.0 for p in policy.controller.cost.parameters()}}
    assert set(expected) == controller and base["lr"] == pytest.approx(1e-3)
    assert _lr_factors(policy.optimizer) == pytest.approx(expected)
    model.learn(64)  # SB3 writes the scheduled lr (< 1e-3) into every group; the step pre-hook rescales
    assert 0 < base["lr"] < 1e-3 and _lr_factors(policy.optimizer) == pytest.approx(expected)


def test_controller_lr_scale_speeds_up_the_mass_only():
    moves = {}
    for scale in (1.0, 10.0):
        model = PPO(DiLQRPolicy, "Pendulum-v1", n_steps=32, batch_size=32, n_epochs=1, learning_rate=1e-3,
                    policy_kwargs=_kwargs(controller_lr_scale=scale), seed=0)
        log_std = model.policy.log_std.item()
        model.learn(32)  # one Adam step: each parameter moves by about lr x its group's scale
        moves[scale] = (abs(model.policy.controller.dynamics.mass.item() - 1.5),
                        abs(model.policy.log_std.item() - log_std))
    assert moves[10.0][0] == pytest.approx(10 * moves[1.0][0], rel=1e-3)
    assert moves[10.0][1] == pytest.approx(moves[1.0][1], rel=1e-6)


def test_controller_lr_scale_survives_save_load(tmp_path):
    model = _ppo(controller_lr_scale=25.0)
    model.learn(64)
    model.save(tmp_path / "model.zip")
    mass = id(model.policy.controller.dynamics.mass)
    assert _lr_factors(model.policy.optimizer)[mass] == pytest.approx(25 * 1.5)
    loaded = PPO.load(tmp_path / "model.zip", env=gym.make("Pendulum-v1"))
    factors = _lr_factors(loaded.policy.optimizer)  # the rates of the initial magnitudes, not the loaded mass's
    assert loaded.policy._get_constructor_parameters()["controller_lr_scale"] == 25.0
    assert factors[id(loaded.policy.controller.dynamics.mass)] == pytest.approx(25 * 1.5)
    loaded.learn(32)
    assert _lr_factors(loaded.policy.optimizer) == pytest.approx(factors)


def test_action_bounds_default_to_the_action_space():
    model = _ppo()
    ctrl = model.policy.controller
    assert ctrl.u_lower.tolist() == [-2.0] and ctrl.u_upper.tolist() == [2.0]
    model = _ppo(u_lower=-1.0, u_upper=1.0)
    theta = torch.linspace(-3.0, 3.0, 9)
    obs = torch.stack([theta.cos(), theta.sin(), 4.0 * theta.sin()], -1)
    actions = model.policy._predict(obs, deterministic=True)
    assert actions.abs().max().item() == pytest.approx(1.0)


def test_deterministic_action_is_the_first_planned_control():
    model = _ppo()
    obs = torch.tensor([[math.cos(0.5), math.sin(0.5), -0.3]])
    action = model.policy._predict(obs, deterministic=True)
    sol = model.policy.controller(torch.tensor([[0.5, -0.3]], dtype=torch.float64))
    torch.testing.assert_close(action, sol.u[:, 0].float())


def test_unconverged_solves_are_counted_and_warned_once():
    model = _ppo(solver_options={"max_iter": 1, "tol": 1e-12})  # one iteration cannot confirm convergence
    obs = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        actions = [model.policy._predict(obs, deterministic=True) for _ in range(3)]
    assert sum(issubclass(w.category, UnconvergedWarning) for w in caught) == 1
    stats = model.policy.solver_stats.pop()
    # the memory keeps an unconverged item's start, so calls 2 and 3 solve from it and return the same iterate
    assert stats == {"converged_fraction": 0.0, "iterations": 1.0, "warm_fraction": 2 / 3, "followed_fraction": 0.0}
    torch.testing.assert_close(actions[1], actions[0], rtol=0, atol=0)
    torch.testing.assert_close(actions[2], actions[0], rtol=0, atol=0)
    assert model.policy.solver_stats.pop() == {}


def test_goal_cost_and_identity_map_on_state_observations():
    env = gym.make("Pendulum-v1")
    env = gym.wrappers.TransformObservation(
        env, lambda o: np.array([math.atan2(o[1], o[0]), o[2]], dtype=np.float32),
        gym.spaces.Box(-8.0, 8.0, (2,), np.float32))
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3))
    model = PPO(DiLQRPolicy, env, n_steps=32, batch_size=32, n_epochs=1, seed=0,
                policy_kwargs=_kwargs(cost=cost, state_map="identity"))
    model.learn(32)
    assert model.policy.controller.cost.log_weights.requires_grad


def test_pendulum_angle_map_is_exact():
    theta = torch.linspace(-3.1, 3.1, 13)
    speed = torch.linspace(-8, 8, 13)
    obs = torch.stack([theta.cos(), theta.sin(), speed], -1)
    torch.testing.assert_close(PendulumAngleMap()(obs), torch.stack([theta, speed], -1))


@pytest.mark.parametrize("encoder", [MLPEncoder(3, 2), CNNEncoder((4, 64, 64), 2)])
def test_learned_encoders_get_gradients(encoder):
    shape = (5, 3) if isinstance(encoder, MLPEncoder) else (5, 4, 64, 64)
    state = encoder(torch.rand(shape))
    assert state.shape == (5, 2)
    state.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters())


def test_mlp_encoder_state_map_trains_in_ppo():
    model = _ppo(state_map="mlp")
    before = [p.detach().clone() for p in model.policy.state_map.parameters()]
    model.learn(64)
    after = list(model.policy.state_map.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize("size", [60, 64])
def test_cnn_encoder_on_pixel_pendulum_frames_of_any_size(size):
    env = PixelPendulumEnv(size=size)
    obs, _ = env.reset(seed=0)
    encoder = CNNEncoder(env.observation_space.shape, 2)
    assert encoder.head.in_features == 32 * (size // 8) ** 2  # each conv halves a side, rounding down
    assert encoder(torch.as_tensor(obs[None]).float() / 255).shape == (1, 2)


def test_cnn_encoder_rejects_images_smaller_than_8_pixels():
    with pytest.raises(ValueError, match=r"CNNEncoder needs images of at least 8 x 8 pixels .* got H x W = 7 x 64"):
        CNNEncoder((4, 7, 64), 2)


@pytest.mark.parametrize("ortho_init", [True, False])
def test_a_given_state_map_keeps_its_pretrained_weights(ortho_init):
    torch.manual_seed(0)
    pretrained = MLPEncoder(3, 2)
    with torch.no_grad():
        for p in pretrained.parameters():
            p.uniform_(0.5, 1.0)  # far from any orthogonal init
    policy = DiLQRPolicy(gym.spaces.Box(-8.0, 8.0, (3,), np.float32), gym.spaces.Box(-2.0, 2.0, (1,), np.float32),
                         lambda _: 1e-3, ortho_init=ortho_init, **_kwargs(state_map=pretrained))
    assert policy.state_map is not pretrained
    for name, value in pretrained.state_dict().items():
        torch.testing.assert_close(policy.state_map.state_dict()[name], value, msg=name)
    optimized = {id(p) for group in policy.optimizer.param_groups for p in group["params"]}
    assert all(id(p) in optimized for p in policy.state_map.parameters())


def test_a_named_learned_state_map_is_orthogonally_initialised():
    policy = DiLQRPolicy(gym.spaces.Box(-8.0, 8.0, (3,), np.float32), gym.spaces.Box(-2.0, 2.0, (1,), np.float32),
                         lambda _: 1e-3, **_kwargs(state_map="mlp"))
    w = policy.state_map.net[0].weight.detach()  # (64, 3): orthonormal columns times SB3's gain sqrt(2)
    torch.testing.assert_close(w.T @ w, 2.0 * torch.eye(3), atol=1e-5, rtol=1e-5)


def test_cnn_state_map_on_image_observations():
    space = gym.spaces.Box(0, 255, (4, 64, 64), np.uint8)
    policy = DiLQRPolicy(space, gym.spaces.Box(-2.0, 2.0, (1,), np.float32), lambda _: 1e-3,
                         **_kwargs(state_map="cnn"))
    obs = torch.as_tensor(space.sample()[None]).float()
    actions, values, log_prob = policy(obs)
    (values.sum() + log_prob.sum()).backward()
    assert actions.shape == (1, 1) and isinstance(policy.state_map, CNNEncoder)
    assert any(p.grad is not None for p in policy.state_map.parameters())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dynamics": None}, "needs both dynamics and cost in policy_kwargs, or neither"),
        ({"state_map": "pixels"}, "state_map must be one of 'identity', 'pendulum_angle', 'mlp', 'cnn'"),
        ({"state_map": "identity"}, "state_map='identity' needs observations of size n = 2"),
        ({"grad_method": "adjoint"}, "grad_method must be one of 'implicit', 'diffmpc', 'unroll'"),
        ({"net_arch": {"pi": [64], "vf": [64]}}, "net_arch describes the critic only"),
        ({"share_features_extractor": True}, "supports neither use_sde=True nor share_features_extractor=True"),
        ({"solver_options": {"max_iter": 0}}, "max_iter must be an integer >= 1"),
        ({"u_lower": -math.inf}, "u_lower must be finite"),
        ({"controller_lr_scale": 0.0}, "controller_lr_scale must be a positive finite number"),
        ({"controller_lr_scale": math.nan}, "controller_lr_scale must be a positive finite number"),
    ],
)
def test_bad_policy_kwargs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _ppo(**kwargs)


def test_bad_spaces():
    kw = _kwargs()
    with pytest.raises(ValueError, match="needs a 1-D continuous Box action space"):
        DiLQRPolicy(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(3), lambda _: 1e-3, **kw)
    with pytest.raises(ValueError, match="the dynamics have control_dim = 1 but the action space has 2"):
        DiLQRPolicy(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (2,)), lambda _: 1e-3, **kw)
    with pytest.raises(ValueError, match="state_map='pendulum_angle' maps observations \\(3,\\)"):
        make_state_map("pendulum_angle", (4,), 2)
    with pytest.raises(ValueError, match="CNNEncoder needs channels-first images"):
        make_state_map("cnn", (12,), 2)


def test_gsde_is_rejected():
    with pytest.raises(ValueError, match="supports neither use_sde=True"):
        PPO(DiLQRPolicy, "Pendulum-v1", use_sde=True, policy_kwargs=_kwargs())


@pytest.mark.parametrize(("env_id", "learnable"), [
    ("dilqr_rl/Pendulum-v0", ["mass", "length", "gravity"]),
    ("Pendulum-v1", ["mass", "length", "gravity"]),
    ("dilqr_rl/CartpoleSwingUp-v0", ["cart_mass", "pole_mass", "length", "gravity"]),
    ("InvertedPendulum-v5", ["model.cart_mass", "model.pole_mass", "model.length", "model.gravity"]),
])
def test_zero_config_policy_plans_with_a_learnable_copy_of_the_envs_model(env_id, learnable, tmp_path):
    import dilqr_rl.envs  # noqa: F401  (registers our ids)

    model = PPO(DiLQRPolicy, env_id, n_steps=8, batch_size=8, n_epochs=1, seed=0,
                policy_kwargs=dict(env_id=env_id))
    dynamics = model.policy.controller.dynamics
    assert [n for n, p in dynamics.named_parameters() if p.requires_grad] == learnable
    assert not any(p.requires_grad for p in model.policy.controller.cost.parameters())
    env = model.get_env().envs[0]
    expert = expert_for(env)
    obs, _ = env.reset(seed=0)
    state = model.policy.state_map(torch.as_tensor(obs[None]))
    np.testing.assert_allclose(state.numpy(), expert.obs_to_state(obs[None]), rtol=1e-6)
    if env_id == "dilqr_rl/Pendulum-v0":  # the env's own model, copied (the env's physics are untouched)
        assert dynamics is not env.unwrapped.dynamics and float(dynamics.mass) == float(env.unwrapped.dynamics.mass)
    model.learn(8)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip")  # rebuilt without the env
    observation = model.get_env().reset()
    np.testing.assert_allclose(loaded.predict(observation, deterministic=True)[0],
                               model.predict(observation, deterministic=True)[0], rtol=1e-6)


def test_unknown_envs_and_missing_models_give_clear_errors():
    with pytest.raises(ValueError, match=r"DiLQRPolicy: env_id='MountainCarContinuous-v0': no iLQR expert for "
                                         r"Continuous_MountainCarEnv.*supported environments: Pendulum-v1"):
        PPO(DiLQRPolicy, "MountainCarContinuous-v0", policy_kwargs=dict(env_id="MountainCarContinuous-v0"))
    with pytest.raises(ValueError, match=r"DiLQRPolicy needs a model to plan with: policy_kwargs=dict\(env_id="
                                         r"'Pendulum-v1'\) for an env's registered model"):
        DiLQRPolicy(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-2, 2, (1,)), lambda _: 1e-3)
    with pytest.raises(ValueError, match=r"DiLQRPolicy takes either env_id \(the env's registered model\) or "
                                         r"dynamics and cost, not both"):
        PPO(DiLQRPolicy, "Pendulum-v1", policy_kwargs=dict(env_id="Pendulum-v1", **_kwargs()))
    with pytest.raises(ValueError, match=r"unknown physical parameter\(s\) \['mas'\] of PendulumDynamics; its "
                                         r"parameters: \['gravity', 'length', 'mass'\]"):
        PPO(DiLQRPolicy, "Pendulum-v1", policy_kwargs=dict(env_id="Pendulum-v1", model_error={"mas": -0.3}))


def test_model_error_scales_the_registered_physics():
    model = PPO(DiLQRPolicy, "Pendulum-v1", n_steps=8, batch_size=8,
                policy_kwargs=dict(env_id="Pendulum-v1", model_error={"mass": -0.3, "gravity": 0.5}))
    dynamics = model.policy.controller.dynamics
    assert float(dynamics.mass) == pytest.approx(0.7) and float(dynamics.gravity) == pytest.approx(15.0)
    assert float(dynamics.length) == pytest.approx(1.0)


def test_observation_normalisation_is_refused_by_the_trainers_check():
    """``VecNormalize(norm_obs=True)`` would hand the planner normalised observations as states. A policy cannot
    see its env (SB3 gives it the spaces), so the trainers call ``refuse_normalized_observations``."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from dilqr_rl.policies.dilqr_actor import refuse_normalized_observations

    match = (r"DiLQRPolicy plans with a model of the env's physics and reads observations in the env's own units, "
             r"but the env is wrapped in VecNormalize\(norm_obs=True\), which hands the policy normalised "
             r"observations \(the planner would take them for states\): wrap it in VecNormalize\(env, "
             r"norm_obs=False\) to normalise rewards only, or leave VecNormalize out")
    with pytest.raises(ValueError, match=match):
        refuse_normalized_observations(VecNormalize(make_vec_env("Pendulum-v1")), "DiLQRPolicy")
    refuse_normalized_observations(VecNormalize(make_vec_env("Pendulum-v1"), norm_obs=False), "DiLQRPolicy")
    refuse_normalized_observations(make_vec_env("Pendulum-v1"), "DiLQRPolicy")
