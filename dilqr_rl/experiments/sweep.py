"""Run a study's trials on Ray Tune: a new local Ray by default, a cluster with ``address``.

Ray Tune owns the scheduling (one trial per ``cpus_per_trial`` cores, torch threads set to match), failure
isolation (a failed trial becomes a row with its error; the others go on) and resumption (``Tuner.restore``:
finished trials are not run again, unfinished and failed ones are; a trial itself resumes from its last
checkpoint where it has one). Trials report their metrics and per-epoch history through Ray, so the summary
is written on the machine that ran the command even when trials ran elsewhere; each trial's TensorBoard
logs stay in its directory on the node that ran it.

Layout of ``out_dir``: ``results.csv``, ``summary.md`` and plots (the study's), ``histories.json.gz`` (every
finished trial's ``history.json``, what the summary reads when ``trials/`` is gone), ``sweep.json`` (the trial
list, checked on resume), ``trials/<trial_id>/`` (logs, ``history.json``, ``result.json``), ``data/`` (expert
plans shared by the trials) and ``ray/`` (Tune's state).
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import logging
import os
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from dilqr_rl.experiments.report import HISTORIES
from dilqr_rl.experiments.study import Row, Study, StudyOptions, TrialConfig

RESERVED = ("study", "trial_id", "study_module", "trial_dir", "data_dir", "threads", "cache_dir")
"""Config keys the sweep owns; all but the first two stay out of ``results.csv`` (where the trial ran)."""


class SweepError(ValueError):
    """A sweep cannot start as asked (a mismatching earlier sweep in the output folder, a bad option)."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep after its finished trials' rows, the summary and the plots were written;
    running the same sweep again resumes it (``out_dir``: its folder)."""

    def __init__(self, out_dir: Path, unfinished: int, total: int) -> None:
        super().__init__(f"{unfinished} of {total} trials did not finish; run the same sweep again to resume it "
                         f"(finished trials are kept in {out_dir})")
        self.out_dir = out_dir


def run_trial_local(study: Study, config: TrialConfig) -> dict[str, Any]:
    """Run one trial in this process (as Ray does in a worker) and return its metrics.

    With ``config["cache_dir"]`` a trial that another study already ran with the same trial function, the
    same settings, the same library source and the same versions of the libraries below it
    (:data:`KEYED_DISTRIBUTIONS`) is not run again: its result and history are copied.
    """
    import torch

    trial_dir = Path(config["trial_dir"])
    cached = Path(config["cache_dir"]) / trial_key(study, config) if config.get("cache_dir") else None
    if cached is not None and (cached / "result.json").is_file():
        trial_dir.mkdir(parents=True, exist_ok=True)
        for name in ("result.json", "history.json"):
            if (cached / name).is_file():
                shutil.copyfile(cached / name, trial_dir / name)
        (trial_dir / "CACHED").write_text(f"copied from {cached}\n")
        return json.loads((cached / "result.json").read_text())
    torch.set_num_threads(int(config.get("threads", 1)))
    metrics = study.run_trial(config, trial_dir)
    if cached is not None:
        cached.mkdir(parents=True, exist_ok=True)
        history = trial_dir / "history.json"
        if history.is_file():
            shutil.copyfile(history, cached / "history.json")
        (cached / "result.json").write_text(json.dumps(metrics, indent=1))  # last: marks the entry complete
    return metrics


_NOT_TRIAL_CODE = ("cli", "bench", "experiments")
"""Subpackages whose source does not change a trial's result (the trial function's own module aside)."""


@functools.cache
def _source_hash(trial_module: str) -> str:
    """A digest of the source a trial's result can depend on: the library outside the command line, the
    benchmarks and the studies' scheduling and summaries, plus the trial function's module."""
    import hashlib
    import importlib

    import dilqr_rl

    root = Path(dilqr_rl.__file__).parent
    files = [p for p in root.rglob("*.py") if p.relative_to(root).parts[0] not in _NOT_TRIAL_CODE]
    files.append(Path(importlib.import_module(trial_module).__file__))
    digest = hashlib.sha256()
    for path in sorted(set(files)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


KEYED_DISTRIBUTIONS = ("torch", "numpy", "gymnasium", "stable-baselines3", "mujoco")
"""The installed distributions whose versions are part of a trial's cache key (a new version can change a
trial's numbers)."""


