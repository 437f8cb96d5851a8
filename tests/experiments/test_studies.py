"""The eight studies end to end with --quick on a local Ray, and their trial functions as plain functions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dilqr_rl.cli import main
from dilqr_rl.cli._commands import installed_command
from dilqr_rl.experiments import STUDIES, StudyOptions, get_study, run_study
from dilqr_rl.experiments.gradient_fidelity import run_fidelity_trial
from dilqr_rl.experiments.imitation_trial import run_imitation_trial
from dilqr_rl.experiments.sweep import read_results, summarize_again

EXPECTED = {
    "cartpole-cost": ["final model loss: DiLQR / DiffMPC", "model_loss.png", "Per dimension"],
    "cartpole-dx": ["bad values, final", "paper (Table 1)", "parameters_train"],
    "imitation": ["LSTM / DiLQR.dx test loss", "### pendulum, train", "### cartpole, train"],
    "nonrealizable-pendulum": ["SysId / DiLQR.dx next-state error", "test next-state error"],
    "gradient-fidelity": ["diffmpc-fixed-jacobian err (cos)", "dropped curvature"],
    "visual": ["| DiLQR head, own plan |", "| latent MLP, expert controls |", "`strip.png` and `strip.gif`",
               "| ablation: DiLQR head without the state regression, own plan |", "| dilqr-pixels | gravity |",
               "| baseline |", "Regime: quick"],
    "pixel-bc": ["| DiLQR BC + state loss |", "| MLP BC, actions only |", "| LSTM BC + state loss |",
                 "| DiLQR DAgger + state loss |", "Fewest demonstrations to reach 0.9", "3g/(2l)", "QUICK RUN"],
    "closed-loop-bc": ["| Pendulum-v1 | DiLQR DAgger |", "Fewest demonstrations to reach 0.95", "3g/(2l)",
                       "Grid `quick`"],
    "rl": ["| Pendulum-v1 | PPO | DiLQR (physics) |", "## Targets (issue 15)", "| masses, lengths x0.7 |",
           "Grid `quick`", "| Pendulum-v1 | - | iLQR expert told the changed physics |",
           "| robustness, what is kept (not an issue target) |"],
}


@pytest.mark.parametrize("name", list(STUDIES))
def test_quick_study_runs_on_ray_and_writes_its_report(ray_session, tmp_path, name):
    out = run_study(name, StudyOptions(quick=True), tmp_path / name, progress=False)
    rows = read_results(out / "results.csv")
    assert len(rows) == len(get_study(name).trials(StudyOptions(quick=True)))
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows if r["status"] != "ok"]
    summary = (out / "summary.md").read_text()
    assert "QUICK" in summary and "Failed or unfinished" not in summary
    for text in EXPECTED[name]:
        assert text in summary, text
    assert list(out.glob("*.png"))
    assert all((out / "trials" / r["trial_id"] / "result.json").is_file() for r in rows)
    # what is committed of a run (no trial folders) gives the same summary
    shutil.rmtree(out / "trials")
    summarize_again(name, out, StudyOptions(quick=True))
    assert (out / "summary.md").read_text() == summary and "Missing inputs" not in summary


def test_reproduce_command(ray_session, tmp_path, capsys):
    assert main(["reproduce", "--name", "gradient-fidelity", "--quick", "--out", str(tmp_path / "gf"),
                 "--no-progress"]) == 0
    assert f"summary: {tmp_path / 'gf' / 'summary.md'}" in capsys.readouterr().out
    assert main(["reproduce", "--name", "acrobot"]) == 2
    assert "--name must be one of ['cartpole-cost'" in capsys.readouterr().err
    # the summary is rewritten from results.csv without running anything
    (tmp_path / "gf" / "summary.md").unlink()
    assert main(["reproduce", "--name", "gradient-fidelity", "--quick", "--out", str(tmp_path / "gf"),
                 "--summary-only"]) == 0
    assert "diffmpc-fixed-jacobian" in (tmp_path / "gf" / "summary.md").read_text()
    # another sweep in the same folder is a user error, in the command's terms
    assert main(["reproduce", "--name", "gradient-fidelity", "--quick", "--seeds", "2", "--out",
                 str(tmp_path / "gf"), "--no-progress"]) == 2  # --seeds counts with --quick: other trials
    assert "holds an earlier sweep with other trials" in capsys.readouterr().err
    assert main(["reproduce", "--name", "cartpole-cost", "--quick", "--out", str(tmp_path / "gf")]) == 2
    assert "holds an earlier sweep with other trials" in capsys.readouterr().err
    assert main(["reproduce", "--name", "imitation", "--summary-only", "--out", str(tmp_path / "none")]) == 2
    assert "holds no results.csv" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(STUDIES))
def test_quick_runs_the_seeds_asked_for(name):
    study = get_study(name)
    assert {t["seed"] for t in study.trials(StudyOptions(quick=True))} == {0}
    assert {t["seed"] for t in study.trials(StudyOptions(quick=True, seeds=2))} == {0, 1}


def test_an_interrupted_sweep_prints_the_command_that_resumes_it(tmp_path, capsys, monkeypatch):
    from dilqr_rl.cli import parse
    from dilqr_rl.cli.reproduce import Args
    from dilqr_rl.experiments import sweep

    def interrupted(*args, **kwargs):
        raise sweep.SweepInterrupted(tmp_path / "cd", 3, 20)

    monkeypatch.setattr("dilqr_rl.experiments.run_study", interrupted)
    argv = ["--name", "cartpole-dx", "--seeds", "2", "--epochs", "7", "--fresh", "--no-progress", "--cache", "None"]
    assert main(["reproduce", *argv]) == 130
    err = capsys.readouterr().err
    assert "interrupted: 3 of 20 trials did not finish; run the same sweep again to resume it" in err
    command = err.split("resume: ")[1].strip()
    assert command.startswith(f"{installed_command('dilqr-rl')} reproduce --name cartpole-dx")
    assert "--fresh" not in command
    resumed = parse(Args, command.split()[2:], "dilqr-rl reproduce")
    assert resumed == Args(**{**vars(parse(Args, argv, "dilqr-rl reproduce")), "fresh": False, "out": tmp_path / "cd"})


COMMITTED = Path(__file__).parents[2] / "benchmarks" / "reproduce"
"""The committed full runs: results.csv, summary.md, figures and what the summaries read (histories.json.gz)."""


@pytest.mark.parametrize("name", list(STUDIES))
def test_summary_only_rewrites_each_committed_summary_as_committed(tmp_path, name, capsys):
    """--summary-only on a copy of a committed study (without the trial folders, which are not committed)
    writes its committed summary.md again, word for word: the summary's inputs are committed, or the
    summary says which are missing."""
    out = shutil.copytree(COMMITTED / name, tmp_path / name)
    assert main(["reproduce", "--name", name, "--out", str(out), "--summary-only"]) == 0
    assert (out / "summary.md").read_text() == (COMMITTED / name / "summary.md").read_text()


def _imitation(tmp_path, method, system="pendulum", **extra):
    config = {"method": method, "system": system, "seed": 0, "n_train": 3, "n_val": 2, "n_test": 2, "epochs": 2,
              "nn_epochs": 3, "nn_hidden": 8, "data_dir": str(tmp_path / "data"), **extra}
    return run_imitation_trial(config, tmp_path / method)


def test_imitation_trial_writes_history_and_metrics(tmp_path):
    m = _imitation(tmp_path, "diffmpc.dx")
    assert m["epochs"] == 2 and m["test_loss"] >= 0 and m["n_dynamics_params"] == 3
    assert set(m["params_best"]) == {"gravity", "mass", "length"}
    assert m["params_start"] == {"gravity": 15.0, "mass": 3.0, "length": 0.5}
    history = json.loads((tmp_path / "diffmpc.dx" / "history.json").read_text())
    assert len(history["bc/model_loss"]) == 2 and len(history["ilqr/unconverged_fraction"]) == 2
    assert list((tmp_path / "diffmpc.dx").glob("events.out.tfevents.*"))
    assert list((tmp_path / "data").glob("pendulum__3-2-2__seed0.npz"))  # cached for the other trials


def test_imitation_trial_baselines_and_nonrealizable_start(tmp_path):
    lstm = _imitation(tmp_path, "lstm")
    assert lstm["epochs"] == 3 and "model_loss_best" not in lstm
    sysid = _imitation(tmp_path, "sysid", system="pendulum-nonrealizable", start_params={"gravity": 6.0})
    assert sysid["params_start"]["gravity"] == 6.0 and sysid["test_transition_loss"] > 0
    with pytest.raises(ValueError, match=r"unknown method 'dilqr\.dynamics'"):
        _imitation(tmp_path, "dilqr.dynamics")


def test_fidelity_trial_separates_the_gradients(tmp_path):
    """Implicit and converged unroll match finite differences; DiffMPC's does not on the pendulum; on
    linear dynamics DiffMPC is exact and only the fixed-Jacobian variant is wrong (in the dynamics'
    parameters: for the cost's, all four agree)."""
    base = {"bounds": "papers", "horizon": 5, "params": "dynamics", "seed": 0, "starts": 2}
    pendulum = run_fidelity_trial({**base, "system": "pendulum"}, tmp_path / "p")
    assert pendulum["rel_error_implicit"] < 1e-6 and pendulum["rel_error_unroll"] < 1e-6
    assert pendulum["rel_error_diffmpc"] > 1e-5 and pendulum["dropped_curvature"] > 0
    linear = run_fidelity_trial({**base, "system": "linear"}, tmp_path / "l")
    assert linear["rel_error_diffmpc"] < 1e-6 and linear["dropped_curvature"] == 0
    assert linear["rel_error_diffmpc-fixed-jacobian"] > 0.1
    cost = run_fidelity_trial({**base, "system": "linear", "params": "cost"}, tmp_path / "c")
    assert max(cost[f"rel_error_{m}"] for m in ("implicit", "diffmpc", "diffmpc-fixed-jacobian", "unroll")) < 1e-6
