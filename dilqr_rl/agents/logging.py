"""Run directories and TensorBoard hyperparameter tables, shared by every trainer.

Conventions (cleanrl's): one directory per run, ``runs/{env_id}__{exp_name}__{seed}__{unix_time}``;
hyperparameters written to TensorBoard as a Markdown table (TEXT tab) and through ``add_hparams`` (HPARAMS
tab); scalar keys namespaced by one of :data:`SCALAR_NAMESPACES`. Seeding is SB3's
``stable_baselines3.common.utils.set_random_seed``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

SCALAR_NAMESPACES: tuple[str, ...] = ("train/", "rollout/", "eval/", "ilqr/", "bc/", "param/")
"""Prefixes of the scalar keys trainers log; ``param/<name>`` is a physical parameter of a learned model
(one name per parameter, whichever trainer learns it)."""


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


def flat_hparams(config: Mapping[str, Any] | Any) -> dict[str, Any]:
    """A dataclass or mapping as ``{name: value}``; values other than bool/int/float/str become ``str``."""
    items = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    out: dict[str, Any] = {}
    for key, value in items.items():
        out[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def hparams_table(config: Mapping[str, Any] | Any) -> str:
    """The hyperparameters as a two-column Markdown table."""
    rows = "\n".join(f"|{k}|{v}|" for k, v in flat_hparams(config).items())
    return "|param|value|\n|-|-|\n" + rows


def write_hparams(writer: SummaryWriter, config: Mapping[str, Any] | Any,
                  metrics: Mapping[str, float] | None = None) -> None:
    """Record ``config`` as a table (TEXT tab, tag ``hyperparameters``) and with ``add_hparams``.

    ``metrics`` (e.g. ``eval/mean_return``) link the run to results in the HPARAMS tab. Everything goes to
    the writer's own events file (``SummaryWriter.add_hparams`` would open a second one), as SB3's
    TensorBoard logger does.
    """
    writer.add_text("hyperparameters", hparams_table(config))
    experiment, session_start, session_end = hparams(flat_hparams(config), dict(metrics or {"eval/mean_return": 0.0}))
    for summary in (experiment, session_start, session_end):
        writer.file_writer.add_summary(summary)
    writer.flush()


def make_writer(run_dir: str | Path, config: Mapping[str, Any] | Any | None = None) -> SummaryWriter:
    """A TensorBoard ``SummaryWriter`` on ``run_dir``, with ``config`` recorded by :func:`write_hparams`."""
    writer = SummaryWriter(log_dir=str(run_dir))
    if config is not None:
        write_hparams(writer, config)
    return writer



class StepHistory:
    """Averages of per-step scalars over blocks of ``every`` steps: ``add(step, scalars, extra)`` accumulates;
    at every ``every``-th step and at ``last`` the averages (and ``extra``, logged as they are) go to
    ``history`` (name -> list) and to TensorBoard at that step. A scalar given on only some steps of a block
    (a loss term that starts or stops inside it) is averaged over those steps; a name appears in a block's
    entry only if it was given in that block."""

    def __init__(self, every: int, last: int, writer: SummaryWriter | None = None) -> None:
        self.every, self.last, self.writer = int(every), int(last), writer
        self.history: dict[str, list[float]] = {}
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, step: int, scalars: Mapping[str, float], extra: Mapping[str, float] | None = None) -> None:
        for name, value in scalars.items():
            self._sums[name] = self._sums.get(name, 0.0) + float(value)
            self._counts[name] = self._counts.get(name, 0) + 1
        if step % self.every and step != self.last:
            return
        entry = {name: total / self._counts[name] for name, total in self._sums.items()}
        entry.update(extra or {})
        for name, value in entry.items():
            self.history.setdefault(name, []).append(float(value))
            if self.writer is not None:
                self.writer.add_scalar(name, value, step)
        self._sums, self._counts = {}, {}


def read_run_config(run_dir: str | Path, config_type: type, file: str, run_kind: str) -> Any:
    """The ``config_type`` dataclass a run folder was started with (its JSON ``file``): unknown keys dropped, lists
    made tuples; ``FileNotFoundError`` naming ``run_kind`` when the folder has no such file."""
    path = Path(run_dir) / file
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no {file}: it is not the folder of {run_kind}")
    stored = json.loads(path.read_text())
    known = {f.name for f in dataclasses.fields(config_type)}
    return config_type(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in known})
