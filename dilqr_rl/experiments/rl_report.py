"""The ``rl`` study's summary: ``summary.md`` (targets, returns, env steps to 0.9, learned physics, speed,
robustness) and ``return_vs_steps.png``, computed from ``results.csv`` and the trials' histories."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dilqr_rl.experiments import report
from dilqr_rl.experiments.study import Row, StudyOptions

LABELS = {"dilqr": "DiLQR (physics)", "dilqr+cost-map": "DiLQR (physics + cost map)",
          "dilqr+sysid": "DiLQR (physics by SysId)", "mlp": "MLP"}
COLORS = {"dilqr": "tab:orange", "dilqr+cost-map": "tab:purple", "dilqr+sysid": "tab:blue", "mlp": "tab:green"}
ZOO_REFERENCES: dict[str, dict[str, float]] = {
    "Pendulum-v1": {"rl-zoo3 TD3 (20k)": -152.0, "rl-zoo3 SAC (20k)": -157.0, "rl-zoo3 PPO (100k)": -172.0,
                    "rl-zoo3 A2C (1M)": -163.0},
    "InvertedPendulum-v5": {"rl-zoo3 PPO (max)": 1000.0},
}
"""rl-zoo3's published returns (as issue 15 quotes them), drawn as reference lines."""
OFF_POLICY = """Off-policy algorithm: TD3 on every env, learning from 1,000 env steps for both actors (rl-zoo3's
Pendulum-v1 entry waits 10,000, the whole budget there). Not SAC: SAC's actor loss alpha log pi - Q rewards a
squashed Gaussian for keeping its mean near the middle of the action range (d(alpha log pi)/d mu = 2 alpha
tanh(x)), and a DiLQR actor can move its plan's first control only through its model, so the entropy term drags
the physics toward a model in which control is strong and small controls suffice. Measured on Pendulum-v1 (seed
0, the default wrong start, 4,000 warm-up steps, development runs): SAC took the pole length 0.7 -> 0.45 and the
mass 1.3 -> 0.86 by 6,000 steps and the normalised return 0.478 -> 0.243 -> -0.306 (8,000 steps); TD3, the same
set-up, 0.478 -> 0.990 by 6,000 steps, and 0.990 at 10,000."""
"""Why the study's off-policy algorithm is TD3 (the summary quotes it)."""
PENDULUM_TARGET, PENDULUM_BUDGET = -155.0, 10_000
INVERTED_TARGET, INVERTED_BUDGET = 1000.0, 5_000
CARTPOLE_TARGET = 0.9
SETTINGS = ("nominal", "x0.7", "x1.3", "wide")


def _cells(ok: list[Row]) -> dict[tuple[str, str], dict[str, list[Row]]]:
    """{(env, algo): {actor: rows}} in first-seen order."""
    out: dict[tuple[str, str], dict[str, list[Row]]] = {}
    for r in ok:
        out.setdefault((r["env_id"], r["algo"]), {}).setdefault(r["actor"], []).append(r)
    return out


def _ms(values: list[Any], digits: int = 4) -> str:
    return report.fmt(*report.mean_se(values), digits=digits)


def _curve(rows: list[Row], out_dir: Path, key: str) -> tuple[list[float], list[float], list[float]]:
    """Mean and standard error over seeds of ``history[key]`` at the env steps every seed evaluated."""
    histories = [h for r in rows if (h := report.history(out_dir, r)) is not None and h.get(key)]
    if not histories:
        return [], [], []
    common = sorted(set.intersection(*(set(h["timesteps"]) for h in histories)))
    values = [[h[key][h["timesteps"].index(t)] for h in histories] for t in common]
    se = [statistics.stdev(v) / math.sqrt(len(v)) if len(v) > 1 else 0.0 for v in values]
    return common, [statistics.fmean(v) for v in values], se


