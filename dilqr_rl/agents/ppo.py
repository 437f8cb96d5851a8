"""PPO with a DiLQR actor that starts from a misspecified pendulum model (or an MLP policy, for comparison).

``train_ppo(PPOConfig(...))`` builds the environment, the policy (a :class:`DiLQRPolicy` whose
``PendulumDynamics`` has ``mass = true_mass * (1 + mass_error)``; only the mass is learnable, with its own
learning rate ``learning_rate * controller_lr_scale``), evaluates the deterministic policy, trains with
Stable-Baselines3's PPO (progress bar, TensorBoard and CSV logs in the run directory, ``ilqr/`` diagnostics
and the physical parameters logged by :class:`ILQRLoggingCallback`), evaluates again on the same start
states, and saves ``model.zip`` (loadable with ``PPO.load``). :func:`return_vs_mass` measures the return of
the fixed (untrained) controller as a function of its model mass.

The default task is balancing: starts within ``start_angle`` of upright (Pendulum-v1's reset options), the
papers' quadratic goal cost with a control weight large enough that the planned torques stay inside +-2,
so the plan depends on the mass (a saturated plan has d(plan)/d(mass) = 0 and PPO cannot move the mass).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecEnv

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
    max_episode_steps: int | None = 100
    """Episode length (``None``: the registered 200)."""
    start_angle: float | None = 0.3
    """Starts theta ~ U(-start_angle, start_angle), theta_dot ~ U(-start_speed, start_speed) (balancing);
    ``None``: the env's own starts (Pendulum-v1: the full circle, a swing-up task). Pendulum-v1 only."""
    start_speed: float = 0.5
    """Bound of the initial angular speed when ``start_angle`` is set."""
    policy: Literal["dilqr", "mlp"] = "dilqr"
    """``dilqr``: the DiLQR actor; ``mlp``: SB3's ``MlpPolicy`` (baseline)."""
    true_mass: float = 1.0
    """The environment's pendulum mass (Pendulum-v1: 1.0)."""
    mass_error: float = -0.5
    """Relative error of the model's initial mass: model mass = true_mass * (1 + mass_error)."""
    cost: Literal["swingup", "goal"] = "goal"
    """Controller cost: ``goal`` (the papers' quadratic GoalCost ``||w o (tau - 0)||^2`` on tau = (theta,
    theta_dot, u), weights ``goal_weights``) or ``swingup`` (PendulumSwingUpCost, ``control_weight``)."""
    goal_weights: tuple[float, float, float] = (1.0, 0.3, 0.3)
    """Weights w of the goal cost (squared in the cost: control penalty 0.09 u^2 keeps balancing torques
    inside +-2)."""
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
    n_envs: int = 8
    """Parallel environments (a DummyVecEnv; the controller solves them as one batch)."""
    n_steps: int = 256
    """Rollout length per environment and update."""
    batch_size: int = 256
    n_epochs: int = 5
    learning_rate: float = 1e-3
    """Adam learning rate of the critic and the log-std."""
    controller_lr_scale: float = 20.0
    """The controller's parameters (the mass) learn at ``learning_rate * controller_lr_scale``."""
    gamma: float = 0.98
    gae_lambda: float = 0.95
    log_std_init: float = -1.0
    """Initial log-std of the Gaussian around the controller's action."""
    eval_episodes: int = 16
    """Deterministic evaluation episodes before and after training, run in parallel from the same seeded
    starts each time (0: skip)."""
    seed: int = 0
    output_dir: str = "runs"
    exp_name: str = "ppo"
    progress_bar: bool = True
    verbose: int = 0

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be 'dilqr' or 'mlp'; got {self.policy!r}")
        if self.cost not in COSTS:
            raise ValueError(f"cost must be 'goal' or 'swingup'; got {self.cost!r}")
        if self.start_angle is not None and self.env_id != "Pendulum-v1":
            raise ValueError(f"start_angle sets Pendulum-v1's reset options; {self.env_id} has none. Use "
                             "env_id='Pendulum-v1' or start_angle=None.")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1 or None (the env's own limit); got "
                             f"{self.max_episode_steps}")
        counts = {"total_timesteps": self.total_timesteps, "n_envs": self.n_envs, "n_steps": self.n_steps,
                  "batch_size": self.batch_size, "n_epochs": self.n_epochs, "horizon": self.horizon,
                  "max_iter": self.max_iter}
        bad = {k: v for k, v in counts.items() if v < 1}
        if bad:
            raise ValueError(f"{', '.join(bad)} must be >= 1; got {bad}")


