"""``dilqr-rl collect``: generate a demonstration dataset (expert plans of a system, or expert episodes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from dilqr_rl.cli.args import arg_help

HELP = "Generate demonstrations: expert plans of a system (imitation) or expert episodes in an env"


@dataclass
class Args:
    kind: Literal["plans", "episodes"] = field(default="plans", metadata=arg_help(
        "plans: the papers' imitation data (x_init, x_{1:T}, u_{1:T}); episodes: expert rollouts in an env"))
    system: str = field(default="pendulum-upright", metadata=arg_help(
        "plans: system name (pendulum, cartpole, pendulum-nonrealizable, pendulum-upright, cartpole-balance)"))
    env_id: str = field(default="dilqr_rl/Pendulum-v0", metadata=arg_help(
        "episodes: environment id (ours, Pendulum-v1 or InvertedPendulum-v5)"))
    n_train: int = field(default=50, metadata=arg_help("plans: training trajectories"))
    n_val: int = field(default=20, metadata=arg_help("plans: validation trajectories"))
    n_test: int = field(default=50, metadata=arg_help("plans: test trajectories"))
    horizon: int = field(default=0, metadata=arg_help("plans: horizon T (0: the system's default)"))
    n_episodes: int = field(default=10, metadata=arg_help("episodes: number of episodes"))
    max_episode_steps: int = field(default=0, metadata=arg_help("episodes: time limit (0: the env's own)"))
    seed: int = field(default=0, metadata=arg_help("random seed; the same seed gives the same dataset"))
    output: str = field(default="", metadata=arg_help(
        "output .npz file (default runs/data/<kind>__<system or env>__<sizes>__seed<seed>.npz)"))
    progress: bool = field(default=True, metadata=arg_help("show a progress bar"))
    threads: int = field(default=1, metadata=arg_help("torch CPU threads (small solves run fastest on 1)"))


def default_output(args: Args) -> Path:
    if args.kind == "plans":
        name = f"plans__{args.system}__{args.n_train}-{args.n_val}-{args.n_test}__seed{args.seed}.npz"
    else:
        name = f"episodes__{args.env_id.replace('/', '-')}__{args.n_episodes}__seed{args.seed}.npz"
    return Path("runs") / "data" / name


def run(args: Args) -> int:
    from dilqr_rl.data import collect_episodes, collect_plans

    torch.set_num_threads(args.threads)
    output = Path(args.output) if args.output else default_output(args)
    if args.kind == "plans":
        dataset = collect_plans(args.system, args.n_train, args.n_val, args.n_test, seed=args.seed,
                                progress=args.progress, horizon=args.horizon or None)
        summary = ", ".join(f"{name} {len(split)}" for name, split in dataset.splits.items())
    else:
        env_kwargs = {"max_episode_steps": args.max_episode_steps} if args.max_episode_steps else {}
        dataset = collect_episodes(args.env_id, args.n_episodes, seed=args.seed, progress=args.progress,
                                   **env_kwargs)
        returns = dataset.episode_returns()
        summary = f"{len(dataset)} transitions, mean return {returns.mean():.2f} (min {returns.min():.2f})"
    path = dataset.save(output)
    print(f"wrote {path}: {summary}")
    return 0
