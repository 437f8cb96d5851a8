"""Single-step cloning from a few expert episodes in one env: the DiLQR actor (from the env's wrong physics), the
MLP and the LSTM, by behaviour cloning and optionally by DAgger, their returns normalised (0: random, 1: expert).

    python scripts/clone_returns.py --env-id Pendulum-v1 --demos 5        # -> benchmarks/results/clone_returns_*
    python scripts/clone_returns.py --env-id Pendulum-v1 --demos 5 --dagger 4   # also DAgger, 4 rounds
    python scripts/clone_returns.py --quick                                # 2 demos of 30 steps (the tests)

The demonstrations are the expert's episodes seeded 0..demos-1 (``collect_episodes``); every policy is trained with
its kind's defaults (``POLICY_KINDS``) and evaluated, untrained and trained, on the same episodes seeded
eval_seed.. (in lockstep), where the random policy and the expert are measured once (``reference_returns``).
Writes one JSON with every trial's metrics and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from dilqr_rl.agents.clone import clone_from_episodes
from dilqr_rl.agents.clone_config import POLICY_KINDS, CloneConfig, DaggerConfig
from dilqr_rl.agents.dagger import run_dagger
from dilqr_rl.agents.reference_returns import reference_returns
from dilqr_rl.data import collect_episodes
from dilqr_rl.policies.env_registry import make_env

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-id", default="Pendulum-v1")
    parser.add_argument("--demos", type=int, default=5, help="expert demonstrations (episodes seeded 0..demos-1)")
    parser.add_argument("--policies", nargs="+", default=list(POLICY_KINDS), choices=list(POLICY_KINDS))
    parser.add_argument("--dagger", type=int, default=0, help="DAgger rounds (0: behaviour cloning only)")
    parser.add_argument("--episodes-per-round", type=int, default=2)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--eval-seed", type=int, default=1000)
    parser.add_argument("--max-steps", type=int, default=None, help="episode time limit (None: the env's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 demos, 30 steps, 2 epochs, 2 evaluation episodes")
    parser.add_argument("--output", type=Path, default=None, help="JSON path (default: benchmarks/results/...)")
    args = parser.parse_args(argv)
    if args.quick:
        args.demos, args.max_steps, args.eval_episodes = 2, 30, 2
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(1)
    env_kwargs = {} if args.max_steps is None else {"max_episode_steps": args.max_steps}
    demos = collect_episodes(args.env_id, args.demos, seed=0, progress=False, **env_kwargs)
    reference = reference_returns(lambda: make_env(args.env_id, **env_kwargs), args.eval_episodes, args.eval_seed)
    trials = []
    for policy in args.policies:
        epochs = 2 if args.quick else None
        start = time.perf_counter()
        config = CloneConfig(policy=policy, epochs=epochs, eval_episodes=args.eval_episodes,
                             eval_seed=args.eval_seed, seed=args.seed, progress=False)
        trials.append({"method": "bc", **clone_from_episodes(demos, config, env_kwargs, reference=reference),
                       "wall_seconds": time.perf_counter() - start})
        print(row(trials[-1]), flush=True)
        if args.dagger:
            start = time.perf_counter()
            config = DaggerConfig(policy=policy, epochs=epochs, eval_episodes=args.eval_episodes,
                                  eval_seed=args.eval_seed, seed=args.seed, progress=False, rounds=args.dagger,
                                  episodes_per_round=args.episodes_per_round)
            trials.append({"method": "dagger", **run_dagger(demos, config, env_kwargs, reference=reference),
                           "wall_seconds": time.perf_counter() - start})
            print(row(trials[-1]), flush=True)
    stem = f"clone_returns_{args.env_id.replace('/', '-')}_{args.demos}demos"
    output = args.output or RESULTS / f"{stem}.json"
    if not args.quick or args.output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        summary = {"env_id": args.env_id, "demos": args.demos, "dagger_rounds": args.dagger,
                   "episodes_per_round": args.episodes_per_round,
                   "demos_return": float(demos.episode_returns().mean()),
                   "eval_episodes": args.eval_episodes, "eval_seed": args.eval_seed, "max_steps": args.max_steps,
                   "torch": torch.__version__, "trials": trials}
        output.write_text(json.dumps(summary, indent=2))
        output.with_suffix(".md").write_text(table(summary))
        print(f"wrote {output} and {output.with_suffix('.md')}")
    return 0


def row(t: dict) -> str:
    physics = " ".join(f"{k} {v:.3g}" for k, v in t.get("physics_learned", {}).items()) or "-"
    return (f"| {t['policy']} | {t['method']} | {t['expert_labels']} | {t['untrained_return']:.1f} | "
            f"{share(t['normalized_untrained'])} | {t['return']:.1f} +- {t['return_std']:.1f} | "
            f"{share(t['normalized_return'])} | {physics} | {t['train_seconds']:.0f} |")


def share(normalized: float | None) -> str:
    """A normalised return; n/a where the expert was not above random on these episodes."""
    return "n/a" if normalized is None else f"{normalized:.2f}"


def table(summary: dict) -> str:
    first, last = summary["eval_seed"], summary["eval_seed"] + summary["eval_episodes"] - 1
    trial = summary["trials"][0]
    rounds = summary.get("dagger_rounds", 0)
    dagger = f" --dagger {rounds} --episodes-per-round {summary['episodes_per_round']}" if rounds else ""
    policies = " ".join(dict.fromkeys(t["policy"] for t in summary["trials"]))
    head = (f"Written by `python scripts/clone_returns.py --env-id {summary['env_id']} --demos {summary['demos']}"
            f"{dagger} --policies {policies}`; torch {summary['torch']}, one thread. "
            + (f"DAgger: {rounds} rounds of {summary['episodes_per_round']} episodes, the expert's share 0.5^k. "
               if rounds else "")
            + "Demonstrations: the expert's episodes seeded "
            f"0..{summary['demos'] - 1} (mean return {summary['demos_return']:.1f}); returns over "
            f"{summary['eval_episodes']} episodes seeded {first}..{last}; normalised: 0 random "
            f"({trial['random_return']:.1f}), 1 the expert ({trial['expert_return']:.1f}) on the same episodes.\n\n")
    columns = ("| policy | method | expert labels | untrained return | normalised | return | normalised | "
               "learned physics | train s |\n|---|---|---|---|---|---|---|---|---|\n")
    return head + columns + "\n".join(row(t) for t in summary["trials"]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
