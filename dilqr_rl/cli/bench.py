"""``dilqr-rl bench``: the timing studies (iterations, speed, scale, trajax) with tables, CSV/JSON and plots."""

from dilqr_rl.bench.config import BenchConfig

Args = BenchConfig


def run(args: BenchConfig) -> int:
    from dilqr_rl.bench.run import run_config

    return run_config(args)
