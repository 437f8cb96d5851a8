"""``visual``: image prediction with a planning head (DiLQR paper, Sec. 5.4 "visual control", Figs. 8-10).

Frames -> CNN encoder -> state -> DiLQR plan -> decoder -> predicted frames, against the same encoder and
decoder around a learned latent dynamics without a planner (an MLP step model rolled out under the expert's
controls). The trial is :func:`~dilqr_rl.experiments.visual_trial.run_visual_trial`; every choice the paper
leaves open is listed in ``summary.md`` (:data:`CHOICES`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dilqr_rl.experiments import report
from dilqr_rl.experiments.study import Row, Study, StudyOptions
from dilqr_rl.experiments.visual_figures import plot_errors, write_strips
from dilqr_rl.experiments.visual_trial import METHODS, MODES, TRUTH, dataset, resolve_state_steps, run_visual_trial

SEEDS = 3
LABELS = {"dilqr/plan": "DiLQR head, own plan", "dilqr/rollout": "DiLQR model, expert controls",
          "dilqr-pixels/plan": "ablation: DiLQR head without the state regression, own plan",
          "latent/rollout": "latent MLP, expert controls", "ref/black": "reference: an all-black frame",
          "ref/held": "reference: the observed frame held"}
FULL: dict[str, Any] = {
    "size": 64, "frames": 4, "channels": [16, 32, 32, 64, 64], "n_train": 100, "n_test": 25, "episode_steps": 100,
    "horizon": 40, "steps": 1500, "reconstruction_warmup": 400, "physics_warmup": 400, "batch_size": 16,
    "decoded_steps": 8, "lr": 1e-3, "physics_lr": 5e-3, "action_weight": 1e-2, "max_iter": 50,
    "start_mass": 1.3, "start_gravity": 7.0, "state_weight": 10.0, "consistency_weight": 0.0,
}
"""The full study's settings: 64 x 64 on one CPU core per trial, sized to about 9 minutes per DiLQR trial (see
the summary for what that reduces)."""
RECIPES: dict[str, dict[str, Any]] = {
    "dilqr": {"state_steps": "all", "decoder_on_predictions": False},
    "dilqr-pixels": {"state_steps": 0, "decoder_on_predictions": False},
    "latent": {"state_steps": "all", "decoder_on_predictions": True},
}
"""Per method: the state regression (``"all"``: every step; 0: never) and whether the predicted frames train the
decoder. The baseline keeps its decoder on the predictions: it measured better so (a decoder that hedges
between places scores a lower per-pixel MSE than a sharp frame in the wrong place)."""
REDUCED = ("{size} x {size} frames on `{device}` (the issue's 224 x 224 run is for a GPU, `--size 224 --device "
           "cuda`; none was available for the committed run), {steps} gradient steps per trial (the first "
           "{reconstruction_warmup} on the reconstruction and, except in the ablation, the state alone), sized so "
           "that the {trials} trials fit about 40 minutes of this 2-core machine; 25 test swing-ups as the paper")
"""What the committed full run reduces, and why."""
QUICK: dict[str, Any] = {"size": 32, "channels": [4, 4, 4, 4, 4], "n_train": 3, "n_test": 3, "episode_steps": 10,
                         "horizon": 5, "steps": 4, "reconstruction_warmup": 2, "physics_warmup": 3, "batch_size": 4,
                         "decoded_steps": 2, "max_iter": 10}
"""``--quick``: every code path in seconds."""
STEPS_SHOWN = (1, 5, 10, 20, 30, 40)
STRIPS = "strip_predictions.npz"
"""The predicted frames the strips show (seed 0), kept with ``results.csv`` as the histories are (the trial
folders that hold ``predictions_<mode>.npy`` are not committed)."""
STRIP_METHODS = (("dilqr", "plan"), ("latent", "rollout"))
"""The (method, mode) of each predicted row of the strips."""
HISTORY_USES = ("the per-step error table, the comparison with the baseline and its verdict, `prediction_error.png`, "
                "`parameters.png`")

CHOICES: list[tuple[str, str, str]] = [
    ("frames", "4 stacked RGB frames, 224 x 224",
     "4 stacked grey frames, {size} x {size} (numpy-drawn `PixelPendulum-v0`), on {device}"),
    ("encoder", "5 x (conv, BatchNorm, ReLU, max-pool), 3 FC",
     "the same: 3x3 convolutions of {channels} channels, FC 128, 64, 3"),
    ("decoder", "3 FC, 5 transposed convs with BatchNorm and ReLU, sigmoid",
     "the same: FC 64, 128, then transposed convs (kernel 4, stride 2) back through the channels; one grey frame "
     "per step"),
    ("latent state", "3-dimensional",
     "the encoder's 3 outputs z: theta = atan2(z_1, z_0), theta_dot = 8 tanh(z_2 / 8) (inside the model's speed "
     "clip); the planner's state is (theta, theta_dot); the decoder sees (cos theta, sin theta) only (a frame "
     "shows no speed)"),
    ("dynamics", "learnable",
     "`PendulumDynamics` (the env's own model class): mass and gravity learnable from 30% off ({start_mass}, "
     "{start_gravity}; truth 1, 10), length known (not identifiable)"),
    ("cost", "not given",
     "the iLQR expert's cost (`PeriodicQuadraticCost` (1, 0.1, 0.001)), fixed; horizon T = {horizon} (the "
     "expert plans 40 steps)"),
    ("data", "not given",
     "{n_train} expert swing-ups of {episode_steps} steps from hanging down (theta = pi +- U(0.1, 0.5), at "
     "rest), the iLQR expert planning on the true state; training windows start anywhere in them"),
    ("test", "25 trials",
     "{n_test} swing-ups (one fixed seed for every trial), predicted from their first observation for "
     "k = 1..{horizon}"),
    ("loss", "not given",
     "per-pixel MSE of the decoded frames at k = 0 (reconstruction) and at {decoded_steps} steps drawn from "
     "1..T per batch (prediction), plus {action_weight} x the MSE of planned vs expert controls (DiLQR only), "
     "plus {state_weight} x the state regression: the encoder's (cos theta, sin theta, theta_dot / 8) against "
     "the recorded true state's, at every step (the paper's encoder maps frames \"to the physical state variables\"; "
     "frames alone fix the angle only up to a rotation or reflection, and the planner's physics and cost need "
     "theta = 0 upright). The ablation `dilqr-pixels` drops the state regression. For the DiLQR heads the "
     "decoder learns from the reconstruction only (the predicted frames' loss reaches the encoder and the "
     "physics through the plan, not the decoder); the baseline's decoder learns from every decoded frame"),
    ("optimiser", "not given",
     "Adam, lr {lr} (networks) and {physics_lr} x |theta_0| (physics); {steps} steps of {batch_size} windows, "
     "the first {reconstruction_warmup} on the reconstruction (and state) alone (an autoencoder warm-up); "
     "physics held for the first {physics_warmup}"),
    ("planner", "not given",
     "training: warm-started from the expert's controls (at most {max_iter} iterations; unconverged items get "
     "no gradient); test: the best of the constant starts 0, +2, -2 (as the expert starts), nothing but the "
     "observation"),
    ("baseline", "not given",
     "the same encoder and decoder (3-d latent), z' = z + MLP([z; u]) (tanh, 64, 64) rolled out under the "
     "expert's controls: it is given the actions the DiLQR head must plan"),
]
"""(what, the paper, ours): every choice, formatted with the trial settings into ``summary.md``."""


def trials(options: StudyOptions) -> list[dict]:
    seeds = options.seeds_or(SEEDS)
    configs = []
    for method in METHODS:
        for seed in range(seeds):
            c = {**FULL, **(QUICK if options.quick else {}), **RECIPES[method], "method": method, "seed": seed,
                 "device": options.device}
            if options.epochs is not None:
                c["steps"] = options.epochs
            c["state_steps"] = resolve_state_steps(c)  # "all": the trial's steps
            if options.size is not None:
                c["size"] = options.size
            c["trial_id"] = f"{method}__s{seed}"
            configs.append(c)
    return configs


def per_trajectory(ok: list[Row], out_dir: Path, key: str) -> np.ndarray | None:
    """The seed-averaged error of each test trajectory and step, (N, K + 1), for ``method/mode``."""
    method, mode = key.split("/")
    runs = report.present_curves([r for r in ok if r["method"] == method], out_dir, f"eval/{mode}/mse")
    runs = [np.asarray(r) for r in runs if r]
    return np.mean(runs, 0) if runs else None


def strip_predictions(ok: list[Row], out_dir: Path) -> dict[str, np.ndarray] | None:
    """The seed-0 predicted frames (n, K + 1, H, W) uint8 of the strips, by ``method/mode`` (:data:`STRIP_METHODS`):
    from the trial folders (then kept in :data:`STRIPS`), else from :data:`STRIPS`; None when neither has them or
    a method did not finish."""
    seed0 = {r["method"]: out_dir / "trials" / r["trial_id"] for r in ok if r["seed"] == 0}
    if any(method not in seed0 for method, _ in STRIP_METHODS):
        return None
    files = {f"{method}/{mode}": seed0[method] / f"predictions_{mode}.npy" for method, mode in STRIP_METHODS}
    kept = out_dir / STRIPS
    if all(f.is_file() for f in files.values()):
        frames = {k: np.load(f) for k, f in files.items()}
        if not kept.is_file() or not _same(frames, _load_strips(kept)):  # a rewritten zip differs in its dates
            np.savez_compressed(kept, **{k.replace("/", "__"): v for k, v in frames.items()})
        return frames
    return _load_strips(kept) if kept.is_file() else None


def _load_strips(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as kept:
        return {k.replace("__", "/"): kept[k] for k in kept.files}


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def reference_errors(frames: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Per-pixel MSE (N, K + 1) of two predictions that learn nothing, on the test frames (N, L + 1, H, W) uint8:
    an all-black frame (the pendulum is a thin bar on black) and the first frame held for every step."""
    f = frames[:, : horizon + 1].astype(np.float64) / 255.0
    return {"ref/black": np.square(f).mean((2, 3)), "ref/held": np.square(f - f[:, :1]).mean((2, 3))}


