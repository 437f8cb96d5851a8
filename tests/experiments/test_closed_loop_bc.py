"""closed-loop-bc: DAgger's label budget, the one-demonstration split, the named grids and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from dilqr_rl.agents.clone_data import SEGMENTS, segmented
from dilqr_rl.cli import main
from dilqr_rl.data.episodes import EpisodeDataset
from dilqr_rl.experiments import StudyOptions, get_study
from dilqr_rl.experiments.closed_loop_bc import GRIDS, POLICIES, SIZES
from dilqr_rl.experiments.closed_loop_bc_trial import dagger_schedule


@pytest.mark.parametrize("n", [2, 3, 5, 10, 20, 50])
def test_dagger_ends_with_as_many_episodes_of_labels_as_bc(n):
    demos, rounds, per_round = dagger_schedule(n)
    assert demos + rounds * per_round == n
    assert demos >= 1 and 1 <= rounds <= 4 and per_round >= 1
    assert rounds * per_round <= n // 2  # at most half of the labels are the learner's states


def test_dagger_needs_two_episodes():
    with pytest.raises(ValueError, match="at least 2 episodes"):
        dagger_schedule(1)


def test_one_demonstration_is_cut_into_consecutive_pieces():
    arrays = {"observations": np.arange(200.0)[:, None], "actions": np.zeros((200, 1)), "rewards": np.zeros(200),
              "episode": np.zeros(200, dtype=np.int64)}
    ds = segmented(EpisodeDataset("Pendulum-v1", arrays, {}))
    assert ds.n_episodes == SEGMENTS
    assert np.all(np.diff(ds.episode) >= 0) and np.bincount(ds.episode).tolist() == [200 // SEGMENTS] * SEGMENTS
    np.testing.assert_array_equal(ds.observations, arrays["observations"])


def test_grids():
    study = get_study("closed-loop-bc")
    full = study.trials(StudyOptions())
    assert len(full) == 5 * 3 * 3 * (len(SIZES) + len(SIZES) - 1)
    reduced = study.trials(StudyOptions(grid="reduced"))
    g = GRIDS["reduced"]
    expected = 0
    for env in g.bc_sizes:
        bc = sum(len(g.policies_by_size.get(env, {}).get(n, POLICIES)) for n in g.bc_sizes[env])
        expected += g.seeds_by_env.get(env, g.seeds) * (bc + len(POLICIES) * len(g.dagger_sizes.get(env, ())))
    assert len(reduced) == expected == 165  # the committed run's trials
    assert sum(t["evaluate_untrained"] for t in reduced) == len(g.bc_sizes)  # once per env
    assert len({t["trial_id"] for t in reduced}) == len(reduced)


def test_unknown_grid_is_refused(capsys):
    assert main(["reproduce", "--name", "closed-loop-bc", "--grid", "tiny"]) == 2
    assert "--grid must be one of ['full', 'reduced'] for closed-loop-bc; got 'tiny'" in capsys.readouterr().err
    assert main(["reproduce", "--name", "imitation", "--grid", "reduced"]) == 2
    assert "--grid: imitation has one grid only" in capsys.readouterr().err
    with pytest.raises(ValueError, match="has no grid 'tiny'"):
        get_study("closed-loop-bc").trials(StudyOptions(grid="tiny"))
