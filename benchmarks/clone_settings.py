"""The DiLQR clone's training settings: closed-loop-bc's DiLQR BC trials at several losses, learning rates and
epoch counts, on held-out evaluation seeds.

    python benchmarks/clone_settings.py [--envs Pendulum-v1 dilqr_rl/CartpoleSwingUp-v0] [--losses huber first]
                                        [--lrs 0.02 0.01] [--epochs 20 40] [--seeds 3] [--eval-seed 2000]
                                        [--data-dir runs/clone_settings_data] [--out runs/clone_settings] [--quick]
    python benchmarks/clone_settings.py --summarize benchmarks/results/clone_settings/clone_settings.jsonl \
        --out benchmarks/results/clone_settings

Each trial is the study's (``run_closed_loop_bc_trial``: the same demonstrations, seeded 100 s.., and the DiLQR
actor from the env's registered wrong start) with ``clone_options={"loss": loss, "lr": rate}`` (the loss:
``CloneConfig.loss``, default huber; the rows without a loss ran before it existed, with ``first``; 0.02 is the
kind's default rate:
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

from dilqr_rl.agents.clone_config import DILQR_LOSSES, POLICY_KINDS
from dilqr_rl.experiments.closed_loop_bc import GRIDS
from dilqr_rl.experiments.closed_loop_bc_trial import run_closed_loop_bc_trial

QUICK = {"max_steps": 20, "eval_episodes": 2}
"""``--quick`` (the tests): episodes of 20 steps, 2 evaluation episodes, 1 demonstration (pass small --epochs)."""


def sizes(env_id: str) -> tuple[int, ...]:
    grid = GRIDS["reduced"]
    dilqr = grid.policies_by_size.get(env_id, {})
    return tuple(n for n in grid.bc_sizes[env_id] if "dilqr" in dilqr.get(n, ("dilqr",)))


def run(envs: list[str], losses: list[str], lrs: list[float], epochs: list[int], seeds: int, eval_seed: int,
        data_dir: Path, log: Path, quick: bool = False) -> list[dict]:
    rows = []
    for env_id in envs:
        n_data = 1 if quick else max(GRIDS["reduced"].bc_sizes[env_id])
        for loss, lr, passes in [(loss, lr, e) for loss in losses for lr in lrs for e in epochs]:
            for seed in range(seeds):
                for n in (1,) if quick else sizes(env_id):
                    config = {"data_dir": str(data_dir), "env_id": env_id, "epochs": passes, "eval_episodes": 20,
                              "eval_seed": eval_seed, "evaluate_untrained": False, "max_steps": None, "method": "bc",
                              "n_data": n_data, "n_demos": n, "policy": "dilqr", "seed": seed,
                              "clone_options": {"loss": loss, "lr": lr}, **(QUICK if quick else {})}
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        m = run_closed_loop_bc_trial(config, data_dir / "trial")
                    row = {"env": env_id, "loss": loss, "lr": lr, "epochs": passes, "seed": seed, "n": n,
                           "norm": round(m["normalized_return"], 4),
                           "physics": {k: round(v, 4) for k, v in m["physics_learned"].items()}}
                    with log.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(row, flush=True)
                    rows.append(row)
    return rows


def setting(row: dict) -> tuple[str, float, int]:
    """(loss, lr, epochs) of a trial, in the tables' order: the default loss first, higher rates first."""
    return row["loss"], row["lr"], row["epochs"]


def _order(key: tuple[str, float, int]) -> tuple[int, float, int]:
    loss, lr, epochs = key
    return DILQR_LOSSES.index(loss), -lr, epochs


def summary(rows: list[dict], eval_seed: int) -> list[str]:
    lines = [f"Normalised return (0 random, 1 expert) on 20 episodes seeded {eval_seed}.., per seed; mean over seeds.",
             "", "| env | loss | lr | epochs | demonstrations | per seed | mean |", "|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["env"], setting(r), r["n"]), []).append(r["norm"])
    for (env_id, key, n), values in sorted(groups.items(), key=lambda kv: (kv[0][0], _order(kv[0][1]), kv[0][2])):
        lines.append(f"| {env_id} | {' | '.join(str(k) for k in key)} | {n} | {', '.join(f'{v:.3f}' for v in values)} "
                     f"| {statistics.mean(values):.3f} |")
    lines += ["", "| env | loss | lr | epochs | mean over every size and seed | trials below 0.5 |",
              "|---|---|---|---|---|---|"]
    for env_id, key in sorted({(r["env"], setting(r)) for r in rows}, key=lambda k: (k[0], _order(k[1]))):
        values = [r["norm"] for r in rows if (r["env"], setting(r)) == (env_id, key)]
        lines.append(f"| {env_id} | {' | '.join(str(k) for k in key)} | {statistics.mean(values):.3f} "
                     f"({len(values)} trials) | {sum(v < 0.5 for v in values)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["Pendulum-v1", "dilqr_rl/CartpoleSwingUp-v0"])
    parser.add_argument("--losses", nargs="+", choices=DILQR_LOSSES, default=[DILQR_LOSSES[0]])
    parser.add_argument("--lrs", nargs="+", type=float, default=[POLICY_KINDS["dilqr"].lr])
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
        rows = run(args.envs, args.losses, args.lrs, args.epochs, args.seeds, args.eval_seed, args.data_dir,
                   args.out / "clone_settings.jsonl", args.quick)
    commands = []
    for loss, lr, epochs in sorted({setting(r) for r in rows}, key=_order):
        envs = " ".join(sorted({r["env"] for r in rows if setting(r) == (loss, lr, epochs)}, reverse=True))
        commands.append(f"- `python benchmarks/clone_settings.py --envs {envs} --losses {loss} --lrs {lr} "
                        f"--epochs {epochs} --seeds {1 + max(r['seed'] for r in rows)} --eval-seed {args.eval_seed}`")
    md = args.out / "clone_settings.md"
    md.write_text("\n".join(["Commands (one per setting):", "", *commands, "",
                             *summary(rows, args.eval_seed)]) + "\n")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
