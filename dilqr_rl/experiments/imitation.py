"""``imitation``: the papers' imitation comparison (DiLQR Fig. 3, DiffMPC Fig. 4).

On the papers' pendulum and cart-pole, with 100 training plans: the LSTM, SysId, DiLQR.dx, DiLQR.cost,
DiffMPC.dx and DiffMPC.cost; the epoch with the best validation imitation loss is selected and its test
loss reported. The paper: DiLQR.dx about 1e6x (pendulum) and 1e4x (cart-pole) below the LSTM.
"""

from __future__ import annotations

import math
from pathlib import Path

from dilqr_rl.experiments import report
from dilqr_rl.experiments.imitation_trial import imitation_trials, run_imitation_trial
from dilqr_rl.experiments.study import DEFAULT_SEEDS, Row, Study, StudyOptions

METHODS = ["lstm", "sysid", "dilqr.dx", "dilqr.cost", "diffmpc.dx", "diffmpc.cost"]
LABELS = {"lstm": "LSTM (NN)", "sysid": "SysId", "dilqr.dx": "DiLQR.dx", "dilqr.cost": "DiLQR.cost",
          "diffmpc.dx": "DiffMPC.dx", "diffmpc.cost": "DiffMPC.cost"}
SYSTEMS, SIZES = ["pendulum", "cartpole"], [100]
EPOCHS, NN_EPOCHS = 500, 2000
PAPER_RATIO = {"pendulum": 1e6, "cartpole": 1e4}


def trials(options: StudyOptions) -> list[dict]:
    return imitation_trials(METHODS, SYSTEMS, SIZES, options.seeds_or(DEFAULT_SEEDS), options.epochs or EPOCHS,
                            NN_EPOCHS, options.quick)


def _bar_plot(ok: list[Row], path: Path) -> None:
    plt = report.pyplot()
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in ok)]
    fig, axes = plt.subplots(1, max(len(systems), 1), figsize=(5.2 * max(len(systems), 1), 3.6), squeeze=False)
    for ax, system in zip(axes[0], systems):
        names, means, ses = [], [], []
        for method in METHODS:
            m, se, n = report.mean_se([r["test_loss"] for r in ok if r["system"] == system and r["method"] == method])
            if n:
                names.append(LABELS[method])
                means.append(m)
                ses.append(se)
        ax.bar(names, means, yerr=ses, capsize=3)
        ax.set_yscale("log")
        ax.set_title(f"{system}: test imitation loss (best val)", fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    report.save(fig, path)


def summarize(rows: list[Row], out_dir: Path, options: StudyOptions) -> None:
    ok = report.ok_rows(rows)
    sections = []
    for (system, n_train), group_rows in report.group(ok, "system", "n_train").items():
        lines, means = [], {}
        for method in METHODS:
            group = [r for r in group_rows if r["method"] == method]
            if not group:
                continue
            test = report.mean_se([r["test_loss"] for r in group])
            means[method] = test[0]
            model = report.mean_se([r.get("model_loss_best") for r in group])
            transition = ("0 (the true dynamics)" if method.endswith(".cost") else
                          report.fmt(*report.mean_se([r.get("test_transition_loss") for r in group])))
            lines.append([LABELS[method], report.fmt(*test), report.fmt(*model), transition,
                          report.fmt(*report.mean_se([r.get("epoch_seconds_median") for r in group]))])
        ratio = means.get("lstm", math.nan) / means.get("dilqr.dx", math.nan)
        paired = []
        for a, b in (("dilqr.dx", "diffmpc.dx"), ("dilqr.cost", "diffmpc.cost"), ("dilqr.dx", "sysid")):
            paired.append(report.paired_line(group_rows, "test_loss", "test imitation loss", a, b, LABELS[a],
                                             LABELS[b]))
        sections.append(f"""### {system}, train {n_train}

{report.table(["method", "test imitation loss", "model loss (best val)", "test next-state error",
               "s per epoch"], lines)}
LSTM / DiLQR.dx test loss: **{ratio:.3g}x** (paper: about {PAPER_RATIO.get(system, math.nan):.0e}x).

Paired on the seed (the same expert plans):

{chr(10).join(filter(None, paired))}
""")
    _bar_plot(ok, out_dir / "test_loss.png")
    label = lambda r: LABELS[r["method"]]  # noqa: E731
    for system in SYSTEMS:
        of_system = [r for r in ok if r["system"] == system]
        if of_system:
            report.plot_curves(report.curves_by(of_system, out_dir, label, "eval/val_loss"),
                               out_dir / f"val_loss_{system}.png", "validation imitation loss",
                               f"{system}: validation imitation loss per epoch")
    settings = next((r for r in ok if r["method"] != "lstm"), ok[0] if ok else {})
    nn_epochs = next((r["nn_epochs"] for r in ok if r["method"] == "lstm"), None)
    text = f"""# imitation: the papers' imitation comparison (DiLQR Fig. 3, DiffMPC Fig. 4)

Setting: the papers' `pendulum` and `cartpole`; {settings.get('n_val')} validation and {settings.get('n_test')}
test plans; {len({r['seed'] for r in ok})} seeds (each seed draws its own expert plans; the papers vary only
the batch order). Model-based learners: RMSprop (lr 1e-2, alpha 0.5), batch 32, {settings.get('epochs')}
epochs, the papers' initial models. LSTM: the papers' autoregressive LSTM (hidden 256), Adam 1e-4,
{nn_epochs} epochs. SysId: the same learner trained on next-state transitions of the training plans.
Imitation loss: the squared control error averaged over T and the controls (the papers' code); the epoch
with the best validation loss is selected.{report.run_note(rows, options, DEFAULT_SEEDS, EPOCHS)}

{chr(10).join(sections)}
Figures: `test_loss.png`, `val_loss_pendulum.png`, `val_loss_cartpole.png` (seed bands: one standard error).
{report.failures(rows)}{report.missing_inputs(ok, out_dir, "`val_loss_pendulum.png`, `val_loss_cartpole.png`")}"""
    (out_dir / "summary.md").write_text(text)


STUDY = Study("imitation", "DiLQR Fig. 3 / DiffMPC Fig. 4: LSTM, SysId, DiLQR and DiffMPC imitation",
              trials, run_imitation_trial, summarize, __name__)
