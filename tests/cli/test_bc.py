"""``dilqr-rl bc`` end to end as a subprocess: TensorBoard events, checkpoints that load, resume."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dilqr_rl.agents.bc_sequence import load_sequence_policy

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]
TINY = ["--n-train", "4", "--n-val", "2", "--n-test", "2", "--epochs", "2", "--batch-size", "4", "--no-progress"]


def bc(tmp_path, *extra):
    return subprocess.run([*CLI, "bc", *TINY, "--output-dir", str(tmp_path), *extra], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("policy", ["dilqr", "lstm"])
def test_bc_writes_events_checkpoints_and_results(tmp_path, policy):
    out = bc(tmp_path, "--policy", policy, "--seed", "2")
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith(f"pendulum__bc-{policy}__2__")
    assert list(run_dir.glob("events.out.tfevents.*"))
    result = json.loads((run_dir / "result.json").read_text())
    assert result["test_loss"] >= 0 and f"test_loss: {result['test_loss']:.4g}" in out.stdout
    policy_module = load_sequence_policy(run_dir / "checkpoints" / "best.pt")
    assert policy_module is not None and (run_dir / "checkpoints" / "last.pt").is_file()


def test_bc_resume_continues_a_run(tmp_path):
    assert bc(tmp_path).returncode == 0
    (run_dir,) = tmp_path.iterdir()
    out = bc(tmp_path, "--resume", str(run_dir), "--epochs", "3")
    assert out.returncode == 0, out.stderr
    assert len(list(tmp_path.iterdir())) == 1


def test_bc_bad_resume_directory_is_reported(tmp_path):
    out = bc(tmp_path, "--resume", str(tmp_path / "nowhere"))
    assert out.returncode == 2
    assert "no checkpoints/last.pt there" in out.stderr


def test_bc_rejects_an_unknown_mode(tmp_path):
    out = bc(tmp_path, "--mode", "dcost")
    assert out.returncode == 2 and "invalid choice: 'dcost'" in out.stderr
