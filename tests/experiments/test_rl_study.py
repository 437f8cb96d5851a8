"""The ``rl`` study's pieces: its grids, its refusal of an env without robustness settings (the settings themselves:
tests/policies/test_env_perturbations.py), and env steps to 0.9 (the study end to end with --quick is in
test_studies), and the expert told the changed physics that the robustness table reads the actors against."""

from __future__ import annotations

import math

import pytest

from dilqr_rl.experiments.rl import GRIDS, trials
from dilqr_rl.experiments.rl_trial import expert_robustness, scaled_env, steps_to
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


def test_the_expert_told_the_changed_physics_plans_with_them_where_the_registry_reads_them():
    """Pendulum-v1's expert is made from the env's own m, l, g, so the x0.7 and x1.3 envs get experts that know
    the change; InvertedPendulum-v5's model is a fit to the nominal MuJoCo model, so those settings are NaN."""
    references = {"random": -1247.0, "expert": -143.5}
    pendulum = expert_robustness("Pendulum-v1", 2, 1000, references)
    assert set(pendulum) == {"expert/nominal_normalized", "expert/x0.7_normalized", "expert/x1.3_normalized"}
    assert all(0.5 < v < 1.2 for v in pendulum.values()), pendulum  # near the nominal expert's 1 in each
    inverted = expert_robustness("InvertedPendulum-v5", 1, 1000, {"random": 5.4, "expert": 1000.0})
    assert inverted["expert/nominal_normalized"] == pytest.approx(1.0)
    assert math.isnan(inverted["expert/x0.7_normalized"]) and math.isnan(inverted["expert/x1.3_normalized"])
