"""Issue 14, the user-module gap: what ``torch.compile`` buys the pieces of the PyTorch solve that run a model written
as a plain ``nn.Module``, and what it costs to compile them.

    python benchmarks/user_module_compile.py [--repeats 7] [--out benchmarks/results]
    python benchmarks/user_module_compile.py --quick --backend eager   # the tests: every code path, no compiler

The model is ``dilqr-rl bench``'s user-written pendulum and quadratic cost (``dilqr_rl.bench.user_models``: the
same physics and cost as the shipped closed forms, differentiated by autograd), float64, one thread, no graph (the
forward of ``implicit`` and ``diffmpc`` modes). Two pieces, each timed eager and compiled (``torch.compile``,
``dynamic=False``: one compiled program per shape), at the sizes of the trajax study:

- **rollout**: x_{t+1} = f(x_t, u_t) over T steps, as ``Problem.rollout`` runs it (one module call per step);
- **linearisation**: F = [df/dx df/du], the cost's gradient c and Hessian C at every (x_t, u_t). Eager is the
  library's own (``dilqr_rl.control.derivatives.linearization``: reverse passes over all rows at once); compiled,
  three ways: the same quantities by ``torch.func`` (``vmap`` of ``jacfwd``) under ``torch.compile``; the
  library's function itself under ``torch.compile``; and the ``torch.func`` version first traced to a graph of
  plain tensor operations by ``make_fx`` (the transforms resolved at trace time, so no autograd is left for the
  compiler) and that graph compiled. Each is checked against the library's eager result. A compilation that
  fails is reported as such, with its error; the make_fx row's first call counts the tracing too.

Reported: the median time per call of each, their ratio, the first call's time (tracing and compiling), and the
largest difference from the eager result. Nothing here changes the solver: this measures whether compiling the
user's module is worth building in (see the README's "Speed against trajax").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from torch.func import jacfwd, vmap
from torch.fx.experimental.proxy_tensor import make_fx

from dilqr_rl.bench.problems import make_models, swing_up_starts
from dilqr_rl.control.derivatives import linearization

SIZES = ((1, 10), (1, 20), (20, 20))
QUICK_SIZES = ((1, 4),)


def _rollout(dynamics):
    def rollout(x0: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        xs = [x0]
        for t in range(u.shape[1] - 1):
            xs.append(dynamics(xs[-1], u[:, t]))
        return torch.stack(xs, 1)

    return rollout


def _functional_linearization(dynamics, cost):
    """(x (R, n), u (R, m)) -> F (R, n, N), c (R, N), C (R, N, N) by torch.func, one row at a time under vmap."""
    def step(tau: torch.Tensor, n: int) -> torch.Tensor:
        return dynamics(tau[None, :n], tau[None, n:])[0]

    def stage(tau: torch.Tensor, n: int) -> torch.Tensor:
        return cost(tau[None, :n], tau[None, n:])[0]

    def linearize(x: torch.Tensor, u: torch.Tensor):
        n = x.shape[-1]
        tau = torch.cat([x, u], -1)
        F = vmap(jacfwd(step), in_dims=(0, None))(tau, n)
        c = vmap(jacfwd(stage), in_dims=(0, None))(tau, n)
        C = vmap(jacfwd(jacfwd(stage)), in_dims=(0, None))(tau, n)
        return F, c, C

    return linearize


def _time(fn, args, repeats: int, inner: int) -> tuple[float, float]:
    """(first call s, median ms per call over ``repeats`` groups of ``inner`` calls)."""
    start = time.perf_counter()
    fn(*args)
    first = time.perf_counter() - start
    groups = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn(*args)
        groups.append((time.perf_counter() - start) / inner * 1e3)
    return first, statistics.median(groups)


def _max_diff(a, b) -> float:
    a, b = (a,) if torch.is_tensor(a) else a, (b,) if torch.is_tensor(b) else b
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def measure(batch: int, horizon: int, repeats: int, inner: int, backend: str) -> list[dict]:
    torch._dynamo.reset()  # every size compiles from scratch: the first call is what a new shape costs
    dynamics, cost = make_models("autograd", torch.float64, "cpu", "pendulum")
    for p in list(dynamics.parameters()) + list(cost.parameters()):
        p.requires_grad_(False)
    x0 = swing_up_starts(batch)
    u = 0.5 * torch.randn(batch, horizon, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rollout = _rollout(dynamics)
    with torch.no_grad():
        x = rollout(x0, u)
    xr, ur = x.reshape(-1, 2), u.reshape(-1, 1)
    steps = torch.arange(horizon).repeat(batch)

    def library(xr, ur):
        with torch.enable_grad():  # the library's reverse passes need a graph of the models
            F, c, C = linearization(dynamics, cost, xr, ur, steps)
        return F.detach(), c.detach(), C.detach()

    functional = _functional_linearization(dynamics, cost)

    def traced(xr, ur):  # traced on the first call (inside the timing of the first call), then compiled
        if "graph" not in cache:
            cache["graph"] = torch.compile(make_fx(functional)(xr, ur), dynamic=False, backend=backend)
        return cache["graph"](xr, ur)

    cache: dict = {}
    rows = []
    pieces = (("rollout", rollout, rollout, (x0, u)),
              ("linearisation, torch.func", library, functional, (xr, ur)),
              ("linearisation, the library's", library, library, (xr, ur)),
              ("linearisation, make_fx of torch.func", library, None, (xr, ur)))
    for piece, eager, to_compile, args in pieces:
        torch._dynamo.reset()
        compiled_fn = traced if to_compile is None else torch.compile(to_compile, dynamic=False, backend=backend)
        # the rollout without a graph; the jacobians need grad mode on (nothing here requires grad, so no graph of the
        # parameters is built)
        with torch.no_grad() if piece == "rollout" else torch.enable_grad():
            reference = eager(*args)
            first_eager, eager_ms = _time(eager, args, repeats, inner)
            row = {"piece": piece, "B": batch, "T": horizon, "backend": backend, "eager_ms": eager_ms,
                   "eager_first_call_s": first_eager, "compiled_ms": None, "speedup": None, "first_call_s": None,
                   "max_abs_diff": None, "error": None}
            try:
                first_compiled, compiled_ms = _time(compiled_fn, args, repeats, inner)
                diff = _max_diff(reference, compiled_fn(*args))
                row.update(compiled_ms=compiled_ms, speedup=eager_ms / compiled_ms, first_call_s=first_compiled,
                           max_abs_diff=diff)
            except Exception as error:  # a torch.compile failure is a result here: recorded, not raised
                row["error"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| piece | B | T | eager ms | compiled ms | eager / compiled | first compiled call s | max abs diff |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["error"] is not None:
            lines.append(f"| {r['piece']} | {r['B']} | {r['T']} | {r['eager_ms']:.3f} | failed | - | - | - |")
            continue
        lines.append(f"| {r['piece']} | {r['B']} | {r['T']} | {r['eager_ms']:.3f} | {r['compiled_ms']:.3f} | "
                     f"{r['speedup']:.1f}x | {r['first_call_s']:.1f} | {r['max_abs_diff']:.1e} |")
    errors = sorted({r["error"] for r in rows if r["error"] is not None})
    return "\n".join(lines + ([""] + [f"Compilation failed: {e}" for e in errors] if errors else []))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--inner", type=int, default=50, help="calls per timed group")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend (eager: no compiler, tests)")
    parser.add_argument("--quick", action="store_true", help="one tiny size, 2 repeats of 2 calls")
    parser.add_argument("--out", type=Path, default=None, help="write user_module_compile.{md,json} here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sizes, repeats, inner = (QUICK_SIZES, 2, 2) if args.quick else (SIZES, args.repeats, args.inner)
    rows = [row for b, t in sizes for row in measure(b, t, repeats, inner, args.backend)]
    text = table(rows)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
        header = (f"Written by `python benchmarks/user_module_compile.py{' --quick' if args.quick else ''} --backend "
                  f"{args.backend}`; torch {torch.__version__}, one thread, float64, no graph; medians of "
                  f"{repeats} groups of {inner} calls. First calls: "
                  + ("with the compiler's on-disk cache in a fresh folder (`TORCHINDUCTOR_CACHE_DIR`), so each "
                     "first call compiles from nothing" if cache else "with the compiler's default on-disk cache, "
                     "which earlier runs may have filled (set `TORCHINDUCTOR_CACHE_DIR` to an empty folder for a "
                     "cold compile)") + ".\n\n")
        (args.out / "user_module_compile.md").write_text(header + text + "\n")
        (args.out / "user_module_compile.json").write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
