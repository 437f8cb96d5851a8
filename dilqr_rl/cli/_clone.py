"""What ``bc-step`` and ``dagger`` share: their episodes, the policy checked before any work, the summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dilqr_rl.cli._errors import CLIError, check_threads, flag, speak_flags, writable_folder

CONFIG_FILE = "clone_config.json"
"""The settings of a clone run, in its folder (:func:`write_config`; not ``config.json``, which ``bc --resume`` and
``rl --resume`` read as theirs)."""
DEFAULT_ENV_ID = "dilqr_rl/Pendulum-v0"
"""The env of ``bc-step`` and ``dagger`` without ``--data`` and ``--env-id``."""


def check_episode_options(args: Any) -> None:
    """The options ``bc-step`` and ``dagger`` add to their config: threads, episode counts and lengths."""
    check_threads(args.threads)
    for name in ("n_episodes", "max_episode_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"{flag(name)} {value}: must be >= 1")


def start_run(args: Any, config_type: type):
    """What ``bc-step`` and ``dagger`` do before training: threads and seeds set, the output folder checked, the
    episodes loaded or collected, ``config_type``'s config of ``args``, the policy checked, a new run folder.

    Returns (episodes, env kwargs, config, cloner, run folder, hyperparameters for TensorBoard)."""
    import dataclasses

    import torch
    from stable_baselines3.common.utils import set_random_seed

    from dilqr_rl.agents.clone_data import SEGMENTS, segmented
    from dilqr_rl.agents.logging import make_run_dir

    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    writable_folder(args.output_dir, "--output-dir")
    ds, env_kwargs = episodes_and_env_kwargs(args.data, args.env_id, args.n_episodes, args.seed, args.progress,
                                             args.max_episode_steps)
    one = ds.n_episodes == 1
    if one:  # cloning splits by episode: one demonstration becomes consecutive pieces
        ds = segmented(ds, SEGMENTS)
    config = config_type(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_type)})
    cloner = checked_cloner(ds, config, env_kwargs, type(args))
    if one:
        print(f"one demonstration: cloned as {ds.n_episodes} consecutive pieces of it, one held out to select the "
              "epoch")
    run_dir = make_run_dir(args.output_dir, ds.env_id, args.exp_name, args.seed)
    write_config(args, ds, env_kwargs, cloner.config, run_dir / CONFIG_FILE)
    hparams = {**dataclasses.asdict(config), "data": str(args.data or "collected"), "env_id": ds.env_id,
               "n_episodes": ds.n_episodes, "env_kwargs": str(env_kwargs)}
    return ds, env_kwargs, config, cloner, run_dir, hparams


def write_config(args: Any, ds, env_kwargs: dict, resolved: Any, path: Path) -> None:
    """``clone_config.json`` of a clone run: the options as given (``--data`` as an absolute path), the episodes'
    env, its keyword arguments and the number of episodes, the settings with the observation-dependent defaults resolved
    (``resolved``: state loss, model warm-up) and the trainer's (``trainer``: epochs, batch size, learning rate as
    the run trained with them; DAgger's later rounds scale the rate by ``round_lr_scale``)."""
    import dataclasses
    import json

    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}
    options["data"] = None if args.data is None else str(Path(args.data).resolve())
    stored = {"options": options, "env_id": ds.env_id, "env_kwargs": env_kwargs, "n_episodes": ds.n_episodes,
              "resolved": dataclasses.asdict(resolved), "trainer": dataclasses.asdict(resolved.bc_config(None))}
    path.write_text(json.dumps(stored, indent=2, default=str))


def episodes_and_env_kwargs(data: Path | None, env_id: str | None, n_episodes: int, seed: int, progress: bool,
                            max_episode_steps: int | None, images: bool = True):
    """The episodes of ``--data`` (of ``--env-id`` when given), else ``n_episodes`` collected, and the keyword
    arguments the env is made with (the data's, or ``--max-episode-steps``). ``images=False``: an env that
    observes images is a :class:`CLIError` (before any episode is collected)."""
    from dilqr_rl.cli._data import episodes, expert_episodes

    if not images:
        refuse_images(env_id)
    if data is not None:
        ds = episodes(data, env_id)
        if not images and ds.observations.ndim > 2:  # (steps, frames, height, width): the env was not named
            raise CLIError(_images_refused(f"--data {data} holds image observations of {ds.env_id}", ds.env_id))
        kwargs = dict(ds.metadata.get("env_kwargs", {}))
    else:
        ds = expert_episodes(env_id or DEFAULT_ENV_ID, n_episodes, seed, progress, max_episode_steps)
        kwargs = {}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    return ds, kwargs


