"""The sweep on Ray Tune: failures become rows, a rerun resumes (finished trials are not run again), Ctrl-C
writes what finished, mismatched sweeps are refused, --fresh starts over, the trial cache is keyed on the source
and the libraries' versions, a local sweep stays local, rows round-trip through results.csv."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from dilqr_rl.experiments import StudyOptions, get_study, run_study
from dilqr_rl.experiments.sweep import (
    KEYED_DISTRIBUTIONS,
    SweepError,
    SweepInterrupted,
    read_results,
    rows_from_results,
    run_trial_local,
    trial_key,
    write_results,
)
from tests.experiments.fake_stopping_study import STUDY as STOPPING
from tests.experiments.fake_study import STUDY as FAKE


def _runs(out, trial_id):
    return (out / "trials" / trial_id / "runs.txt").read_text().count("run")


def test_a_failing_trial_is_a_row_and_the_rerun_resumes(ray_session, tmp_path, capsys):
    out = run_study(FAKE, StudyOptions(seeds=2), tmp_path / "fake", progress=False)
    assert "resuming" not in capsys.readouterr().err
    rows = {r["trial_id"]: r for r in read_results(out / "results.csv")}
    assert set(rows) == {"ok__s0", "ok__s1", "bad__s0", "bad__s1"}
    assert rows["ok__s1"]["status"] == "ok" and rows["ok__s1"]["value"] == 2.5 and rows["ok__s1"]["seed"] == 1
    assert rows["bad__s0"]["status"] == "error" and "fails on purpose" in rows["bad__s0"]["error"]
    summary = (out / "summary.md").read_text()
    assert "ok__s0: ok 1.5" in summary and "bad__s0: error" in summary
    assert (out / "trials" / "ok__s0" / "result.json").is_file()
    kept = json.loads(gzip.decompress((out / "histories.json.gz").read_bytes()))  # committed with results.csv
    assert kept == {"ok__s0": {"loss": [3.0, 2.0, 1.0]}, "ok__s1": {"loss": [3.0, 2.0, 1.0]}}
    # rerun: the finished trials are not run again, the failed ones are restarted
    run_study(FAKE, StudyOptions(seeds=2), out, progress=False)
    assert _runs(out, "ok__s0") == 1 and _runs(out, "bad__s0") == 2
    assert f"resuming the sweep in {out}: its finished trials are kept" in capsys.readouterr().err
    # another trial list in the same folder is refused; --fresh starts over
    with pytest.raises(SweepError, match=r"holds an earlier sweep with other trials.*--fresh"):
        run_study(FAKE, StudyOptions(seeds=1), out, progress=False)
    run_study(FAKE, StudyOptions(seeds=1), out, progress=False, fresh=True)
    assert _runs(out, "ok__s0") == 2
    assert len(read_results(out / "results.csv")) == 2


def test_ctrl_c_writes_the_finished_rows_and_the_rerun_resumes(ray_session, tmp_path):
    """A trial sends this process a SIGINT, as Ctrl-C does: Tune stops, the rows (the finished trial's, and the
    unfinished ones: running, or not started, which Tune gives no config) and the summary are written, and the
    same sweep again runs only the unfinished trials."""
    out = tmp_path / "stopped"
    (out / "data").mkdir(parents=True)
    with pytest.raises(SweepInterrupted, match=r"3 of 4 trials did not finish; run the same sweep again to resume"):
        run_study(STOPPING, StudyOptions(), out, progress=False)
    statuses = {r["trial_id"]: r["status"] for r in read_results(out / "results.csv")}
    assert statuses == {"done__s0": "ok", "stop__s0": "unfinished", "wait__s0": "unfinished",
                        "later__s0": "unfinished"}
    assert not (out / "trials" / "later__s0").exists()  # it never started
    assert "done__s0: ok 1.0" in (out / "summary.md").read_text()
    (out / "data" / "go").touch()
    run_study(STOPPING, StudyOptions(), out, progress=False)
    assert {r["status"] for r in read_results(out / "results.csv")} == {"ok"}
    assert _runs(out, "done__s0") == 1 and _runs(out, "later__s0") == 1


def test_trials_run_as_plain_functions(tmp_path):
    config = {**FAKE.trials(StudyOptions())[0], "trial_dir": str(tmp_path / "t"), "threads": 1}
    assert run_trial_local(FAKE, config) == {"value": 1.5}


def test_unknown_study_and_bad_options():
    with pytest.raises(ValueError, match=r"unknown study 'acrobot'; valid: \['cartpole-cost'"):
        get_study("acrobot")
    with pytest.raises(ValueError, match="seeds must be an integer >= 1 or None"):
        StudyOptions(seeds=0)
    with pytest.raises(SweepError, match="cpus_per_trial must be >= 1"):
        run_study(FAKE, cpus_per_trial=0)


def test_a_trial_cache_shares_identical_trials_between_sweeps(ray_session, tmp_path):
    cache = tmp_path / "cache"
    first = run_study(FAKE, StudyOptions(seeds=1), tmp_path / "a", progress=False, cache_dir=cache)
    second = run_study(FAKE, StudyOptions(seeds=1), tmp_path / "b", progress=False, cache_dir=cache)
    assert _runs(first, "ok__s0") == 1
    assert not (second / "trials" / "ok__s0" / "runs.txt").exists()  # copied, not run
    assert (second / "trials" / "ok__s0" / "CACHED").is_file()
    assert read_results(second / "results.csv")[0]["value"] == 1.5
    assert _runs(second, "bad__s0") == 1  # failures are not cached


def test_a_new_library_version_invalidates_the_trial_cache(tmp_path, monkeypatch):
    config = {**FAKE.trials(StudyOptions())[0], "trial_dir": str(tmp_path / "first"), "threads": 1,
              "cache_dir": str(tmp_path / "cache")}
    run_trial_local(FAKE, config)
    run_trial_local(FAKE, {**config, "trial_dir": str(tmp_path / "cached")})
    assert (tmp_path / "cached" / "CACHED").is_file()
    installed, key = metadata.version, trial_key(FAKE, config)
    for name in KEYED_DISTRIBUTIONS:
        monkeypatch.setattr(metadata, "version", lambda d, name=name: "0.0.new" if d == name else installed(d))
        assert trial_key(FAKE, config) != key, name
    run_trial_local(FAKE, {**config, "trial_dir": str(tmp_path / "upgraded")})
    assert not (tmp_path / "upgraded" / "CACHED").exists() and (tmp_path / "upgraded" / "runs.txt").is_file()


def test_local_ray_ignores_a_stale_cluster_address(tmp_path):
    """Without --address the sweep starts its own Ray, even where RAY_ADDRESS (or the cluster file an earlier
    `ray start` left) names a cluster: here a dead one. Its own process: this one has a Ray already."""
    script = ("import sys; from dilqr_rl.experiments import run_study, StudyOptions; "
              "from tests.experiments.fake_study import STUDY; "
              "run_study(STUDY, StudyOptions(), sys.argv[1], progress=False, cpus=1)")
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "local")], env=env, capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok__s0: ok 1.5" in (tmp_path / "local" / "summary.md").read_text()


def test_a_stopped_sweep_marks_its_unfinished_trials(tmp_path):
    """Ctrl-C stops Tune; trials that did not finish have no metrics and become 'unfinished' rows."""
    from types import SimpleNamespace

    configs = [{"trial_id": f"t{i}", "trial_dir": str(tmp_path / f"t{i}")} for i in range(3)]
    results = [SimpleNamespace(config={"trial": configs[2]}, error=None, metrics={}),
               SimpleNamespace(config={"trial": configs[0]}, error=None,
                               metrics={"metrics_json": '{"value": 1}', "history_json": "{}"}),
               SimpleNamespace(config={"trial": configs[1]}, error=RuntimeError("boom\nbad value"), metrics={})]
    rows = rows_from_results(results, configs)
    assert [r["status"] for r in rows] == ["ok", "error", "unfinished"]
    assert rows[0]["value"] == 1 and rows[1]["error"] == "RuntimeError: bad value"
    assert "trial_dir" not in rows[0] and (tmp_path / "t0" / "result.json").is_file()


def test_summary_flags_a_run_with_fewer_seeds_or_epochs_than_the_study():
    from dilqr_rl.experiments import report

    rows = [{"seed": s, "epochs": 200, "status": "ok"} for s in range(3)]
    note = report.run_note(rows, StudyOptions(seeds=3, epochs=200), seeds=5, epochs=500)
    assert "3 seeds instead of the study's 5" in note and "200 epochs instead of the study's 500" in note
    assert report.run_note(rows, StudyOptions(), seeds=3, epochs=200) == ""  # the full run: no note
    assert "QUICK RUN" in report.run_note(rows, StudyOptions(quick=True), seeds=5)


def test_results_csv_round_trips_booleans_numbers_and_nested_values(tmp_path):
    rows = [{"trial_id": "a", "converged": False, "kkt": 1e-9, "params": {"mass": 1.0}, "note": "x"},
            {"trial_id": "b", "converged": True, "kkt": None, "params": {"mass": 2.0}, "note": "False alarm"}]
    write_results(rows, tmp_path / "results.csv")
    back = read_results(tmp_path / "results.csv")
    assert back == rows
    assert back[0]["converged"] is False  # not the truthy string "False"
