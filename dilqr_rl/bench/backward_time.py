"""Reproduce DiLQR Fig. 2: backward time vs iterations and horizon for the three gradient modes.

Pendulum swing-up starts, batch 20, float64. For each mode, horizon T and iteration count K, the
forward runs exactly K iterations (tol=0) and the backward of a fixed quadratic loss on the plan is
timed; medians over repeats. Also: the memory the forward keeps for backward (bytes saved by autograd),
a horizon sweep of the implicit backward up to T=200, the forward time per iteration, a KKT check at
tol=1e-10, and mpc.pytorch (PyPI ``mpc``) on the same problem when installed.

    dilqr-rl bench            # full study (several minutes); also python benchmarks/backward_time.py
    dilqr-rl bench --quick    # seconds; what the test suite runs
Writes ``backward_time.{csv,json,png,md}`` to ``--out`` (default benchmarks/results/ under the current directory).
"""

from __future__ import annotations

import csv
import json
import platform
import statistics
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch

from dilqr_rl.bench import mpc_pytorch
from dilqr_rl.bench.pendulum_problem import imitation_loss, make_layer, swing_up_starts
from dilqr_rl.control import HessianFallbackWarning, UnconvergedWarning

MODES = ("implicit", "diffmpc", "unroll")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def saved_bytes(fn):
    """Run ``fn`` and count the bytes autograd saves for backward (each storage once)."""
    seen: dict[int, int] = {}

    def pack(t):
        if t.device.type != "meta":
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


def time_mode(mode, horizon, iters, x0, repeats, device, tol=0.0):
    """Median forward and backward seconds, and saved KB, for one configuration."""
    layer = make_layer(mode, horizon, iters, dtype=x0.dtype, device=device, tol=tol)
    fwd, bwd, mem = [], [], 0
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        sol, mem = saved_bytes(lambda: layer(x0))
        loss = imitation_loss(sol)
        _sync(device)
        t1 = time.perf_counter()
        loss.backward()
        _sync(device)
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    return statistics.median(fwd), statistics.median(bwd), mem / 2**10


def time_mpc_pytorch(horizon, iters, x0, repeats):
    solve, _ = mpc_pytorch.make(horizon, iters, x0.shape[0], x0.dtype)
    fwd, bwd = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        x, u = solve(x0)
        loss = imitation_loss(type("S", (), {"x": x, "u": u})())
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    return statistics.median(fwd), statistics.median(bwd)


def _param_grads(model, loss):
    model.zero_grad()
    loss.backward()
    return torch.stack([p.grad for p in (model.mass, model.length, model.gravity)])


def gradient_accuracy(x0, horizon, device):
    """Relative error of d loss / d (mass, length, gravity) against the implicit gradient, all converged.

    The implicit gradient itself is checked against finite differences in tests/control.
    """
    grads, conv = {}, {}
    for mode in MODES:
        layer = make_layer(mode, horizon, 300, dtype=x0.dtype, device=device, tol=1e-10)
        sol = layer(x0)
        conv[mode] = sol.converged.double().mean().item()
        grads[mode] = _param_grads(layer.dynamics, imitation_loss(sol))
    if mpc_pytorch.available() and device == "cpu":
        solve, model = mpc_pytorch.make(horizon, 300, x0.shape[0], x0.dtype)
        x, u = solve(x0)
        grads["mpc.pytorch"] = _param_grads(model, imitation_loss(type("S", (), {"x": x, "u": u})()))
    exact = grads["implicit"]
    errors = {m: ((g - exact).norm() / exact.norm()).item() for m, g in grads.items() if m != "implicit"}
    return {"horizon": horizon, "relative_error_vs_implicit": errors, "converged_fraction": conv}


def kkt_check(x0, horizon, device):
    layer = make_layer("implicit", horizon, 500, dtype=x0.dtype, device=device, tol=1e-10)
    sol = layer(x0)
    return {"tol": 1e-10, "converged_fraction": sol.converged.double().mean().item(),
            "max_kkt_residual": sol.kkt_residual.max().item(), "max_iterations": int(sol.iterations.max())}


