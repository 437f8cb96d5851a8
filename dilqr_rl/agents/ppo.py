"""PPO with a DiLQR actor that starts from a misspecified pendulum model (or an MLP policy, for comparison).

``train_ppo(PPOConfig(...))`` builds the environment, the policy (a :class:`DiLQRPolicy` whose
``PendulumDynamics`` has ``mass = true_mass * (1 + mass_error)``; only the mass is learnable), evaluates the
deterministic policy, trains with Stable-Baselines3's PPO (progress bar, TensorBoard and CSV logs in the run
directory, ``ilqr/`` diagnostics and the physical parameters logged by :class:`ILQRLoggingCallback`),
evaluates again, and saves ``model.zip`` (loadable with ``PPO.load``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure

from dilqr_rl.agents.logging import make_run_dir, make_writer, seed_everything
from dilqr_rl.models import GoalCost, PendulumDynamics, PendulumSwingUpCost
from dilqr_rl.policies.dilqr_policy import DiLQRPolicy


@dataclass(frozen=True)
class PPOConfig:
    """Settings of one PPO run."""

    env_id: str = "Pendulum-v1"
    """A pendulum environment with Pendulum-v1's observation (cos, sin, theta_dot) or state (theta,
    theta_dot): ``Pendulum-v1`` or ``dilqr_rl/Pendulum-v0``."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``gymnasium.make`` (e.g. ``{"mass": 1.0}`` for ``dilqr_rl/Pendulum-v0``)."""
    policy: Literal["dilqr", "mlp"] = "dilqr"
    """``dilqr``: the DiLQR actor; ``mlp``: SB3's ``MlpPolicy`` (baseline)."""
    true_mass: float = 1.0
    """The environment's pendulum mass (Pendulum-v1: 1.0)."""
    mass_error: float = -0.5
    """Relative error of the model's initial mass: model mass = true_mass * (1 + mass_error)."""
    cost: Literal["swingup", "goal"] = "swingup"
    """Controller cost: ``swingup`` (PendulumSwingUpCost, control weight ``control_weight``) or ``goal``
    (quadratic GoalCost on (theta, theta_dot, u) with weights (1, 0.3, 0.1))."""
    control_weight: float = 0.01
    """Control weight of the swing-up cost."""
    horizon: int = 10
    """Planning horizon T of the controller."""
    max_iter: int = 10
    """iLQR iterations per solve."""
    grad_method: str = "implicit"
    """Gradient method of the layer: implicit, diffmpc or unroll."""
    total_timesteps: int = 12_000
    """Environment steps of training."""
    n_envs: int = 4
    """Parallel environments (a DummyVecEnv; the controller solves them as one batch)."""
    n_steps: int = 256
    """Rollout length per environment and update."""
    batch_size: int = 256
    n_epochs: int = 5
    learning_rate: float = 1e-3
    gamma: float = 0.98
    gae_lambda: float = 0.95
    log_std_init: float = -1.0
    """Initial log-std of the Gaussian around the controller's action."""
    eval_episodes: int = 3
    """Deterministic evaluation episodes before and after training (0: skip)."""
    seed: int = 0
    output_dir: str = "runs"
    exp_name: str = "ppo"
    progress_bar: bool = True
    verbose: int = 0


@dataclass
class PPOResult:
    """Where a run wrote its outputs and what it measured."""

    run_dir: Path
    checkpoint: Path
    initial_return: float | None
    final_return: float | None
    initial_params: dict[str, float]
    final_params: dict[str, float]


class ILQRLoggingCallback(BaseCallback):
    """Logs, after each rollout, ``ilqr/converged_fraction`` and ``ilqr/iterations`` (means over the solves
    since the last rollout, training minibatches included) and ``ilqr/param_{name}`` for every scalar
    parameter of the controller's dynamics."""

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        policy = self.model.policy
        if not isinstance(policy, DiLQRPolicy):
            return
        for key, value in policy.solver_stats.pop().items():
            self.logger.record(f"ilqr/{key}", value)
        for key, value in physical_parameters(policy).items():
            self.logger.record(f"ilqr/param_{key}", value)


def physical_parameters(policy: DiLQRPolicy) -> dict[str, float]:
    """The scalar parameters of the policy's dynamics model, as floats."""
    return {name: p.item() for name, p in policy.controller.dynamics.named_parameters() if p.numel() == 1}


