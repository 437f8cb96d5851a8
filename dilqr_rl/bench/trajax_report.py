"""The trajax study's ratios, its Markdown report (with issue 14's targets next to the ratios) and its plot."""

from __future__ import annotations

import math
from pathlib import Path

MODELS = ("ours closed-form", "ours autograd")
PEERS = ("mpc.pytorch closed-form", "mpc.pytorch autograd")
"""Timed beside ours when mpc.pytorch is installed: the same ratios to trajax, without targets."""
RATIOS = {"solution": "solution_ms", "forward_per_iter": "forward_per_iter_ms", "backward": "backward_ms",
          "first_call": "first_call_ms", "solution_cpu": "solution_cpu_ms"}
TARGETS = (
    # (ratio, measure, sizes it applies to: "batch" B > 1, "single" B = 1, "all"; target: ours / trajax <= it)
    ("solution", "time to solution (forward + backward), ours / trajax", "batch", 1.0),
    ("solution", "time to solution (forward + backward), ours / trajax", "single", 3.0),
    ("forward_per_iter", "forward per iteration, ours / trajax", "batch", 1.0),
    ("first_call", "first call at a shape (trajax: trace + compile), ours / trajax", "all", 1.0),
    ("backward", "backward, ours / trajax (no target)", "all", None),
    ("solution_cpu", "time to solution in process CPU time, ours / trajax (no target; robust to the load)", "all",
     None),
)
RECEDING_TARGET_MS = 1.0
NAN = float("nan")


def ratios(rows: list[dict]) -> list[dict]:
    """ours / trajax of the medians, per dtype, size and our model kind (NaN without trajax)."""
    by = {(r["dtype"], r["B"], r["T"], r["solver"]): r for r in rows if r["measure"] == "solve"}
    out = []
    for (dtype, B, T, solver), row in by.items():
        if solver == "trajax":
            continue
        peer = by.get((dtype, B, T, "trajax"))
        out.append({"dtype": dtype, "B": B, "T": T, "models": solver,
                    **{key: row[col] / peer[col] if peer else NAN for key, col in RATIOS.items()}})
    return out


def _applies(sizes: str, B: int) -> bool:
    return sizes == "all" or (sizes == "single") == (B == 1)


def _met(values: list[float], target: float | None) -> str:
    if target is None or not values:
        return ""
    if any(math.isnan(v) for v in values):
        return "-"
    return "yes" if all(v <= target for v in values) else "no"


def _header(result: dict) -> list[str]:
    p = result["provenance"]
    dirty = f" plus uncommitted changes in {', '.join(p['uncommitted'])}" if p["uncommitted"] else ""
    cpu = {s: [r["cpu_per_wall"] for r in result["rows"] if r["measure"] == "solve" and r["solver"] == s]
           for s in (*MODELS, *PEERS, "trajax")}
    cpu_text = ", ".join(f"{s} {min(v):.2f}-{max(v):.2f}" for s, v in cpu.items() if v)
    peer = (f"jax {p['jax']}, jaxlib {p['jaxlib']}, trajax {p['trajax']}; XLA_FLAGS=\"{p['xla_flags']}\""
            if result["trajax"] else "**trajax not timed (not installed, or --no-trajax): ours alone**")
    if p.get("mpc"):
        peer += (f"; mpc.pytorch {p['mpc']} to its own tolerance (every item's full control step below tol, at most "
                 "100 iterations; its backward is DiffMPC's approximate one)")
    return [f"Measured {p['date']} on {p['machine']}; ours at commit {p['commit']}{dirty}, with "
            f"{p.get('sweeps', 'unknown sweeps')}.",
            f"torch {p['torch']} ({p['torch_threads']} thread), {peer}. Process CPU time / wall time of the timed "
            f"calls, over sizes (1.00: one core, busy all the time; below 1: the process waited, e.g. for the "
            f"machine's other jobs, and that cell is slowed): {cpu_text}.", ""]


