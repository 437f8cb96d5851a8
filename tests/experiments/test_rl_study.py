"""The ``rl`` study's pieces: its grids, its refusal of an env without robustness settings (the settings themselves:
tests/policies/test_env_perturbations.py), and env steps to 0.9 (the study end to end with --quick is in
test_studies)."""

from __future__ import annotations

import math

import pytest

from dilqr_rl.experiments.rl import GRIDS, trials
from dilqr_rl.experiments.rl_trial import scaled_env, steps_to
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


def test_an_env_without_perturbations_is_refused_before_any_trial_runs():
    with pytest.raises(ValueError, match="no changed-physics and wide-start settings for 'Acrobot-v1'"):
        scaled_env("Acrobot-v1")


def test_steps_to_is_the_first_evaluation_at_the_level():
    assert steps_to([0, 100, 200, 300], [0.1, 0.95, 0.5, 0.99]) == 100
    assert math.isnan(steps_to([0, 100], [0.1, 0.2]))
