"""The trajax study: our layer against Google's trajax (JAX) on the pendulum swing-up (issue 14).

Sizes: B = 1 with T in {10, 20}, B = 20 with T in {10, 20, 30}, each in float32 and float64. Solvers: our
layer in ``implicit`` mode on both model kinds (``closed-form``, ``autograd``) and trajax
(:mod:`dilqr_rl.bench.trajax_peer`), from zero controls, with bounds |u| <= 1000 for ours (wide enough to
stay inactive: trajax's ``ilqr`` has none), to tolerance 1e-7 (in float32 raised to our floor, 50 eps;
ours tests the relative KKT residual and the step, trajax its gradient's 2-norm).

Timed: the forward (the solve and the loss), the backward (the gradient of
:func:`~dilqr_rl.bench.problems.imitation_loss` w.r.t. the pendulum's m, l, g; our cost's parameters are
frozen, as trajax differentiates only what its dynamics close over), their sum (time to solution), and
each solver's first call at the size (trajax traces and compiles there; ours, with the ``autograd`` kind, traces
the user's modules and builds their C forms there (:mod:`dilqr_rl.control.kernels.codegen`): the study starts
from an empty kernel cache, a temporary ``DILQR_RL_CACHE`` unless you set one, so those builds are counted; its
first call at the first size also carries the process's warm-up and the kernel library's build). The solvers
run interleaved in each repeat; medians over repeats. Checked: the plans (max |du|) and the gradients w.r.t.
(m, l, g) (relative) agree. Then warm-started receding-horizon steps (B = 8, T = 20, at most 3 iterations from
the shifted previous plan), forward only, ms per step.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import numpy as np
import torch

from dilqr_rl.bench import mpc_pytorch, trajax_peer
from dilqr_rl.bench.problems import make_layer, swing_up_starts
from dilqr_rl.bench.provenance import provenance
from dilqr_rl.bench.timing import Measured, measure_layer
from dilqr_rl.bench.trajax_report import plot, ratios, table
from dilqr_rl.control import kernels
from dilqr_rl.control.ilqr import effective_tol

__all__ = ["plot", "run", "table"]

WIDE_U = 1e3  # |u| bound of ours here: inactive on this problem (the report gives the largest |u|)
MAX_ITER = 100
OURS = {  # solver name: (model kind, names of its m, l, g parameters)
    "ours closed-form": ("closed-form", ("mass", "length", "gravity")),
    "ours autograd": ("autograd", ("m", "l", "g")),
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}
COLUMNS = ("measure", "dtype", "B", "T", "solver", "iters_max", "iters_mean", "forward_ms", "forward_per_iter_ms",
           "backward_ms", "solution_ms", "solution_cpu_ms", "first_call_ms", "max_abs_u", "max_abs_du",
           "grad_rel_diff", "grad_m", "grad_l", "grad_g", "cpu_per_wall")  # of every row, in the CSV's order


def _our_solver(args, kind: str, horizon: int, dtype: torch.dtype, max_iter: int = MAX_ITER):
    """(layer, its (m, l, g) parameters): implicit mode, wide bounds, the cost's parameters frozen."""
    model, names = OURS[kind]
    layer = make_layer("implicit", horizon, max_iter, dtype=dtype, tol=args.trajax_tol, model=model, u_max=WIDE_U)
    layer.cost.requires_grad_(False)
    return layer, [getattr(layer.dynamics, name) for name in names]