def _plot(cells: dict, out_dir: Path) -> None:
    plt = report.pyplot()
    cols = min(2, len(cells))
    rows = math.ceil(len(cells) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 3.9 * rows), squeeze=False)
    for ax, ((env, algo), actors) in zip(axes.flat, cells.items()):
        for actor, rows in actors.items():
            steps, mean, se = _curve(rows, out_dir, "return")
            if steps:
                ax.plot(steps, mean, marker=".", color=COLORS[actor], label=f"{LABELS[actor]} (n={len(rows)})")
                ax.fill_between(steps, [m - s for m, s in zip(mean, se)], [m + s for m, s in zip(mean, se)],
                                color=COLORS[actor], alpha=0.25)
        any_row = next(iter(actors.values()))[0]
        ax.axhline(any_row["expert_return"], color="k", lw=1.0, label="iLQR expert")
        ax.axhline(any_row["random_return"], color="grey", lw=0.8, ls=":", label="random")
        for (label, value), style in zip(ZOO_REFERENCES.get(env, {}).items(), ("--", "-.", (0, (1, 1)), (0, (5, 1)))):
            ax.axhline(value, color="tab:red", lw=0.8, ls=style, label=label)
        ax.set_title(f"{env} {algo.upper()}", fontsize=9)
        ax.set_xlabel("env steps")
        ax.set_ylabel("mean return (20 seeded episodes)")
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(cells):]:
        ax.axis("off")
    fig.suptitle("return vs env steps, mean ± SE over seeds", fontsize=10)
    report.save(fig, out_dir / "return_vs_steps.png")


def _returns(cells: dict) -> str:
    lines = []
    for (env, algo), actors in cells.items():
        for actor, rows in actors.items():
            reached = [float(r["steps_to_0.9"]) for r in rows if r.get("steps_to_0.9") is not None
                       and math.isfinite(float(r["steps_to_0.9"]))]  # results.csv keeps NaN as "nan"
            lines.append([env, algo.upper(), LABELS[actor], len(rows), int(rows[0]["timesteps"]),
                          _ms([r["untrained_return"] for r in rows]), _ms([r["final_return"] for r in rows]),
                          _ms([r["untrained_normalized"] for r in rows], 3),
                          _ms([r["final_normalized"] for r in rows], 3),
                          f"{statistics.fmean(reached):.0f} ({len(reached)}/{len(rows)} seeds)" if reached
                          else f"not reached (0/{len(rows)})"])
    return report.table(["env", "algo", "actor", "seeds", "env steps", "untrained return", "final return",
                         "untrained normalised", "final normalised", "env steps to 0.9"], lines)


def _parameters(cells: dict) -> str:
    lines = []
    for (env, algo), actors in cells.items():
        for actor, rows in actors.items():
            for name in sorted(k[len("truth/"):] for k in rows[0] if k.startswith("truth/") and rows[0][k] is not None):
                final = [r.get(f"param/{name}") for r in rows]
                if all(v is None for v in final):
                    continue
                truth = rows[0][f"truth/{name}"]
                err = report.mean_se([(v - truth) / truth * 100 for v in final if v is not None])
                lines.append([env, algo.upper(), LABELS[actor], name, f"{truth:.4g}",
                              f"{rows[0].get(f'initial/{name}', float('nan')):.4g}", _ms(final),
                              f"{err[0]:+.1f}%"])
    return report.table(["env", "algo", "actor", "parameter", "truth", "start", "final (mean ± SE)",
                         "final error"], lines)


def _identified(cells: dict) -> str:
    """The two combinations the pendulum's dynamics identify, 3g/(2l) and 3/(m l^2), at the start, at the end
    (mean ± SE over seeds) and true, for every DiLQR actor on Pendulum-v1."""
    lines = []
    for (env, algo), actors in cells.items():
        for actor, rows in actors.items():
            if env != "Pendulum-v1" or rows[0].get("param/mass") is None:
                continue
            combos = {"3g/(2l)": lambda g, m, l: 1.5 * g / l, "3/(m l^2)": lambda g, m, l: 3 / (m * l * l)}
            for name, f in combos.items():
                start = f(*(rows[0][f"initial/{k}"] for k in ("gravity", "mass", "length")))
                final = [f(*(r[f"param/{k}"] for k in ("gravity", "mass", "length"))) for r in rows]
                truth = f(*(rows[0][f"truth/{k}"] for k in ("gravity", "mass", "length")))
                lines.append([algo.upper(), LABELS[actor], name, f"{start:.3g}", _ms(final, 3), f"{truth:.3g}"])
    return report.table(["algo", "actor", "combination", "start", "final", "truth"], lines) if lines else ""


def _speed(cells: dict) -> str:
    lines = [[env, algo.upper(), LABELS[a], _ms([r["seconds_per_1000_steps"] for r in rows], 3),
              _ms([r["env_steps_per_s"] for r in rows], 3)]
             for (env, algo), actors in cells.items() for a, rows in actors.items()]
    return report.table(["env", "algo", "actor", "wall-clock s per 1000 env steps", "env steps/s"], lines)