def make_env(config: PPOConfig) -> gym.vector.VectorEnv:
    """A seeded DummyVecEnv of ``config.n_envs`` copies (our ``dilqr_rl/`` ids are registered first)."""
    if config.env_id.startswith("dilqr_rl/"):
        import dilqr_rl.envs  # noqa: F401  (registers our ids)
    return make_vec_env(config.env_id, n_envs=config.n_envs, seed=config.seed, env_kwargs=config.env_kwargs)


def dilqr_policy_kwargs(config: PPOConfig, observation_shape: tuple[int, ...]) -> dict[str, Any]:
    """``policy_kwargs`` of the DiLQR actor: a pendulum with the wrong mass (the only learnable parameter)."""
    state_maps = {(3,): "pendulum_angle", (2,): "identity"}
    if tuple(observation_shape) not in state_maps:
        raise ValueError(f"the PPO agent plans with a pendulum model and needs observations (cos, sin, "
                         f"theta_dot) or (theta, theta_dot); {config.env_id} observes shape "
                         f"{tuple(observation_shape)}. Build DiLQRPolicy's policy_kwargs yourself for other "
                         "systems.")
    dynamics = PendulumDynamics(mass=config.true_mass * (1.0 + config.mass_error))
    dynamics.length.requires_grad_(False)
    dynamics.gravity.requires_grad_(False)
    if config.cost == "swingup":
        cost = PendulumSwingUpCost(control_weight=config.control_weight)
    else:
        cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3))
        cost.requires_grad_(False)
    return dict(dynamics=dynamics, cost=cost, horizon=config.horizon, grad_method=config.grad_method,
                state_map=state_maps[tuple(observation_shape)], solver_options={"max_iter": config.max_iter},
                log_std_init=config.log_std_init)


def build_model(config: PPOConfig, env: gym.vector.VectorEnv) -> PPO:
    """SB3 PPO with the configured policy (no logger attached)."""
    if config.policy == "dilqr":
        policy, kwargs = DiLQRPolicy, dilqr_policy_kwargs(config, env.observation_space.shape)
    elif config.policy == "mlp":
        policy, kwargs = "MlpPolicy", {"log_std_init": config.log_std_init}
    else:
        raise ValueError(f"policy must be 'dilqr' or 'mlp'; got {config.policy!r}")
    return PPO(policy, env, learning_rate=config.learning_rate, n_steps=config.n_steps,
               batch_size=config.batch_size, n_epochs=config.n_epochs, gamma=config.gamma,
               gae_lambda=config.gae_lambda, policy_kwargs=kwargs, seed=config.seed, verbose=config.verbose)


def _evaluate(model: PPO, config: PPOConfig) -> float | None:
    if config.eval_episodes <= 0:
        return None
    env = make_env(replace(config, n_envs=1, seed=config.seed + 10_000))
    mean, _ = evaluate_policy(model, env, n_eval_episodes=config.eval_episodes, deterministic=True)
    return float(mean)


def train_ppo(config: PPOConfig) -> PPOResult:
    """Train, log and save one run; see the module docstring."""
    seed_everything(config.seed)
    run_dir = make_run_dir(config.output_dir, config.env_id, f"{config.exp_name}-{config.policy}", config.seed)
    writer = make_writer(run_dir, config)
    model = build_model(config, make_env(config))
    model.set_logger(configure(str(run_dir), ["csv", "tensorboard"] + (["stdout"] if config.verbose else [])))
    is_dilqr = isinstance(model.policy, DiLQRPolicy)
    initial_params = physical_parameters(model.policy) if is_dilqr else {}
    initial_return = _evaluate(model, config)
    if is_dilqr:
        model.policy.solver_stats.pop()  # evaluation solves are not training diagnostics
    model.learn(config.total_timesteps, callback=ILQRLoggingCallback(), progress_bar=config.progress_bar)
    final_return = _evaluate(model, config)
    final_params = physical_parameters(model.policy) if is_dilqr else {}
    for step, value in ((0, initial_return), (model.num_timesteps, final_return)):
        if value is not None:
            writer.add_scalar("eval/mean_return", value, step)
    writer.close()
    checkpoint = run_dir / "model.zip"
    model.save(checkpoint)
    return PPOResult(run_dir, checkpoint, initial_return, final_return, initial_params, final_params)
