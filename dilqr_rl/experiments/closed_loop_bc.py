"""``closed-loop-bc``: return in the env against the number of expert demonstrations (issue 16, section 3).

Policies DiLQR (the env's DiLQR actor from its registered wrong physics), MLP and LSTM (over the observation
history); methods BC and DAgger at the same number of expert labels
(:func:`~dilqr_rl.experiments.closed_loop_bc_trial.dagger_schedule`); envs ``Pendulum-v1``,
``dilqr_rl/CartpoleSwingUp-v0`` and ``InvertedPendulum-v5``. The return is normalised (0: a random policy, 1: the
expert) on 20 seeded evaluation episodes. The pixel pendulum is the ``pixel-bc`` study's.

The grid is a named choice (:data:`GRIDS`, ``--grid``): ``full`` is the issue's (6 sizes x 3 policies x 2
methods x 3 envs x 5 seeds); ``reduced`` is what the committed run made on 2 CPU cores, every cut stated in its
``Grid.note`` and in the summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dilqr_rl.experiments import report
from dilqr_rl.experiments.closed_loop_bc_trial import METHODS, run_closed_loop_bc_trial
from dilqr_rl.experiments.study import Row, Study, StudyOptions, trial_id

ENVS = ("Pendulum-v1", "dilqr_rl/CartpoleSwingUp-v0", "InvertedPendulum-v5")
POLICIES = ("dilqr", "mlp", "lstm")
LABELS = {"dilqr": "DiLQR", "mlp": "MLP", "lstm": "LSTM", "bc": "BC", "dagger": "DAgger"}
SIZES = (1, 2, 5, 10, 20, 50)
TARGET = 0.95
EVAL_EPISODES, EVAL_SEED = 20, 1000


@dataclass(frozen=True)
class Grid:
    """Which trials a run makes: per env, the numbers of demonstrations of BC and of DAgger, and the seeds."""

    bc_sizes: dict[str, tuple[int, ...]]
    """env -> numbers of demonstrations of the BC trials."""
    dagger_sizes: dict[str, tuple[int, ...]]
    """env -> budgets (episodes of expert labels) of the DAgger trials; 1 has no room for a round."""
    seeds: int
    note: str
    """What the grid cuts against the issue's, and why (copied into the summary)."""
    seeds_by_env: dict[str, int] = field(default_factory=dict)
    """env -> seeds where fewer than ``seeds``."""
    policies_by_size: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=dict)
    """env -> {size: policies} where not all policies run at a size."""


GRIDS: dict[str, Grid] = {
    "full": Grid({env: SIZES for env in ENVS}, {env: SIZES[1:] for env in ENVS}, 5,
                 "the issue's grid: every env, size, policy and method, 5 seeds"),
    "reduced": Grid(
        bc_sizes={"Pendulum-v1": SIZES, "dilqr_rl/CartpoleSwingUp-v0": SIZES[:-1], "InvertedPendulum-v5": SIZES[:-1]},
        dagger_sizes={"Pendulum-v1": (2, 5, 10), "dilqr_rl/CartpoleSwingUp-v0": (5,)},
        seeds=3,
        policies_by_size={"dilqr_rl/CartpoleSwingUp-v0": {n: ("mlp", "lstm") for n in (10, 20)},
                          "InvertedPendulum-v5": {n: ("mlp", "lstm") for n in (5, 10, 20)}},
        note=("3 seeds instead of 5; BC at every size on Pendulum-v1 and at 1-20 demonstrations on the cart-pole "
              "and InvertedPendulum-v5 (episodes of 500 and 1000 steps), where the DiLQR actor runs at 1-5 and "
              "1-2 demonstrations only; DAgger at budgets {2, 5, 10} on Pendulum-v1 and 5 on the cart-pole, none "
              "on InvertedPendulum-v5. Why: the run had to fit about 30 minutes of 2 CPU cores (the committed run: "
              "165 trials in 33 minutes, one launch, at commit b34c986, sharing the cores with a pixel-bc run); "
              "`--grid full` runs the issue's grid"),
    ),
}
"""Named grids (``--grid``; None: ``full``)."""
QUICK = {"max_steps": 20, "eval_episodes": 2, "epochs": 2}
"""``--quick``: episodes of 20 steps, 2 evaluation episodes, 2 epochs (per DAgger round)."""
QUICK_GRID = Grid({"Pendulum-v1": (1, 2)}, {"Pendulum-v1": (2,)}, 1, "quick: every code path in seconds")


def grid(options: StudyOptions) -> tuple[str, Grid]:
    if options.quick:
        return "quick", QUICK_GRID
    name = options.grid or "full"
    if name not in GRIDS:
        raise ValueError(f"closed-loop-bc has no grid {name!r}; valid: {list(GRIDS)}")
    return name, GRIDS[name]


