"""``dilqr-rl evaluate`` end to end as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import imageio.v2 as imageio

from dilqr_rl.cli import main

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_evaluate_the_expert_with_a_gif(tmp_path):
    gif = tmp_path / "ep.gif"
    cmd = [*CLI, "evaluate", "--episodes", "2", "--max-steps", "10", "--video", str(gif),
           "--output-dir", str(tmp_path / "runs")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert len(result["returns"]) == 2 and list(run_dir.glob("events.out.tfevents.*"))
    assert len(imageio.mimread(gif)) == 11


def test_evaluate_a_missing_checkpoint_names_the_problem(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["evaluate", "--policy", str(tmp_path / "best.pt"), "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith(f"error: no checkpoint at {tmp_path / 'best.pt'}")
    assert main(["evaluate", "--video", str(tmp_path / "v.avi"), "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith("error: unsupported video format '.avi'")
    assert not runs.exists()
