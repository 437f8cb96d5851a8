"""Dependencies flow one way: the control core and the models import neither Gymnasium nor SB3."""

import subprocess
import sys


def test_core_imports_neither_gymnasium_nor_sb3():
    code = (
        "import sys, dilqr_rl, dilqr_rl.control, dilqr_rl.models\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('gymnasium', 'stable_baselines3', 'gym'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"the core imported {result.stdout.strip()}"
