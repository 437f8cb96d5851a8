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


LAYERS = {"models": 0, "control": 1, "envs": 1, "bench": 2, "policies": 2, "data": 3, "agents": 4, "experiments": 5,
          "cli": 6}
"""A subpackage may import its own layer and those below it; the control core and envs only the models."""
ONLY_MODELS = ("control", "envs")


def test_subpackages_import_only_downwards():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "dilqr_rl"
    pattern = re.compile(r"^\s*(?:from|import) dilqr_rl\.(\w+)", re.M)
    bad = []
    for package, rank in LAYERS.items():
        for path in (root / package).rglob("*.py"):
            for target in set(pattern.findall(path.read_text())):
                allowed = {"models"} if package in ONLY_MODELS else {p for p, r in LAYERS.items() if r <= rank}
                if target != package and target not in allowed:
                    bad.append(f"{path.relative_to(root)} imports dilqr_rl.{target}")
    assert not bad, bad