def library_versions() -> dict[str, str | None]:
    """The installed version of each of :data:`KEYED_DISTRIBUTIONS` (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in KEYED_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def trial_key(study: Study, config: TrialConfig) -> str:
    """The cache key of a trial: its trial function, its settings (not where it runs), the source it can
    depend on (see :func:`_source_hash`) and the versions of the libraries it runs on (:func:`library_versions`)."""
    import hashlib

    settings = {k: v for k, v in config.items() if k not in RESERVED}
    function = f"{study.run_trial.__module__}.{study.run_trial.__qualname__}"
    text = json.dumps([function, settings, _source_hash(study.run_trial.__module__), library_versions()],
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _trainable(space: dict[str, TrialConfig]) -> dict[str, Any]:
    """Ray's entry point (``space["trial"]`` is the trial's config): the study's trial function, with the
    metrics and history as JSON strings."""
    import importlib

    config = space["trial"]
    metrics = run_trial_local(importlib.import_module(config["study_module"]).STUDY, config)
    history = Path(config["trial_dir"]) / "history.json"
    return {"metrics_json": json.dumps(metrics),
            "history_json": history.read_text() if history.is_file() else "{}"}


def prepare(study: Study, options: StudyOptions, out_dir: Path, threads: int,
            cache_dir: Path | None = None) -> list[TrialConfig]:
    """The study's trial configs with the sweep's keys filled in; checks ids are unique."""
    configs = study.trials(options)
    ids = [c["trial_id"] for c in configs]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise RuntimeError(f"study {study.name} lists duplicate trial ids: {duplicates}")
    out = []
    for c in configs:
        clash = set(c) & set(RESERVED[2:])
        if clash:
            raise RuntimeError(f"study {study.name}: trial configs must not set {sorted(clash)}")
        out.append({**c, "study": study.name, "study_module": study.module,
                    "trial_dir": str(out_dir / "trials" / c["trial_id"]),
                    "data_dir": str(out_dir / "data"), "threads": threads,
                    "cache_dir": str(cache_dir) if cache_dir else None})
    return out


def _check_same_sweep(out_dir: Path, configs: list[TrialConfig], fresh: bool) -> bool:
    """True if ``out_dir`` holds this very sweep (resume it); write ``sweep.json`` for a new one."""
    marker = out_dir / "sweep.json"
    listed = [{k: v for k, v in c.items() if k not in ("threads", "cache_dir")} for c in configs]
    if marker.is_file() and not fresh:
        earlier = json.loads(marker.read_text())
        if earlier != listed:
            raise SweepError(f"{out_dir} holds an earlier sweep with other trials (other --seeds, --quick or "
                             "--epochs?): pass --fresh to discard it, or --out another folder")
        return True
    if fresh and (out_dir / "ray").exists():
        shutil.rmtree(out_dir / "ray")
    out_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(listed, indent=1))
    return False


def _progress_callback(trial_dirs: list[str], enabled: bool):
    """A Tune callback drawing one progress bar over the trials (done, failed, last finished)."""
    from ray.tune import Callback

    class TrialProgress(Callback):
        """Picklable (Tune stores its callbacks for a restore): the bar is made at the experiment's start,
        counting the trials an earlier run already finished."""

        def __init__(self) -> None:
            self.trial_dirs, self.enabled, self.bar, self.failed = trial_dirs, enabled, None, 0

        def __getstate__(self) -> dict:
            return {**self.__dict__, "bar": None}

        def setup(self, **info) -> None:
            from tqdm.auto import tqdm

            done = sum((Path(d) / "result.json").is_file() for d in self.trial_dirs)
            self.bar = tqdm(total=len(self.trial_dirs), initial=done, desc="trials", unit="trial",
                            disable=not self.enabled, file=sys.stderr)

        def _finished(self, trial) -> None:
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(failed=self.failed, last=trial.config["trial"]["trial_id"])

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            self._finished(trial)

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            self.failed += 1
            self._finished(trial)

        def on_experiment_end(self, trials, **info) -> None:
            if self.bar is not None:
                self.bar.close()

    return TrialProgress()


def run_on_ray(configs: list[TrialConfig], out_dir: Path, address: str | None, cpus_per_trial: int,
               resume: bool, progress: bool, cpus: int | None = None) -> list[Row]:
    """Run ``configs`` as Ray Tune trials; return one row per trial (config, metrics, status, error).

    Without ``address`` a new local Ray is started, whatever cluster this machine knows of (``RAY_ADDRESS``,
    or the one Ray's last ``ray start`` left in its temp folder); ``address="auto"`` joins that cluster, any
    other address the cluster there. A Ray already initialized in this process is used as it is."""
    import ray
    from ray import tune

    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(address="local", num_cpus=cpus or os.cpu_count(), include_dashboard=False, **kwargs)
    try:
        storage = str((out_dir / "ray").resolve())
        trainable = tune.with_resources(_trainable, {"cpu": cpus_per_trial})
        callbacks = [_progress_callback([c["trial_dir"] for c in configs], progress)]
        experiment = Path(storage) / "sweep"
        if resume and tune.Tuner.can_restore(str(experiment)):
            tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, restart_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"trial": tune.grid_search(configs)},
                tune_config=tune.TuneConfig(trial_name_creator=_trial_name, trial_dirname_creator=_trial_name,
                                            reuse_actors=True),  # no new process (and imports) per trial
                run_config=tune.RunConfig(name="sweep", storage_path=storage, verbose=0, callbacks=callbacks,
                                          failure_config=tune.FailureConfig(max_failures=0)),
            )
        grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    return rows_from_results(list(grid), configs)


def rows_from_results(results: list, configs: list[TrialConfig]) -> list[Row]:
    """One row per trial of ``configs``, in their order, from the Tune results (``.config``, ``.error``,
    ``.metrics``): ``ok`` with the trial's metrics, ``error`` with its message, or ``unfinished`` (the sweep
    was stopped first). A result names its trial by its config; Tune gives none (``.config`` is None) for a
    trial that had not started when the sweep was stopped: that trial is unfinished."""
    by_id = {result.config["trial"]["trial_id"]: result for result in results if result.config}
    rows = []
    for config in configs:
        row: Row = {k: v for k, v in config.items() if k not in RESERVED[2:]}
        result = by_id.get(config["trial_id"])
        if result is not None and result.error is not None:
            row.update(status="error", error=_one_line(result.error))
        elif result is None or "metrics_json" not in (result.metrics or {}):
            row.update(status="unfinished", error="the sweep stopped before this trial finished")
        else:
            metrics = json.loads(result.metrics["metrics_json"])
            _store(Path(config["trial_dir"]), metrics, result.metrics.get("history_json", "{}"))
            row.update(metrics, status="ok", error="")
        rows.append(row)
    return rows


def _trial_name(trial) -> str:
    return trial.config["trial"]["trial_id"]


def _store(trial_dir: Path, metrics: dict[str, Any], history_json: str) -> None:
    """Keep the trial's metrics and history on this machine too (a cluster ran the trial elsewhere)."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    if not (trial_dir / "result.json").is_file():
        (trial_dir / "result.json").write_text(json.dumps(metrics, indent=1))
        (trial_dir / "history.json").write_text(history_json)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    last = [line for line in text if line.strip()][-1:] or [type(error).__name__]
    return f"{type(error).__name__}: {last[0].strip()}"[:300]


