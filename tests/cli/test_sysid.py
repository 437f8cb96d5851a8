"""``dilqr-rl sysid`` end to end as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_sysid_fits_and_reports(tmp_path):
    cmd = [*CLI, "sysid", "--n-train", "4", "--n-val", "2", "--n-test", "2", "--epochs", "150",
           "--learnable", "mass", "gravity", "--lr", "5e-2", "--batch-size", "64", "--no-progress",
           "--output-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert abs(result["params"]["mass"] - 1.0) < 1e-2 and abs(result["params"]["gravity"] - 10.0) < 1e-1
    assert list(run_dir.glob("events.out.tfevents.*")) and (run_dir / "dynamics.pt").is_file()
    assert "mass: true 1, learned" in out.stdout


def test_sysid_rejects_unknown_parameters(tmp_path):
    out = subprocess.run([*CLI, "sysid", "--learnable", "dt", "--output-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "learnable ['dt'] are not parameters" in out.stderr
