"""``dilqr-rl demo --quick`` end to end as a subprocess: the table, TensorBoard logs, checkpoints, GIF."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests import SUBPROCESS_TIMEOUT_S

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_demo_quick(tmp_path):
    """Run outside the checkout, with the environment's scripts off the PATH: the TensorBoard hint names this
    environment's tensorboard by its absolute path (not .venv/bin/..., no make)."""
    runs, elsewhere = tmp_path / "runs", tmp_path / "elsewhere"
    elsewhere.mkdir()
    scripts = sysconfig.get_path("scripts")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != scripts)
    out = subprocess.run([*CLI, "demo", "--quick", "--no-progress", "--output-dir", str(runs)], cwd=elsewhere,
                         env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    (run_dir,) = runs.iterdir()
    assert out.stdout.splitlines()[-1] == f"TensorBoard: {Path(scripts, 'tensorboard')} --logdir {run_dir}"
    names = ("iLQR expert (evaluate)", "demonstrator (true model)", "DiLQR.dx (implicit)", "LSTM (NN baseline)")
    for name in (*names, "test imitation loss"):
        assert name in out.stdout
    for sub in ("dilqr_dx", "lstm"):
        (events,) = (run_dir / sub).glob("events.out.tfevents.*")  # one file per learner
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        assert "eval/mean_return" in accumulator.Tags()["scalars"]
        assert (run_dir / sub / "checkpoints" / "best.pt").is_file()
    assert (run_dir / "dilqr_dx.gif").stat().st_size > 0
    # the demonstrator's test loss is measured (it re-plans with the dataset's solver settings: ~0, not a constant)
    row = next(line for line in out.stdout.splitlines() if line.startswith("demonstrator (true model)"))
    test_loss, model_loss, dyn_error = (float(v) for v in row.split()[3:6])
    assert 0.0 <= test_loss < 1e-10 and model_loss == dyn_error == 0.0
    table = out.stdout.split("\nresults:")[0]
    assert (run_dir / "results.md").read_text() == f"```\n{table}\n```\n"
    with open(run_dir / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["policy"] for r in rows] == list(names)
    assert float(rows[2]["env_return"]) == pytest.approx(float(table.splitlines()[4].split()[-2]), abs=0.06)
    assert "(env return: mean over 2 episodes of dilqr_rl/Pendulum-v0" in out.stdout


def test_demo_options_are_checked(capsys):
    from dilqr_rl.cli import main

    assert main(["demo", "--eval-episodes", "0"]) == 2
    assert capsys.readouterr().err == "error: --eval-episodes must be >= 1; got 0\n"
