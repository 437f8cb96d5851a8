"""The DiLQR clone's training settings: closed-loop-bc's DiLQR BC trials at several learning rates and epoch
counts, on held-out evaluation seeds.

    python benchmarks/clone_settings.py [--envs Pendulum-v1 dilqr_rl/CartpoleSwingUp-v0] [--lrs 0.02 0.01]
                                        [--epochs 20 40] [--seeds 3] [--eval-seed 2000]
                                        [--data-dir runs/clone_settings_data] [--out runs/clone_settings] [--quick]
    python benchmarks/clone_settings.py --summarize benchmarks/results/clone_settings/clone_settings.jsonl \
        --out benchmarks/results/clone_settings

Each trial is the study's (``run_closed_loop_bc_trial``: the same demonstrations, seeded 100 s.., and the DiLQR
actor from the env's registered wrong start) with ``clone_options={"lr": rate}`` (0.02 is the kind's default:
Adam at 2% of each physical parameter's initial size per step) and ``epochs`` passes over the data (default: the
kind's, ``POLICY_KINDS["dilqr"].epochs``; recorded per trial), evaluated on 20 episodes seeded ``--eval-seed``..
(the study's are 1000..1019). Sizes: the study's reduced grid's DiLQR BC sizes per env. Writes
clone_settings.jsonl (one trial per line, appended as they finish) and clone_settings.md (normalised return per
setting, size and seed, and the means).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

import torch

from dilqr_rl.agents.clone_config import POLICY_KINDS
from dilqr_rl.experiments.closed_loop_bc import GRIDS
from dilqr_rl.experiments.closed_loop_bc_trial import run_closed_loop_bc_trial

QUICK = {"max_steps": 20, "eval_episodes": 2}
"""``--quick`` (the tests): episodes of 20 steps, 2 evaluation episodes, 1 demonstration (pass small --epochs)."""


def sizes(env_id: str) -> tuple[int, ...]:
    grid = GRIDS["reduced"]
    dilqr = grid.policies_by_size.get(env_id, {})
    return tuple(n for n in grid.bc_sizes[env_id] if "dilqr" in dilqr.get(n, ("dilqr",)))


def run(envs: list[str], lrs: list[float], epochs: list[int], seeds: int, eval_seed: int, data_dir: Path,
        log: Path, quick: bool = False) -> list[dict]:
    rows = []
    for env_id in envs:
        n_data = 1 if quick else max(GRIDS["reduced"].bc_sizes[env_id])
        for lr, passes in [(lr, e) for lr in lrs for e in epochs]:
            for seed in range(seeds):
                for n in (1,) if quick else sizes(env_id):
                    config = {"data_dir": str(data_dir), "env_id": env_id, "epochs": passes, "eval_episodes": 20,
                              "eval_seed": eval_seed, "evaluate_untrained": False, "max_steps": None, "method": "bc",
                              "n_data": n_data, "n_demos": n, "policy": "dilqr", "seed": seed,
                              "clone_options": {"lr": lr}, **(QUICK if quick else {})}
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        m = run_closed_loop_bc_trial(config, data_dir / "trial")
                    row = {"env": env_id, "lr": lr, "epochs": passes, "seed": seed, "n": n,
                           "norm": round(m["normalized_return"], 4),
                           "physics": {k: round(v, 4) for k, v in m["physics_learned"].items()}}
                    with log.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(row, flush=True)
                    rows.append(row)
    return rows


def summary(rows: list[dict], eval_seed: int) -> list[str]:
    lines = [f"Normalised return (0 random, 1 expert) on 20 episodes seeded {eval_seed}.., per seed; mean over seeds.",
             "", "| env | lr | epochs | demonstrations | per seed | mean |", "|---|---|---|---|---|---|"]
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["env"], r["lr"], r["epochs"], r["n"]), []).append(r["norm"])
    for (env_id, lr, epochs, n), values in sorted(groups.items(),
                                                  key=lambda kv: (kv[0][0], -kv[0][1], kv[0][2], kv[0][3])):
        lines.append(f"| {env_id} | {lr} | {epochs} | {n} | {', '.join(f'{v:.3f}' for v in values)} | "
                     f"{statistics.mean(values):.3f} |")
    lines += ["", "| env | lr | epochs | mean over every size and seed | trials below 0.5 |", "|---|---|---|---|---|"]
    for env_id, lr, epochs in sorted({(r["env"], r["lr"], r["epochs"]) for r in rows},
                                     key=lambda k: (k[0], -k[1], k[2])):
        values = [r["norm"] for r in rows if (r["env"], r["lr"], r["epochs"]) == (env_id, lr, epochs)]
        lines.append(f"| {env_id} | {lr} | {epochs} | {statistics.mean(values):.3f} ({len(values)} trials) | "
                     f"{sum(v < 0.5 for v in values)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["Pendulum-v1", "dilqr_rl/CartpoleSwingUp-v0"])
    parser.add_argument("--lrs", nargs="+", type=float, default=[0.02, 0.01])
    parser.add_argument("--epochs", nargs="+", type=int, default=[POLICY_KINDS["dilqr"].epochs])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-seed", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, default=Path("runs/clone_settings_data"))
    parser.add_argument("--out", type=Path, default=Path("runs/clone_settings"))
    parser.add_argument("--summarize", type=Path, default=None, help="only rewrite clone_settings.md from this jsonl")
    parser.add_argument("--quick", action="store_true", help="tiny trials (the tests): 1 demonstration of 20 steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.summarize is not None:
        rows = [json.loads(line) for line in args.summarize.read_text().splitlines() if line.strip()]
    else:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        rows = run(args.envs, args.lrs, args.epochs, args.seeds, args.eval_seed, args.data_dir,
                   args.out / "clone_settings.jsonl", args.quick)
    commands = []
    for lr, epochs in sorted({(r["lr"], r["epochs"]) for r in rows}, key=lambda k: (-k[0], k[1])):
        envs = " ".join(sorted({r["env"] for r in rows if (r["lr"], r["epochs"]) == (lr, epochs)}, reverse=True))
        commands.append(f"- `python benchmarks/clone_settings.py --envs {envs} --lrs {lr} --epochs {epochs} "
                        f"--seeds {1 + max(r['seed'] for r in rows)} --eval-seed {args.eval_seed}`")
    md = args.out / "clone_settings.md"
    md.write_text("\n".join(["Commands (one per setting):", "", *commands, "",
                             *summary(rows, args.eval_seed)]) + "\n")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
