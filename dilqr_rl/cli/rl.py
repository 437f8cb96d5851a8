"""``dilqr-rl rl``: PPO with a DiLQR actor from a wrong pendulum mass (or an MLP); checkpoints, --resume."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from dilqr_rl.agents.ppo_config import PPOConfig
from dilqr_rl.cli._commands import installed_command
from dilqr_rl.cli._errors import CLIError, flag, speak_flags, writable_folder

RESUME_MAY_CHANGE = ("total_timesteps", "progress", "verbose")
"""Settings a resumed run may change; the others are the run's own."""


@dataclass(frozen=True)
class Args(PPOConfig):
    """PPO (Stable-Baselines3) with the DiLQR controller as the actor, from a misspecified pendulum model.

    Writes to a new run folder: TensorBoard events and progress.csv, checkpoints/model_<steps>_steps.zip,
    model.zip, result.json. Ctrl-C saves a checkpoint and prints the command that resumes the run."""

    resume: Path | None = None
    """A run folder of an earlier 'dilqr-rl rl' to continue from its latest checkpoint, with that run's
    settings (options you set must match them; --total-timesteps may grow)."""


def run(args: Args) -> int:
    from dilqr_rl.agents.ppo import TrainingInterrupted, train_ppo

    config = PPOConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PPOConfig)})
    if args.resume is not None:
        config = resumed_config(args)
    else:
        writable_folder(config.output_dir, "--output-dir")
        check_env(config)
    try:
        result = train_ppo(config, resume=args.resume)
    except TrainingInterrupted as stop:
        print(f"\ninterrupted at {stop.timesteps} steps; saved {stop.checkpoint}")
        print(f"run folder: {stop.run_dir}")
        print(f"resume with: {installed_command('dilqr-rl')} rl --resume {stop.run_dir}")
        return 130
    print(f"run folder: {result.run_dir}")
    print(f"checkpoint: {result.checkpoint}")
    if result.initial_return is not None and result.final_return is not None:
        print(f"deterministic return: {result.initial_return:.1f} -> {result.final_return:.1f}")
    for name, value in result.final_params.items():
        print(f"{name}: {result.initial_params[name]:.4f} -> {value:.4f}")
    command = installed_command("dilqr-rl")
    print(f"evaluate it: {command} evaluate --policy {result.checkpoint} --env-id {config.env_id}")
    return 0


def check_env(config: PPOConfig) -> None:
    """Refuse, before the run folder is made, an --env-id that does not exist or that the policy cannot act in."""
    from contextlib import closing

    from dilqr_rl.agents.ppo import dilqr_policy_kwargs
    from dilqr_rl.cli._policies import make_cli_env

    with closing(make_cli_env(config.env_id)) as env:
        shape = env.observation_space.shape
    if config.policy == "dilqr":
        try:
            dilqr_policy_kwargs(config, shape)
        except ValueError as error:  # observations the pendulum planner cannot read
            raise CLIError(speak_flags(str(error), PPOConfig)) from None


def resumed_config(args: Args) -> PPOConfig:
    """The run's stored config, with what a resumed run may change; options that contradict it are errors."""
    from dilqr_rl.agents.ppo import checkpoints, load_run_config

    try:
        stored = load_run_config(args.resume)
    except FileNotFoundError as error:
        raise CLIError(f"--resume {args.resume}: {error}; pass the run folder 'dilqr-rl rl' printed") from None
    saved = checkpoints(args.resume)
    if not saved:
        raise CLIError(f"--resume {args.resume}: the run has no checkpoints/*_steps.zip yet (it stopped before "
                       "its first checkpoint); start a new run")
    defaults = PPOConfig()
    conflicts = [f"{flag(f.name)} {getattr(args, f.name)} (the run has {getattr(stored, f.name)})"
                 for f in dataclasses.fields(PPOConfig)
                 if f.name not in RESUME_MAY_CHANGE and f.name != "output_dir"
                 and getattr(args, f.name) != getattr(defaults, f.name)
                 and getattr(args, f.name) != getattr(stored, f.name)]
    if conflicts:
        raise CLIError(f"--resume continues a run with its own settings, but {', '.join(conflicts)}: drop these "
                       "options, or start a new run")
    changes = {name: getattr(args, name) for name in RESUME_MAY_CHANGE
               if getattr(args, name) != getattr(defaults, name)}
    config = dataclasses.replace(stored, **changes)
    done = int(saved[-1].name.split("_")[-2])
    if done >= config.total_timesteps:
        raise CLIError(f"--resume {args.resume}: the run already has {done} of --total-timesteps "
                       f"{config.total_timesteps} steps; pass a larger --total-timesteps to train on")
    return config
