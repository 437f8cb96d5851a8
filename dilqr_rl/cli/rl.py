"""``dilqr-rl rl``: PPO, A2C, SAC or TD3 with a DiLQR actor (from wrong physics) or an MLP, in every registered env."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from dilqr_rl.agents.rl_config import RLConfig
from dilqr_rl.cli._commands import evaluate_command, installed_command
from dilqr_rl.cli._errors import CLIError, flag, speak_flags, writable_folder

RESUME_MAY_CHANGE = ("total_timesteps", "threads", "progress", "verbose")
"""Settings a resumed run may change; the others are the run's own."""


@dataclass(frozen=True)
class Args(RLConfig):
    """Actor-critic RL (Stable-Baselines3) with the DiLQR controller as the actor, starting from wrong physics, or
    SB3's MLP actor, with rl-zoo3's hyperparameters.

    Prints the model error, the hyperparameters and their source, the random and expert returns on the evaluation
    episodes, and every evaluation (return and normalised return: random 0, expert 1), the untrained policy's
    first. Writes to a new run folder: TensorBoard events, history.csv, checkpoints/model_<steps>_steps.zip,
    model.zip, result.json. Ctrl-C saves a checkpoint and prints the command that resumes the run."""

    resume: Path | None = None
    """A run folder of an earlier 'dilqr-rl rl' to continue from its latest checkpoint, with that run's settings
    (options you set must match them; --total-timesteps may grow)."""


def run(args: Args) -> int:
    from dilqr_rl.agents.rl import TrainingInterrupted, train_rl
    from dilqr_rl.agents.rl_envs import reference_returns

    config = resumed_config(args) if args.resume is not None else _config(args)
    if args.resume is None:
        writable_folder(config.output_dir, "--output-dir")
    check(config)
    _print_setting(config)
    references = reference_returns(config)
    last = config.eval_seed + config.eval_episodes - 1
    print(f"references on {config.eval_episodes} episodes (seeds {config.eval_seed}..{last}): random "
          f"{references['random']:.1f}, expert {references['expert']:.1f}", flush=True)
    try:
        result = train_rl(config, resume=args.resume, report=_print_row)
    except TrainingInterrupted as stop:
        print(f"\ninterrupted at {stop.timesteps} steps; saved {stop.checkpoint}")
        print(f"run folder: {stop.run_dir}")
        print(f"resume with: {installed_command('dilqr-rl')} rl --resume {stop.run_dir}")
        return 130
    _print_result(config, result)
    return 0


def _config(args: Args) -> RLConfig:
    return RLConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(RLConfig)})


def check(config: RLConfig) -> None:
    """The checks that need the env (model parameter names, hyperparameter names), before any folder is made."""
    from dilqr_rl.agents.rl import check_config

    try:
        check_config(config)
    except ValueError as error:
        raise CLIError(speak_flags(str(error), RLConfig)) from None


def _print_setting(config: RLConfig) -> None:
    from dilqr_rl.agents.rl_build import actor_warmup_steps, default_model_error, resolve_hyperparameters

    resolved = resolve_hyperparameters(config)
    actor = "SB3's MlpPolicy"
    if config.policy == "dilqr":
        given = config.model_errors()
        error = default_model_error(config.env_id) if given is None else given
        shown = " ".join(f"{k}={v:+g}" for k, v in error.items()) or "none (the registered model)"
        by_loss = [item for item in config.learn if not (config.sysid_every and item == "physics")]
        learning = [f"{' and '.join(by_loss)} at {config.lr_scale:g}x the learning rate"] if by_loss else []
        if config.sysid_every:
            learning.append(f"physics fitted to its rollouts every {config.sysid_every} steps")
        warmup = actor_warmup_steps(config, resolved)
        if warmup and by_loss:
            learning.append(f"held for the first {warmup} steps while the critic learns")
        actor = (f"DiLQR actor learning {', '.join(learning)}, model error {shown}"
                 + (" (the env's default; set it with --model-error)" if given is None else ""))
    print(f"{config.env_id}, {config.algo.upper()}, {actor}")
    hp = resolved.as_dict(config.policy)
    settings = [f"{k}={v}" for k, v in hp["algo_kwargs"].items()] or [f"SB3's {config.algo.upper()} defaults"]
    settings += [f"n_envs={hp['n_envs']}"] + [f"{k}={v}" for k, v in hp["policy_kwargs"].items()]
    if hp["action_noise_std"] is not None:
        settings.append(f"normal action noise std={hp['action_noise_std']}")
    if hp["normalize_rewards"]:
        settings.append("VecNormalize " + ("observations and rewards" if hp["normalize_observations"] else "rewards"))
    print(f"hyperparameters: {hp['source']}: {' '.join(settings)}")
    if hp["dropped"]:
        print(f"  not for the DiLQR actor: {', '.join(hp['dropped'])} (gSDE)")


