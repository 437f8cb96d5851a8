"""The scale study: forward per iteration and backward of the implicit layer over batch B and horizon T.

Both model kinds, pendulum swing-up starts, exactly K iterations (tol = 0), medians over repeats. At small
sizes the time is per-step overhead (Python and kernel launches), so it grows sub-linearly in B until the
flops dominate; it grows linearly in T (the Riccati sweep and the rollouts are sequential in time).
"""

from __future__ import annotations

from pathlib import Path

import torch

from dilqr_rl.bench.problems import MODEL_KINDS, make_layer, swing_up_starts
from dilqr_rl.bench.timing import time_median


def run(args) -> dict:
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    rows = []
    for model in MODEL_KINDS:
        for horizon in args.scale_horizons:
            for batch in args.scale_batches:
                layer = make_layer("implicit", horizon, args.scale_iters, dtype=dtype, device=args.device, model=model)
                x0 = swing_up_starts(batch, dtype=dtype, device=args.device)
                time_median(layer, x0, 1, args.device)  # warm-up
                fwd, bwd, _ = time_median(layer, x0, args.repeats, args.device)
                rows.append({"model": model, "T": horizon, "B": batch, "iters": args.scale_iters,
                             "forward_per_iter_ms": 1e3 * fwd / args.scale_iters, "backward_ms": 1e3 * bwd})
                print(f"  {model:11s} T={horizon:4d} B={batch:5d}  fwd/iter {rows[-1]['forward_per_iter_ms']:9.2f} ms"
                      f"  bwd {rows[-1]['backward_ms']:9.2f} ms", flush=True)
    return {"rows": rows}


def table(result: dict) -> str:
    """One line per (T, B): both kinds, and the growth over the smallest batch at that T."""
    by = {(r["model"], r["T"], r["B"]): r for r in result["rows"]}
    horizons = sorted({r["T"] for r in result["rows"]})
    batches = sorted({r["B"] for r in result["rows"]})
    head = " | ".join(f"{m} fwd ms/iter | {m} bwd ms | {m} fwd x" for m in MODEL_KINDS)
    lines = [f"| T | B | {head} |", "|---|---|" + "---|---|---|" * len(MODEL_KINDS)]
    for T in horizons:
        for B in batches:
            cells = []
            for m in MODEL_KINDS:
                r, base = by[m, T, B], by[m, T, batches[0]]
                cells.append(f"{r['forward_per_iter_ms']:.2f} | {r['backward_ms']:.2f} | "
                             f"{r['forward_per_iter_ms'] / base['forward_per_iter_ms']:.1f}")
            lines.append(f"| {T} | {B} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"'fwd x': forward per iteration relative to B = {batches[0]} at the same T and kind "
                 f"(B grows {batches[-1] // batches[0]}x).")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    horizons = sorted({r["T"] for r in result["rows"]})
    for ax, column, title in ((axes[0], "forward_per_iter_ms", "forward per iteration (ms)"),
                              (axes[1], "backward_ms", "implicit backward (ms)")):
        for i, model in enumerate(MODEL_KINDS):
            for j, T in enumerate(horizons):
                pts = sorted((r["B"], r[column]) for r in result["rows"] if r["model"] == model and r["T"] == T)
                ax.plot(*zip(*pts), marker="o", linestyle="-" if i == 0 else "--", color=f"C{j}",
                        label=f"T={T} ({model})")
        ax.set(title=title, xlabel="batch B", xscale="log", yscale="log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
