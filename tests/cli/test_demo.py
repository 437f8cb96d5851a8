"""``dilqr-rl demo --quick`` end to end as a subprocess: the table, TensorBoard logs, checkpoints, GIF."""

from __future__ import annotations

import subprocess
import sys

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_demo_quick(tmp_path):
    out = subprocess.run([*CLI, "demo", "--quick", "--no-progress", "--output-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    for name in ("expert (true model)", "DiLQR.dx (implicit)", "LSTM (NN baseline)", "test imitation loss"):
        assert name in out.stdout
    for sub in ("dilqr_dx", "lstm"):
        assert list((run_dir / sub).glob("events.out.tfevents.*"))
        assert (run_dir / sub / "checkpoints" / "best.pt").is_file()
    assert (run_dir / "dilqr_dx.gif").stat().st_size > 0
    # the expert's test loss is measured (it re-plans with the dataset's solver settings: ~0, not a constant)
    expert_row = next(line for line in out.stdout.splitlines() if line.startswith("expert (true model)"))
    test_loss, model_loss, dyn_error = (float(v) for v in expert_row.split()[3:6])
    assert 0.0 <= test_loss < 1e-10 and model_loss == dyn_error == 0.0
    assert "its test loss is measured, its model loss and dyn. error are 0 by definition" in out.stdout
