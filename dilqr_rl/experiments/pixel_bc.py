"""``pixel-bc``: behaviour cloning from pixels with the DiLQR layer as the actor, against a CNN-MLP.

On ``dilqr_rl/PixelPendulum-v0``, for {5, 20, 100} expert demonstrations and 3 seeds: the DiLQR policy (image
encoder -> DiLQR -> first control; its physics from 30% off, its encoder from actions only), its ablation with
an auxiliary state supervision, the CNN-MLP with the same encoder architecture (and the same ablation), and
the expert. The trial is :func:`~dilqr_rl.experiments.pixel_bc_trial.run_pixel_bc_trial`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dilqr_rl.agents.pixel_bc import PixelBCConfig
from dilqr_rl.experiments import report
from dilqr_rl.experiments.pixel_bc_trial import METHODS, REFERENCES, TRUTH, run_pixel_bc_trial
from dilqr_rl.experiments.study import Row, Study, StudyOptions

SEEDS = 3
DEMOS = (5, 20, 100)
LABELS = {"demonstrator": "demonstrator (iLQR, true state, T = 20, cold)",
          "expert": "iLQR expert `expert_for` (true state, T = 40, warm)", "dilqr": "DiLQR policy (actions only)",
          "dilqr+state": "DiLQR policy + state loss", "mlp": "CNN-MLP (actions only)",
          "mlp+state": "CNN-MLP + state loss"}
STATE_WEIGHT = 1.0
FULL: dict[str, Any] = {
    "size": 64, "frames": 4, "n_data": 100, "episode_steps": 200, "steps": 400, "batch_size": 32, "lr": 1e-3,
    "physics_lr": 2e-3, "physics_warmup": 100, "horizon": 20, "max_iter": 10, "start_mass": 1.3,
    "start_gravity": 7.0, "features_dim": 32, "eval_episodes": 20, "eval_seed": 10_000,
}
"""The full study's settings (see the summary for what they reduce)."""
REDUCED = ("{steps} gradient steps per trial instead of the 1500 the study was designed with, so that the {trials} "
           "trials ({learners} learners x 3 numbers of demonstrations x {seeds} seeds, and the two references) fit "
           "about 90 minutes of one CPU core shared with other jobs; everything else as the issue asks "
           "(demonstrations {{5, 20, 100}}, 3 seeds, 20 evaluation episodes)")
"""What the committed full run reduces against the issue, and why."""
QUICK: dict[str, Any] = {"size": 32, "n_data": 2, "episode_steps": 8, "steps": 3, "batch_size": 4,
                         "physics_warmup": 1, "horizon": 5, "max_iter": 3, "eval_episodes": 2}
"""``--quick``: every code path in seconds."""
QUICK_DEMOS = (1, 2)
LEARNERS = tuple(m for m in METHODS if m not in REFERENCES)

CHOICES: list[tuple[str, str]] = [
    ("demonstrator", "the iLQR expert on the true state with the DiLQR policy's horizon ({horizon}), cost and "
                     "solver ({max_iter} iterations from zero controls at every step): with the true physics and a "
                     "perfect encoder the DiLQR policy acts as it does (the papers' imitation setting: the expert "
                     "is the learner's model class with the true parameters)"),
    ("data", "demonstrations of {episode_steps} steps from the env's own resets (theta ~ U(-pi, pi), theta_dot ~ "
             "U(-1, 1)); per seed {n_data} episodes are collected and a trial uses the first n"),
    ("encoder", "the `visual` study's `ImageEncoder` (5 x (conv, BatchNorm, ReLU, max-pool), FC 128, 64) on "
                "{frames} stacked {size} x {size} frames; to 3 numbers -> (theta, theta_dot) for DiLQR, to "
                "{features_dim} features for the MLP (then MLP 64, 64)"),
    ("DiLQR actor", "`DiLQRPolicy`: horizon {horizon}, the expert's cost (fixed), `PendulumDynamics` with mass and "
                    "gravity from ({start_mass}, {start_gravity}) (truth 1, 10), length known; a cold solve (zero "
                    "controls, at most {max_iter} iterations) at every step, in training and at test, as SB3's "
                    "`predict` runs it"),
    ("loss", "squared error of the deterministic action (the first planned control; the MLP's mean) to the "
             "expert's; `+state`: plus {state_weight} x the squared error of (cos theta, sin theta, theta_dot / 8) "
             "read from the actor's features (DiLQR: its state; MLP: a linear read-out) against the true state"),
    ("optimiser", "Adam, lr {lr} (networks) and {physics_lr} x |theta_0| (physics, held for the first "
                  "{physics_warmup} steps); {steps} steps of {batch_size} transitions whatever the number of "
                  "demonstrations (a fixed compute budget)"),
    ("evaluation", "the model saved with `model.save` and loaded with `PPO.load`, its `predict` on {eval_episodes} "
                   "episodes of {episode_steps} steps, episode i reset with seed {eval_seed} + i (the expert on the "
                   "same seeds)"),
]