def _robustness(cells: dict, experts: dict[str, dict[str, float]]) -> str:
    lines = []
    for env in dict.fromkeys(env for env, _ in cells):
        for algo, actors in ((a, actors) for (e, a), actors in cells.items() if e == env):
            for actor, rows in actors.items():
                if rows[0].get("robust/nominal_normalized") is None:
                    continue
                values = {s: report.mean_se([r[f"robust/{s}_normalized"] for r in rows]) for s in SETTINGS}
                drop = max(values["nominal"][0] - values[s][0] for s in ("x0.7", "x1.3"))
                lines.append([env, algo.upper(), LABELS[actor], *(f"{values[s][0]:.3f} ± {values[s][1]:.2g}"
                                                                  for s in SETTINGS), f"{drop:+.3f}"])
        if env in experts:
            e = {s: experts[env][f"expert/{s}_normalized"] for s in ("nominal", "x0.7", "x1.3")}
            drop = max(e["nominal"] - e[s] for s in ("x0.7", "x1.3"))
            lines.append([env, "-", "iLQR expert told the changed physics",
                          *(f"{v:.3f}" if math.isfinite(v) else "n/a" for v in e.values()), "-",
                          f"{drop:+.3f}" if math.isfinite(drop) else "n/a"])
    return report.table(["env", "algo", "actor", "nominal", "masses, lengths x0.7", "x1.3", "wide starts",
                         "largest drop under changed physics"], lines)


EXPERT_ROBUSTNESS = "expert_robustness.json"
"""The study folder's file of the iLQR expert's returns under changed physics (computed once by the summary)."""


def _expert_references(cells: dict, out_dir: Path, episodes: int) -> dict[str, dict[str, float]]:
    """Per env: :func:`~dilqr_rl.experiments.rl_trial.expert_robustness` on the robustness episodes, read from
    ``out_dir/expert_robustness.json`` where it holds the same setting, else computed (seconds) and stored there."""
    from dilqr_rl.agents.rl_config import RLConfig
    from dilqr_rl.experiments.rl_trial import expert_robustness

    seed = RLConfig.eval_seed
    path = out_dir / EXPERT_ROBUSTNESS
    stored = json.loads(path.read_text()) if path.is_file() else {}
    first_rows = {}  # env -> one of its trials' rows (every trial of an env has the env's references)
    for (env, _), actors in cells.items():
        first_rows.setdefault(env, next(iter(actors.values()))[0])
    out, changed = {}, False
    for env, first in first_rows.items():
        references = {"random": first["random_return"], "expert": first["expert_return"]}
        setting = {"episodes": episodes, "seed": seed, **references}
        if stored.get(env, {}).get("setting") != setting:
            values = expert_robustness(env, episodes, seed, references)
            stored[env] = {"setting": setting, **{k: v if math.isfinite(v) else None for k, v in values.items()}}
            changed = True
        out[env] = {k: math.nan if v is None else float(v) for k, v in stored[env].items() if k != "setting"}
    if changed:  # NaN (no expert told the change) stored as null
        path.write_text(json.dumps(stored, indent=1))
    return out


def _at_budget(rows: list[Row], out_dir: Path, budget: int) -> tuple[float, float, int, int]:
    """Mean ± SE over seeds of the return at the last evaluation within ``budget`` env steps (and its step)."""
    values, steps = [], []
    for r in rows:
        h = report.history(out_dir, r)
        if h is None:
            continue
        within = [i for i, t in enumerate(h["timesteps"]) if t <= budget * 1.25]  # PPO's last rollout may overrun
        if within:
            values.append(h["return"][within[-1]])
            steps.append(int(h["timesteps"][within[-1]]))
    mean, se, n = report.mean_se(values)
    return mean, se, n, max(steps, default=0)


def _dilqr_vs_mlp(cells: dict, out_dir: Path) -> tuple[str, str]:
    """Per env and DiLQR actor: at how many of the evaluations both made the DiLQR actor's mean return is >= the
    MLP's; and the verdict."""
    parts, missed = [], 0
    for (env, algo), actors in cells.items():
        if "mlp" not in actors:
            continue
        ms, mm, _ = _curve(actors["mlp"], out_dir, "return")
        for actor in (a for a in actors if a != "mlp"):
            ds, dm, _ = _curve(actors[actor], out_dir, "return")
            common = [t for t in ds if t in ms]
            worse = [t for t in common if dm[ds.index(t)] < mm[ms.index(t)]]
            missed += bool(worse)
            parts.append(f"{env} {algo.upper()} {LABELS[actor]}: >= MLP at {len(common) - len(worse)}/{len(common)} "
                         f"evaluations" + (f" (below at {', '.join(str(int(t)) for t in worse)})" if worse else ""))
    verdict = ("not measured" if not parts else "met where measured" if not missed
               else f"missed in {missed} of {len(parts)}")
    return "; ".join(parts) or "not measured", verdict


