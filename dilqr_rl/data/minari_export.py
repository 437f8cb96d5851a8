"""Episode datasets as Minari datasets (Farama's format for offline RL and imitation data).

``to_minari(dataset, dataset_id)`` writes the expert episodes of an :class:`EpisodeDataset` so that
``minari.load_dataset(dataset_id)`` (and the libraries built on Minari) read them: per episode the
observations o_1..o_{T+1} (the last is the final next observation), actions, rewards, terminations and
truncations, the episode's reset seed, and the true states in ``infos["state"]`` where the env reports
them. Needs the ``minari`` extra (``pip install 'dilqr_rl[minari]'``). Plan datasets are not episodes
and stay in our format.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dilqr_rl.data.episodes import EpisodeDataset


@contextmanager
def _datasets_root(root: str | os.PathLike | None):
    """Minari reads its datasets folder from ``MINARI_DATASETS_PATH``; set it for the block."""
    previous = os.environ.get("MINARI_DATASETS_PATH")
    if root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(Path(root).resolve())
    try:
        yield
    finally:
        if root is not None:
            if previous is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = previous


def default_dataset_id(env_id: str) -> str:
    """``dilqr_rl/<env name>-expert-v0``, e.g. ``dilqr_rl/Pendulum-v0-expert-v0``."""
    return f"dilqr_rl/{env_id.split('/')[-1]}-expert-v0"


def check_new_dataset_id(dataset_id: str, root: str | os.PathLike | None = None) -> Path:
    """The folder :func:`to_minari` would write ``dataset_id`` to; ``ValueError`` if the id is malformed or the
    dataset exists. Creates nothing, so that a caller can check before collecting (Minari itself finds a
    malformed id only after creating the dataset's folder)."""
    from minari.dataset.minari_dataset import parse_dataset_id

    parse_dataset_id(dataset_id)  # ValueError: "Malformed dataset ID: ..."
    base = root if root is not None else os.environ.get("MINARI_DATASETS_PATH")
    path = Path(base or Path.home() / ".minari" / "datasets") / dataset_id  # Minari's layout
    if path.exists():
        raise ValueError(f"a Minari dataset with this id exists ({path}) and Minari never overwrites one; pass "
                         "another id (or a higher version, -v1, ...)")
    return path


def to_minari(dataset: EpisodeDataset, dataset_id: str | None = None, root: str | os.PathLike | None = None):
    """Write ``dataset`` as the Minari dataset ``dataset_id`` under ``root`` (default: Minari's own folder,
    ``MINARI_DATASETS_PATH`` or ``~/.minari/datasets``); returns the ``MinariDataset``."""
    try:
        import minari
        from minari.data_collector import EpisodeBuffer
    except ImportError:
        raise ModuleNotFoundError("writing Minari datasets needs minari, which is not installed: pip install "
                                  "'dilqr_rl[minari]'") from None
    from dilqr_rl.envs import make_env

    dataset_id = dataset_id or default_dataset_id(dataset.env_id)
    seed = int(dataset.metadata.get("seed", 0))
    buffers = []
    for index in range(dataset.n_episodes):
        rows = np.flatnonzero(dataset.episode == index)
        infos = None
        if dataset.has_states:
            infos = {"state": np.concatenate([dataset.states[rows], dataset.next_states[rows[-1:]]])}
        buffers.append(EpisodeBuffer(
            id=index, seed=seed + index,
            observations=np.concatenate([dataset.observations[rows], dataset.next_observations[rows[-1:]]]),
            actions=dataset.actions[rows], rewards=list(dataset.rewards[rows]),
            terminations=list(dataset.terminated[rows]), truncations=list(dataset.truncated[rows]), infos=infos))
    env = make_env(dataset.env_id, **dict(dataset.metadata.get("env_kwargs", {})))
    expert = dataset.metadata.get("expert", {}).get("name", "iLQR expert")
    try:
        with _datasets_root(root), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`(code_permalink|author_email)` is set to None")
            return minari.create_dataset_from_buffers(
                dataset_id, buffers, env=env.spec, eval_env=env.spec, algorithm_name=f"dilqr_rl iLQR expert ({expert})",
                author="dilqr_rl",
                description=f"Expert episodes of {dataset.env_id} from dilqr-rl collect --kind episodes "
                            f"(seed {seed}: episode i reset with seed + i).")
    finally:
        env.close()
