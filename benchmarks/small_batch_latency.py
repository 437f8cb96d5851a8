"""Time to solution at B = 1 (issue 14's small-batch case): the pendulum swing-up of ``dilqr-rl bench``, implicit mode,
tol 1e-7, |u| <= 1000 (inactive), one thread; a forward and the backward of a fixed quadratic loss w.r.t. the
dynamics' (m, l, g), for both model kinds and dtypes. Medians over ``--solves`` calls after a warm-up.

    python benchmarks/small_batch_latency.py [--horizon 10] [--solves 1000]

The loss and its target are defined here, so two checkouts can be compared with the same benchmark code: run this
file with ``PYTHONPATH`` set to each checkout, one after the other (the README's A/B of commits 9c8900a and
0142e9d, in "Where the time goes at B = 1")."""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dilqr_rl.bench.problems import make_layer, swing_up_starts

MODELS = {"closed-form": ("mass", "length", "gravity"), "autograd": ("m", "l", "g")}


def time_to_solution(model: str, dtype: torch.dtype, horizon: int, solves: int) -> float:
    """Median seconds of one forward and backward."""
    layer = make_layer("implicit", horizon, 100, dtype=dtype, tol=1e-7, model=model, u_max=1e3)
    layer.cost.requires_grad_(False)
    params = [getattr(layer.dynamics, name) for name in MODELS[model]]
    x0 = swing_up_starts(1, dtype=dtype)
    target = torch.randn(1, horizon, 1, generator=torch.Generator().manual_seed(1), dtype=dtype)

    def solve() -> None:
        sol = layer(x0)
        loss = ((sol.u - target) ** 2).sum() + 0.1 * (sol.x**2).sum()
        torch.autograd.grad(loss, params)

    for _ in range(30):
        solve()
    times = []
    for _ in range(solves):
        start = time.perf_counter()
        solve()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--solves", type=int, default=1000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = {}
    for dtype in (torch.float32, torch.float64):
        for model in MODELS:
            key = f"{str(dtype).removeprefix('torch.')} {model}"
            out[key] = 1e3 * time_to_solution(model, dtype, args.horizon, args.solves)
            print(f"B = 1, T = {args.horizon}, {key}: {out[key]:.3f} ms (median of {args.solves})", flush=True)
    return out


if __name__ == "__main__":
    main()