def _times(rows: list[dict]) -> list[str]:
    lines = ["| dtype | B | T | solver | iterations max (mean) | fwd ms | fwd ms/iter | bwd ms | solution ms "
             "| first call ms | CPU/wall |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["measure"] == "solve":
            lines.append(f"| {r['dtype']} | {r['B']} | {r['T']} | {r['solver']} | {r['iters_max']} "
                         f"({r['iters_mean']:.1f}) | {r['forward_ms']:.2f} | {r['forward_per_iter_ms']:.3f} | "
                         f"{r['backward_ms']:.2f} | {r['solution_ms']:.2f} | {r['first_call_ms']:.0f} | "
                         f"{r['cpu_per_wall']:.2f} |")
    return lines


def _ratio_table(result: dict) -> list[str]:
    sizes = sorted({(q["B"], q["T"]) for q in result["ratios"]})
    by = {(q["dtype"], q["B"], q["T"], q["models"]): q for q in result["ratios"]}
    dtypes = sorted({q["dtype"] for q in result["ratios"]})
    lines = ["| ratio (medians) | dtype | models | target | " + " | ".join(f"B={B} T={T}" for B, T in sizes)
             + " | met |", "|---|---|---|---|" + "---|" * len(sizes) + "---|"]
    for key, measure, applies, target in TARGETS:
        for dtype in dtypes:
            for models in MODELS:
                cells = [by[dtype, B, T, models][key] if _applies(applies, B) else None for B, T in sizes]
                values = [c for c in cells if c is not None]
                if not values:
                    continue
                text = " | ".join("" if c is None else f"{c:.2f}" for c in cells)
                lines.append(f"| {measure} | {dtype} | {models.removeprefix('ours ')} | "
                             f"{'-' if target is None else f'<= {target:g}'} | {text} | {_met(values, target)} |")
    for dtype in dtypes:  # the other peer, for reference
        for solver in PEERS:
            cells = [by[dtype, B, T, solver]["solution"] if (dtype, B, T, solver) in by else None for B, T in sizes]
            if any(c is not None for c in cells):
                text = " | ".join("" if c is None else f"{c:.2f}" for c in cells)
                lines.append(f"| time to solution, {solver} / trajax (no target) | {dtype} | "
                             f"{solver.removeprefix('mpc.pytorch ')} | - | {text} |  |")
    return lines


def _receding(rows: list[dict]) -> list[str]:
    lines = ["| dtype | B | T | solver | ms per step | iterations per step (mean) | target | met |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["measure"] == "receding step":
            ours = r["solver"] != "trajax"
            lines.append(f"| {r['dtype']} | {r['B']} | {r['T']} | {r['solver']} | {r['forward_ms']:.2f} | "
                         f"{r['iters_mean']:.2f} | {f'<= {RECEDING_TARGET_MS:g} ms' if ours else '-'} | "
                         f"{_met([r['forward_ms']], RECEDING_TARGET_MS) if ours else ''} |")
    return lines


def _agreement(rows: list[dict]) -> list[str]:
    by = {(r["dtype"], r["B"], r["T"], r["solver"]): r for r in rows if r["measure"] == "solve"}
    lines = ["| dtype | B | T | models | max abs u | max abs du | grad rel diff | dL/d(m, l, g) ours "
             "| dL/d(m, l, g) trajax |", "|---|---|---|---|---|---|---|---|---|"]

    def grad(r):
        return ", ".join(f"{r[k]:.7g}" for k in ("grad_m", "grad_l", "grad_g"))

    for (dtype, B, T, solver), r in by.items():
        peer = by.get((dtype, B, T, "trajax"))
        if solver != "trajax" and peer:
            lines.append(f"| {dtype} | {B} | {T} | {solver.removeprefix('ours ')} | {r['max_abs_u']:.1f} | "
                         f"{r['max_abs_du']:.1e} | "
                         f"{r['grad_rel_diff']:.1e} | {grad(r)} | {grad(peer)} |")
    return lines


def table(result: dict) -> str:
    """The report: where it ran, times, ratios with targets, receding-horizon steps, agreement."""
    parts = [*_header(result), *_times(result["rows"]), "", *_ratio_table(result), "", *_receding(result["rows"])]
    if result["trajax"]:
        parts += ["", "Agreement with trajax (first call at each size; u over all items and steps, our u_T "
                  "against trajax's padded 0; gradient: ||g_ours - g_trajax|| / ||g_trajax||):", "",
                  *_agreement(result["rows"])]
    return "\n".join(parts)


def plot(result: dict, path: Path) -> None:
    """Time to solution against T at B = --batch, one panel per dtype."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if r["measure"] == "solve" and r["B"] == result["batch"]]
    dtypes = sorted({r["dtype"] for r in rows})
    fig, axes = plt.subplots(1, max(len(dtypes), 1), figsize=(5.5 * max(len(dtypes), 1), 3.8), squeeze=False)
    for ax, dtype in zip(axes[0], dtypes):
        for j, solver in enumerate((*MODELS, "trajax", *PEERS)):
            pts = sorted((r["T"], r["solution_ms"]) for r in rows if r["dtype"] == dtype and r["solver"] == solver)
            if pts:
                ax.plot(*zip(*pts), marker="os^dv"[j], color=f"C{j}", label=solver)
        ax.set(title=f"time to solution, B = {result['batch']}, {dtype}", xlabel="horizon T", ylabel="ms",
               yscale="log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