def _against_mlp(cells: dict, measure: Callable[[dict[str, float]], float], needs: tuple[str, ...]
                 ) -> list[tuple[str, str, str, float, float]]:
    """(env, algo, actor, the DiLQR actor's measure, the MLP's) for every DiLQR actor of a cell with an MLP, where
    ``measure`` maps an actor's mean normalised return per robustness setting to a number and actors whose
    ``needs`` settings are not finite are left out."""
    out = []
    for (env, algo), actors in cells.items():
        measured = {}
        for actor, rows in actors.items():
            means = {s: report.mean_se([r.get(f"robust/{s}_normalized") for r in rows])[0] for s in SETTINGS}
            if all(math.isfinite(means[s]) for s in needs):
                measured[actor] = measure(means)
        if "mlp" in measured:
            out += [(env, algo, a, v, measured["mlp"]) for a, v in measured.items() if a != "mlp"]
    return out


def _robust_verdict(cells: dict) -> tuple[str, str]:
    """Per env and algorithm: the largest normalised drop under changed physics of each DiLQR actor and the MLP."""
    pairs = _against_mlp(cells, lambda m: max(m["nominal"] - m[s] for s in ("x0.7", "x1.3")), ("nominal",))
    missed = sum(drop > mlp for *_, drop, mlp in pairs)
    parts = [f"{env} {algo.upper()} {LABELS[a]} {drop:+.3f} vs MLP {mlp:+.3f}" for env, algo, a, drop, mlp in pairs]
    verdict = "not measured" if not pairs else "met" if not missed else f"missed in {missed} of {len(pairs)}"
    return "; ".join(parts) or "not measured", verdict


def _robust_absolute(cells: dict) -> tuple[str, str]:
    """Per env and algorithm: each DiLQR actor's and the MLP's worse normalised return of x0.7 and x1.3 (a drop
    is only comparable between policies that were good at the nominal physics; this reads what each keeps)."""
    pairs = _against_mlp(cells, lambda m: min(m["x0.7"], m["x1.3"]), ("x0.7", "x1.3"))
    worse = sum(kept < mlp for *_, kept, mlp in pairs)
    parts = [f"{env} {algo.upper()} {LABELS[a]} {kept:.3f} vs MLP {mlp:.3f}" for env, algo, a, kept, mlp in pairs]
    verdict = "not measured" if not pairs else f"DiLQR >= MLP in {len(pairs) - worse} of {len(pairs)}"
    return "; ".join(parts) or "not measured", verdict


def _targets(cells: dict, out_dir: Path) -> str:
    lines = []
    for (env, target, budget, what) in (("Pendulum-v1", PENDULUM_TARGET, PENDULUM_BUDGET, "return"),
                                        ("InvertedPendulum-v5", INVERTED_TARGET, INVERTED_BUDGET, "return")):
        for (e, algo), actors in cells.items():
            for actor in (a for a in actors if e == env and a != "mlp"):
                mean, se, n, step = _at_budget(actors[actor], out_dir, budget)
                if n:
                    verdict = "met" if mean >= target else f"missed by {target - mean:.1f}"
                    lines.append([f"`{env}` {what}, {algo.upper()} {LABELS[actor]}", f">= {target:g} within {budget} "
                                  f"env steps", f"{mean:.1f} ± {se:.1f} at {step} steps (n={n})", verdict])
    for (e, algo), actors in cells.items():
        for actor in (a for a in actors if e == "dilqr_rl/CartpoleSwingUp-v0" and a != "mlp"):
            mean, se, n = report.mean_se([r["final_normalized"] for r in actors[actor]])
            verdict = "met" if mean >= CARTPOLE_TARGET else f"missed by {CARTPOLE_TARGET - mean:.2f}"
            lines.append([f"`CartpoleSwingUp-v0` normalised, {algo.upper()} {LABELS[actor]}", ">= 0.9",
                          f"{mean:.3f} ± {se:.2g} at {int(actors[actor][0]['timesteps'])} steps (n={n})", verdict])
    lines.append(["DiLQR against MLP", "DiLQR's return >= the MLP's at every budget up to 50k, each env",
                  *_dilqr_vs_mlp(cells, out_dir)])
    lines.append(["robustness", "DiLQR's return under changed physics degrades less than the MLP's (largest drop "
                  "of the normalised return, x0.7 or x1.3)", *_robust_verdict(cells)])
    lines.append(["robustness, what is kept (not an issue target)", "the worse normalised return of x0.7 and x1.3, "
                  "DiLQR against the MLP", *_robust_absolute(cells)])
    return report.table(["measure", "target", "measured", "verdict"], lines)


