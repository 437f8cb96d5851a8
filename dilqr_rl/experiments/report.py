"""Aggregates and figures shared by the studies' summaries: mean and standard error over seeds, Markdown
tables, learning curves with seed bands, per-parameter trajectories. Plots need matplotlib (the ``sweep``
extra); they are written as PNG without a display.

A trial's per-epoch curves (its history) come from the sweep's :data:`HISTORIES` (what is committed with
``results.csv``), else from ``trials/<id>/history.json``. A history found in neither is missing, never empty:
what is computed from it is left out (cells say :data:`MISSING`) and :func:`missing_inputs` says so in the
summary.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from dilqr_rl.experiments.study import Row, StudyOptions


def ok_rows(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if r.get("status") == "ok"]


def failures(rows: Iterable[Row]) -> str:
    """A Markdown section listing the trials that failed or did not finish (empty when there are none)."""
    bad = [r for r in rows if r.get("status") != "ok"]
    if not bad:
        return ""
    lines = "\n".join(f"- `{r['trial_id']}` ({r.get('status')}): {r.get('error', '')}" for r in bad)
    return (f"\n## Failed or unfinished trials ({len(bad)})\n\nThese are left out of every table and figure "
            f"above.\n\n{lines}\n")


def run_note(rows: Iterable[Row], options: StudyOptions, seeds: int, epochs: int | None = None) -> str:
    """The sentence that flags a run which is not the study's full version: ``--quick``, or fewer seeds or
    epochs than the study's defaults (read from the rows, so a rewritten summary keeps it). Empty for a
    full run."""
    if options.quick:
        return " QUICK RUN: tiny sizes, numbers mean nothing."
    rows = list(rows)
    ran_seeds = len({r["seed"] for r in rows})
    ran_epochs = sorted({int(r["epochs"]) for r in rows if r.get("epochs") is not None})
    reduced = []
    if ran_seeds < seeds:
        reduced.append(f"{ran_seeds} seeds instead of the study's {seeds}")
    if epochs is not None and ran_epochs and ran_epochs[0] < epochs:
        reduced.append(f"{ran_epochs[0]} epochs instead of the study's {epochs}")
    if not reduced:
        return ""
    return f" REDUCED RUN: {' and '.join(reduced)} (`--seeds`, `--epochs`), to fit the time available."


def evaluation_episodes(rows: Iterable[Row], episodes: int, seed: int) -> str:
    """"N episodes seeded A..B" as the rows ran them (their ``eval_episodes`` and ``eval_seed``); ``episodes`` and
    ``seed`` where no row says: a summary describes its results, not today's defaults."""
    ran = sorted({(r.get("eval_episodes", episodes), r.get("eval_seed", seed)) for r in rows}) or [(episodes, seed)]
    return "; ".join(f"{n} episodes seeded {s}..{s + n - 1}" for n, s in ran)


