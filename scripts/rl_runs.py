"""The README's short ``dilqr-rl rl`` runs: one run per (env, algorithm, actor), each with the command line's defaults
(the env's default wrong start, rl-zoo3's hyperparameters, seed 0, one torch thread), and the table of what each
printed.

    python scripts/rl_runs.py                  # every run -> benchmarks/results/rl_runs.{csv,md}
    python scripts/rl_runs.py --quick          # 2 runs of a few steps, printed only (the test suite runs this;
                                               # with --only and --update, runs of a few steps update a table)
    python scripts/rl_runs.py --only Pendulum-v1:td3:dilqr   # one run, printed only
    python scripts/rl_runs.py --only Pendulum-v1:td3:dilqr --update   # ... and its row replaced in the table

Each row is ``train_rl(RLConfig(env_id, algo, policy, total_timesteps, eval_freq, seed=0))`` as ``dilqr-rl rl
--env-id ENV --algo ALGO --policy POLICY --total-timesteps N --eval-freq F`` runs it; the run folders go to
``runs/`` (``--output-dir``). Runs are independent: ``--jobs 2`` runs two at a time in separate processes (their
speeds then share the machine).
"""

from __future__ import annotations

import argparse
import csv
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from dilqr_rl.agents.rl import RLConfig, train_rl

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
RUNS = (
    ("Pendulum-v1", "ppo", "dilqr", 4096, 2000),
    ("Pendulum-v1", "ppo", "mlp", 4096, 2000),
    ("Pendulum-v1", "td3", "dilqr", 6000, 2000),
    ("Pendulum-v1", "td3", "mlp", 6000, 2000),
    ("Pendulum-v1", "sac", "dilqr", 6000, 2000),
    ("Pendulum-v1", "sac", "mlp", 6000, 2000),
    ("dilqr_rl/Pendulum-v0", "ppo", "dilqr", 4096, 2000),
    ("dilqr_rl/CartpoleSwingUp-v0", "ppo", "dilqr", 2048, 2000),
    ("dilqr_rl/CartpoleBalance-v0", "ppo", "dilqr", 2048, 2000),
    ("InvertedPendulum-v5", "ppo", "dilqr", 2048, 2000),
    ("InvertedPendulum-v5", "td3", "dilqr", 6000, 2000),
    ("InvertedPendulum-v5", "td3", "mlp", 6000, 2000),
    ("dilqr_rl/CartpoleSwingUp-v0", "td3", "dilqr", 6000, 2000),
    ("dilqr_rl/CartpoleSwingUp-v0", "td3", "mlp", 6000, 2000),
)
"""(env id, algorithm, policy, env steps, evaluation interval) of each run."""
TD3_LEARNING_STARTS = 1000
"""TD3 learns from 1,000 env steps here, as in the ``rl`` study (rl-zoo3's Pendulum-v1 entry waits 10,000)."""
COLUMNS = ("env_id", "algo", "policy", "timesteps", "untrained_normalized", "final_normalized", "untrained_return",
           "final_return", "env_steps_per_s", "params")
QUICK_RUNS = (("Pendulum-v1", "ppo", "dilqr", 16, 0), ("Pendulum-v1", "td3", "dilqr", 16, 0))


def run(spec: tuple, output_dir: str, quick: bool) -> dict:
    env_id, algo, policy, steps, eval_freq = spec
    hyperparams: dict[str, float] = {"learning_starts": TD3_LEARNING_STARTS} if algo == "td3" else {}
    extra: dict = {}
    if quick:
        hyperparams = {"ppo": {"n_steps": 8, "n_envs": 2, "batch_size": 8, "n_epochs": 1},
                       "td3": {"learning_starts": 8, "batch_size": 8}}[algo]
        extra = dict(eval_episodes=2, max_episode_steps=8, horizon=5)
    config = RLConfig(env_id=env_id, algo=algo, policy=policy, total_timesteps=steps, eval_freq=eval_freq, seed=0,
                      hyperparams=hyperparams, output_dir=output_dir, progress=False, **extra)
    result = train_rl(config)
    metrics = result.metrics()
    params = "; ".join(f"{name} {result.initial_params[name]:.3g} -> {value:.3g} (registered "
                       f"{result.registered_params[name]:.3g})" for name, value in result.final_params.items())
    return {"env_id": env_id, "algo": algo, "policy": policy, "timesteps": int(metrics["timesteps"]),
            "untrained_normalized": metrics["untrained_normalized"], "final_normalized": metrics["final_normalized"],
            "untrained_return": metrics["untrained_return"], "final_return": metrics["final_return"],
            "env_steps_per_s": metrics["env_steps_per_s"], "params": params}