def _grid_of(rows: list[Row], options: StudyOptions):
    """The grid ``options`` name, or without a name (``--summary-only``) the named grid whose trials the rows are."""
    from dilqr_rl.experiments.rl import GRIDS, grid, trials

    if options.quick or options.grid is not None:
        return grid(options)
    ids = {r["trial_id"] for r in rows}
    for name in GRIDS:
        if ids == {c["trial_id"] for c in trials(StudyOptions(grid=name, seeds=options.seeds))}:
            return name, GRIDS[name]
    return grid(options)


def summarize(rows: list[Row], out_dir: Path, options: StudyOptions) -> None:
    ok = report.ok_rows(rows)
    name, g = _grid_of(rows, options)
    cells = _cells(ok)
    if cells:
        _plot(cells, out_dir)
    zoo = sorted({f"{r['env_id']} {r['algo'].upper()}: {r['zoo']}" for r in ok if r.get("zoo")})
    text = f"""# rl: actor-critic with a DiLQR actor against SB3's MlpPolicy

Grid `{name}`: {g.note}.{report.run_note(ok, options, 5) if options.quick else ""}

Every trial: `train_rl` with rl-zoo3's hyperparameters for the env and algorithm, the DiLQR actor from the env's
default wrong start learning its physics (and in the variant a cost map), the deterministic policy evaluated
before training and every `eval_freq` env steps on {g.eval_episodes} episodes seeded 1000, 1001, ... and
normalised so that a random policy is 0 and the iLQR expert 1; then the final `model.zip`, loaded as `dilqr-rl
evaluate` loads it, under changed physics and from wider starts. {OFF_POLICY}

Hyperparameters: {"; ".join(zoo) or "n/a"}.

## Targets (issue 15)

{_targets(cells, out_dir)}
## Return against env steps

Figure: `return_vs_steps.png` (mean ± SE over seeds; black: the iLQR expert on the same episodes; red: rl-zoo3's
published returns at their own budgets, for reference).

{_returns(cells)}
## Learned physical parameters against the truth

{_parameters(cells)}
On Pendulum-v1 the dynamics identify only 3g/(2l) and 3/(m l^2) (theta_ddot = 3g/(2l) sin theta + 3/(m l^2) u);
the RL loss optimises the return, not these, so they need not move toward the truth:

{_identified(cells)}
## Wall-clock per 1000 env steps (training, evaluations excluded)

{_speed(cells)}
## Robustness: the final policy under changed physics and from wider starts

Normalised to the nominal env's random and expert returns (mean ± SE over seeds), on the first
{g.robust_episodes} of the evaluation episodes (so `nominal` differs from the final evaluation on all
{g.eval_episodes}). Changed physics: every mass and length of the env x0.7 and x1.3, normalised to the nominal
references (x0.7 makes the pendulums easier, so returns there may exceed the nominal ones). Each env's last row is
the iLQR expert made for the changed env, so told the change (`{EXPERT_ROBUSTNESS}`; not on InvertedPendulum-v5,
whose model is a fit to the nominal MuJoCo model): the part of a drop that is the task's. A drop compares only
policies that were good at the nominal physics (a policy near random has little to lose); the target table's last
row reads what each keeps instead. Wider starts:
{"; ".join(f"{e}: {w}" for e, w in _wide_starts().items())}.

{_robustness(cells, _expert_references(cells, out_dir, g.robust_episodes))}
{report.failures(rows)}"""
    (out_dir / "summary.md").write_text(text)


def _wide_starts() -> dict[str, str]:
    from dilqr_rl.experiments.rl import ENVS
    from dilqr_rl.policies.env_registry import perturbations_of

    return {env_id: perturbations_of(env_id).wide_starts for env_id in ENVS}
