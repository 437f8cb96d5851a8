"""``PPOConfig``: the settings of one PPO run (no torch import: ``dilqr-rl rl --help`` reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

POLICIES = ("dilqr", "mlp")
COSTS = ("goal", "swingup")


@dataclass(frozen=True)
class PPOConfig:
    """Settings of one PPO run with a DiLQR actor whose pendulum model starts with a wrong mass."""

    env_id: str = "Pendulum-v1"
    """A pendulum environment with Pendulum-v1's observation (cos, sin, theta_dot) or state (theta,
    theta_dot): Pendulum-v1 or dilqr_rl/Pendulum-v0."""
    env_kwargs: dict[str, float] = field(default_factory=dict)
    """Keyword arguments of gymnasium.make, e.g. mass 1.2 for dilqr_rl/Pendulum-v0."""
    max_episode_steps: int | None = 100
    """Episode length (None: the env's own limit, 200)."""
    start_angle: float | None = 0.3
    """Episodes start at theta ~ U(-start_angle, start_angle), theta_dot ~ U(-start_speed, start_speed)
    (balancing); None: the env's own starts (Pendulum-v1: the full circle, a swing-up task).
    Pendulum-v1 only."""
    start_speed: float = 0.5
    """Bound of the initial angular speed when start_angle is set."""
    policy: Literal["dilqr", "mlp"] = "dilqr"
    """Actor: dilqr (the DiLQR controller) or mlp (SB3's MlpPolicy, the baseline)."""
    true_mass: float = 1.0
    """The environment's pendulum mass (Pendulum-v1: 1.0)."""
    mass_error: float = -0.5
    """Relative error of the model's initial mass: model mass = true_mass * (1 + mass_error)."""
    cost: Literal["goal", "swingup"] = "goal"
    """Controller cost: goal (the papers' quadratic GoalCost ||w o (tau - 0)||^2 on tau = (theta,
    theta_dot, u), weights goal_weights) or swingup (PendulumSwingUpCost with control_weight)."""
    goal_weights: tuple[float, float, float] = (1.0, 0.3, 0.3)
    """Weights w of the goal cost on (theta, theta_dot, u); squared in the cost: the control penalty 0.09 u^2
    keeps balancing torques inside +-2."""
    control_weight: float = 0.01
    """Control weight of the swing-up cost."""
    horizon: int = 10
    """Planning horizon T of the controller."""
    max_iter: int = 10
    """iLQR iterations per solve."""
    grad_method: Literal["implicit", "diffmpc", "unroll"] = "implicit"
    """Gradient of the layer (see docs/implicit_gradient.md)."""
    total_timesteps: int = 12_000
    """Environment steps of training (with --resume: the total to reach)."""
    n_envs: int = 8
    """Parallel environments (a DummyVecEnv; the controller solves them as one batch)."""
    n_steps: int = 256
    """Rollout length per environment and update."""
    batch_size: int = 256
    """PPO minibatch size."""
    n_epochs: int = 5
    """PPO epochs per update."""
    learning_rate: float = 1e-3
    """Adam learning rate of the critic and the log-std."""
    controller_lr_scale: float = 20.0
    """The controller's parameters (the mass) learn at learning_rate x this."""
    gamma: float = 0.98
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    log_std_init: float = -1.0
    """Initial log-std of the Gaussian around the controller's action."""
    eval_episodes: int = 16
    """Deterministic evaluation episodes before and after training, run in parallel from the same seeded
    starts each time (0: none)."""
    checkpoint_freq: int = 2048
    """Save checkpoints/model_<steps>_steps.zip every this many environment steps (0: only at the end and
    on Ctrl-C)."""
    seed: int = 0
    """Seeds torch, numpy, the environments and the evaluation starts."""
    output_dir: str = "runs"
    """Root of the run folders."""
    exp_name: str = "ppo"
    """Experiment name in the run folder's name."""
    progress: bool = True
    """Show a progress bar."""
    verbose: int = 0
    """SB3 verbosity (1: print the logged table after every rollout)."""

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be 'dilqr' or 'mlp'; got {self.policy!r}")
        if self.cost not in COSTS:
            raise ValueError(f"cost must be 'goal' or 'swingup'; got {self.cost!r}")
        if self.start_angle is not None and self.env_id != "Pendulum-v1":
            raise ValueError(f"start_angle sets Pendulum-v1's reset options and {self.env_id} has none: use "
                             "env_id=Pendulum-v1, or start_angle=None for the env's own starts")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, or None for the env's own limit; got "
                             f"{self.max_episode_steps}")
        counts = {"total_timesteps": self.total_timesteps, "n_envs": self.n_envs, "n_steps": self.n_steps,
                  "batch_size": self.batch_size, "n_epochs": self.n_epochs, "horizon": self.horizon,
                  "max_iter": self.max_iter}
        bad = {k: v for k, v in counts.items() if v < 1}
        if bad:
            raise ValueError(f"{', '.join(bad)} must be >= 1; got {bad}")
        for name in ("eval_episodes", "checkpoint_freq"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0: none); got {getattr(self, name)}")
