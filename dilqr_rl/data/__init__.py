"""Demonstration datasets: expert plans of a named system and expert episodes in an environment.

``collect_plans(system, ...) -> PlanDataset``, ``collect_episodes(env_id, ...) -> EpisodeDataset`` and, for
frame-stacking pixel envs, ``collect_pixel_episodes(n_episodes, ...) -> PixelEpisodeDataset`` (each frame
stored once); all ``.save(path)`` and ``.load(path)`` in the versioned format of :mod:`dilqr_rl.data.format`.
"""

from dilqr_rl.data.episodes import EpisodeDataset, collect_episodes
from dilqr_rl.data.format import FORMAT_VERSION, DatasetError, DatasetMismatchError
from dilqr_rl.data.pixel_episodes import PixelEpisodeDataset, collect_pixel_episodes
from dilqr_rl.data.plans import PlanDataset, PlanSplit, collect_plans

__all__ = [
    "FORMAT_VERSION",
    "DatasetError",
    "DatasetMismatchError",
    "EpisodeDataset",
    "PixelEpisodeDataset",
    "PlanDataset",
    "PlanSplit",
    "collect_episodes",
    "collect_pixel_episodes",
    "collect_plans",
]
