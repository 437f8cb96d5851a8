"""The compiled sweeps (dilqr_rl/control/kernels) against the PyTorch sweeps, interleaved in one process.

    python benchmarks/compiled_sweeps.py [--repeats 15] [--quick] [--out benchmarks/results]

Both paths solve the same problems of ``dilqr-rl bench`` (pendulum swing-up starts, |u| <= 2, float32, one
thread), alternating path by path in every repeat so that the machine's load drifts alike for both:

- the iLQR backward sweep alone (``lqr.ilqr_gains``, B = 8, T = 20);
- a warm-started receding-horizon step: B = 8, T = 20, 2 iterations from a converged plan, no graph;
- time to solution: forward to tol 1e-7 plus the implicit backward of a quadratic loss, B = 1, T = 10 and
  B = 20, T = 20.

Each on both model kinds (closed forms and user autograd modules). Medians over repeats, ratio torch /
compiled. Writes compiled_sweeps.md (and .csv) to ``--out`` when given.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from dilqr_rl.bench.problems import solution_case, warm_step_case
from dilqr_rl.control import kernels, lqr

PATHS = ("compiled", "torch")


def _use(path: str) -> None:
    """Switch the solver's sweeps (outside the timed region: the library is loaded here)."""
    os.environ["DILQR_RL_KERNELS"] = "1" if path == "compiled" else "0"
    kernels._library.cache_clear()
    kernels._library()


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return 1e3 * (time.perf_counter() - start)


def _cases(model: str) -> dict:
    """name -> a function that runs the case once."""
    gen = torch.Generator().manual_seed(0)
    F = 0.5 * torch.randn(8, 20, 2, 3, generator=gen)
    c, R = torch.randn(8, 20, 3, generator=gen), torch.randn(8, 20, 3, 3, generator=gen)
    C = R @ R.mT / 3 + 0.1 * torch.eye(3)
    u = torch.zeros(8, 20, 1)
    bound, reg = torch.full_like(u, 2.0), torch.zeros(8)

    def sweep():
        with torch.no_grad():
            lqr.ilqr_gains(F, c, C, u, -bound, bound, reg, u)

    cases = {"riccati sweep B=8 T=20": sweep, "warm step B=8 T=20 (2 it)": warm_step_case(model)}
    for B, T in ((1, 10), (20, 20)):
        cases[f"time to solution B={B} T={T}"] = solution_case(model, B, T)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 repeats (the test suite runs this)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    torch.set_num_threads(1)
    previous = os.environ.get("DILQR_RL_KERNELS")
    _use("compiled")
    if kernels._library()[0] is None:
        print(f"no compiled kernel here: {kernels.status()}")
        return 1
    rows = []
    try:
        for model in ("closed-form", "autograd"):
            cases = _cases(model)
            times = {(name, path): [] for name in cases for path in PATHS}
            for repeat in range(repeats + 1):  # the first repeat warms up
                for name, run in cases.items():
                    for path in PATHS:
                        _use(path)
                        elapsed = _timed(run)
                        if repeat:
                            times[name, path].append(elapsed)
            for name in cases:
                compiled, eager = (statistics.median(times[name, p]) for p in PATHS)
                rows.append({"model": model, "case": name, "compiled_ms": round(compiled, 3),
                             "torch_ms": round(eager, 3), "speedup": round(eager / compiled, 2)})
    finally:
        if previous is None:
            os.environ.pop("DILQR_RL_KERNELS", None)
        else:
            os.environ["DILQR_RL_KERNELS"] = previous
        kernels._library.cache_clear()
    table = ["| model | case | compiled ms | torch ms | torch / compiled |", "|---|---|---|---|---|"]
    table += [f"| {r['model']} | {r['case']} | {r['compiled_ms']} | {r['torch_ms']} | {r['speedup']}x |" for r in rows]
    print("\n".join(table))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "compiled_sweeps.md").write_text(
            f"`python benchmarks/compiled_sweeps.py --repeats {repeats}` (float32, one thread, medians)\n\n"
            + "\n".join(table) + "\n")
        with open(args.out / "compiled_sweeps.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
