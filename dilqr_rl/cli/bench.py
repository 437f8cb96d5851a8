"""``dilqr-rl bench``: the backward-time benchmark (DiLQR Fig. 2) with tables, CSV/JSON and a plot."""

from dilqr_rl.bench.backward_time import BenchConfig, run_config

HELP = ("Backward time vs iterations and horizon for implicit/diffmpc/unroll (and mpc.pytorch), memory, "
        "horizon sweep, gradient accuracy; writes CSV/JSON/PNG")
Args = BenchConfig


def run(args: BenchConfig) -> int:
    return run_config(args)