def table(rows: list[dict]) -> str:
    lines = ["| env | algo | actor | env steps | normalised return: untrained -> final | return: untrained -> final "
             "| env steps/s of training | learned physics: start -> final (registered) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['env_id']}` | {r['algo'].upper()} | {'DiLQR' if r['policy'] == 'dilqr' else 'MLP'} | "
                     f"{r['timesteps']} | {r['untrained_normalized']:.3f} -> {r['final_normalized']:.3f} | "
                     f"{r['untrained_return']:.1f} -> {r['final_return']:.1f} | {r['env_steps_per_s']:.1f} | "
                     f"{r['params']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 runs of a few steps, printed only")
    parser.add_argument("--only", nargs="+", default=None, metavar="ENV:ALGO:POLICY",
                        help="these runs, printed only (with --update: written into the table too)")
    parser.add_argument("--update", action="store_true",
                        help="with --only: replace those runs' rows in rl_runs.csv and rewrite rl_runs.md (the "
                             "other rows as they were)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, in separate processes")
    parser.add_argument("--output-dir", default="runs", help="where the run folders go")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of rl_runs.csv and rl_runs.md")
    args = parser.parse_args(argv)
    specs = QUICK_RUNS if args.quick else RUNS
    if args.only:
        known = {":".join(spec[:3]): spec for spec in specs}  # --quick: its own short runs
        unknown = [o for o in args.only if o not in known]
        if unknown:
            parser.error(f"unknown run(s) {unknown}; known: {', '.join(known)}")
        specs = tuple(known[o] for o in args.only)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: must be >= 1")
    stored = args.out / "rl_runs.csv"
    if args.update and not args.only:
        parser.error("--update replaces the rows of the --only runs; without --only every run is rewritten anyway")
    if args.update and not stored.is_file():
        parser.error(f"--update: no table to update at {stored}; run every run first (no --only)")
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, specs, [args.output_dir] * len(specs), [args.quick] * len(specs)))
    print(table(rows))
    if not args.update and (args.quick or args.only):
        return 0
    jobs = f" --jobs {args.jobs}" if args.jobs > 1 else ""
    written = f"Written by `python scripts/rl_runs.py{jobs}`"
    if args.update:
        rows = _merged(stored, rows)
        md = args.out / "rl_runs.md"
        before = md.read_text().split(" (seed 0,")[0] if md.is_file() else "Written by `python scripts/rl_runs.py`"
        written = f"{before}; then `python scripts/rl_runs.py --only {' '.join(args.only)} --update{jobs}`"
    args.out.mkdir(parents=True, exist_ok=True)
    with stored.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "rl_runs.md").write_text(f"{written} (seed 0, one torch thread per run).\n\n{table(rows)}")
    print(f"wrote {args.out / 'rl_runs.md'}")
    return 0


def _merged(stored: Path, rows: list[dict]) -> list[dict]:
    """The stored rows with ``rows`` in place of those of the same run (new runs appended), in ``RUNS``' order."""
    def key(r: dict) -> tuple:
        return r["env_id"], r["algo"], r["policy"]

    with stored.open(newline="") as f:
        old = {key(r): r for r in csv.DictReader(f)}
    for r in old.values():
        for name in COLUMNS[3:-1]:
            r[name] = float(r[name])
        r["timesteps"] = int(r["timesteps"])
    old.update({key(r): r for r in rows})
    order = {spec[:3]: i for i, spec in enumerate(RUNS)}
    return sorted(old.values(), key=lambda r: order.get(key(r), len(order)))


if __name__ == "__main__":
    sys.exit(main())