def run(args) -> dict:
    device = args.device
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    x0 = swing_up_starts(args.batch, dtype=dtype, device=device)
    rows = []
    for horizon in args.horizons:
        for iters in args.iters:
            for mode in MODES:
                fwd, bwd, mb = time_mode(mode, horizon, iters, x0, args.repeats, device)
                rows.append({"mode": mode, "T": horizon, "iters": iters, "forward_s": fwd, "backward_s": bwd,
                             "saved_kb": mb, "forward_per_iter_ms": 1e3 * fwd / iters})
                print(f"  {mode:8s} T={horizon:3d} K={iters:3d}  fwd {fwd * 1e3:9.1f} ms  bwd {bwd * 1e3:9.2f} ms  "
                      f"saved {mb:9.1f} KB", flush=True)
            if args.mpc and mpc_pytorch.available() and device == "cpu":
                fwd, bwd = time_mpc_pytorch(horizon, iters, x0, args.repeats)
                rows.append({"mode": "mpc.pytorch", "T": horizon, "iters": iters, "forward_s": fwd,
                             "backward_s": bwd, "saved_kb": float("nan"), "forward_per_iter_ms": 1e3 * fwd / iters})
                print(f"  {'mpc.pyt':8s} T={horizon:3d} K={iters:3d}  fwd {fwd * 1e3:9.1f} ms  bwd {bwd * 1e3:9.2f} ms")
    sweep = []
    for horizon in args.sweep:
        _, bwd, mb = time_mode("implicit", horizon, args.sweep_iters, x0, args.repeats, device, tol=1e-7)
        sweep.append({"T": horizon, "backward_s": bwd, "saved_kb": mb})
        print(f"  implicit sweep T={horizon:3d}  bwd {bwd * 1e3:8.2f} ms", flush=True)
    accuracy = gradient_accuracy(x0, 10 if 10 in args.horizons else max(args.horizons), device)
    return {"rows": rows, "sweep": sweep, "kkt": kkt_check(x0, max(args.horizons), device), "accuracy": accuracy}


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
    lines.append(f"KKT check (float64, tol 1e-10): converged {k['converged_fraction']:.0%}, "
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(result: dict, out: Path, meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "backward_time.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(result["rows"][0]))
        writer.writeheader()
        writer.writerows(result["rows"])
    (out / "backward_time.json").write_text(json.dumps({**result, "meta": meta}, indent=2))
    plot(result, out / "backward_time.png")


def _help(text: str) -> dict:
    return {"help": text}


@dataclass(frozen=True)
class BenchConfig:
    """Settings of the backward-time study (``dilqr-rl bench --help``)."""

    quick: bool = field(default=False, metadata=_help("tiny grid (seconds); used by the tests"))
    iters: tuple[int, ...] = field(default=(10, 50, 100, 200, 300), metadata=_help("iLQR iteration counts"))
    horizons: tuple[int, ...] = field(default=(5, 10, 20, 30), metadata=_help("horizons T"))
    sweep: tuple[int, ...] = field(default=(10, 20, 50, 100, 200),
                                   metadata=_help("horizons of the implicit backward sweep"))
    sweep_iters: int = field(default=200, metadata=_help("iteration cap of the horizon sweep (solves to tol 1e-7)"))
    batch: int = field(default=20, metadata=_help("batch size B"))
    repeats: int = field(default=5, metadata=_help("repeats per configuration (medians are reported)"))
    dtype: Literal["float64", "float32"] = field(default="float64", metadata=_help("floating point type"))
    device: str = field(default="cpu", metadata=_help("torch device, e.g. cpu or cuda"))
    mpc: bool = field(default=True, metadata=_help("also time mpc.pytorch (PyPI 'mpc') when installed"))
    out: str = field(default="benchmarks/results", metadata=_help("output folder"))

    def resolved(self) -> BenchConfig:
        """The grid actually run: ``quick`` replaces it with a tiny one."""
        if not self.quick:
            return self
        return replace(self, iters=(2, 4), horizons=(5,), sweep=(5, 10), repeats=1, batch=4)


def run_config(config: BenchConfig) -> int:
    """Run the study, write the files, print the table."""
    args = config.resolved()
    out = Path(args.out)
    torch.manual_seed(0)
    meta = {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "threads": torch.get_num_threads(), "device": args.device, "dtype": args.dtype, "batch": args.batch,
            "repeats": args.repeats, "mpc_pytorch": mpc_pytorch.available()}
    print(f"backward-time benchmark: {meta}")
    with warnings.catch_warnings():
        # tol=0 runs a fixed number of iterations: such solves are "unconverged" by design, and their
        # backward may fall back to the cost Hessian; both are expected here.
        warnings.simplefilter("ignore", UnconvergedWarning)
        warnings.simplefilter("ignore", HessianFallbackWarning)
        result = run(args)
    write(result, out, meta)
    text = table(result)
    (out / "backward_time.md").write_text(text + "\n")
    print(text)
    print(f"wrote {out}/backward_time.{{csv,json,png,md}}")
    return 0
