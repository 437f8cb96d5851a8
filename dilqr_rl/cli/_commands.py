"""Commands in the hints the CLI prints, spelled as they run in the environment running it."""

from __future__ import annotations

import os
import shlex
import shutil
import sysconfig
from pathlib import Path


def installed_command(name: str) -> str:
    """How to call the console script ``name`` (e.g. ``"tensorboard"``) of the running environment.

    Plain ``name`` when the ``PATH`` finds that script (an activated environment), or when the environment has
    no such script (the user's own, if any); else the script's path in the environment's scripts folder
    (``.venv/bin/tensorboard`` from the folder holding ``.venv``), relative to the working folder when inside
    it, absolute otherwise, quoted for the shell.
    """
    script = shutil.which(name, path=sysconfig.get_path("scripts"))
    if script is None:
        return name
    found = shutil.which(name)
    if found is not None and os.path.samefile(found, script):
        return name
    script = Path(os.path.abspath(script))
    try:
        shown = script.relative_to(Path.cwd())
    except ValueError:
        shown = script
    return shlex.quote(str(shown))


def evaluate_command(policy: str | Path, env_id: str, seed: int | None = None, episodes: int | None = None,
                     max_steps: int | None = None) -> str:
    """The ``dilqr-rl evaluate`` call that runs ``policy`` on a run's evaluation episodes (the options given), so that
    it reproduces the run's return."""
    options = "".join(f" --{name} {value}" for name, value in (("seed", seed), ("episodes", episodes),
                                                                ("max-steps", max_steps)) if value is not None)
    return f"{installed_command('dilqr-rl')} evaluate --policy {policy} --env-id {env_id}{options}"
