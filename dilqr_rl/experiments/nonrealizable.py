"""``nonrealizable-pendulum``: imitation with a model class that cannot represent the expert (DiffMPC Fig. 5).

The expert pendulum has damping and a bias, (g, m, l, d, b) = (10, 1, 1, 1, 0.1); the learner's pendulum has
neither and fits (g, m, l) from a random start around (5, 1, 1), as the papers' code draws it. SysId fits
next-state transitions; DiLQR.dx and DiffMPC.dx fit the imitation loss. The paper: SysId fits the
transitions better but imitates worse.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dilqr_rl.experiments import report
from dilqr_rl.experiments.imitation_trial import imitation_trials, run_imitation_trial
from dilqr_rl.experiments.study import Row, Study, StudyOptions

METHODS = ["sysid", "dilqr.dx", "diffmpc.dx"]
LABELS = {"sysid": "SysId", "dilqr.dx": "DiLQR.dx (implicit)", "diffmpc.dx": "DiffMPC.dx"}
EPOCHS, N_TRAIN, SEEDS = 250, 100, 8


def learner_start(seed: int) -> dict[str, float]:
    """(g, m, l) = (5, 1, 1) + (3, 1, 1) * (U(0, 1) - 0.5), seeded: the papers' code's random start."""
    r = torch.rand(3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    g, m, l = (torch.tensor([5.0, 1.0, 1.0], dtype=torch.float64) + torch.tensor([3.0, 1.0, 1.0]) * (r - 0.5)).tolist()
    return {"gravity": g, "mass": m, "length": l}


def trials(options: StudyOptions) -> list[dict]:
    return imitation_trials(METHODS, ["pendulum-nonrealizable"], [N_TRAIN], options.seeds_or(SEEDS),
                            options.epochs or EPOCHS, 1, options.quick, start_params=learner_start)


def summarize(rows: list[Row], out_dir: Path, options: StudyOptions) -> None:
    ok = report.ok_rows(rows)
    lines, means = [], {}
    for method in METHODS:
        group = [r for r in ok if r["method"] == method]
        test, trans = report.mean_se([r["test_loss"] for r in group]), report.mean_se(
            [r["test_transition_loss"] for r in group])
        means[method] = (test[0], trans[0])
        params = {k: report.mean_se([r["params_best"][k] for r in group]) for k in ("gravity", "mass", "length")}
        lines.append([LABELS[method], report.fmt(*test), report.fmt(*trans),
                      ", ".join(f"{k} {v[0]:.3g}" for k, v in params.items() if v[2])])
    verdict = []
    if "sysid" in means and "dilqr.dx" in means:
        s, d = means["sysid"], means["dilqr.dx"]
        verdict.append(f"SysId / DiLQR.dx next-state error: **{s[1] / d[1]:.3g}** (below 1: SysId fits the "
                       f"transitions better); test imitation loss: **{s[0] / d[0]:.3g}** (above 1: SysId imitates "
                       "worse).")
    paired = []
    for a, b in (("sysid", "dilqr.dx"), ("diffmpc.dx", "dilqr.dx")):
        for key, what in (("test_transition_loss", "next-state error"), ("test_loss", "test imitation loss")):
            paired.append(report.paired_line(ok, key, what, a, b, LABELS[a], LABELS[b]))
    label = lambda r: LABELS[r["method"]]  # noqa: E731
    report.plot_curves(report.curves_by(ok, out_dir, label, "eval/val_loss"), out_dir / "val_loss.png",
                       "validation imitation loss", "non-realizable pendulum: validation loss per epoch")
    settings = ok[0] if ok else {}
    text = f"""# nonrealizable-pendulum: SysId vs imitation with a wrong model class (DiffMPC Fig. 5)

Setting: the expert is the papers' pendulum with damping d = 1 and bias b = 0.1 (theta_dot' gets
-d theta_dot and sin(theta + b); the papers' code damps the angle, -d theta, the DiffMPC text speaks of a
damping term); the learner's model has neither and fits (g, m, l) from (5, 1, 1) + (3, 1, 1) (U(0, 1) - 0.5)
per seed (the papers' code). {settings.get('n_train')} training, {settings.get('n_val')} validation and
{settings.get('n_test')} test plans; RMSprop (lr 1e-2, alpha 0.5), batch 32, {settings.get('epochs')} epochs
(the papers' code: 250), {len({r['seed'] for r in ok})} seeds; best validation epoch. Next-state error:
mean squared error of the learned model's one-step prediction on the test plans' transitions.{
report.run_note(rows, options, SEEDS, EPOCHS)}

{report.table(["method", "test imitation loss", "test next-state error", "learned (best val, mean)"], lines)}
{" ".join(verdict)} (the paper: SysId is slightly better on transitions and worse on imitation).

Paired on the seed (the same expert plans and the same random start):

{chr(10).join(filter(None, paired))}

Figure: `val_loss.png` (seed bands: one standard error).
{report.failures(rows)}{report.missing_inputs(ok, out_dir, "`val_loss.png`")}"""
    (out_dir / "summary.md").write_text(text)


STUDY = Study("nonrealizable-pendulum", "DiffMPC Fig. 5: SysId vs DiLQR.dx vs DiffMPC.dx, non-realizable expert",
              trials, run_imitation_trial, summarize, __name__)
