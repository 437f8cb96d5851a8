"""The iterations study (DiLQR Fig. 2): backward time vs iterations and horizon for the three gradient modes.

Pendulum swing-up starts, batch 20, float64, one model kind (``closed-form`` or ``autograd``). For each
mode, horizon T and iteration count K, the forward runs exactly K iterations (tol=0) and the backward of a
fixed quadratic loss on the plan is timed; medians over repeats. Also: the memory the forward keeps for
backward (bytes saved by autograd), a horizon sweep of the implicit backward up to T=200, the forward time
per iteration, a KKT check at tol=1e-10, and mpc.pytorch (PyPI ``mpc``) on the same problem and model when
installed. Run by ``dilqr-rl bench`` (``--study iterations``, the default).
"""

from __future__ import annotations

from pathlib import Path

import torch

from dilqr_rl.bench import mpc_pytorch
from dilqr_rl.bench.problems import imitation_loss, make_layer, swing_up_starts
from dilqr_rl.bench.timing import time_median

MODES = ("implicit", "diffmpc", "unroll")


def _param_grads(model, loss):
    model.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def gradient_accuracy(x0, horizon, device, model):
    """Relative error of d loss / d (physical parameters) against the implicit gradient, all converged.

    The implicit gradient itself is checked against finite differences in tests/control.
    """
    grads, conv = {}, {}
    for mode in MODES:
        layer = make_layer(mode, horizon, 300, dtype=x0.dtype, device=device, tol=1e-10, model=model)
        sol = layer(x0)
        conv[mode] = sol.converged.double().mean().item()
        grads[mode] = _param_grads(layer.dynamics, imitation_loss(sol))
    if mpc_pytorch.available() and device == "cpu":
        solve, dynamics = mpc_pytorch.make(horizon, 300, x0.shape[0], x0.dtype, model=model)
        x, u = solve(x0)
        plan = type("Plan", (), {"x": x, "u": u})()
        grads["mpc.pytorch"] = _param_grads(dynamics, imitation_loss(plan))
    exact = grads["implicit"]
    errors = {m: ((g - exact).norm() / exact.norm()).item() for m, g in grads.items() if m != "implicit"}
    return {"horizon": horizon, "relative_error_vs_implicit": errors, "converged_fraction": conv}


def kkt_check(x0, horizon, device, model):
    layer = make_layer("implicit", horizon, 500, dtype=x0.dtype, device=device, tol=1e-10, model=model)
    sol = layer(x0)
    return {"tol": 1e-10, "converged_fraction": sol.converged.double().mean().item(),
            "max_kkt_residual": sol.kkt_residual.max().item(), "max_iterations": int(sol.iterations.max())}


def run(args) -> dict:
    device, model = args.device, args.model
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    x0 = swing_up_starts(args.batch, dtype=dtype, device=device)
    rows = []
    for horizon in args.horizons:
        for iters in args.iters:
            for mode in MODES:
                layer = make_layer(mode, horizon, iters, dtype=dtype, device=device, model=model)
                fwd, bwd, kb = time_median(layer, x0, args.repeats, device, memory=True)
                rows.append({"mode": mode, "T": horizon, "iters": iters, "forward_s": fwd, "backward_s": bwd,
                             "saved_kb": kb, "forward_per_iter_ms": 1e3 * fwd / iters})
                print(f"  {mode:8s} T={horizon:3d} K={iters:3d}  fwd {fwd * 1e3:9.1f} ms  bwd {bwd * 1e3:9.2f} ms  "
                      f"saved {kb:9.1f} KB", flush=True)
            if args.mpc and mpc_pytorch.available() and device == "cpu":
                solve, _ = mpc_pytorch.make(horizon, iters, args.batch, dtype, model=model)
                fwd, bwd, _ = time_median(solve, x0, args.repeats)
                rows.append({"mode": "mpc.pytorch", "T": horizon, "iters": iters, "forward_s": fwd,
                             "backward_s": bwd, "saved_kb": float("nan"), "forward_per_iter_ms": 1e3 * fwd / iters})
                print(f"  {'mpc.pyt':8s} T={horizon:3d} K={iters:3d}  fwd {fwd * 1e3:9.1f} ms  bwd {bwd * 1e3:9.2f} ms")
    sweep = []
    for horizon in args.sweep:
        layer = make_layer("implicit", horizon, args.sweep_iters, dtype=dtype, device=device, tol=1e-7, model=model)
        _, bwd, kb = time_median(layer, x0, args.repeats, device, memory=True)
        sweep.append({"T": horizon, "backward_s": bwd, "saved_kb": kb})
        print(f"  implicit sweep T={horizon:3d}  bwd {bwd * 1e3:8.2f} ms", flush=True)
    accuracy = gradient_accuracy(x0, 10 if 10 in args.horizons else max(args.horizons), device, model)
    return {"model": model, "rows": rows, "sweep": sweep, "kkt": kkt_check(x0, max(args.horizons), device, model),
            "accuracy": accuracy}


