"""Loading the policy and the env that ``evaluate`` and ``video`` run, with errors in the commands' terms."""

from __future__ import annotations

from pathlib import Path

from dilqr_rl.cli._errors import CLIError

POLICY_HELP = ("'expert' (the iLQR expert of the env), a BC checkpoint (.pt: dilqr-rl bc, bc-step, dagger, sysid) or "
               "an SB3 PPO, A2C, SAC or TD3 model (.zip: dilqr-rl rl's model.zip or checkpoints/*_steps.zip, or "
               "model.save)")


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
    if Path(source).suffix == ".npz":
        raise CLIError(f"--policy {source}: this is a dataset (dilqr-rl collect writes .npz), not a policy; pass "
                       f"{POLICY_HELP}. To learn a policy from it: dilqr-rl bc --data {source} (plans) or dilqr-rl "
                       f"bc-step --data {source} (episodes)")
    try:
        return load_policy(source, env)
    except (ValueError, DatasetError) as error:
        message = str(error)
        if "no iLQR expert" in message:
            raise CLIError(f"--policy expert: {message}; pass one of those as --env-id") from None
        if "no known map" in message:  # a planner whose states the env does not observe
            raise _unobserved_states(source, env, env_id) from None
        if "observations" in message:
            raise CLIError(f"--policy {source} does not fit --env-id {env_id}: {message}") from None
        raise CLIError(f"--policy {source}: {message}; pass {POLICY_HELP}") from None


def envs_observing(state_dim: int) -> list[str]:
    """Our environments whose observations map to the states (size ``state_dim``) a planner works in."""
    from dilqr_rl.agents.evaluation import default_state_map
    from dilqr_rl.envs import ENV_IDS, make_env

    fitting = []
    for env_id in ENV_IDS:
        env = make_env(env_id)
        try:
            default_state_map(env.observation_space.shape, state_dim)
            fitting.append(env_id)
        except ValueError:
            pass
        finally:
            env.close()
    return fitting


def _unobserved_states(source: str, env, env_id: str) -> CLIError:
    """The error for a sequence policy (a BC or SysId planner) whose states ``--env-id`` does not observe: the
    environments that do, or why there are none."""
    from dilqr_rl.agents.bc import load_checkpoint
    from dilqr_rl.models import SYSTEMS, get_system

    system = get_system(load_checkpoint(source)["spec"]["system"])
    fitting = envs_observing(system.state_dim)
    problem = (f"--policy {source} plans in the {system.state_dim} states of {system.name}, which --env-id {env_id} "
               f"(observations {tuple(env.observation_space.shape)}) does not observe")
    if fitting:
        return CLIError(f"{problem}: pass --env-id {' or '.join(fitting)}")
    runnable = [name for name, spec in SYSTEMS.items() if envs_observing(spec.state_dim)]
    return CLIError(f"{problem}, and neither does any other environment: {system.name} is an imitation benchmark, "
                    f"measured by the test loss of its plans ('dilqr-rl bc' prints test_loss). Policies of "
                    f"{', '.join(runnable)} run in environments (dilqr-rl bc --system ...)")


DEFAULT_EVAL_ENV_ID = "dilqr_rl/Pendulum-v0"
"""The env of ``evaluate`` and ``video`` when ``--env-id`` is not given and the policy records none."""


def recorded_env_id(source: str) -> str | None:
    """The env a policy was trained in, where its files record it: a clone checkpoint's spec (``bc-step``, ``dagger``,
    ``sysid``), else the ``config.json`` of its run folder (:func:`run_folder`; ``dilqr-rl rl`` runs); None for the
    expert, other files and anything unreadable (loading reports those)."""
    import json

    path = Path(source).resolve()
    if source == "expert" or not path.is_file():
        return None
    if path.suffix != ".zip":
        from dilqr_rl.agents.bc import load_checkpoint

        try:
            spec = load_checkpoint(path).get("spec", {})
        except Exception:  # not a checkpoint this version reads: loading it says what is wrong
            return None
        recorded = spec.get("clone", spec) if isinstance(spec, dict) else None  # a DiLQR or LSTM clone, or an MLP
        if isinstance(recorded, dict) and isinstance(recorded.get("env_id"), str):
            return recorded["env_id"]
    run = run_folder(path)
    config = None if run is None else run / "config.json"
    try:
        env_id = json.loads(config.read_text()).get("env_id") if config is not None and config.is_file() else None
    except (OSError, ValueError, AttributeError):
        env_id = None
    return env_id if isinstance(env_id, str) else None


def run_folder(path: Path) -> Path | None:
    """The run folder a file lies in: the nearest of its three parent folders that holds a run's ``result.json`` or
    ``config.json``, else the one that holds its ``checkpoints/`` folder, else None."""
    parents = list(path.resolve().parents)[:3]
    for folder in parents:
        if (folder / "result.json").is_file() or (folder / "config.json").is_file():
            return folder
    return next((folder.parent for folder in parents if folder.name == "checkpoints"), None)


def policy_env_id(source: str, env_id: str | None) -> str:
    """``--env-id`` if given, else the env the policy records (:func:`recorded_env_id`), else the default."""
    return env_id if env_id is not None else recorded_env_id(source) or DEFAULT_EVAL_ENV_ID
