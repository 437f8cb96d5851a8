"""The papers' experiments as named, multi-seed studies (above ``agents`` in the dependency order).

Each study module defines ``STUDY``: its trials (method x seed x setting), a trial function that runs one
trial as a plain function, and a summary (``summary.md``, plots). :func:`run_study` runs a study's trials on
Ray Tune (local by default; a cluster with ``address``) and writes ``results.csv``, ``summary.md`` and the
plots. ``dilqr-rl reproduce NAME`` is the command line over it.
"""

from __future__ import annotations

import importlib

from dilqr_rl.experiments.study import Study, StudyOptions

STUDIES: dict[str, str] = {
    "cartpole-cost": "cartpole_cost",
    "cartpole-dx": "cartpole_dx",
    "imitation": "imitation",
    "nonrealizable-pendulum": "nonrealizable",
    "gradient-fidelity": "gradient_fidelity",
    "visual": "visual",
    "pixel-bc": "pixel_bc",
    "closed-loop-bc": "closed_loop_bc",
    "rl": "rl",
}
"""Study name -> module under ``dilqr_rl.experiments``."""


def get_study(name: str) -> Study:
    """The named study; the error lists the valid names."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; valid: {list(STUDIES)}")
    return importlib.import_module(f"dilqr_rl.experiments.{STUDIES[name]}").STUDY


def run_study(*args, **kwargs):
    """See :func:`dilqr_rl.experiments.sweep.run_study`."""
    from dilqr_rl.experiments.sweep import run_study as run

    return run(*args, **kwargs)


__all__ = ["STUDIES", "Study", "StudyOptions", "get_study", "run_study"]