def trials(options: StudyOptions) -> list[dict[str, Any]]:
    name, g = grid(options)
    base = {"eval_episodes": EVAL_EPISODES, "eval_seed": EVAL_SEED, "max_steps": None, "epochs": options.epochs,
            "grid": name, **(QUICK if options.quick else {})}
    configs = []
    for seed in range(options.seeds or g.seeds):  # seed outermost: a sweep cut short still has every size
        for env in g.bc_sizes:
            if seed >= (options.seeds or g.seeds_by_env.get(env, g.seeds)):
                continue
            n_data = max((*g.bc_sizes[env], *g.dagger_sizes.get(env, ())))
            for method, sizes in (("bc", g.bc_sizes[env]), ("dagger", g.dagger_sizes.get(env, ()))):
                for n in sizes:
                    for policy in g.policies_by_size.get(env, {}).get(n, POLICIES):
                        # the DiLQR actor's wrong start is the same in every trial: its return is measured once
                        untrained = policy == "dilqr" and method == "bc" and seed == 0 and n == min(sizes)
                        configs.append({**base, "env_id": env, "policy": policy, "method": method, "n_demos": n,
                                        "n_data": n_data, "seed": seed, "evaluate_untrained": untrained,
                                        "trial_id": trial_id(env, policy, method, n, seed)})
    return configs


def _curves(ok: list[Row]) -> dict[tuple[str, str, str], dict[int, tuple[float, float, int]]]:
    """(env, policy, method) -> {n: mean, SE, count of the normalised return over seeds}."""
    out: dict[tuple[str, str, str], dict[int, tuple[float, float, int]]] = {}
    for (env, policy, method, n), rows in report.group(ok, "env_id", "policy", "method", "n_demos").items():
        out.setdefault((env, policy, method), {})[n] = report.mean_se([r["normalized_return"] for r in rows])
    return dict(sorted(out.items(), key=lambda kv: (ENVS.index(kv[0][0]), POLICIES.index(kv[0][1]),
                                                    METHODS.index(kv[0][2]))))


def _label(policy: str, method: str) -> str:
    return f"{LABELS[policy]} {LABELS[method]}"


def _return_table(curves: dict, sizes: list[int]) -> str:
    lines = [[env, _label(policy, method), *(report.fmt(*points[n], digits=2) if n in points else "-" for n in sizes)]
             for (env, policy, method), points in curves.items()]
    return report.table(["env", "policy", *(f"{n} demos" for n in sizes)], lines)


def _reach(points: dict[int, tuple[float, float, int]]) -> str:
    """The first n whose mean reaches the target, and, where it dips below again at a larger n, the n from which
    it stays there (or that it never does)."""
    ns = sorted(n for n, p in points.items() if p[2])
    hit = [n for n in ns if points[n][0] >= TARGET]
    if not hit:
        return f"> {max(ns)} (best {max(points[n][0] for n in ns):.2f})"
    stays = [n for n in ns if all(points[m][0] >= TARGET for m in ns if m >= n)]
    if stays and stays[0] == hit[0]:
        return str(hit[0])
    dips = ", ".join(f"{points[m][0]:.2f} at {m}" for m in ns if m > hit[0] and points[m][0] < TARGET)
    return f"{hit[0]} ({dips}; " + (f"stays from {stays[0]})" if stays else "not at the largest n)")


def _reach_table(curves: dict) -> str:
    lines = []
    for env in ENVS:
        for method in METHODS:
            cells = [_reach(curves[env, p, method]) if (env, p, method) in curves else "-" for p in POLICIES]
            if any(c != "-" for c in cells):
                lines.append([env, LABELS[method], *cells])
    return report.table(["env", "method", *(LABELS[p] for p in POLICIES)], lines)


def _physics_table(ok: list[Row]) -> str:
    lines = []
    for (env, method, n), rows in report.group([r for r in ok if r["policy"] == "dilqr"], "env_id", "method",
                                               "n_demos").items():
        names = list(rows[0]["physics_true"])
        truth, start = rows[0]["physics_true"], rows[0]["physics_start"]
        cells = []
        for name in names:
            learned = report.mean_se([r["physics_learned"][name] for r in rows])
            cells.append(f"{name} {learned[0]:.3g} ± {learned[1]:.2g} (true {truth[name]:.3g}, start "
                         f"{start[name]:.3g})")
        if {"mass", "length", "gravity"} <= set(names):
            for what, f in (("3g/(2l)", lambda p: 1.5 * p["gravity"] / p["length"]),
                            ("3/(m l^2)", lambda p: 3.0 / (p["mass"] * p["length"] ** 2))):
                learned = report.mean_se([f(r["physics_learned"]) for r in rows])
                cells.append(f"**{what} {learned[0]:.3g} ± {learned[1]:.2g}** (true {f(truth):.3g}, start "
                             f"{f(start):.3g})")
        lines.append([env, LABELS[method], n, "; ".join(cells)])
    return report.table(["env", "method", "demos", "learned physics, mean ± SE over seeds"], lines)


