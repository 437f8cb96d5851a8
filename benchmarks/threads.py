"""Intra-op threads and small-batch solves: one torch thread against two, on a quiet machine and on one whose other
core is busy, interleaved in one process.

    python benchmarks/threads.py [--repeats 9] [--quick] [--out benchmarks/results]

The cases are ``dilqr-rl bench``'s pendulum swing-up (float32, |u| <= 2) with both model kinds (closed forms, which
take the compiled C solve, and user autograd modules, which take the PyTorch solve):

- a warm-started receding-horizon step, B = 8, T = 20, 2 iterations from a converged plan, no graph;
- time to solution (tol 1e-7, forward + implicit backward of a quadratic loss), B = 20 and B = 512, T = 20.

"Busy" runs a second process that spins on the CPU (``--busy-workers``, default: the cores minus one, at least
one) while the cell is timed, as an env worker, a data loader or another trial would. Medians over repeats; the
thread counts alternate within every repeat so the machine's drift hits both alike. Writes threads.md (and .csv)
to ``--out`` when given.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

from dilqr_rl.bench.problems import solution_case, warm_step_case

THREADS = (1, 2)


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _cases(model: str, quick: bool) -> dict:
    """name -> a function that runs the case once."""
    cases = {"warm step B=8 T=20 (2 it)": warm_step_case(model)}
    for B in ((20,) if quick else (20, 512)):
        cases[f"time to solution B={B} T=20"] = solution_case(model, B, 20)
    return cases


def _timed(fn) -> float:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn()
    return 1e3 * (time.perf_counter() - start)


def measure(repeats: int, quick: bool, busy_workers: int) -> list[dict]:
    rows = []
    for load in ("quiet", "busy"):
        stop, workers = multiprocessing.Event(), []
        if load == "busy":
            workers = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(busy_workers)]
            for worker in workers:
                worker.start()
            time.sleep(0.5)
        try:
            for model in ("closed-form", "autograd"):
                cases = _cases(model, quick)
                times = {(name, n): [] for name in cases for n in THREADS}
                for repeat in range(repeats + 1):  # the first repeat warms up
                    for name, run in cases.items():
                        for n in THREADS:
                            torch.set_num_threads(n)
                            elapsed = _timed(run)
                            if repeat:
                                times[name, n].append(elapsed)
                for name in cases:
                    one, two = (statistics.median(times[name, n]) for n in THREADS)
                    rows.append({"load": load, "model": model, "case": name, "threads_1_ms": round(one, 3),
                                 "threads_2_ms": round(two, 3), "ratio_2_over_1": round(two / one, 2)})
        finally:
            stop.set()
            for worker in workers:
                worker.join()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="2 repeats, B = 20 only (the test suite runs this)")
    parser.add_argument("--busy-workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats
    before = torch.get_num_threads()
    try:
        rows = measure(repeats, args.quick, args.busy_workers)
    finally:
        torch.set_num_threads(before)
    table = ["| machine | model | case | 1 thread ms | 2 threads ms | 2 / 1 |", "|---|---|---|---|---|---|"]
    table += [f"| {r['load']} | {r['model']} | {r['case']} | {r['threads_1_ms']} | {r['threads_2_ms']} | "
              f"{r['ratio_2_over_1']}x |" for r in rows]
    print("\n".join(table))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        header = (f"`python benchmarks/threads.py --repeats {repeats}` (float32, medians; {os.cpu_count()} cores, "
                  f"busy: {args.busy_workers} spinning process(es); torch {torch.__version__})\n\n")
        (args.out / "threads.md").write_text(header + "\n".join(table) + "\n")
        with open(args.out / "threads.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