def _solvers(args, batch: int, horizon: int, dtype: torch.dtype, x0: torch.Tensor, use_trajax: bool) -> dict:
    """{solver name: () -> Measured}."""
    solvers = {}
    for kind in OURS:
        layer, params = _our_solver(args, kind, horizon, dtype)
        solvers[kind] = lambda layer=layer, params=params: measure_layer(layer, params, x0)
    if args.mpc and mpc_pytorch.available() and batch > 1:  # B = 1: mpc.pytorch 0.0.6's backward fails on torch
        # 2.13 (its util.bdiag indexes with a uint8 mask; the speed study's B = 20 does not reach that line)
        for model, names in OURS.values():
            peer = mpc_pytorch.ToTolerance(horizon, batch, dtype, model, effective_tol(args.trajax_tol, dtype),
                                           MAX_ITER, WIDE_U)
            params = [getattr(peer.dynamics, name) for name in names]
            solvers[f"mpc.pytorch {model}"] = lambda peer=peer, params=params: measure_layer(peer, params, x0)
    if use_trajax:
        peer = trajax_peer.SwingUp(horizon, batch, dtype, effective_tol(args.trajax_tol, dtype), MAX_ITER)
        x0_jax = peer.inputs(x0)
        solvers["trajax"] = lambda: peer.measure(x0_jax)
    return solvers


def _row(dtype: str, batch: int, horizon: int, solver: str, first: Measured, runs: list[Measured],
         reference: Measured | None) -> dict:
    fwd = statistics.median(r.forward_s for r in runs)
    iters = int(first.iterations.max())
    agree = reference is not None and solver != "trajax"
    return {
        "measure": "solve", "dtype": dtype, "B": batch, "T": horizon, "solver": solver,
        "iters_max": iters, "iters_mean": float(first.iterations.mean()),
        "forward_ms": 1e3 * fwd, "forward_per_iter_ms": 1e3 * fwd / max(iters, 1),
        "backward_ms": 1e3 * statistics.median(r.backward_s for r in runs),
        "solution_ms": 1e3 * statistics.median(r.forward_s + r.backward_s for r in runs),
        "solution_cpu_ms": 1e3 * statistics.median(r.cpu_s for r in runs),
        "first_call_ms": 1e3 * (first.forward_s + first.backward_s),
        "max_abs_u": float(np.abs(first.u).max()),
        "max_abs_du": float(np.abs(first.u - reference.u).max()) if agree else float("nan"),
        "grad_rel_diff": (float(np.linalg.norm(first.grad - reference.grad) / np.linalg.norm(reference.grad))
                          if agree else float("nan")),
        "grad_m": float(first.grad[0]), "grad_l": float(first.grad[1]), "grad_g": float(first.grad[2]),
        "cpu_per_wall": sum(r.cpu_s for r in runs) / sum(r.forward_s + r.backward_s for r in runs),
    }


def _time_size(args, dtype: str, batch: int, horizon: int, use_trajax: bool) -> list[dict]:
    x0 = swing_up_starts(batch, dtype=DTYPES[dtype])
    solvers = _solvers(args, batch, horizon, DTYPES[dtype], x0, use_trajax)
    first = {name: solve() for name, solve in solvers.items()}  # first calls: trajax compiles here
    runs: dict[str, list[Measured]] = {name: [] for name in solvers}
    for _ in range(args.repeats):
        for name, solve in solvers.items():
            runs[name].append(solve())
    rows = [_row(dtype, batch, horizon, name, first[name], runs[name], first.get("trajax")) for name in solvers]
    for r in rows:
        print(f"  {dtype} B={batch:3d} T={horizon:3d} {r['solver']:16s} iters {r['iters_max']:3d}  fwd/iter "
              f"{r['forward_per_iter_ms']:7.2f} ms  bwd {r['backward_ms']:7.2f} ms  solution {r['solution_ms']:8.2f} ms"
              f"  first call {r['first_call_ms']:8.1f} ms", flush=True)
    return rows


class _OurReceding:
    """Our layer's receding-horizon steps (forward only, no graph), the counterpart of trajax_peer.Receding."""

    def __init__(self, args, kind: str, dtype: torch.dtype) -> None:
        self.cold = _our_solver(args, kind, args.receding_horizon, dtype)[0]
        self.warm = _our_solver(args, kind, args.receding_horizon, dtype, max_iter=args.receding_iters)[0]

    @torch.no_grad()
    def start(self, x0: torch.Tensor):
        return x0, self.cold(x0).u

    @torch.no_grad()
    def step(self, x: torch.Tensor, u: torch.Tensor):
        start = time.perf_counter()
        sol = self.warm(x, torch.cat([u[:, 1:], torch.zeros_like(u[:, :1])], 1))
        x, u = sol.x[:, 1], sol.u
        return x, u, sol.iterations.numpy(), time.perf_counter() - start