def _time_table(ok: list[Row]) -> str:
    lines = []
    for (env, policy, method), rows in report.group(ok, "env_id", "policy", "method").items():
        by_n = report.group(rows, "n_demos")
        cells = ", ".join(f"{n}: {report.mean_se([r['train_seconds'] for r in rs])[0]:.0f}"
                          for (n,), rs in sorted(by_n.items()))
        wall = report.mean_se([r["wall_seconds"] for r in rows])[0]
        lines.append([env, _label(policy, method), cells, f"{wall:.0f}"])
    return report.table(["env", "policy", "train seconds by demos (mean over seeds)", "trial wall s (mean)"], lines)


def _ran_table(ok: list[Row]) -> str:
    """What finished: per env, method and policy the numbers of demonstrations with their count of seeds."""
    lines = []
    for (env, policy, method), rows in sorted(report.group(ok, "env_id", "policy", "method").items(),
                                              key=lambda kv: (ENVS.index(kv[0][0]), METHODS.index(kv[0][2]),
                                                              POLICIES.index(kv[0][1]))):
        by_n = report.group(rows, "n_demos")
        lines.append([env, _label(policy, method), ", ".join(f"{n} ({len(rs)})" for (n,), rs in sorted(by_n.items()))])
    return report.table(["env", "policy", "demonstrations (seeds)"], lines)


def _untrained(ok: list[Row]) -> str:
    parts = []
    for (env,), rows in report.group([r for r in ok if r.get("normalized_untrained") is not None], "env_id").items():
        parts.append(f"{env} {report.mean_se([r['normalized_untrained'] for r in rows])[0]:.2f}")
    return "; ".join(parts) or "n/a"


def _plot(curves: dict, path: Path) -> None:
    plt = report.pyplot()
    envs = [env for env in ENVS if any(key[0] == env for key in curves)]
    fig, axes = plt.subplots(1, max(len(envs), 1), figsize=(4.6 * max(len(envs), 1), 3.8), squeeze=False)
    colors = {"dilqr": "C0", "mlp": "C1", "lstm": "C2"}
    for ax, env in zip(axes[0], envs):
        for (e, policy, method), points in curves.items():
            if e != env:
                continue
            ns = sorted(n for n in points if points[n][2])
            mean = [points[n][0] for n in ns]
            se = [points[n][1] for n in ns]
            style = "-" if method == "bc" else "--"
            ax.plot(ns, mean, style, marker="o" if method == "bc" else "s", color=colors[policy], ms=4,
                    label=_label(policy, method))
            ax.fill_between(ns, [m - s for m, s in zip(mean, se)], [m + s for m, s in zip(mean, se)],
                            color=colors[policy], alpha=0.15)
        ax.axhline(1.0, color="k", lw=0.8, label="expert")
        ax.axhline(TARGET, color="k", lw=0.6, ls=":", label=f"{TARGET}")
        ax.set_xscale("log")
        ax.set_xticks(SIZES, [str(n) for n in SIZES])
        lowest = min((p[0] for (e, _, _), points in curves.items() if e == env for p in points.values() if p[2]),
                     default=0.0)
        ax.set_ylim(min(-0.3, lowest - 0.1), 1.1)
        ax.set_xlabel("expert episodes (demonstrations; DAgger: same labels)")
        ax.set_title(env, fontsize=9)
    axes[0][0].set_ylabel("normalised return (0 random, 1 expert)")
    handles = {}
    for ax in axes[0]:  # every panel's lines in one legend (an env may lack some policy or method)
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    axes[0][-1].legend(handles.values(), handles.keys(), fontsize=7, loc="lower right")
    report.save(fig, path)


def _recorded(row: Row, key: str) -> Any:
    value = row.get(key)
    return None if value is None or value == "" or (isinstance(value, float) and math.isnan(value)) else value