def trials(options: StudyOptions) -> list[dict]:
    seeds = options.seeds_or(SEEDS)
    base = {**FULL, **(QUICK if options.quick else {}), "device": options.device}
    if options.epochs is not None:
        base["steps"] = options.epochs
    if options.size is not None:
        base["size"] = options.size
    configs = [{**base, "method": method, "n_demos": 0, "seed": 0, "state_weight": 0.0, "trial_id": f"{method}__s0"}
               for method in REFERENCES]
    for seed in range(seeds):  # seed outermost: a sweep cut short still has every n and method
        for n in QUICK_DEMOS if options.quick else DEMOS:
            for method in LEARNERS:
                weight = STATE_WEIGHT if method.endswith("+state") else 0.0
                configs.append({**base, "method": method, "n_demos": n, "seed": seed, "state_weight": weight,
                                "trial_id": f"{method}__n{n}__s{seed}"})
    return configs


def _return_table(ok: list[Row], demos: list[int]) -> tuple[str, dict]:
    """Mean return ± SE over seeds (each seed: the mean over the evaluation episodes) per method and n."""
    means, lines = {}, []
    for method in LEARNERS:
        cells = []
        for n in demos:
            stats = report.mean_se([r["mean_return"] for r in ok if r["method"] == method and r["n_demos"] == n])
            means[method, n] = stats
            cells.append(report.fmt(*stats, digits=4))
        if any(stats[2] for (m, _), stats in means.items() if m == method):
            lines.append([LABELS[method], *cells])
    for e in (r for r in ok if r["method"] in REFERENCES):
        lines.append([LABELS[e["method"]], *[f"{e['mean_return']:.1f} ± {e['se_return']:.2g} (episodes)"] * len(demos)])
    return report.table(["policy", *(f"{n} demos" for n in demos)], lines), means


def _comparison(means: dict, demos: list[int]) -> str:
    lines = []
    for n in demos:
        d, m = means.get(("dilqr", n)), means.get(("mlp", n))
        ds, ms = means.get(("dilqr+state", n)), means.get(("mlp+state", n))
        parts = []
        for (a, b, name) in ((d, m, "actions only"), (ds, ms, "with the state loss")):
            if a and b and a[2] and b[2]:
                diff, se = a[0] - b[0], math.hypot(a[1], b[1])
                verdict = "higher" if diff > 2 * se else "lower" if diff < -2 * se else "not distinguishable"
                parts.append(f"{name}: DiLQR - MLP = {diff:+.1f} ± {se:.1f} ({verdict})")
        if parts:
            lines.append(f"- {n} demonstrations: " + "; ".join(parts) + ".")
    return "\n".join(lines) or "n/a"


def _best(means: dict, ok: list[Row]) -> str:
    """The best learned mean return against the demonstrator's, in one sentence."""
    learned = {key: stats for key, stats in means.items() if stats[2]}
    demonstrator = [r["mean_return"] for r in ok if r["method"] == "demonstrator"]
    if not learned or not demonstrator:
        return ""
    (method, n), stats = max(learned.items(), key=lambda item: item[1][0])
    return (f"The best learned policy is the {LABELS[method]} with {n} demonstrations: {stats[0]:.0f} ± "
            f"{stats[1]:.0f}, against {demonstrator[0]:.0f} for the demonstrator it imitates.")


def _parameters(ok: list[Row], demos: list[int]) -> str:
    lines = []
    for method in ("dilqr", "dilqr+state"):
        for n in demos:
            rows = [r for r in ok if r["method"] == method and r["n_demos"] == n]
            if rows:
                lines.append([LABELS[method], n, *(report.fmt(*report.mean_se([r[f"param_{k}"] for r in rows]))
                                                   for k in TRUTH)])
    return report.table(["policy", "demos", "mass (truth 1, start 1.3)", "gravity (truth 10, start 7)"], lines)


def _gradients(ok: list[Row]) -> str:
    """Whether the action loss reaches the encoder: gradient norm and the fraction of actions at a bound, in the
    first and last logged blocks, mean ± SE over every trial of the policy."""
    lines = []
    for method in LEARNERS:
        rows = [r for r in ok if r["method"] == method]
        if rows:
            lines.append([LABELS[method], *(report.fmt(*report.mean_se([r[k] for r in rows])) for k in
                                            ("first_grad_norm", "final_grad_norm", "first_saturated_fraction",
                                             "final_saturated_fraction"))])
    return report.table(["policy", "gradient norm, first block", "last block", "actions at a bound, first block",
                         "last block"], lines)


