"""The summaries' inputs: a trial's history comes from its folder, else from the sweep's histories.json.gz; a
history in neither is missing, and a summary says so instead of reading it as "nothing happened"."""

from __future__ import annotations

import json
import shutil

from dilqr_rl.experiments import report
from dilqr_rl.experiments.sweep import write_histories


def _rows():
    return [{"trial_id": t, "status": "ok", "method": "dilqr"} for t in ("a", "b")] + [
        {"trial_id": "c", "status": "error", "method": "dilqr"}]


def test_histories_come_from_the_trial_folders_else_the_archive(tmp_path):
    rows = _rows()
    (tmp_path / "trials" / "a").mkdir(parents=True)
    (tmp_path / "trials" / "a" / "history.json").write_text(json.dumps({"param/mass": [1.0, -0.5, 0.2, -0.1]}))
    write_histories(rows, tmp_path)
    shutil.rmtree(tmp_path / "trials")  # as in a committed study
    assert report.history(tmp_path, rows[0]) == {"param/mass": [1.0, -0.5, 0.2, -0.1]}
    assert report.history(tmp_path, rows[1]) is None  # missing, not {}
    assert report.present_curves(rows[:2], tmp_path, "param/mass") == [[1.0, -0.5, 0.2, -0.1]]
    assert report.missing_histories(rows, tmp_path) == ["b"]
    table = report.nonphysical_table(rows, tmp_path, lambda r: r["method"], ["mass"])
    assert "| dilqr | mass | 1/1 | 2 | 4 |" in table  # over the trials whose history is there
    note = report.missing_inputs(rows, tmp_path, "the column x")
    assert "The per-epoch histories of 1 of the 2 finished trials (`b`) are missing" in note
    assert "computed from the others only: the column x." in note


def test_a_summary_says_what_is_missing_instead_of_reading_it_as_nothing(tmp_path):
    rows = _rows()
    table = report.nonphysical_table(rows, tmp_path, lambda r: r["method"], ["mass"])
    assert table == "Not known: the trials' histories are missing (see Missing inputs below).\n"
    assert report.curve_stat(report.present_curves(rows, tmp_path, "bc/model_loss"), report.lowest) == "missing"
    note = report.missing_inputs(rows, tmp_path, "the column x", ["The frames are missing."])
    assert "The per-epoch histories of all 2 finished trials are missing" in note
    assert 'left out ("missing" in the tables): the column x.' in note and "The frames are missing." in note
    assert report.missing_inputs([], tmp_path, "the column x") == ""
    assert report.plot_curves({"dilqr": [[], []]}, tmp_path / "curves.png", "loss", "title") is None
    assert not (tmp_path / "curves.png").exists()  # nothing to draw: an earlier figure is not overwritten
