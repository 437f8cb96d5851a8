"""``dilqr-rl demo --quick`` (closed loop, and --open-loop) end to end as a subprocess: the table, TensorBoard
logs, checkpoints, GIF."""

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


def _run(args: list[str], cwd: Path, path: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "demo", "--quick", "--no-progress", *args], cwd=cwd, env={**os.environ, "PATH": path},
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)


def test_demo_quick(tmp_path):
    """Run outside the checkout, with the environment's scripts off the PATH: the TensorBoard hint names this
    environment's tensorboard by its absolute path (not .venv/bin/..., no make)."""
    runs, elsewhere = tmp_path / "runs", tmp_path / "elsewhere"
    elsewhere.mkdir()
    scripts = sysconfig.get_path("scripts")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != scripts)
    out = _run(["--output-dir", str(runs)], elsewhere, path)
    assert out.returncode == 0, out.stderr
    (run_dir,) = runs.iterdir()
    assert out.stdout.splitlines()[-1] == f"TensorBoard: {Path(scripts, 'tensorboard')} --logdir {run_dir}"
    names = ("iLQR expert", "random policy", "DiLQR, untrained (wrong model)", "DiLQR, cloned", "MLP, cloned",
             "LSTM, cloned")
    for name in (*names, "DiLQR physics (true / start / learned): mass 1 / 1.3 / ", "identified (true / start / "):
        assert name in out.stdout
    for sub in ("dilqr", "mlp", "lstm"):
        (events,) = (run_dir / sub).glob("events.out.tfevents.*")  # one file per policy
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        assert {"eval/mean_return", "eval/normalized_return"} <= set(accumulator.Tags()["scalars"])
        assert (run_dir / sub / "checkpoints" / "best.pt").is_file()
    assert (run_dir / "dilqr.gif").stat().st_size > 0 and (run_dir / "demonstrations.npz").is_file()
    table = out.stdout.split("\nresults:")[0]
    assert (run_dir / "results.md").read_text() == f"```\n{table}\n```\n"
    with open(run_dir / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["policy"] for r in rows] == list(names)
    printed = next(line for line in table.splitlines() if line.startswith("DiLQR, cloned"))
    assert float(rows[3]["env_return"]) == pytest.approx(float(printed[32:42]), abs=0.06)
    assert "each policy run in the env from the same 2 seeded starts, seeds 1000..1001" in out.stdout


def test_demo_open_loop_quick(tmp_path):
    """The papers' open-loop comparison stays one flag away."""
    out = _run(["--open-loop", "--output-dir", str(tmp_path)], tmp_path, os.environ.get("PATH", ""))
    assert out.returncode == 0, out.stderr
    for name in ("iLQR expert (evaluate)", "demonstrator (true model)", "DiLQR.dx (implicit)", "LSTM (NN baseline)",
                 "test imitation loss"):
        assert name in out.stdout
    (run_dir,) = tmp_path.glob("*demo*")
    assert (run_dir / "dilqr_dx.gif").stat().st_size > 0


def test_demo_options_are_checked(capsys):
    from dilqr_rl.cli import main

    assert main(["demo", "--eval-episodes", "0"]) == 2
    assert capsys.readouterr().err == "error: --eval-episodes must be >= 1; got 0\n"
    assert main(["demo", "--demonstrations", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: --demonstrations must be >= 2 (one is held out")
