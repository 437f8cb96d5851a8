"""Dependencies flow one way: the control core and the models import neither Gymnasium nor SB3."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import dilqr_rl


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

SUBMODULE_IMPORT = re.compile(r"^\s*(?:from|import)\s+dilqr_rl\.(\w+)", re.M)
"""``import dilqr_rl.X...`` and ``from dilqr_rl.X... import ...``: the subpackage X."""
NAME_IMPORT = re.compile(r"^\s*from\s+dilqr_rl\s+import\s+(?:\(([^)]*)\)|([^\n#]+))", re.M)
"""``from dilqr_rl import a, b as c`` (or a parenthesised list over several lines): the names a, b."""
TOP_LEVEL_NAMES = {name: "control" for name in dilqr_rl.__all__ if name != "__version__"}
"""``dilqr_rl/__init__.py`` exposes these lazily from ``dilqr_rl.control``: importing one depends on the core."""


def imported_subpackages(source: str) -> set[str]:
    """The dilqr_rl subpackages ``source`` imports, including through the names of ``dilqr_rl/__init__.py``."""
    found = set(SUBMODULE_IMPORT.findall(source))
    for parenthesised, plain in NAME_IMPORT.findall(source):
        for alias in re.sub(r"#[^\n]*", "", parenthesised or plain).split(","):
            name = alias.split()[0] if alias.split() else ""
            if name in LAYERS:
                found.add(name)
            elif name in TOP_LEVEL_NAMES:
                found.add(TOP_LEVEL_NAMES[name])
    return found


@pytest.mark.parametrize(("source", "expected"), [
    ("from dilqr_rl.control.layer import DiLQR", {"control"}),
    ("    import dilqr_rl.envs  # noqa: F401", {"envs"}),
    ("from dilqr_rl import DiLQR", {"control"}),
    ("from dilqr_rl import SolverConfig as Config, models", {"control", "models"}),
    ("from dilqr_rl import (  # two names\n    GradMethod,  # the core's\n    policies,\n)\nimport torch",
     {"control", "policies"}),
    ("from dilqr_rl import __version__  # the version only", set()),
    ("import dilqr_rl\nimport dilqr_rl_extra\nfrom dilqr_rlx import DiLQR", set()),
])
def test_imported_subpackages_reads_both_import_forms(source, expected):
    assert imported_subpackages(source) == expected


def test_subpackages_import_only_downwards():
    root = Path(__file__).resolve().parents[1] / "dilqr_rl"
    bad = []
    for package, rank in LAYERS.items():
        for path in (root / package).rglob("*.py"):
            for target in imported_subpackages(path.read_text()):
                allowed = {"models"} if package in ONLY_MODELS else {p for p, r in LAYERS.items() if r <= rank}
                if target != package and target not in allowed:
                    bad.append(f"{path.relative_to(root)} imports dilqr_rl.{target}")
    assert not bad, bad
