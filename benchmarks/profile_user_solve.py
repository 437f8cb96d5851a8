"""Where a solve of user-written models spends its time (issue 14): cProfile of ``dilqr-rl bench``'s pendulum swing-up
with the plain ``nn.Module`` models (``dilqr_rl.bench.user_models``; ``--model closed-form``: the library's), implicit
mode, float64 (``--dtype``), one thread, |u| <= 1000 (inactive), tol 1e-7, forward and the backward of a quadratic
loss w.r.t. the dynamics' parameters (m, l, g).

    python benchmarks/profile_user_solve.py [--batch 1] [--horizon 10] [--dtype float64] [--model autograd]
                                            [--solves 10] [--top 25]

Prints the median time of one solve (unprofiled) and the profile's cumulative times per solve; the entries overlap
(the module's forward runs inside the line search and the linearisation).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import torch

from dilqr_rl.bench.problems import make_layer, swing_up_starts


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--model", choices=("autograd", "closed-form"), default="autograd",
                        help="the user modules (default) or the library's closed-form models")
    parser.add_argument("--solves", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)
    layer = make_layer("implicit", args.horizon, 100, dtype=dtype, tol=1e-7, model=args.model, u_max=1e3)
    layer.cost.requires_grad_(False)
    x0 = swing_up_starts(args.batch, dtype=dtype)
    params = [p for p in layer.dynamics.parameters() if p.requires_grad]

    def solve() -> None:
        torch.autograd.grad(layer(x0).u.square().sum(), params)

    for _ in range(3):
        solve()
    times = []
    for _ in range(max(args.solves, 3)):
        start = time.perf_counter()
        solve()
        times.append(time.perf_counter() - start)
    median_ms = statistics.median(times) * 1e3
    print(f"B = {args.batch}, T = {args.horizon}, {args.dtype}, {args.model}: {median_ms:.2f} ms per solve (median of "
          f"{len(times)}, unprofiled)")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.solves):
        solve()
    profile.disable()
    print(f"cumulative seconds over {args.solves} solves (divide by {args.solves} for one):")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    return median_ms


if __name__ == "__main__":
    main()