def refuse_images(env_id: str | None) -> None:
    """SysId on episodes fits the model to state transitions: image observations are a :class:`CLIError`."""
    if env_id is None:
        return
    from dilqr_rl.cli._policies import make_cli_env

    env = make_cli_env(env_id)
    try:
        images = len(env.observation_space.shape) > 1
    finally:
        env.close()
    if images:
        raise CLIError(_images_refused(f"--env-id {env_id} observes images", env_id))


def _images_refused(what: str, env_id: str) -> str:
    return (f"{what}, and sysid on episodes fits the model to state observations (Pendulum-v1, dilqr_rl/Pendulum-v0, "
            "dilqr_rl/CartpoleSwingUp-v0, InvertedPendulum-v5, ...); from pixels, clone the DiLQR actor, which learns "
            f"the physics with its encoder: dilqr-rl bc-step --env-id {env_id} --policy dilqr")


def checked_cloner(ds, config, env_kwargs: dict[str, Any], args_type: type):
    """The :class:`~dilqr_rl.agents.clone.Cloner` of ``config`` for the data's env, with the split checked; a
    policy that cannot act in the env, an unknown physical parameter or too few episodes is a :class:`CLIError`."""
    from dilqr_rl.agents.clone_data import episode_masks

    try:
        episode_masks(ds.episode, config.val_fraction, config.test_fraction, config.seed)
    except ValueError as error:
        raise CLIError(speak_flags(str(error), args_type).replace("collect more episodes",
                                                                  "collect more (--n-episodes)")) from None
    return make_cloner(ds, config, env_kwargs)


def make_cloner(ds, config, env_kwargs: dict[str, Any]):
    """The :class:`~dilqr_rl.agents.clone.Cloner` of ``config`` for the data's env; a policy that cannot act in
    the env or an unknown physical parameter is a :class:`CLIError`."""
    from dilqr_rl.agents.clone import Cloner

    try:
        return Cloner(ds.env_id, config, env_kwargs)
    except ValueError as error:
        message = str(error)
        if "physical parameter" in message:
            raise CLIError(f"--model-error: {message}") from None
        raise CLIError(f"--policy {config.policy} cannot act in {ds.env_id}: {message}") from None


def print_summary(summary: dict[str, Any], env_id: str, env_kwargs: dict[str, Any] | None = None,
                  learns_physics: bool = True) -> None:
    """The run's figures: one line per scalar, the returns and physics as sentences, how to evaluate it (on the
    run's evaluation episodes, so that ``evaluate`` reproduces its return)."""
    from dilqr_rl.cli._commands import evaluate_command

    for key, value in summary.items():
        if isinstance(value, (int, float, str)) or value is None:
            print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    if "normalized_return" in summary:
        first, last = summary["eval_seeds"]
        print(f"return over seeds {first}..{last}: untrained {summary['untrained_return']:.1f} "
              f"({share(summary['normalized_untrained'])} normalised) -> trained {summary['return']:.1f} "
              f"({share(summary['normalized_return'])}); random {summary['random_return']:.1f}, expert "
              f"{summary['expert_return']:.1f}")
    for name, learned in summary.get("physics_learned", {}).items():
        print(f"{name}: true {summary['physics_true'][name]:g}, start {summary['physics_start'][name]:g}, "
              f"learned {learned:.4g}")
    if learns_physics and summary.get("physics_learned") and summary["physics_learned"] == summary.get("physics_start"):
        print("warning: the learned physics are their start: the best validation epoch came before they moved (on "
              "images: within --model-warmup), or the first controls sat at their bounds, where the loss gives them "
              "no gradient (bc/saturated_fraction in TensorBoard); train longer or on more episodes", file=sys.stderr)
    if "checkpoint" in summary:
        first, last = summary.get("eval_seeds") or (None, None)
        episodes = None if first is None else last - first + 1
        print("evaluate it: " + evaluate_command(summary["checkpoint"], env_id, first, episodes,
                                                 (env_kwargs or {}).get("max_episode_steps")))


def share(normalized: float | None) -> str:
    """A normalised return, or why there is none."""
    return "n/a: the expert is not above random here" if normalized is None else f"{normalized:.2f}"
