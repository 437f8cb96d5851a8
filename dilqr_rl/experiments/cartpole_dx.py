"""``cartpole-dx``: learning the cart-pole's physics from actions, exact gradient vs DiffMPC's (DiLQR Fig. 5,
Table 1).

DiLQR.dx and DiffMPC.dx learn (gravity, cart mass, pole mass, length) from the papers' wrong start (9.8, 3.0,
0.1, 1.0) on the swing-up cart-pole with the true cost, 50 and 100 training plans, 500 epochs. Reported:
the dynamics model loss MSE(theta - theta_hat) per epoch and final, each parameter's trajectory, and the
bad-value ratio: the share of learned physical parameters that are not physical (<= 0). The paper: 41%
lower final model loss for DiLQR at train 50; bad values 2.76% vs 16.85% (train 100), 7.23% vs 17.82%
(train 50).
"""

from __future__ import annotations

from pathlib import Path

from dilqr_rl.experiments import report
from dilqr_rl.experiments.imitation_trial import imitation_trials, run_imitation_trial
from dilqr_rl.experiments.study import DEFAULT_SEEDS, Row, Study, StudyOptions

METHODS = ["dilqr.dx", "diffmpc.dx"]
LABELS = {"dilqr.dx": "DiLQR.dx (implicit)", "diffmpc.dx": "DiffMPC.dx"}
EPOCHS, SIZES = 500, [50, 100]
PAPER_BAD_VALUES = {(100, "dilqr.dx"): 2.76, (100, "diffmpc.dx"): 16.85, (50, "dilqr.dx"): 7.23,
                    (50, "diffmpc.dx"): 17.82}
HEADERS = ["train", "method", "model loss (last)", "model loss (best val)", "test imitation loss",
           "bad values, final", "bad values, history", "paper (Table 1)"]


def trials(options: StudyOptions) -> list[dict]:
    return imitation_trials(METHODS, ["cartpole"], SIZES, options.seeds_or(DEFAULT_SEEDS),
                            options.epochs or EPOCHS, 1, options.quick)


def bad_value_ratios(group: list[Row]) -> tuple[str, str]:
    """(over final values, over the logged history) as 'p% (k/N)'. Final: learned physical parameters <= 0 at
    the last epoch, over parameters x seeds. History: the same over parameters x epochs x seeds."""
    k = sum(r["bad_values_last"] for r in group)
    n = sum(r["n_dynamics_params"] for r in group)
    kh = sum(r["bad_values_history"] for r in group)
    nh = sum(r["bad_values_history_total"] for r in group)
    return (f"{100 * k / n:.2f}% ({k}/{n})" if n else "n/a", f"{100 * kh / nh:.2f}% ({kh}/{nh})" if nh else "n/a")


def summarize(rows: list[Row], out_dir: Path, options: StudyOptions) -> None:
    ok = report.ok_rows(rows)
    lines, means = [], {}
    for (n_train, method), group in report.group(ok, "n_train", "method").items():
        last = report.mean_se([r["model_loss_last"] for r in group])
        means[n_train, method] = last[0]
        final, hist = bad_value_ratios(group)
        lines.append([n_train, LABELS[method], report.fmt(*last),
                      report.fmt(*report.mean_se([r["model_loss_best"] for r in group])),
                      report.fmt(*report.mean_se([r["test_loss"] for r in group])), final, hist,
                      f"{PAPER_BAD_VALUES.get((n_train, method), float('nan')):.2f}%"])
    ratios = []
    for n_train in sorted({r["n_train"] for r in ok}):
        a, b = means.get((n_train, "dilqr.dx")), means.get((n_train, "diffmpc.dx"))
        ratios.append(f"train {n_train}: **{a / b:.2f}**" if a is not None and b else f"train {n_train}: n/a")
    label = lambda r: f"{LABELS[r['method']]}, train {r['n_train']}"  # noqa: E731
    report.plot_curves(report.curves_by(ok, out_dir, label, "bc/model_loss"), out_dir / "model_loss.png",
                       "dynamics model loss MSE(theta - theta_hat)", "cart-pole dynamics learning")
    if ok:
        truth = ok[0]["params_true"]
        for n_train in sorted({r["n_train"] for r in ok}):
            subset = [r for r in ok if r["n_train"] == n_train]
            report.plot_parameters(report.parameter_histories(subset, out_dir, lambda r: LABELS[r["method"]],
                                                              list(truth)),
                                   truth, out_dir / f"parameters_train{n_train}.png",
                                   f"learned physics per epoch, train {n_train} (mean ± SE over seeds)")
    settings = ok[0] if ok else {}
    text = f"""# cartpole-dx: dynamics learning on the cart-pole swing-up (DiLQR Fig. 5, Table 1)

Setting: the papers' `cartpole` (dt 0.05, |F| <= 100, T = 20, swing-up starts, true cost); the learner
fits (gravity, cart mass, pole mass, length) from the papers' start (9.8, 3.0, 0.1, 1.0) with RMSprop
(lr 1e-2, alpha 0.5), batch 32, warm starts reset every 50 epochs; {settings.get('n_val')} validation and
{settings.get('n_test')} test plans, {settings.get('epochs')} epochs, {len({r['seed'] for r in ok})} seeds
(each seed draws its own expert plans; the papers vary only the batch order). The ICML text learns three
parameters, the workshop text and both codes four: we learn four.{
" QUICK RUN: tiny sizes, numbers mean nothing." if options.quick else ""}

Model loss: MSE over the learned physical parameters. Bad values: learned parameters <= 0 (non-physical);
"final" counts them at the last epoch over parameters x seeds, "history" over parameters x logged epochs x
seeds (the papers do not say which they report; their code logs the parameters after every step).

{report.table(HEADERS, lines)}
DiLQR / DiffMPC final model loss: {", ".join(ratios)} (paper: 0.59 at train 50, i.e. 41% lower; DiLQR
"converges slightly slower" at train 100).

Figures: `model_loss.png` (seed bands: one standard error), `parameters_train<N>.png`.

Time per epoch:

{report.timing_table(ok, label)}
{report.failures(rows)}"""
    (out_dir / "summary.md").write_text(text)


STUDY = Study("cartpole-dx", "DiLQR Fig. 5, Table 1: cart-pole dynamics learning and bad values, DiLQR vs DiffMPC",
              trials, run_imitation_trial, summarize, __name__)