def write_histories(rows: list[Row], out_dir: Path) -> None:
    """``histories.json.gz``: {trial_id: history} of the finished trials, from their ``trials/<id>/history.json``
    (kept from an earlier archive where the trial folder is gone): the per-epoch curves the summary reads, small
    enough to keep with ``results.csv`` where the trial folders are not (floats to 7 significant digits, float32's
    precision: half the size; the summaries show 3)."""
    path = out_dir / HISTORIES
    histories = json.loads(gzip.decompress(path.read_bytes())) if path.is_file() else {}
    for row in rows:
        trial = out_dir / "trials" / row["trial_id"] / "history.json"
        if row.get("status") == "ok" and trial.is_file():
            histories[row["trial_id"]] = _rounded(json.loads(trial.read_text()))
    if histories:
        path.write_bytes(gzip.compress(json.dumps(histories, sort_keys=True).encode(), mtime=0))


def _rounded(value: Any) -> Any:
    """``value`` (JSON) with every float rounded to 7 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def write_results(rows: list[Row], path: Path) -> None:
    """``results.csv``: one row per trial; nested values (parameter dicts) as JSON."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()})


def read_results(path: Path) -> list[Row]:
    """Rows of a ``results.csv`` written by :func:`write_results` (numbers and JSON values parsed)."""
    def parse(value: str) -> Any:
        if value == "":
            return None
        if value in ("True", "False"):  # csv writes booleans as Python does
            return value == "True"
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value

    with path.open(newline="") as f:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def run_study(study: str | Study, options: StudyOptions | None = None, out_dir: str | Path | None = None,
              address: str | None = None, cpus_per_trial: int = 1, fresh: bool = False,
              progress: bool = True, cache_dir: str | Path | None = None, cpus: int | None = None) -> Path:
    """Run (or resume) a study (a name in ``STUDIES``, or a :class:`Study`) on Ray and write its results,
    summary and plots; return the output folder.

    ``out_dir`` defaults to ``runs/reproduce/<name>`` (``<name>-quick`` with ``options.quick``). With
    ``cache_dir``, trials that another study already ran identically are copied, not run again (see
    :func:`run_trial_local`). ``cpus`` caps the cores of a local Ray (default: all of them).
    """
    from dilqr_rl.experiments import get_study

    study = get_study(study) if isinstance(study, str) else study
    name = study.name
    options = options or StudyOptions()
    if cpus_per_trial < 1:
        raise SweepError(f"cpus_per_trial must be >= 1; got {cpus_per_trial}")
    out = Path(out_dir) if out_dir else Path("runs") / "reproduce" / (name + ("-quick" if options.quick else ""))
    configs = prepare(study, options, out.resolve(), cpus_per_trial,
                      Path(cache_dir).resolve() if cache_dir else None)
    resume = _check_same_sweep(out, configs, fresh)
    if resume:
        print(f"resuming the sweep in {out}: its finished trials are kept, not run again (fresh=True, --fresh on the "
              "command line, starts over)", file=sys.stderr)
    start = time.perf_counter()
    rows = run_on_ray(configs, out, address, cpus_per_trial, resume, progress, cpus)
    for row in rows:
        row["sweep_wall_time_s"] = time.perf_counter() - start
    write_results(rows, out / "results.csv")
    write_histories(rows, out)
    study.summarize(rows, out, options)
    unfinished = sum(r["status"] == "unfinished" for r in rows)
    if unfinished:  # Tune stopped on Ctrl-C; what finished is written, the rest resumes on a rerun
        raise SweepInterrupted(out, unfinished, len(rows))
    return out


def summarize_again(study: str | Study, out_dir: str | Path, options: StudyOptions | None = None) -> Path:
    """Rewrite a finished sweep's summary and plots from its ``results.csv`` and trial histories
    (``histories.json.gz``, first brought up to date from the trial folders where they are there; the summary
    says which histories are missing), without running anything (e.g. after changing the summary)."""
    from dilqr_rl.experiments import get_study

    study = get_study(study) if isinstance(study, str) else study
    out = Path(out_dir)
    if not (out / "results.csv").is_file():
        raise SweepError(f"{out} holds no results.csv: run the study first (dilqr-rl reproduce --name {study.name})")
    rows = read_results(out / "results.csv")
    write_histories(rows, out)
    study.summarize(rows, out, options or StudyOptions())
    return out
