"""What a study is: a list of trials, a trial function and a summary.

A :class:`Study` names a reproduction of the papers' experiments (or a study of your own: define
``STUDY`` in an importable module and pass it to :func:`~dilqr_rl.experiments.sweep.run_study`).
``trials(options)`` lists the trial configurations (plain JSON dictionaries, one per method x seed x
setting); ``run_trial(config, trial_dir)`` runs one of them as a plain function, writing its own logs and
returning its metrics; ``summarize(rows, out_dir, options)`` turns the rows of every trial into
``summary.md`` and plots. The sweep (:mod:`dilqr_rl.experiments.sweep`) schedules the trials on Ray Tune;
nothing else knows about Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TrialConfig = dict[str, Any]
"""A trial's configuration: JSON values only. Every config has ``study``, ``trial_id`` (unique within the
study, also the trial's directory name) and ``seed``; the sweep adds ``trial_dir`` and ``data_dir``."""

Row = dict[str, Any]
"""One line of ``results.csv``: the trial's config and metrics, ``status`` (``ok`` or ``error``) and
``error`` (the message of a failed trial)."""


@dataclass(frozen=True)
class StudyOptions:
    """What the user chose for a run of a study."""

    seeds: int | None = None
    """Seeds per method and setting; ``None``: the study's own (5; 8 for the non-realizable pendulum, 3 for
    gradient fidelity and the pixel studies; 1 with ``quick``)."""
    quick: bool = False
    """The reduced version: tiny sizes, one seed unless ``seeds`` says otherwise, minutes on 2 CPU cores (what
    the tests run)."""
    epochs: int | None = None
    """Override the study's epochs for the model-based learners (``None``: the study's own)."""
    device: str = "cpu"
    """Torch device of the studies that train networks (``visual``, ``pixel-bc``); the others run on CPU."""
    size: int | None = None
    """Frame side in pixels of the pixel studies (``visual``, ``pixel-bc``), a multiple of 32 (the image encoder
    halves each side five times); ``None``: the study's own (64; 32 with ``quick``)."""

    grid: str | None = None
    """A study's named grid of trials where it has several (``closed-loop-bc``, ``rl``: ``full``, the issue's, or
    ``reduced``, what the committed run made); ``None``: the study's full grid."""

    def __post_init__(self) -> None:
        if self.seeds is not None and (not isinstance(self.seeds, int) or self.seeds < 1):
            raise ValueError(f"seeds must be an integer >= 1 or None (the study's own); got {self.seeds!r}")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ValueError(f"epochs must be an integer >= 1 or None (the study's own); got {self.epochs!r}")
        if self.size is not None and (not isinstance(self.size, int) or self.size < 32 or self.size % 32):
            raise ValueError(f"size must be a multiple of 32 (the image encoder halves each side five times), e.g. "
                             f"64 or 224, or None (the study's own); got {self.size!r}")

    def seeds_or(self, default: int) -> int:
        """``seeds``, or when not given the study's ``default`` (:data:`QUICK_SEEDS` with ``quick``)."""
        if self.seeds is not None:
            return self.seeds
        return QUICK_SEEDS if self.quick else default


DEFAULT_SEEDS = 5

QUICK_SEEDS = 1
"""Seeds of a ``quick`` run when ``seeds`` is not given."""


@dataclass(frozen=True)
class Study:
    """A named, runnable reproduction: its trials, the trial function and the summary."""

    name: str
    title: str
    """One line: what the study reproduces (paper, figure or table)."""
    trials: Callable[[StudyOptions], list[TrialConfig]]
    run_trial: Callable[[TrialConfig, Path], dict[str, Any]]
    summarize: Callable[[list[Row], Path, StudyOptions], None]
    module: str
    """The importable module whose ``STUDY`` this is (Ray workers import it to find the trial function)."""


def trial_id(*parts: Any) -> str:
    """A readable, file-name-safe trial id from its distinguishing values: ``trial_id("dilqr.dx", 50, 3)``
    -> ``"dilqr.dx__50__s3"`` (the last part is the seed)."""
    *head, seed = parts
    return "__".join([*(str(p).replace("/", "-") for p in head), f"s{seed}"])