def _receding(args, use_trajax: bool) -> list[dict]:
    """ms per warm-started step, interleaved step by step; each repeat restarts from the cold plans."""
    rows = []
    for dtype in args.trajax_dtypes:
        x0 = swing_up_starts(args.receding_batch, dtype=DTYPES[dtype])
        solvers = {kind: _OurReceding(args, kind, DTYPES[dtype]) for kind in OURS}
        if use_trajax:
            solvers["trajax"] = trajax_peer.Receding(args.receding_horizon, args.receding_batch, DTYPES[dtype],
                                                    effective_tol(args.trajax_tol, DTYPES[dtype]), args.receding_iters)
        starts = {name: s.start(x0) for name, s in solvers.items()}
        for name, s in solvers.items():  # warm-up (trajax compiles the step here)
            s.step(*starts[name])
        seconds: dict[str, list[float]] = {name: [] for name in solvers}
        iterations: dict[str, list[float]] = {name: [] for name in solvers}
        for _ in range(args.repeats):
            state = dict(starts)
            for _ in range(args.receding_steps):
                for name, s in solvers.items():
                    x, u, its, sec = s.step(*state[name])
                    state[name] = (x, u)
                    seconds[name].append(sec)
                    iterations[name].append(float(np.mean(its)))
        for name in solvers:
            rows.append(_receding_row(dtype, args, name, seconds[name], iterations[name]))
            print(f"  receding {dtype} B={args.receding_batch} T={args.receding_horizon} {name:16s} "
                  f"{rows[-1]['forward_ms']:7.2f} ms/step, {rows[-1]['iters_mean']:.2f} iterations", flush=True)
    return rows


def _receding_row(dtype: str, args, solver: str, seconds: list[float], iterations: list[float]) -> dict:
    """A row of the solve rows' columns: forward_ms is the median ms per step, the solve's columns are NaN."""
    return {**dict.fromkeys(COLUMNS, float("nan")), "measure": "receding step", "dtype": dtype,
            "B": args.receding_batch, "T": args.receding_horizon, "solver": solver, "iters_max": args.receding_iters,
            "iters_mean": float(np.mean(iterations)), "forward_ms": 1e3 * statistics.median(seconds)}


def run(args) -> dict:
    """The study in a kernel cache of its own (see the module docstring); the caller's environment is restored."""
    given = os.environ.get("DILQR_RL_CACHE")
    if not given:  # count our builds in the first calls, as trajax's compiles are
        os.environ["DILQR_RL_CACHE"] = tempfile.mkdtemp(prefix="dilqr_rl_cold_cache_")
    try:
        return _run(args)
    finally:
        if not given:
            os.environ.pop("DILQR_RL_CACHE", None)


def _run(args) -> dict:
    use_trajax = args.trajax and trajax_peer.available()
    versions = {}
    if use_trajax:
        loaded = trajax_peer.load(args.threads)
        versions = {**loaded.versions, "single_thread": loaded.single_thread}
    elif args.trajax:
        print("  trajax is not importable: timing ours alone (install it as the README's Benchmark section says)")
    if args.mpc and mpc_pytorch.available():
        from importlib.metadata import version

        versions["mpc"] = version("mpc")
    sizes = [(1, T) for T in args.trajax_single_horizons] + [(args.batch, T) for T in args.trajax_horizons]
    rows = [row for dtype in args.trajax_dtypes for B, T in sizes for row in _time_size(args, dtype, B, T, use_trajax)]
    rows += _receding(args, use_trajax)
    sweeps = kernels.status()  # after the timing: a first build of the C sweeps counts in ours' first call
    sweeps += f"; kernel cache {os.environ['DILQR_RL_CACHE']}"
    return {"rows": rows, "trajax": use_trajax, "batch": args.batch, "ratios": ratios(rows),
            "provenance": provenance({**versions, "sweeps": sweeps})}
