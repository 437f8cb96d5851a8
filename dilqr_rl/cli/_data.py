"""The datasets ``bc``, ``sysid`` and ``bc-step`` train on: a ``--data`` file, or collected on the spot."""

from __future__ import annotations

from pathlib import Path

from dilqr_rl.cli._errors import CLIError, dataset_errors


def plans(system: str, data: Path | None, n_train: int, n_val: int, n_test: int, seed: int, progress: bool):
    """``--data`` (for ``--system``), else expert plans collected for ``system``."""
    from dilqr_rl.data import PlanDataset, collect_plans

    if data is None:
        return collect_plans(system, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed, progress=progress)
    with dataset_errors("--data", data, "plans"):
        ds = PlanDataset.load(data)
    stored = getattr(ds.system, "name", ds.system)
    if stored != system:
        raise CLIError(f"--data {data} holds plans of {stored}, not {system}: pass --system {stored}, or create plans "
                       f"of {system} with dilqr-rl collect --kind plans --system {system}")
    return ds


def episodes(data: Path, env_id: str | None):
    """The episodes of ``--data`` (of ``--env-id`` when given)."""
    from dilqr_rl.data import EpisodeDataset

    with dataset_errors("--data", data, "episodes"):
        ds = EpisodeDataset.load(data)
    if env_id is not None and ds.env_id != env_id:
        raise CLIError(f"--data {data} holds episodes of {ds.env_id}, not {env_id}: drop --env-id (the data's env "
                       f"is used), or create episodes with dilqr-rl collect --kind episodes --env-id {env_id}")
    return ds


def expert_episodes(env_id: str, n_episodes: int, seed: int, progress: bool, max_episode_steps: int | None):
    """``n_episodes`` episodes of the iLQR expert in ``--env-id``; an unknown env or one without an expert is a
    :class:`CLIError` naming ``--env-id``."""
    from dilqr_rl.cli._policies import make_cli_env
    from dilqr_rl.data import collect_episodes

    make_cli_env(env_id).close()  # an unknown id fails here, in --env-id terms
    env_kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    try:
        return collect_episodes(env_id, n_episodes, seed=seed, progress=progress, **env_kwargs)
    except ValueError as error:
        if "no iLQR expert" not in str(error):
            raise
        raise CLIError(f"--env-id {env_id}: {error}") from None