def table(result: dict) -> str:
    """Medians and the ratios the issue asks for, one line per (T, K)."""
    by = {(r["mode"], r["T"], r["iters"]): r for r in result["rows"]}
    keys = sorted({(r["T"], r["iters"]) for r in result["rows"]})
    lines = ["| T | K | implicit bwd ms | diffmpc bwd ms | unroll bwd ms | unroll/implicit | implicit/diffmpc "
             "| fwd ms/iter (implicit) | mpc.pytorch bwd ms | mpc.pytorch fwd ms/iter |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for T, K in keys:
        im, dm, un = by["implicit", T, K], by["diffmpc", T, K], by["unroll", T, K]
        mp = by.get(("mpc.pytorch", T, K))
        mp_cols = (f"{mp['backward_s'] * 1e3:.2f} | {mp['forward_per_iter_ms']:.2f}" if mp else "- | -")
        lines.append(
            f"| {T} | {K} | {im['backward_s'] * 1e3:.2f} | {dm['backward_s'] * 1e3:.2f} | "
            f"{un['backward_s'] * 1e3:.1f} | "
            f"{un['backward_s'] / im['backward_s']:.0f}x | {im['backward_s'] / dm['backward_s']:.2f} | "
            f"{im['forward_per_iter_ms']:.2f} | {mp_cols} |"
        )
    if result["sweep"]:
        s = {r["T"]: r["backward_s"] for r in result["sweep"]}
        lines.append("")
        lines.append("implicit backward vs horizon: " + ", ".join(f"T={T}: {v * 1e3:.2f} ms" for T, v in s.items()))
        if 20 in s and max(s) >= 200:
            lines.append(f"T={max(s)} / T=20 backward ratio: {s[max(s)] / s[20]:.1f}")
    acc = result["accuracy"]
    lines.append(f"gradient error vs implicit at T={acc['horizon']} (d loss/d physics, converged solves): "
                 + ", ".join(f"{m} {e:.1e}" for m, e in acc["relative_error_vs_implicit"].items()))
    k = result["kkt"]
    lines.append(f"KKT check (tol 1e-10): converged {k['converged_fraction']:.0%}, "
                 f"max residual {k['max_kkt_residual']:.1e}, max iterations {k['max_iterations']}")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizons = sorted({r["T"] for r in result["rows"]})
    fig, axes = plt.subplots(1, len(horizons) + 1, figsize=(4 * (len(horizons) + 1), 3.5))
    for ax, T in zip(axes, horizons):
        for mode in (*MODES, "mpc.pytorch"):
            pts = sorted((r["iters"], r["backward_s"]) for r in result["rows"] if r["mode"] == mode and r["T"] == T)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=mode)
        ax.set(title=f"T = {T}", xlabel="iLQR iterations", ylabel="backward time (s)", yscale="log")
        ax.grid(alpha=0.3)
    axes[0].legend()
    if result["sweep"]:
        pts = [(r["T"], r["backward_s"]) for r in result["sweep"]]
        axes[-1].plot(*zip(*pts), marker="o", color="C0")
        axes[-1].set(title="implicit: backward vs horizon", xlabel="horizon T", ylabel="backward time (s)")
        axes[-1].grid(alpha=0.3)
    fig.suptitle(f"{result['model']} models")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
