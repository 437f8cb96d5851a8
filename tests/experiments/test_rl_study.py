"""The ``rl`` study's pieces: its grids, the changed-physics and wide-start envs of the robustness evaluation, and
env steps to 0.9 (the study end to end with --quick is in test_studies)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dilqr_rl.experiments.rl import GRIDS, trials
from dilqr_rl.experiments.rl_trial import WideStart, scaled_env, steps_to
from dilqr_rl.experiments.study import StudyOptions


def test_grids_name_their_cuts_and_an_unknown_grid_lists_the_valid_ones():
    reduced = trials(StudyOptions(grid="reduced"))
    assert len({c["trial_id"] for c in reduced}) == len(reduced)
    assert {c["env_id"] for c in reduced} == {"Pendulum-v1", "InvertedPendulum-v5", "dilqr_rl/CartpoleSwingUp-v0"}
    assert {c["actor"] for c in reduced} == {"dilqr", "dilqr+cost-map", "dilqr+sysid", "mlp"}
    assert "Not run" in GRIDS["reduced"].note and "--grid full" in GRIDS["reduced"].note
    full = trials(StudyOptions())
    assert len(full) == 3 * 2 * 4 * 5 and {c["eval_episodes"] for c in full} == {20}
    assert len(trials(StudyOptions(grid="reduced", seeds=1))) < len(reduced)
    with pytest.raises(ValueError, match=r"rl has no grid 'tiny'; valid: \['full', 'reduced'\]"):
        trials(StudyOptions(grid="tiny"))


def test_scaled_env_changes_every_mass_and_length():
    with scaled_env("Pendulum-v1", 0.7)() as env:
        assert (env.unwrapped.m, env.unwrapped.l) == pytest.approx((0.7, 0.7))
    with scaled_env("dilqr_rl/CartpoleSwingUp-v0", 1.3)() as env:
        physics = env.unwrapped._physics
        assert (physics["cart_mass"], physics["pole_mass"], physics["length"]) == pytest.approx((1.3, 0.13, 0.65))
    with scaled_env("InvertedPendulum-v5")() as nominal, scaled_env("InvertedPendulum-v5", 1.3)() as scaled:
        a, b = nominal.unwrapped.model, scaled.unwrapped.model
        np.testing.assert_allclose(b.body_mass, 1.3 * a.body_mass)
        np.testing.assert_allclose(b.geom_size[a.geom("cpole").id, 1], 1.3 * a.geom_size[a.geom("cpole").id, 1])
        np.testing.assert_allclose(b.body_inertia[a.body("pole").id], 1.3**3 * a.body_inertia[a.body("pole").id])


@pytest.mark.parametrize("env_id, index, bound", [("Pendulum-v1", 2, 1.0), ("InvertedPendulum-v5", 1, 0.01),
                                                  ("dilqr_rl/CartpoleSwingUp-v0", 0, 0.05)])
def test_wide_starts_leave_the_training_starts(env_id, index, bound):
    with scaled_env(env_id, wide=True)() as env:
        starts = [env.reset(seed=seed)[0][index] for seed in range(20)]
    assert max(abs(s) for s in starts) > 2 * bound


def test_wide_start_of_an_unknown_env_is_refused():
    with scaled_env("Pendulum-v1")() as env, pytest.raises(ValueError, match="no wide starts for Acrobot-v1"):
        WideStart(env, "Acrobot-v1")


def test_steps_to_is_the_first_evaluation_at_the_level():
    assert steps_to([0, 100, 200, 300], [0.1, 0.95, 0.5, 0.99]) == 100
    assert math.isnan(steps_to([0, 100], [0.1, 0.2]))
