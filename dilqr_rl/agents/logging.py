"""Run directories, TensorBoard hyperparameter tables and seeding, shared by every trainer.

Conventions (cleanrl's): one directory per run, ``runs/{env_id}__{exp_name}__{seed}__{unix_time}``;
hyperparameters written to TensorBoard as a Markdown table (TEXT tab) and through ``add_hparams`` (HPARAMS
tab); scalar keys namespaced by one of :data:`SCALAR_NAMESPACES`.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

SCALAR_NAMESPACES: tuple[str, ...] = ("train/", "rollout/", "eval/", "ilqr/", "bc/")
"""Prefixes of the scalar keys trainers log."""


def _sanitize(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", part).strip("-") or "run"


def make_run_dir(root: str | Path = "runs", env_id: str = "env", exp_name: str = "exp", seed: int = 0,
                 timestamp: int | None = None) -> Path:
    """Create and return ``root/{env_id}__{exp_name}__{seed}__{timestamp}``.

    Slashes and other characters unsafe in file names become ``-`` (``"dilqr_rl/Pendulum-v0"`` ->
    ``"dilqr_rl-Pendulum-v0"``). ``timestamp`` defaults to ``int(time.time())``; an existing directory of
    that name gets a ``-1``, ``-2``, ... suffix rather than being reused.
    """
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    name = f"{_sanitize(env_id)}__{_sanitize(exp_name)}__{int(seed)}__{stamp}"
    path, k = Path(root) / name, 0
    while path.exists():
        k += 1
        path = Path(root) / f"{name}-{k}"
    path.mkdir(parents=True)
    return path


def _flat_hparams(config: Mapping[str, Any] | Any) -> dict[str, Any]:
    """A dataclass or mapping as ``{name: value}``; values other than bool/int/float/str become ``str``."""
    items = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    out: dict[str, Any] = {}
    for key, value in items.items():
        out[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def hparams_table(config: Mapping[str, Any] | Any) -> str:
    """The hyperparameters as a two-column Markdown table."""
    rows = "\n".join(f"|{k}|{v}|" for k, v in _flat_hparams(config).items())
    return "|param|value|\n|-|-|\n" + rows


def write_hparams(writer: SummaryWriter, config: Mapping[str, Any] | Any,
                  metrics: Mapping[str, float] | None = None) -> None:
    """Record ``config`` as a table (TEXT tab, tag ``hyperparameters``) and with ``add_hparams``.

    ``metrics`` (e.g. final ``eval/mean_return``) link the run to results in the HPARAMS tab; they are
    written into the same run directory (``run_name="."``).
    """
    writer.add_text("hyperparameters", hparams_table(config))
    writer.add_hparams(_flat_hparams(config), dict(metrics or {}), run_name=".")
    writer.flush()


def make_writer(run_dir: str | Path, config: Mapping[str, Any] | Any | None = None) -> SummaryWriter:
    """A TensorBoard ``SummaryWriter`` on ``run_dir``, with ``config`` recorded by :func:`write_hparams`."""
    writer = SummaryWriter(log_dir=str(run_dir))
    if config is not None:
        write_hparams(writer, config)
    return writer


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (libraries still draw from the global generator)
    torch.manual_seed(seed)
