"""``dilqr-rl evaluate``: mean return of the expert or a BC checkpoint over seeded episodes."""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field

import torch

import dilqr_rl.envs  # noqa: F401  (registers the environments)
from dilqr_rl.agents.evaluation import evaluate_policy, load_policy
from dilqr_rl.agents.logging import make_run_dir, make_writer
from dilqr_rl.agents.video import check_video_target, record_video
from dilqr_rl.cli.args import arg_help
from dilqr_rl.envs.registration import make_env

HELP = "Evaluate the expert or a BC checkpoint in an environment (returns over seeded episodes)"


@dataclass
class Args:
    policy: str = field(default="expert", metadata=arg_help("'expert' or the path of a BC checkpoint (best.pt)"))
    env_id: str = field(default="dilqr_rl/Pendulum-v0", metadata=arg_help("Gymnasium id"))
    episodes: int = field(default=5, metadata=arg_help("episodes, seeded seed, seed+1, ..."))
    seed: int = field(default=0, metadata=arg_help("seed of the first episode"))
    max_steps: int = field(default=0, metadata=arg_help("cut episodes after this many steps (0: env's limit)"))
    video: str = field(default="", metadata=arg_help("also write the first episode here (.gif or .mp4)"))
    threads: int = field(default=1, metadata=arg_help("torch CPU threads"))
    output_dir: str = field(default="runs", metadata=arg_help("root of the run directories"))
    exp_name: str = field(default="evaluate", metadata=arg_help("experiment name in the run directory"))


def run(args: Args) -> int:
    torch.set_num_threads(args.threads)
    if args.video:
        check_video_target(args.video)  # before the episodes run
    with closing(make_env(args.env_id, render_mode="rgb_array" if args.video else None)) as env:
        policy = load_policy(args.policy, env)
        result = evaluate_policy(policy, env, args.episodes, args.seed, max_steps=args.max_steps or None)
        summary = {"policy": args.policy, "env_id": args.env_id, "returns": result.returns.tolist(),
                   "mean_return": result.mean_return, "std_return": result.std_return}
        if args.video:
            path, _ = record_video(policy, env, args.video, args.seed, max_steps=args.max_steps or None)
            summary["video"] = str(path)
    run_dir = make_run_dir(args.output_dir, args.env_id, args.exp_name, args.seed)
    with closing(make_writer(run_dir, vars(args))) as writer:
        writer.add_scalar("eval/mean_return", result.mean_return, 0)
        writer.add_scalar("eval/std_return", result.std_return, 0)
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    print(f"{args.policy} on {args.env_id}: return {result.mean_return:.1f} +- {result.std_return:.1f} over "
          f"{args.episodes} episodes (results in {run_dir})")
    return 0
