"""``dilqr-rl bench``: the timing studies (iterations, speed, scale) with tables, CSV/JSON and plots."""

from dilqr_rl.bench.config import BenchConfig

HELP = ("Timing studies: backward time vs iterations and horizon (DiLQR Fig. 2), speed of both model kinds "
        "against mpc.pytorch, batch x horizon scaling; writes CSV/JSON/Markdown/PNG under runs/bench/")
Args = BenchConfig


def run(args: BenchConfig) -> int:
    from dilqr_rl.bench.run import run_config

    return run_config(args)