POLICIES = ("dilqr", "mlp")
COSTS = ("goal", "swingup")


@dataclass
class PPOResult:
    """Where a run wrote its outputs and what it measured."""

    run_dir: Path
    checkpoint: Path
    initial_return: float | None
    final_return: float | None
    initial_params: dict[str, float]
    final_params: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    """After each rollout: ``timesteps``, ``rollout_return`` (mean stochastic episode return of SB3's
    buffer, NaN before the first episode ends) and every physical parameter."""


class ILQRLoggingCallback(BaseCallback):
    """Logs, after each rollout, ``ilqr/converged_fraction`` and ``ilqr/iterations`` (means over the solves
    since the last rollout, training minibatches included) and ``ilqr/param_{name}`` for every scalar
    parameter of the controller's dynamics; keeps the parameters in ``history`` (see :class:`PPOResult`)."""

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.history: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        policy = self.model.policy
        if not isinstance(policy, DiLQRPolicy):
            return
        for key, value in policy.solver_stats.pop().items():
            self.logger.record(f"ilqr/{key}", value)
        params = physical_parameters(policy)
        for key, value in params.items():
            self.logger.record(f"ilqr/param_{key}", value)
        returns = [info["r"] for info in self.model.ep_info_buffer]
        self.history.append({"timesteps": float(self.num_timesteps),
                             "rollout_return": float(np.mean(returns)) if returns else float("nan"), **params})


