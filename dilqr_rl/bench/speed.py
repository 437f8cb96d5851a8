"""The speed study: both model kinds against mpc.pytorch at the issue's sizes, with the issue's target ratios.

For each horizon T (default 10, 20, 30), batch B = 20, exactly K = 50 iterations (tol = 0): our layer in
``implicit`` and ``diffmpc`` mode and mpc.pytorch, each on the pendulum's ``closed-form`` models (mpc.pytorch
with the same closed-form Jacobians) and ``autograd`` models (plain ``nn.Module``s; mpc.pytorch
differentiates them by autograd), and on the user-written cart-pole (``autograd`` only). The solvers run
interleaved, one after the other in each repeat, so that the machine's load drifts alike for all; the
table gives medians over repeats and the ratios of those medians.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch

from dilqr_rl.bench import mpc_pytorch
from dilqr_rl.bench.problems import SYSTEMS, make_layer, swing_up_starts
from dilqr_rl.bench.timing import time_once

SOLVERS = ("implicit", "diffmpc", "mpc.pytorch")
TARGETS = (
    # (key, measure, target, needs closed-form models): each ratio must be at most its target
    ("fwd_autograd_vs_mpc", "forward per iteration, ours / mpc.pytorch, autograd models", 0.33, False),
    ("bwd_autograd_vs_mpc", "exact implicit backward / mpc.pytorch backward, autograd models", 0.5, False),
    ("implicit_vs_diffmpc_autograd", "implicit / diffmpc backward, autograd models", 1.3, False),
    ("fwd_autograd_vs_closed", "forward per iteration, autograd / closed-form models (ours)", 1.5, True),
    ("fwd_closed_vs_mpc", "forward per iteration, ours / mpc.pytorch, closed-form models", 0.25, True),
)


def _solvers(args, system: str, horizon: int, dtype: torch.dtype) -> dict:
    solvers = {}
    for model in SYSTEMS[system].kinds:
        for mode in ("implicit", "diffmpc"):
            solvers[model, mode] = make_layer(mode, horizon, args.speed_iters, dtype=dtype, device=args.device,
                                              model=model, system=system)
        if args.mpc and mpc_pytorch.available() and args.device == "cpu":
            solvers[model, "mpc.pytorch"] = mpc_pytorch.make(horizon, args.speed_iters, args.batch, dtype,
                                                             model=model, system=system)[0]
    return solvers


def ratios(by: dict, system: str, horizon: int) -> dict:
    """The target ratios of one system and horizon from ``by[(system, model, solver, T)]`` (NaN: not measured)."""
    def get(model, solver, column):
        row = by.get((system, model, solver, horizon))
        return row[column] if row else float("nan")

    fwd, bwd = "forward_per_iter_ms", "backward_ms"
    return {
        "fwd_autograd_vs_mpc": get("autograd", "implicit", fwd) / get("autograd", "mpc.pytorch", fwd),
        "bwd_autograd_vs_mpc": get("autograd", "implicit", bwd) / get("autograd", "mpc.pytorch", bwd),
        "implicit_vs_diffmpc_autograd": get("autograd", "implicit", bwd) / get("autograd", "diffmpc", bwd),
        "fwd_autograd_vs_closed": get("autograd", "implicit", fwd) / get("closed-form", "implicit", fwd),
        "fwd_closed_vs_mpc": get("closed-form", "implicit", fwd) / get("closed-form", "mpc.pytorch", fwd),
    }


def _time_system(args, system: str, dtype: torch.dtype) -> list[dict]:
    x0 = swing_up_starts(args.batch, dtype=dtype, device=args.device, system=system)
    rows = []
    for horizon in args.speed_horizons:
        solvers = _solvers(args, system, horizon, dtype)
        for solve in solvers.values():  # warm-up: first calls build caches
            time_once(solve, x0, args.device)
        times = {key: [] for key in solvers}
        for _ in range(args.repeats):
            for key, solve in solvers.items():
                times[key].append(time_once(solve, x0, args.device))
        for (model, solver), runs in times.items():
            fwd, bwd = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            rows.append({"system": system, "model": model, "solver": solver, "T": horizon, "B": args.batch,
                         "iters": args.speed_iters, "forward_per_iter_ms": 1e3 * fwd / args.speed_iters,
                         "backward_ms": 1e3 * bwd})
            print(f"  {system:8s} T={horizon:3d} {model:11s} {solver:11s} fwd/iter "
                  f"{rows[-1]['forward_per_iter_ms']:7.2f} ms  bwd {rows[-1]['backward_ms']:7.2f} ms", flush=True)
    return rows


def run(args) -> dict:
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    rows = [row for system in SYSTEMS for row in _time_system(args, system, dtype)]
    by = {(r["system"], r["model"], r["solver"], r["T"]): r for r in rows}
    return {"rows": rows, "ratios": {s: {T: ratios(by, s, T) for T in args.speed_horizons} for s in SYSTEMS}}


def table(result: dict) -> str:
    """Times per system, solver and model kind, then the target ratios per horizon."""
    by = {(r["system"], r["model"], r["solver"], r["T"]): r for r in result["rows"]}
    horizons = sorted({r["T"] for r in result["rows"]})
    lines = ["| system | T | models | ours fwd ms/iter | mpc.pytorch fwd ms/iter | implicit bwd ms | diffmpc bwd ms "
             "| mpc.pytorch bwd ms |", "|---|---|---|---|---|---|---|---|"]

    def cell(key, column):
        row = by.get(key)
        return f"{row[column]:.2f}" if row else "-"

    for system, spec in SYSTEMS.items():
        for T in horizons:
            for m in spec.kinds:
                lines.append(f"| {system} | {T} | {m} | {cell((system, m, 'implicit', T), 'forward_per_iter_ms')} | "
                             f"{cell((system, m, 'mpc.pytorch', T), 'forward_per_iter_ms')} | "
                             f"{cell((system, m, 'implicit', T), 'backward_ms')} | "
                             f"{cell((system, m, 'diffmpc', T), 'backward_ms')} | "
                             f"{cell((system, m, 'mpc.pytorch', T), 'backward_ms')} |")
    lines += ["", "| ratio (medians) | system | target | " + " | ".join(f"T={T}" for T in horizons) + " | met |",
              "|---|---|---|" + "---|" * len(horizons) + "---|"]
    for system, spec in SYSTEMS.items():
        for key, measure, target, closed in TARGETS:
            if closed and "closed-form" not in spec.kinds:
                continue
            values = [result["ratios"][system][T][key] for T in horizons]
            met = "-" if any(v != v for v in values) else ("yes" if all(v <= target for v in values) else "no")
            lines.append(f"| {measure} | {system} | <= {target} | " + " | ".join(f"{v:.2f}" for v in values)
                         + f" | {met} |")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    styles = {("pendulum", "closed-form"): "-", ("pendulum", "autograd"): "--", ("cartpole", "autograd"): ":"}
    for ax, column, title in ((axes[0], "forward_per_iter_ms", "forward per iteration (ms)"),
                              (axes[1], "backward_ms", "backward (ms)")):
        for (system, model), style in styles.items():
            for j, solver in enumerate(SOLVERS):
                if column == "forward_per_iter_ms" and solver == "diffmpc":
                    continue  # the same forward as implicit
                pts = sorted((r["T"], r[column]) for r in result["rows"]
                             if (r["system"], r["model"], r["solver"]) == (system, model, solver))
                if pts:
                    ax.plot(*zip(*pts), marker="os^"[j], linestyle=style, color=f"C{j}",
                            label=f"{solver} ({system}, {model})")
        ax.set(title=title, xlabel="horizon T", yscale="log")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
