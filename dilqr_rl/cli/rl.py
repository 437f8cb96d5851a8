"""``dilqr-rl rl``: PPO with the DiLQR actor (from a misspecified pendulum model) or an MLP policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dilqr_rl.agents.ppo import PPOConfig, train_ppo
from dilqr_rl.cli.args import arg_help

HELP = "Train PPO with a DiLQR actor from a wrong pendulum mass (or an MLP policy); logs to TensorBoard"


@dataclass
class Args:
    env_id: str = field(default="Pendulum-v1", metadata=arg_help("pendulum env: Pendulum-v1 or dilqr_rl/Pendulum-v0"))
    policy: Literal["dilqr", "mlp"] = field(default="dilqr", metadata=arg_help("actor: DiLQR controller or MLP"))
    total_timesteps: int = field(default=PPOConfig.total_timesteps, metadata=arg_help("training env steps"))
    seed: int = field(default=0, metadata=arg_help("random seed (torch, numpy, envs)"))
    mass_error: float = field(default=PPOConfig.mass_error,
                              metadata=arg_help("relative error of the model's initial mass"))
    start_angle: float = field(default=PPOConfig.start_angle,
                               metadata=arg_help("balancing starts within +-this angle of upright, Pendulum-v1 "
                                              "only (0: the env's own full-circle starts)"))
    start_speed: float = field(default=PPOConfig.start_speed, metadata=arg_help("bound of the initial speed"))
    max_episode_steps: int = field(default=PPOConfig.max_episode_steps,
                                   metadata=arg_help("episode length (0: the env's own limit)"))
    cost: Literal["goal", "swingup"] = field(default="goal",
                                             metadata=arg_help("controller cost: quadratic goal or swing-up"))
    goal_weights: tuple[float, float, float] = field(default=PPOConfig.goal_weights,
                                                     metadata=arg_help("goal-cost weights on (theta, theta_dot, u)"))
    horizon: int = field(default=PPOConfig.horizon, metadata=arg_help("planning horizon T"))
    max_iter: int = field(default=PPOConfig.max_iter, metadata=arg_help("iLQR iterations per solve"))
    grad_method: Literal["implicit", "diffmpc", "unroll"] = field(default="implicit",
                                                                  metadata=arg_help("layer gradient"))
    n_envs: int = field(default=PPOConfig.n_envs, metadata=arg_help("parallel environments"))
    n_steps: int = field(default=PPOConfig.n_steps, metadata=arg_help("rollout steps per env and update"))
    batch_size: int = field(default=PPOConfig.batch_size, metadata=arg_help("PPO minibatch size"))
    n_epochs: int = field(default=PPOConfig.n_epochs, metadata=arg_help("PPO epochs per update"))
    learning_rate: float = field(default=PPOConfig.learning_rate, metadata=arg_help("Adam learning rate"))
    controller_lr_scale: float = field(default=PPOConfig.controller_lr_scale,
                                       metadata=arg_help("the mass learns at learning_rate x this"))
    eval_episodes: int = field(default=PPOConfig.eval_episodes,
                               metadata=arg_help("deterministic evaluation episodes before/after (0: none)"))
    output_dir: str = field(default="runs", metadata=arg_help("root of the run directories"))
    exp_name: str = field(default="ppo", metadata=arg_help("experiment name in the run directory"))
    progress_bar: bool = field(default=True, metadata=arg_help("show a progress bar"))


def config_from_args(args: Args) -> PPOConfig:
    """The run's ``PPOConfig``; ``--start-angle 0`` and ``--max-episode-steps 0`` mean the env's own."""
    return PPOConfig(**{**vars(args), "start_angle": args.start_angle if args.start_angle > 0 else None,
                        "max_episode_steps": args.max_episode_steps or None})


def run(args: Args) -> int:
    result = train_ppo(config_from_args(args))
    print(f"run directory: {result.run_dir}")
    print(f"checkpoint: {result.checkpoint}")
    if result.initial_return is not None:
        print(f"deterministic return: {result.initial_return:.1f} -> {result.final_return:.1f}")
    for name, value in result.final_params.items():
        print(f"{name}: {result.initial_params[name]:.4f} -> {value:.4f}")
    return 0