class UniformStart(gym.Wrapper):
    """Pendulum-v1 starting at theta ~ U(-angle, angle), theta_dot ~ U(-speed, speed) (its ``x_init`` and
    ``y_init`` reset options, given on every reset)."""

    def __init__(self, env: gym.Env, angle: float, speed: float) -> None:
        super().__init__(env)
        if not (angle > 0 and speed >= 0):
            raise ValueError(f"start angle must be > 0 and start speed >= 0; got {angle}, {speed}")
        self.start = {"x_init": float(angle), "y_init": float(speed)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        return self.env.reset(seed=seed, options={**self.start, **(options or {})})


def physical_parameters(policy: DiLQRPolicy) -> dict[str, float]:
    """The scalar parameters of the policy's dynamics model, as floats."""
    return {name: p.item() for name, p in policy.controller.dynamics.named_parameters() if p.numel() == 1}


def make_env(config: PPOConfig) -> VecEnv:
    """A seeded DummyVecEnv of ``config.n_envs`` copies (our ``dilqr_rl/`` ids are registered first)."""
    if config.env_id.startswith("dilqr_rl/"):
        import dilqr_rl.envs  # noqa: F401  (registers our ids)
    wrapper, wrapper_kwargs = None, None
    if config.start_angle is not None:  # Pendulum-v1 (checked by PPOConfig)
        wrapper, wrapper_kwargs = UniformStart, {"angle": config.start_angle, "speed": config.start_speed}
    env_kwargs = dict(config.env_kwargs)
    if config.max_episode_steps is not None:
        env_kwargs.setdefault("max_episode_steps", config.max_episode_steps)
    return make_vec_env(config.env_id, n_envs=config.n_envs, seed=config.seed, env_kwargs=env_kwargs,
                        wrapper_class=wrapper, wrapper_kwargs=wrapper_kwargs)


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
    else:  # "goal" (PPOConfig checks the choice)
        cost = GoalCost(torch.tensor(config.goal_weights), torch.zeros(len(config.goal_weights)))
        cost.requires_grad_(False)
    return dict(dynamics=dynamics, cost=cost, horizon=config.horizon, grad_method=config.grad_method,
                state_map=state_maps[tuple(observation_shape)], solver_options={"max_iter": config.max_iter},
                log_std_init=config.log_std_init, controller_lr_scale=config.controller_lr_scale)


def build_model(config: PPOConfig, env: VecEnv) -> PPO:
    """SB3 PPO with the configured policy (no logger attached)."""
    if config.policy == "dilqr":
        policy, kwargs = DiLQRPolicy, dilqr_policy_kwargs(config, env.observation_space.shape)
    else:  # "mlp" (PPOConfig checks the choice)
        policy, kwargs = "MlpPolicy", {"log_std_init": config.log_std_init}
    return PPO(policy, env, learning_rate=config.learning_rate, n_steps=config.n_steps,
               batch_size=config.batch_size, n_epochs=config.n_epochs, gamma=config.gamma,
               gae_lambda=config.gae_lambda, policy_kwargs=kwargs, seed=config.seed, verbose=config.verbose)


def evaluate(model: PPO, config: PPOConfig) -> float | None:
    """Mean deterministic return over ``config.eval_episodes`` episodes, one per parallel env, from starts
    seeded by ``config.seed + 10_000`` (the same starts on every call); ``None`` if ``eval_episodes`` is 0."""
    if config.eval_episodes <= 0:
        return None
    env = make_env(replace(config, n_envs=config.eval_episodes, seed=config.seed + 10_000))
    try:
        mean, _ = evaluate_policy(model, env, n_eval_episodes=config.eval_episodes, deterministic=True)
    finally:
        env.close()
    return float(mean)


def return_vs_mass(config: PPOConfig, masses: Sequence[float]) -> dict[float, float]:
    """The fixed controller's deterministic return (see :func:`evaluate`) for each model mass: no learning.

    Measures whether the return depends on the mass in this task at all (if it does not, PPO has no signal
    to correct the model)."""
    if config.eval_episodes <= 0:
        raise ValueError("return_vs_mass evaluates the controller: set eval_episodes > 0")
    out = {}
    for mass in masses:
        mass_config = replace(config, policy="dilqr", mass_error=mass / config.true_mass - 1.0, n_envs=1)
        env = make_env(mass_config)
        try:
            out[float(mass)] = evaluate(build_model(mass_config, env), mass_config)
        finally:
            env.close()
    return out


def train_ppo(config: PPOConfig) -> PPOResult:
    """Train, log and save one run; see the module docstring. The environments, the TensorBoard writer and
    SB3's logger are closed when it returns or raises."""
    seed_everything(config.seed)
    with ExitStack() as resources:
        env = make_env(config)
        resources.callback(env.close)
        run_dir = make_run_dir(config.output_dir, config.env_id, f"{config.exp_name}-{config.policy}",
                               config.seed)
        writer = make_writer(run_dir, config)
        resources.callback(writer.close)
        model = build_model(config, env)
        logger = configure(str(run_dir), ["csv", "tensorboard"] + (["stdout"] if config.verbose else []))
        resources.callback(logger.close)
        model.set_logger(logger)
        is_dilqr = isinstance(model.policy, DiLQRPolicy)
        initial_params = physical_parameters(model.policy) if is_dilqr else {}
        initial_return = evaluate(model, config)
        if is_dilqr:
            model.policy.solver_stats.pop()  # evaluation solves are not training diagnostics
        callback = ILQRLoggingCallback()
        model.learn(config.total_timesteps, callback=callback, progress_bar=config.progress_bar)
        final_return = evaluate(model, config)
        final_params = physical_parameters(model.policy) if is_dilqr else {}
        for step, value in ((0, initial_return), (model.num_timesteps, final_return)):
            if value is not None:
                writer.add_scalar("eval/mean_return", value, step)
        checkpoint = run_dir / "model.zip"
        model.save(checkpoint)
    return PPOResult(run_dir, checkpoint, initial_return, final_return, initial_params, final_params,
                     callback.history)