def _print_row(row: dict[str, float]) -> None:
    label = "untrained" if row["timesteps"] == 0 else f"{int(row['timesteps'])} steps"
    print(f"{label:>12}: return {row['eval/mean_return']:9.1f} +- {row['eval/std_return']:6.1f}, normalised "
          f"{row['eval/normalized_return']:.3f}", flush=True)


def _print_result(config: RLConfig, result) -> None:
    untrained, final = result.untrained, result.final
    print(f"normalised return {untrained['eval/normalized_return']:.3f} -> {final['eval/normalized_return']:.3f} "
          f"(return {untrained['eval/mean_return']:.1f} -> {final['eval/mean_return']:.1f}) after "
          f"{int(final['timesteps'])} env steps; {result.env_steps_per_s:.1f} env steps/s of training")
    for name, value in result.final_params.items():
        truth = result.registered_params.get(name)
        print(f"{name}: {result.initial_params[name]:.4f} -> {value:.4f}"
              + (f" (registered model: {truth:.4f})" if truth is not None else ""))
    print(f"run folder: {result.run_dir}")
    print(f"checkpoint: {result.checkpoint}")
    print("evaluate it: " + evaluate_command(result.checkpoint, config.env_id, config.eval_seed, config.eval_episodes,
                                             config.max_episode_steps))


def resumed_config(args: Args) -> RLConfig:
    """The run's stored config, with what a resumed run may change; options that contradict it are errors."""
    from dilqr_rl.agents.rl import load_run_config
    from dilqr_rl.agents.rl_checkpoints import checkpoints, steps_of

    try:
        stored = load_run_config(args.resume)
    except FileNotFoundError as error:
        raise CLIError(f"--resume {args.resume}: {error}; pass the run folder 'dilqr-rl rl' printed") from None
    except (ValueError, TypeError) as error:  # not an rl run's settings, or ones this version refuses
        raise CLIError(f"--resume {args.resume}: its config.json is not the settings of a run this version can "
                       f"continue ({speak_flags(str(error), RLConfig)}); start a new run") from None
    saved = checkpoints(args.resume)
    if not saved:
        raise CLIError(f"--resume {args.resume}: the run has no checkpoints/*_steps.zip yet (it stopped before "
                       "its first checkpoint); start a new run")
    defaults = RLConfig()
    conflicts = [f"{flag(f.name)} {_shown(getattr(args, f.name))} (the run has {_shown(getattr(stored, f.name))})"
                 for f in dataclasses.fields(RLConfig)
                 if f.name not in RESUME_MAY_CHANGE and f.name != "output_dir"
                 and getattr(args, f.name) != getattr(defaults, f.name)
                 and getattr(args, f.name) != getattr(stored, f.name)]
    if conflicts:
        raise CLIError(f"--resume continues a run with its own settings, but {', '.join(conflicts)}: drop these "
                       "options, or start a new run")
    changes = {name: getattr(args, name) for name in RESUME_MAY_CHANGE
               if getattr(args, name) != getattr(defaults, name)}
    config = dataclasses.replace(stored, **changes)
    done = steps_of(saved[-1])
    if done >= config.total_timesteps:
        raise CLIError(f"--resume {args.resume}: the run already has {done} of --total-timesteps "
                       f"{config.total_timesteps} steps; pass a larger --total-timesteps to train on")
    return config


def _shown(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)
