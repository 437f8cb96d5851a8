"""Episode datasets: expert rollouts, determinism, round trip and mismatches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dilqr_rl.data import DatasetMismatchError, EpisodeDataset, PlanDataset, collect_episodes


@pytest.fixture(scope="module")
def pendulum() -> EpisodeDataset:
    return collect_episodes("dilqr_rl/Pendulum-v0", 3, seed=0, progress=False, batch_size=2,
                            max_episode_steps=15)


def test_arrays_are_consistent_transitions(pendulum: EpisodeDataset) -> None:
    assert len(pendulum) == 45 and pendulum.n_episodes == 3
    np.testing.assert_array_equal(pendulum.episode_lengths(), [15, 15, 15])
    assert pendulum.observations.shape == (45, 3) and pendulum.actions.shape == (45, 1)
    assert pendulum.states.shape == (45, 2) and pendulum.states.dtype == np.float64
    for k in range(3):
        rows = np.flatnonzero(pendulum.episode == k)
        np.testing.assert_array_equal(pendulum.observations[rows[1:]], pendulum.next_observations[rows[:-1]])
        np.testing.assert_array_equal(pendulum.states[rows[1:]], pendulum.next_states[rows[:-1]])
        assert pendulum.truncated[rows[-1]] and not pendulum.truncated[rows[:-1]].any()
    # the reward is Pendulum-v1's on the stored state and action
    theta = (pendulum.states[:, 0] + np.pi) % (2 * np.pi) - np.pi
    expected = -(theta**2 + 0.1 * pendulum.states[:, 1] ** 2 + 0.001 * pendulum.actions[:, 0] ** 2)
    np.testing.assert_allclose(pendulum.rewards, expected, rtol=1e-6)
    np.testing.assert_allclose(pendulum.episode_returns().sum(), pendulum.rewards.sum())
    tensors = pendulum.tensors()
    assert tensors["observations"].dtype == torch.float64 and tensors["terminated"].dtype == torch.bool
    assert pendulum.metadata["physics"]["mass"] == 1.0 and pendulum.metadata["seed"] == 0
    expert = pendulum.metadata["expert"]
    assert expert["solves"] == 45 and 0.0 <= expert["converged_fraction"] <= 1.0  # one solve per step


def test_deterministic_given_the_seed_and_independent_of_batching(pendulum: EpisodeDataset) -> None:
    again = collect_episodes("dilqr_rl/Pendulum-v0", 3, seed=0, progress=False, batch_size=2,
                             max_episode_steps=15)
    for name, array in pendulum.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], array)
    other = collect_episodes("dilqr_rl/Pendulum-v0", 1, seed=1, progress=False, max_episode_steps=15)
    np.testing.assert_array_equal(other.states[0], pendulum.states[15])  # episode i uses seed + i


def test_round_trip_and_mismatch(pendulum: EpisodeDataset, tmp_path) -> None:
    path = pendulum.save(tmp_path / "episodes.npz")
    loaded = EpisodeDataset.load(path, env_id="dilqr_rl/Pendulum-v0")
    for name, array in pendulum.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], array)
        assert loaded.arrays[name].dtype == array.dtype
    with pytest.raises(DatasetMismatchError, match="episodes of 'dilqr_rl/Pendulum-v0', expected 'Pendulum-v1'"):
        EpisodeDataset.load(path, env_id="Pendulum-v1")
    with pytest.raises(DatasetMismatchError, match="holds a 'episodes' dataset, expected 'plans'"):
        PlanDataset.load(path)


def test_gymnasium_env_without_states() -> None:
    ds = collect_episodes("InvertedPendulum-v5", 1, seed=0, progress=False, max_episode_steps=10)
    assert not ds.has_states and ds.observations.shape == (10, 4)
    assert ds.episode_returns()[0] == 10.0
    with pytest.raises(AttributeError, match="does not report the true state"):
        _ = ds.states


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_episodes must be an integer >= 1"):
        collect_episodes("dilqr_rl/Pendulum-v0", 0)
    with pytest.raises(ValueError, match="unknown environment id 'Nope-v0'"):
        collect_episodes("Nope-v0", 1, progress=False)



def test_envs_are_closed_when_the_expert_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from dilqr_rl.data import episodes

    made, closed, make_env = [], [], episodes.make_env

    def make_env_recording(env_id, **kwargs):
        env = make_env(env_id, **kwargs)
        made.append(env)
        env.close = lambda: closed.append(env)
        return env

    def broken_expert(env, **settings):
        raise RuntimeError("no expert")

    monkeypatch.setattr(episodes, "make_env", make_env_recording)
    monkeypatch.setattr(episodes, "expert_for", broken_expert)
    with pytest.raises(RuntimeError, match="no expert"):
        collect_episodes("dilqr_rl/Pendulum-v0", 3, progress=False, batch_size=2)
    assert len(made) == 2 and closed == made[::-1]