def mean_se(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, standard error of the mean (0 for one value) and count of the finite values."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return math.nan, math.nan, 0
    se = statistics.stdev(finite) / math.sqrt(len(finite)) if len(finite) > 1 else 0.0
    return statistics.fmean(finite), se, len(finite)


def fmt(mean: float, se: float, n: int, digits: int = 3) -> str:
    """``1.23e-04 ± 5.6e-06 (n=5)``."""
    if n == 0:
        return "n/a"
    return f"{mean:.{digits}g} ± {se:.2g} (n={n})"


def group(rows: Iterable[Row], *keys: str) -> dict[tuple, list[Row]]:
    """Rows grouped by the values of ``keys``, in first-seen order."""
    out: dict[tuple, list[Row]] = {}
    for r in rows:
        out.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return out


def table(headers: Sequence[str], lines: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    head = "| " + " | ".join(headers) + " |\n|" + "|".join("---" for _ in headers) + "|\n"
    return head + "".join("| " + " | ".join(str(c) for c in line) + " |\n" for line in lines)


HISTORIES = "histories.json.gz"
"""A sweep's archive of its finished trials' ``history.json`` ({trial_id: history}, floats to float32's 7
significant digits), kept with ``results.csv`` (the trial folders are not committed)."""

MISSING = "missing"
"""A summary's cell computed from histories that are all missing (see :func:`missing_inputs`)."""


def history(out_dir: Path, row: Row) -> dict[str, list[float]] | None:
    """The per-epoch curves a trial wrote: its entry in the sweep's :data:`HISTORIES` (so that a summary reads
    what is committed, whether the trial folders are there or not), else its ``trials/<id>/history.json``;
    None when neither has it (missing: not "no curves")."""
    archive = Path(out_dir) / HISTORIES
    kept = _read_archive(str(archive), archive.stat().st_mtime_ns).get(row["trial_id"]) if archive.is_file() else None
    path = Path(out_dir) / "trials" / row["trial_id"] / "history.json"
    if kept is None and path.is_file():
        return json.loads(path.read_text())
    return kept


@functools.lru_cache(maxsize=4)
def _read_archive(path: str, mtime_ns: int) -> dict[str, dict[str, list[float]]]:
    """The histories in a :data:`HISTORIES` file, read once per version of the file (callers only read them)."""
    return json.loads(gzip.decompress(Path(path).read_bytes()))


def present_curves(rows: Iterable[Row], out_dir: Path, key: str) -> list[list[float]]:
    """``history[key]`` (``[]`` where the trial did not log it) of each row whose history is not missing."""
    return [h.get(key, []) for r in rows if (h := history(out_dir, r)) is not None]


def curve_stat(curves: Sequence[Sequence[float]], stat: Callable[[Sequence[float]], float | None]) -> str:
    """:func:`fmt` of the mean and standard error of ``stat(curve)`` over ``curves``; :data:`MISSING` when there
    are none (their histories are missing)."""
    return fmt(*mean_se([stat(c) for c in curves])) if curves else MISSING


def missing_histories(rows: Iterable[Row], out_dir: Path) -> list[str]:
    """The ids of the finished trials whose history is missing (see :func:`history`)."""
    return [r["trial_id"] for r in ok_rows(rows) if history(out_dir, r) is None]


def missing_inputs(rows: Iterable[Row], out_dir: Path, uses: str, others: Sequence[str] = ()) -> str:
    """A Markdown section saying which finished trials' histories are missing and what the summary computes
    from them (``uses``, e.g. "the column ... and `model_loss.png`"), with ``others`` (sentences naming
    further missing inputs); empty when nothing is missing."""
    rows = list(rows)
    missing, n = missing_histories(rows, out_dir), len(ok_rows(rows))
    text = list(others)
    if missing:
        if len(missing) == n:
            which, effect = f"all {n} finished trials", f'left out ("{MISSING}" in the tables)'
        else:
            named = ", ".join(f"`{m}`" for m in missing[:10]) + (f" and {len(missing) - 10} more"
                                                                 if len(missing) > 10 else "")
            which, effect = f"{len(missing)} of the {n} finished trials ({named})", "computed from the others only"
        text.insert(0, f"The per-epoch histories of {which} are missing: neither their `trials/<id>/history.json` "
                       f"nor `{HISTORIES}` holds them. What this summary computes from them is {effect}: {uses}.")
    if not text:
        return ""
    return ("\n## Missing inputs\n\n" + "\n\n".join(text) + "\n\nA figure with nothing left to draw is not "
            "redrawn: a figure of that name in this folder comes from an earlier summary written here.\n")


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def _band(ax, runs: list[list[float]], label: str, alpha: float) -> None:
    """Plot the per-epoch mean over ``runs`` (truncated to the shortest) with a one-standard-error band."""
    runs = [r for r in runs if r]
    if not runs:
        return
    length = min(len(r) for r in runs)
    columns = list(zip(*[r[:length] for r in runs]))
    mean = [statistics.fmean(c) for c in columns]
    se = [statistics.stdev(c) / math.sqrt(len(c)) if len(c) > 1 else 0.0 for c in columns]
    epochs = range(1, length + 1)
    ax.plot(epochs, mean, label=label)
    ax.fill_between(epochs, [m - s for m, s in zip(mean, se)], [m + s for m, s in zip(mean, se)], alpha=alpha)


def plot_curves(curves: dict[str, list[list[float]]], path: Path, ylabel: str, title: str,
                logy: bool = True, reference: dict[str, float] | None = None) -> Path | None:
    """One line per label: the mean over seeds with a band of one standard error; ``reference`` draws
    dashed horizontal lines (e.g. the truth). Nothing is written (None) when no curve has a value."""
    if not any(run for runs in curves.values() for run in runs):
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, runs in curves.items():
        n = len([r for r in runs if r])
        _band(ax, runs, f"{label} (n={n})", alpha=0.25)
    for label, value in (reference or {}).items():
        ax.axhline(value, ls="--", color="k", lw=0.8, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return save(fig, path)


def plot_parameters(per_method: dict[str, dict[str, list[list[float]]]], truth: dict[str, float], path: Path,
                    title: str) -> Path | None:
    """One panel per parameter: each method's mean trajectory over seeds (band: standard error), the truth
    dashed. Nothing is written (None) when no trajectory has a value."""
    if not any(run for params in per_method.values() for runs in params.values() for run in runs):
        return None
    plt = pyplot()
    names = list(truth)
    cols = min(4, len(names))
    rows_ = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(3.2 * cols, 2.6 * rows_), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for method, params in per_method.items():
            _band(ax, params.get(name, []), method, alpha=0.2)
        ax.axhline(truth[name], ls="--", color="k", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if axes.flat[0].get_legend_handles_labels()[0]:
        axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


def curves_by(rows: Iterable[Row], out_dir: Path, label: Callable[[Row], str], key: str) -> dict[str, list]:
    """{label(row): [history[key] per trial]} over the ok rows whose history is not missing."""
    out: dict[str, list] = {}
    for r in ok_rows(rows):
        out.setdefault(label(r), []).extend(present_curves([r], out_dir, key))
    return out


def parameter_histories(rows: Iterable[Row], out_dir: Path, label: Callable[[Row], str], names: Sequence[str]
                        ) -> dict[str, dict[str, list[list[float]]]]:
    """{label: {parameter: [trajectory per trial]}} from the ``param/<name>`` curves (of the trials whose
    history is not missing)."""
    out: dict[str, dict[str, list[list[float]]]] = {}
    for r in ok_rows(rows):
        h = history(out_dir, r)
        per = out.setdefault(label(r), {})
        if h is None:
            continue
        for name in names:
            per.setdefault(name, []).append(h.get(f"param/{name}", []))
    return out


def timing_table(rows: Iterable[Row], label: Callable[[Row], str]) -> str:
    """Seconds per training epoch (median within each trial; mean ± SE over trials) and wall time."""
    lines = []
    for name, group_rows in group_by_label(ok_rows(rows), label).items():
        per_epoch = mean_se([r.get("epoch_seconds_median") for r in group_rows])
        wall = mean_se([r.get("wall_time_s") for r in group_rows])
        lines.append([name, fmt(*per_epoch), fmt(*wall), group_rows[0].get("epochs")])
    return table(["method", "s per epoch (1 CPU thread)", "trial wall time s (since its last resume)", "epochs"],
                 lines)


def group_by_label(rows: Iterable[Row], label: Callable[[Row], str]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in rows:
        out.setdefault(label(r), []).append(r)
    return out


def tail_median(curve: Sequence[float], last: int = 50) -> float:
    """The median of the last ``last`` values of a per-epoch curve: the level it settled at, without the
    epoch-to-epoch jitter of a constant learning rate."""
    return statistics.median(curve[-last:]) if curve else math.nan


def lowest(curve: Sequence[float]) -> float:
    """The lowest value of a per-epoch curve (nan for an empty one)."""
    return min(curve) if curve else math.nan


def first_below(curve: Sequence[float], threshold: float) -> int | None:
    """The first epoch (1-based) at which ``curve`` is below ``threshold``; None if never."""
    return next((i + 1 for i, v in enumerate(curve) if v < threshold), None)


def paired_ratios(rows: Iterable[Row], key: str, method_a: str, method_b: str, pair: Sequence[str]
                  ) -> tuple[float, int, int]:
    """Trials of the two methods paired on ``pair`` (e.g. system, n_train, seed: the same data): the
    geometric mean of key(a) / key(b), the pairs where a is lower, and the number of pairs."""
    by = {(r["method"], *(r[k] for k in pair)): r[key] for r in rows if r.get(key) is not None}
    logs, wins = [], 0
    for (method, *rest), value in by.items():
        other = by.get((method_b, *rest))
        if method == method_a and other is not None and value > 0 and other > 0:
            logs.append(math.log(value / other))
            wins += value < other
    return (math.exp(statistics.fmean(logs)) if logs else math.nan), wins, len(logs)


def paired_line(rows: Iterable[Row], key: str, what: str, method_a: str, method_b: str, name_a: str, name_b: str,
                fmt: str = ".3g", pair: Sequence[str] = ("seed",)) -> str | None:
    """A Markdown bullet with :func:`paired_ratios` of ``key`` for two methods (None when no trials pair up):
    ``- what: A / B **ratio** (geometric mean over seeds; A lower in k of n)``."""
    ratio, wins, pairs = paired_ratios(rows, key, method_a, method_b, pair)
    if not pairs:
        return None
    return (f"- {what}: {name_a} / {name_b} **{ratio:{fmt}}** (geometric mean over seeds; {name_a} lower in {wins} "
            f"of {pairs})")


def nonphysical_table(rows: Iterable[Row], out_dir: Path, label: Callable[[Row], str], names: Sequence[str]) -> str:
    """Per method and parameter: trials in which the parameter was ever <= 0, and the mean first and last
    epoch at which it was (over the trials whose history is not missing; "not known" when all are)."""
    lines = []
    known = [r for r in ok_rows(rows) if history(out_dir, r) is not None]
    if ok_rows(rows) and not known:
        return "Not known: the trials' histories are missing (see Missing inputs below).\n"
    for name_label, group in group_by_label(known, label).items():
        for name in names:
            spans = []
            for r in group:
                curve = history(out_dir, r).get(f"param/{name}", [])
                bad = [i + 1 for i, v in enumerate(curve) if v <= 0]
                if bad:
                    spans.append((bad[0], bad[-1]))
            if spans:
                lines.append([name_label, name, f"{len(spans)}/{len(group)}",
                              f"{statistics.fmean(s[0] for s in spans):.0f}",
                              f"{statistics.fmean(s[1] for s in spans):.0f}"])
    if not lines:
        return "No learned parameter was ever <= 0.\n"
    return table(["method", "parameter", "trials with values <= 0", "first such epoch (mean)",
                  "last such epoch (mean)"], lines)