def _plot(means: dict, ok: list[Row], demos: list[int], path: Path) -> None:
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for method in LEARNERS:
        points = [(n, *means[method, n][:2]) for n in demos if means.get((method, n), (0, 0, 0))[2]]
        if points:
            xs, ys, ses = zip(*points)
            ax.errorbar(xs, ys, yerr=ses, marker="o", capsize=3, label=LABELS[method])
    for e, style in zip((r for r in ok if r["method"] in REFERENCES), ("--", ":")):
        ax.axhline(e["mean_return"], ls=style, color="k", lw=0.8, label=LABELS[e["method"]])
    ax.set_xscale("log")
    ax.set_xticks(demos, [str(n) for n in demos])
    ax.set_xlabel("expert demonstrations (episodes)")
    ax.set_ylabel("mean return over the evaluation episodes")
    ax.set_title("pixel pendulum: return vs demonstrations (mean ± SE over seeds)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summarize(rows: list[Row], out_dir: Path, options: StudyOptions) -> None:
    ok = report.ok_rows(rows)
    learned = [r for r in ok if r["method"] not in REFERENCES]
    settings = {**(learned[0] if learned else {**FULL, **(QUICK if options.quick else {}), "device": options.device}),
                "state_weight": STATE_WEIGHT, "log_every": PixelBCConfig.log_every}
    demos = sorted({r["n_demos"] for r in ok if r["method"] not in REFERENCES})
    table, means = _return_table(ok, demos)
    _plot(means, ok, demos, out_dir / "return_vs_demos.png")
    timing = [[LABELS[m], report.fmt(*report.mean_se([r["train_seconds"] for r in ok if r["method"] == m])),
               report.fmt(*report.mean_se([r["eval_seconds"] for r in ok if r["method"] == m]))] for m in LEARNERS]
    fits = [[LABELS[m], n, report.fmt(*report.mean_se([r["final_action_mse"] for r in ok
                                                        if r["method"] == m and r["n_demos"] == n]))]
            for m in LEARNERS for n in demos]
    text = f"""# pixel-bc: behaviour cloning from pixels, DiLQR actor vs CNN-MLP

{"QUICK RUN: tiny sizes, numbers mean nothing. " if options.quick else ""}`dilqr_rl/PixelPendulum-v0`, run on
`{settings['device']}`, {len({r['seed'] for r in ok if r['method'] not in REFERENCES})} seeds per policy and number of
demonstrations (each seed: its own demonstrations, initial weights and batch order).

Regime: {"quick (every code path, tiny sizes)" if options.quick else "full run, reduced: " + REDUCED.format(
    steps=settings["steps"], trials=len(rows), learners=len(LEARNERS), seeds=options.seeds_or(SEEDS))}.{
    "" if options.quick else report.run_note([r for r in ok if r["method"] not in REFERENCES], options, SEEDS)}

## Setting

{report.table(["what", "ours"], [(w, o.format(**settings)) for w, o in CHOICES])}
## Return against demonstrations

Mean return over the {settings['eval_episodes']} evaluation episodes, mean ± standard error over seeds:

{table}
{_comparison(means, demos)}

{_best(means, ok)}

Figure: `return_vs_demos.png`.

## Learned physical parameters (DiLQR policies)

{_parameters(ok, demos) if any(r['method'].startswith('dilqr') for r in ok) else "n/a"}
## Does the action loss reach the encoder?

The gradient norm of everything trained (encoder, heads, physics) and the fraction of the batch's actions at a
bound of the action space (+-2), in the first and last logged blocks of {settings['log_every']} steps (mean ± SE
over all trials of a policy). A box-constrained planner's first control at a bound has zero derivative in its
state and parameters, so where the randomly initialised encoder makes the plan saturate, the action loss
alone gives the encoder no gradient at all.

{_gradients(ok)}
## Training fit and time

Final training action MSE (last logged block):

{report.table(["policy", "demos", "action MSE"], fits)}
{report.table(["policy", "training s", "evaluation s"], timing)}
{report.failures(rows)}"""
    (out_dir / "summary.md").write_text(text)


STUDY = Study("pixel-bc", "BC from pixels on the pixel pendulum: DiLQR actor vs CNN-MLP, return vs demonstrations",
              trials, run_pixel_bc_trial, summarize, __name__)