def _training(ok: list[Row]) -> str:
    """Each policy's epochs (and the DiLQR loss) as its trials recorded them (results.csv's ``epochs_trained`` and
    ``loss``); "?" for rows from before the trials recorded them."""
    parts = []
    for policy in POLICIES:
        rows = [r for r in ok if r["policy"] == policy]
        if not rows:
            continue
        epochs = sorted({str(_recorded(r, "epochs_trained") or _recorded(r, "epochs") or "?") for r in rows})
        text = f"{LABELS[policy]} {'/'.join(epochs)} epochs"
        if policy == "dilqr":
            text += f" (loss {'/'.join(sorted({str(_recorded(r, 'loss') or '?') for r in rows}))})"
        parts.append(text)
    return ", ".join(parts) or "no trial finished"


def summarize(rows: list[Row], out_dir: Path, options: StudyOptions) -> None:
    ok = report.ok_rows(rows)
    names = sorted({r["grid"] for r in rows}) or [grid(options)[0]]
    g = QUICK_GRID if names == ["quick"] else GRIDS.get(names[0], QUICK_GRID)
    curves = _curves(ok)
    sizes = sorted({r["n_demos"] for r in ok})
    _plot(curves, out_dir / "return_vs_demos.png")
    seeds = sorted({r["seed"] for r in ok})
    references = "; ".join(f"{env}: random {rs[0]['random_return']:.1f}, expert {rs[0]['expert_return']:.1f}"
                           for (env,), rs in report.group(ok, "env_id").items())
    epochs = _training(ok)
    text = f"""# closed-loop-bc: return against the number of expert demonstrations

{"QUICK RUN: tiny sizes, numbers mean nothing. " if options.quick else ""}Grid `{", ".join(names)}`: {g.note}.
Trials: {len(rows)} ({len(ok)} ok), seeds {seeds}.

Each trial clones one policy in one env: DiLQR (the env's DiLQR actor, its physics from the env's registered wrong
start `model_error`, given in the physics table below: mass, length and gravity 30% off on Pendulum-v1, the masses
and the length 30% off on the cart-pole (its gravity kept), the length x3 on InvertedPendulum-v5), MLP, or LSTM
over the observation history, each with its kind's defaults
({epochs}; the best validation epoch kept). BC trains on n expert episodes
(seeds 100 s .. 100 s + n - 1 for seed s; a single demonstration is cut into 5 consecutive pieces so that one can be
held out for the validation). DAgger has the same number of expert labels: at a budget of n episodes it clones n - R
E demonstrations, then runs R <= 4 rounds of E learner episodes (the expert acting with probability 0.5^k in round
k), and the expert labels every state visited (about half of the budget; n = 1 leaves no room for a round, so DAgger
starts at 2). The envs of fixed length (Pendulum-v1 200 steps, the cart-pole 500) give exactly n T labels either
way. In InvertedPendulum-v5 a learner's episode ends when the pole falls, so DAgger may get fewer labels
(`expert_labels` in results.csv). The return is the mean over the evaluation's
{report.evaluation_episodes(ok, EVAL_EPISODES, EVAL_SEED)}, normalised to 0 for a random policy and 1 for the
expert on the same episodes ({references}). Mean ± standard error over seeds.

The pixel pendulum (`dilqr_rl/PixelPendulum-v0`) is not part of this study; see `pixel-bc`.

Trials that finished:

{_ran_table(ok)}
## Normalised return against demonstrations

{_return_table(curves, sizes)}
Figure: `return_vs_demos.png` (one panel per env, band: ± 1 SE over seeds).

## Fewest demonstrations to reach {TARGET} normalised

The smallest n of the grid at which the mean over seeds is >= {TARGET} ("> N": not reached at any n run, with the
best mean; where the mean dips below again at a larger n, the dips and the n from which it stays). The issue's
targets: DiLQR >= {TARGET} from <= 5 demonstrations, from 30%-wrong physics; the MLP and the LSTM are expected to
need >= 10x more.

{_reach_table(curves)}
The untrained DiLQR actor (its wrong start, measured once per env): {_untrained(ok)} normalised.

## Learned physics against the truth (DiLQR)

The pendulum's dynamics depend on its parameters only through 3g/(2l) and 3/(m l^2), so these two (bold) are what
imitation can identify; the raw mass, length and gravity are not identifiable. InvertedPendulum-v5's physics (MuJoCo)
are outside the model class: its "true" values are the registered cart-pole model its expert plans with.

{_physics_table(ok)}
## Training time

Training seconds (the DAgger rounds' training summed; DAgger's labelling and the evaluations are in the trial's
wall time), one torch thread per trial, two trials at a time on 2 CPU cores shared with other jobs.

{_time_table(ok)}
{report.failures(rows)}"""
    (out_dir / "summary.md").write_text(text)


STUDY = Study("closed-loop-bc", "issue 16: return against demonstrations of DiLQR, MLP and LSTM clones (BC, DAgger)",
              trials, run_closed_loop_bc_trial, summarize, __name__)
