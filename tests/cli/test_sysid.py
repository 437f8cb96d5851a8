"""``dilqr-rl sysid`` end to end as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dilqr_rl.agents.bc_sequence import load_sequence_policy
from dilqr_rl.cli import main
from tests import SUBPROCESS_TIMEOUT_S

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_sysid_fits_and_reports(tmp_path):
    cmd = [*CLI, "sysid", "--n-train", "4", "--n-val", "2", "--n-test", "2", "--epochs", "150",
           "--learnable", "mass", "gravity", "--lr", "5e-2", "--batch-size", "64", "--no-progress",
           "--output-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert abs(result["params"]["mass"] - 1.0) < 1e-2 and abs(result["params"]["gravity"] - 10.0) < 1e-1
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1 and (run_dir / "dynamics.pt").is_file()
    assert "mass: true 1, learned" in out.stdout
    planner = load_sequence_policy(run_dir / "policy.pt")  # the fitted model as the system's controller
    assert float(planner.dynamics.mass) == pytest.approx(result["params"]["mass"])
    out = subprocess.run([*CLI, "evaluate", "--policy", str(run_dir / "policy.pt"), "--episodes", "2",
                          "--max-steps", "5", "--no-progress", "--output-dir", str(tmp_path / "eval")],
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr


def test_sysid_rejects_unknown_parameters(tmp_path, capsys):
    assert main(["sysid", "--learnable", "dt", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: --learnable ['dt'] are not parameters of pendulum")
    assert main(["sysid", "--n-train", "0", "--no-progress", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: the training split is empty: SysId needs at least one plan")
    assert list(tmp_path.iterdir()) == []


def test_sysid_without_test_plans_reports_no_test_loss(tmp_path, capsys):
    assert main(["sysid", "--n-train", "2", "--n-val", "0", "--n-test", "0", "--epochs", "2", "--no-progress",
                 "--output-dir", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "result.json").read_text())["test_loss"] is None
    assert "transition loss: train" in capsys.readouterr().out


def test_sysid_with_nothing_to_fit_leaves_no_run_folder(tmp_path, capsys):
    assert main(["sysid", "--learnable", "--no-progress", "--n-train", "2", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("error: --learnable names no parameter: nothing to identify; pass some of mass "
                                       "length gravity, or drop --learnable for mass gravity\n")
    assert main(["sysid", "--epochs", "0", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "error: --epochs must be >= 1; got 0\n"
    assert list(tmp_path.iterdir()) == []


def test_sysid_on_episodes_fits_the_envs_model_and_its_actor_evaluates(tmp_path):
    from dilqr_rl.data import collect_episodes

    data = collect_episodes("Pendulum-v1", 3, seed=0, progress=False, max_episode_steps=30).save(tmp_path / "e.npz")
    runs = tmp_path / "runs"
    out = subprocess.run([*CLI, "sysid", "--data", str(data), "--epochs", "150", "--lr", "5e-2", "--batch-size", "64",
                          "--test-fraction", "0.34", "--no-progress", "--output-dir", str(runs)],
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    (run_dir,) = runs.iterdir()
    assert run_dir.name.startswith("Pendulum-v1__sysid__0__") and (run_dir / "dynamics.pt").is_file()
    result = json.loads((run_dir / "result.json").read_text())
    learned = result["physics_learned"]
    assert 1.5 * learned["gravity"] / learned["length"] == pytest.approx(15.0, rel=1e-3)  # 3 g / (2 l)
    assert result["transitions"] == 60 and result["test_loss"] < 1e-6
    assert f"mass: true 1, start 1.3, learned {learned['mass']:.5f}" in out.stdout
    evaluated = subprocess.run([*CLI, "evaluate", "--policy", result["checkpoint"], "--env-id", "Pendulum-v1",
                                "--episodes", "1", "--max-steps", "5", "--no-progress",
                                "--output-dir", str(tmp_path / "eval")],
                               capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert evaluated.returncode == 0, evaluated.stderr


def test_sysid_on_episodes_errors(tmp_path, capsys):
    runs = tmp_path / "runs"
    common = ["--env-id", "Pendulum-v1", "--max-episode-steps", "3", "--no-progress", "--output-dir", str(runs)]
    assert main(["sysid", "--learnable", "mass", *common]) == 2
    assert capsys.readouterr().err.startswith("error: --learnable and --perturbation set the plans' model (--system);")
    assert main(["sysid", "--n-episodes", "1", *common]) == 2
    assert capsys.readouterr().err == ("error: --test-fraction 0.2 holds out whole episodes, and the data has 1: pass "
                                       "--test-fraction 0, or more episodes (--n-episodes)\n")
    assert main(["sysid", "--n-episodes", "2", "--model-error", "mas=0.1", *common]) == 2
    assert capsys.readouterr().err.startswith("error: --model-error: unknown physical parameter(s) ['mas']")
    assert main(["sysid", "--model-error", "mass", *common]) == 2
    assert capsys.readouterr().err.startswith("error: --model-error 'mass' is not NAME=REL")
    assert main(["sysid", "--test-fraction", "1", *common]) == 2
    assert capsys.readouterr().err == "error: --test-fraction must be in [0, 1); got 1.0\n"
    assert not runs.exists()
