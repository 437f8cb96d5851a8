"""The environments depend on dilqr_rl.models only (never on the control core, policies or agents)."""

from __future__ import annotations

import ast
from pathlib import Path

import dilqr_rl.envs

ENVS_DIR = Path(dilqr_rl.envs.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return names


def test_envs_import_only_models_from_the_package() -> None:
    files = sorted(ENVS_DIR.glob("*.py"))
    assert len(files) > 5
    allowed = ("dilqr_rl.envs", "dilqr_rl.models")
    bad = {
        f"{path.name}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] == "dilqr_rl" and not name.startswith(allowed)
    }
    assert bad == set()
