"""``dilqr-rl bench``: the backward-time benchmark (DiLQR Fig. 2) with tables, CSV/JSON and a plot."""

from dilqr_rl.bench.backward_time import BenchConfig, run_config

Args = BenchConfig


def run(args: BenchConfig) -> int:
    return run_config(args)
