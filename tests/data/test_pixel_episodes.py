"""Pixel episode datasets: frames stored once, observations rebuilt exactly, round trip without needless copies."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from dilqr_rl.data import (
    DatasetError,
    DatasetMismatchError,
    EpisodeDataset,
    PixelEpisodeDataset,
    collect_pixel_episodes,
)
from dilqr_rl.envs import make_env
from dilqr_rl.envs.pendulum import pendulum_reward

ENV = "dilqr_rl/PixelPendulum-v0"


@pytest.fixture(scope="module")
def hanging() -> PixelEpisodeDataset:
    return collect_pixel_episodes(3, seed=5, steps=6, start="hanging", batch_size=2, size=32)


def test_arrays_shapes_and_dtypes(hanging: PixelEpisodeDataset) -> None:
    assert hanging.frames.shape == (3, 7, 32, 32) and hanging.frames.dtype == np.uint8
    assert hanging.states.shape == (3, 7, 2) and hanging.states.dtype == np.float64
    assert hanging.actions.shape == (3, 6, 1) and hanging.actions.dtype == np.float32
    assert hanging.rewards.shape == (3, 6) and hanging.stack == 4 and hanging.steps == 6
    theta0 = hanging.states[:, 0, 0]
    assert (np.abs(np.abs(theta0 - np.pi) - 0.3) <= 0.2).all() and (hanging.states[:, 0, 1] == 0).all()
    assert hanging.metadata["start"] == "hanging" and hanging.metadata["physics"]["mass"] == 1.0
    assert hanging.metadata["expert"]["solves"] == 18
    rewards = [[pendulum_reward(hanging.states[e, t], float(hanging.actions[e, t, 0])) for t in range(6)]
               for e in range(3)]
    np.testing.assert_allclose(hanging.rewards, rewards)
    assert "3 episodes x 6 steps, frames 32x32 stacked 4" in repr(hanging)


def test_observations_are_the_envs_own(hanging: PixelEpisodeDataset) -> None:
    """Replaying the stored actions from the stored start reproduces every observation and state bit for bit."""
    env = make_env(ENV, size=32)
    for e in range(3):
        obs, info = env.reset(options={"state": hanging.states[e, 0]})
        for t in range(7):
            np.testing.assert_array_equal(hanging.observations(np.array([e]), np.array([t]))[0], obs)
            np.testing.assert_array_equal(hanging.states[e, t], info["state"])
            if t < 6:
                obs, _, _, _, info = env.step(hanging.actions[e, t])


def test_same_seed_same_data_whatever_the_batching(hanging: PixelEpisodeDataset) -> None:
    again = collect_pixel_episodes(3, seed=5, steps=6, start="hanging", batch_size=3, size=32)
    for name, array in hanging.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], array)
    env_starts = collect_pixel_episodes(1, seed=6, steps=2, size=32)
    assert env_starts.metadata["start"] == "env" and env_starts.states[0, 0, 1] != 0.0


def test_round_trip_and_loading_copies_nothing_twice(hanging: PixelEpisodeDataset, tmp_path) -> None:
    path = hanging.save(tmp_path / "pixels.npz")
    tracemalloc.start()
    loaded = PixelEpisodeDataset.load(path, env_id=ENV)
    tensors = loaded.tensors()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stored = sum(a.nbytes for a in loaded.arrays.values())
    assert peak < 2 * stored + 200_000  # each array decompressed once (plus the zip reader's buffers)
    for name, array in hanging.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], array)
        assert tensors[name].data_ptr() == loaded.arrays[name].ctypes.data  # torch wraps, does not copy
    assert tensors["frames"].dtype == torch.uint8
    head = loaded.head(2)
    assert head.n_episodes == 2 and np.shares_memory(head.frames, loaded.frames)


def test_mismatches_and_bad_arguments(hanging: PixelEpisodeDataset, tmp_path) -> None:
    path = hanging.save(tmp_path / "pixels.npz")
    with pytest.raises(DatasetMismatchError, match=r"pixel episodes of 'dilqr_rl/PixelPendulum-v0', expected 'x'"):
        PixelEpisodeDataset.load(path, env_id="x")
    with pytest.raises(DatasetMismatchError, match=r"holds a 'pixel_episodes' dataset, expected 'episodes'; load it "
                                                   r"with PixelEpisodeDataset\.load"):
        EpisodeDataset.load(path)
    with pytest.raises(FileNotFoundError, match=r"create one with dilqr_rl\.data\.collect_pixel_episodes"):
        PixelEpisodeDataset.load(tmp_path / "none.npz")
    with pytest.raises(ValueError, match=r"start must be one of \['env', 'hanging'\]; got 'upright'"):
        collect_pixel_episodes(1, start="upright")
    with pytest.raises(ValueError, match="n_episodes and steps must be integers >= 1"):
        collect_pixel_episodes(1, steps=0)
    with pytest.raises(ValueError, match=r"n must be in 1\.\.3"):
        hanging.head(4)
    with pytest.raises(DatasetError, match=r"array 'actions' has shape \(3, 7, 1\)"):
        PixelEpisodeDataset(ENV, {**hanging.arrays, "actions": hanging.actions[:, [0, 0, 1, 2, 3, 4, 5]]}, 4)
