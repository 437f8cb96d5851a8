"""Loading the policy and the env that ``evaluate`` and ``video`` run, with errors in the commands' terms."""

from __future__ import annotations

from pathlib import Path

from dilqr_rl.cli._errors import CLIError

POLICY_HELP = ("'expert' (the iLQR expert of the env), a BC checkpoint (.pt: dilqr-rl bc, bc-step) or a PPO model "
               "(.zip: dilqr-rl rl's model.zip or checkpoints/*_steps.zip)")


def make_cli_env(env_id: str, **kwargs):
    """``make_env(env_id)``; an unknown id is a :class:`CLIError` naming ``--env-id``."""
    import gymnasium as gym

    from dilqr_rl.envs import ENV_IDS, make_env

    if env_id not in gym.registry:
        raise CLIError(f"--env-id {env_id}: no such environment; pass one of ours ({', '.join(ENV_IDS)}) or a "
                       "Gymnasium id such as Pendulum-v1 or InvertedPendulum-v5")
    return make_env(env_id, **kwargs)


def check_frames(env, env_id: str, instead: str) -> None:
    """Draw one frame of ``env`` (made with ``render_mode="rgb_array"``) before any episode runs; an env that
    cannot is a :class:`CLIError` naming ``--env-id``, why, the fix and ``instead`` (what else the user can do,
    e.g. ``"record another --env-id"``)."""
    import os
    import sys

    import gymnasium as gym
    import numpy as np

    modes = env.metadata.get("render_modes", [])
    if "rgb_array" not in modes:
        raise CLIError(f"--env-id {env_id} does not render rgb_array frames (its render modes: {modes}); {instead}")
    try:
        env.reset(seed=0)
        frame = env.render()
    except gym.error.DependencyNotInstalled as error:
        raise CLIError(f"--env-id {env_id} cannot draw video frames here: Gymnasium draws "
                       f"{type(env.unwrapped).__name__} with pygame ({error}), and this package draws only "
                       f"Pendulum-v1 and CartPole-v1 without it; install pygame, or {instead}") from None
    except (RuntimeError, getattr(sys.modules.get("mujoco"), "FatalError", RuntimeError)) as error:
        if "mujoco" not in type(env.unwrapped).__module__:
            raise
        raise CLIError(f"--env-id {env_id} cannot draw video frames here: MuJoCo could not render with "
                       f"MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} ({error}); set MUJOCO_GL to egl or osmesa, "
                       f"whichever this machine has, or {instead}") from None
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8):
        got = f"an array {frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise CLIError(f"--env-id {env_id} renders {got}, not (H, W, 3) uint8 frames; {instead}")


def load_cli_policy(source: str, env, env_id: str):
    """``load_policy(source, env)`` with its user errors as :class:`CLIError` (``--policy`` / ``--env-id``)."""
    from dilqr_rl.agents.evaluation import load_policy
    from dilqr_rl.data import DatasetError

    if source != "expert" and not Path(source).is_file():
        raise CLIError(f"--policy {source}: no such file; pass {POLICY_HELP}")
    try:
        return load_policy(source, env)
    except (ValueError, DatasetError) as error:
        message = str(error)
        if "no iLQR expert" in message:
            raise CLIError(f"--policy expert: {message}; pass one of those as --env-id") from None
        if "observations" in message:
            raise CLIError(f"--policy {source} does not fit --env-id {env_id}: {_cli_words(message)}") from None
        raise CLIError(f"--policy {source}: {message}; pass {POLICY_HELP}") from None


def _cli_words(message: str) -> str:
    return message.replace("use an environment that observes the state (e.g. observation='state'), or wrap the "
                           "planner in MPCPolicy with a state_map",
                           "pass the --env-id it was trained on, e.g. dilqr_rl/Pendulum-v0")