def _step_table(errors: dict[str, np.ndarray], horizon: int) -> str:
    shown = [k for k in STEPS_SHOWN if k <= horizon] or [horizon]
    lines = []
    for key, e in errors.items():
        cells = []
        for k in shown:
            m, se, _ = report.mean_se(e[:, k].tolist())
            cells.append(f"{m:.4f} ± {se:.4f}")
        lines.append([LABELS[key], *cells, f"{e[:, 1:].mean():.4f}", f"{e[:, 1:].std(0).mean():.4f}"])
    return report.table(["method", *(f"k = {k}" for k in shown), "mean k >= 1", "SD over trajectories"], lines)


def _verdict(errors: dict[str, np.ndarray], horizon: int) -> str:
    """Where the DiLQR head's prediction error is significantly lower or higher than the baseline's (paired
    over the test trajectories, |mean difference| > 2 standard errors)."""
    if "dilqr/plan" not in errors or "latent/rollout" not in errors:
        return "n/a (a method is missing)"
    lines = []
    for key in (k for k in ("dilqr/plan", "dilqr/rollout", "dilqr-pixels/plan") if k in errors):
        diff = errors[key][:, 1:] - errors["latent/rollout"][:, 1:]  # (N, K)
        mean, se = diff.mean(0), diff.std(0, ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else diff.std(0)
        better = [k + 1 for k in range(horizon) if mean[k] + 2 * se[k] < 0]
        worse = [k + 1 for k in range(horizon) if mean[k] - 2 * se[k] > 0]
        ratio = errors[key][:, 1:].mean() / errors["latent/rollout"][:, 1:].mean()
        sd_ratio = errors[key][:, 1:].std(0).mean() / errors["latent/rollout"][:, 1:].std(0).mean()
        lines.append(f"- {LABELS[key]} vs {LABELS['latent/rollout']}: mean error over k = 1..{horizon} x{ratio:.2f}, "
                     f"SD over trajectories x{sd_ratio:.2f}; significantly lower at {len(better)} of {horizon} steps"
                     f"{_ranges(better)}, significantly higher at {len(worse)}{_ranges(worse)}.")
    return "\n".join(lines)


def _claim(errors: dict[str, np.ndarray], references: dict[str, np.ndarray]) -> str:
    """The paper's claim (higher accuracy, lower variance) against this run, in one sentence."""
    if "dilqr/plan" not in errors or "latent/rollout" not in errors or "ref/black" not in references:
        return ""
    d, b, k = errors["dilqr/plan"][:, 1:], errors["latent/rollout"][:, 1:], references["ref/black"][:, 1:]
    accurate, steady = d.mean() < b.mean(), d.std(0).mean() < b.std(0).mean()
    verdict = {(True, True): "both", (True, False): "higher accuracy but not lower variance",
               (False, True): "lower variance but not higher accuracy", (False, False): "neither"}[accurate, steady]
    return (f" In this run the DiLQR head's mean error over the steps is x{d.mean() / b.mean():.2f} the baseline's "
            f"and x{d.mean() / k.mean():.2f} an all-black frame's; its spread over the test swing-ups is "
            f"x{d.std(0).mean() / b.std(0).mean():.2f} the baseline's. Of the claim we see {verdict}.")


def _ranges(steps: list[int]) -> str:
    if not steps:
        return ""
    parts, start = [], steps[0]
    for a, b in zip(steps, [*steps[1:], None]):
        if b != a + 1:
            parts.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return " (k = " + ", ".join(parts) + ")"


def _parameters(ok: list[Row]) -> str:
    lines = []
    for method in (m for m in METHODS if m.startswith("dilqr")):
        rows = [r for r in ok if r["method"] == method]
        lines += [[method, name, f"{rows[0]['start_' + name]:.3g}",
                   report.fmt(*report.mean_se([r[f'param_{name}'] for r in rows])), f"{truth:g}"]
                  for name, truth in TRUTH.items() if rows]
    if not lines:
        return "n/a"
    return report.table(["method", "parameter", "start", "learned (mean ± SE over seeds)", "truth"], lines)


def summarize(rows: list[Row], out_dir: Path, options: StudyOptions) -> None:
    ok = report.ok_rows(rows)
    settings = ok[0] if ok else {**FULL, **(QUICK if options.quick else {}), "device": options.device}
    horizon = settings["horizon"]
    errors = {f"{m}/{mode}": e for m in METHODS for mode in MODES[m]
              if (e := per_trajectory(ok, out_dir, f"{m}/{mode}")) is not None}
    predicted = strip_predictions(ok, out_dir)
    # the test frames are drawn again (seconds to a minute) only when something is computed from them
    test = dataset({**settings, "data_dir": str(out_dir / "data")}, "test") if errors or predicted else None
    references = reference_errors(test.frames, horizon) if test is not None else {}
    if errors:
        plot_errors({LABELS[k]: e for k, e in {**errors, **references}.items()}, out_dir / "prediction_error.png",
                    f"per-pixel MSE over {len(next(iter(errors.values())))} test swing-ups")
    strips, missing = "", []
    if predicted is not None:
        write_strips(test.frames, {LABELS[k]: v for k, v in predicted.items()}, out_dir / "strip.png",
                     out_dir / "strip.gif")
        strips = ("`strip.png` and `strip.gif` (seed 0: the real frames, then the DiLQR head's and the baseline's "
                  "predictions, for three test swing-ups)")
    elif all(any(r["method"] == method and r["seed"] == 0 for r in ok) for method, _ in STRIP_METHODS):
        missing.append("The predicted frames of the strips are missing: neither the seed-0 trials' "
                       f"`predictions_<mode>.npy` nor `{STRIPS}` holds them; `strip.png` and `strip.gif` are "
                       "not redrawn.")
        strips = "`strip.png` and `strip.gif` (not redrawn, see Missing inputs below)"
    unknown = f"{report.MISSING} (see Missing inputs below)" if report.missing_histories(ok, out_dir) else "n/a"
    label = lambda r: r["method"]  # noqa: E731
    planners = [r for r in ok if r["method"].startswith("dilqr")]
    if planners:
        report.plot_parameters(report.parameter_histories(planners, out_dir, label, list(TRUTH)), TRUTH,
                               out_dir / "parameters.png",
                               "DiLQR heads: physical parameters per logged block (mean ± SE over seeds)")
    timing = [[m, report.fmt(*report.mean_se([r["train_seconds"] for r in ok if r["method"] == m])),
               report.fmt(*report.mean_se([r["wall_time_s"] for r in ok if r["method"] == m]))] for m in METHODS]
    text = f"""# visual: image prediction with a planning head (DiLQR paper, Sec. 5.4, Figs. 8-10)

{"QUICK RUN: tiny sizes, numbers mean nothing. " if options.quick else ""}Run on `{settings.get('device', 'cpu')}`,
{len({r['seed'] for r in ok})} seeds per method (each seed: its own training swing-ups and initial weights).

Regime: {"quick (every code path, tiny sizes)" if options.quick else "full run, reduced: " + REDUCED.format(
    trials=len(rows), **settings)}.{"" if options.quick else report.run_note(ok, options, SEEDS)}

## What we chose

{report.table(['what', 'the paper', 'ours'], [(w, p, o.format(**settings)) for w, p, o in CHOICES])}
## Per-step image prediction error

Per-pixel MSE between the predicted and the real frame k steps after the observation (k = 0: reconstruction),
per test swing-up averaged over the seeds; mean ± standard error over the {settings['n_test']} test swing-ups.
"SD over trajectories" is the standard deviation over the test swing-ups, averaged over k = 1..{horizon}.

{_step_table({**errors, **references}, horizon) if errors else unknown + chr(10)}
The two references learn nothing: a method near the all-black frame's error has not learned to draw the
pendulum where it is.

{_verdict(errors, horizon) if errors else unknown}

The paper claims "significantly higher prediction accuracy with lower variance" for the DiLQR head. The lines
above say where we see it (paired over the test swing-ups: a step counts when the mean difference exceeds two
standard errors).{_claim(errors, references)}

Figures: `prediction_error.png` (bands: one standard error over the test swing-ups), {strips or "no strips"},
`parameters.png`.

## Learned physical parameters

{_parameters(ok)}
## Time (one CPU thread per trial unless `--device` says otherwise)

{report.table(["method", "training s", "trial wall time s"], timing)}
{report.failures(rows)}{report.missing_inputs(ok, out_dir, HISTORY_USES, missing)}"""
    (out_dir / "summary.md").write_text(text)


STUDY = Study("visual", "DiLQR Sec. 5.4 / Figs. 8-10: image prediction with a DiLQR planning head vs a latent MLP",
              trials, run_visual_trial, summarize, __name__)
