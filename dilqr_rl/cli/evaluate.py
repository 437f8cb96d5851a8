"""``dilqr-rl evaluate``: mean return of the expert, a BC checkpoint or an SB3 model over seeded episodes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from dilqr_rl.cli._errors import check_threads
from dilqr_rl.cli._policies import check_frames, load_cli_policy, make_cli_env, policy_env_id
from dilqr_rl.cli.video import check_video_option


@dataclass(frozen=True)
class Args:
    """Evaluate a policy in an environment: return over episodes seeded seed, seed + 1, ...; the returns go to
    result.json and TensorBoard in a new run folder."""

    policy: str = "expert"
    """'expert' (the iLQR expert of the env), a BC checkpoint (.pt: dilqr-rl bc, bc-step, dagger, sysid) or an SB3
    PPO, A2C, SAC or TD3 model (.zip: dilqr-rl rl's model.zip or checkpoints/*_steps.zip, or model.save)."""
    env_id: str | None = None
    """Gymnasium id (None: the env the policy was trained in, as its checkpoint or run folder records it; else, and
    for the expert, dilqr_rl/Pendulum-v0)."""
    episodes: int = 20
    """Episodes, seeded seed, seed + 1, ... (run in lockstep)."""
    seed: int = 0
    """Seed of the first episode."""
    max_steps: int | None = None
    """Cut episodes after this many steps (None: the env's limit)."""
    video: Path | None = None
    """Also write the first episode here (.gif, or .mp4 with the video extra)."""
    threads: int = 1
    """torch CPU threads."""
    output_dir: str = "runs"
    """Root of the run folders."""
    exp_name: str = "evaluate"
    """Experiment name in the run folder's name."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.episodes < 1:
            raise ValueError(f"--episodes must be >= 1; got {self.episodes}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"--max-steps must be >= 1, or None for the env's limit; got {self.max_steps}")


def run(args: Args) -> int:
    import json
    from contextlib import closing

    import numpy as np
    import torch

    from dilqr_rl.agents.evaluation import evaluate_episodes
    from dilqr_rl.agents.logging import make_run_dir, make_writer
    from dilqr_rl.agents.video import record_video
    from dilqr_rl.cli._errors import writable_folder

    torch.set_num_threads(args.threads)
    args = dataclasses.replace(args, env_id=policy_env_id(args.policy, args.env_id))
    if args.video is not None:
        check_video_option(args.video, "--video")
    writable_folder(args.output_dir, "--output-dir")  # before the episodes run
    with closing(make_cli_env(args.env_id, render_mode="rgb_array" if args.video else None)) as env:
        if args.video is not None:
            check_frames(env, args.env_id, "evaluate without --video")
        policy = load_cli_policy(args.policy, env, args.env_id)
        lockstep = env.observation_space.dtype != np.uint8  # the pixel expert serves its one env only
        result = evaluate_episodes(policy, (lambda: make_cli_env(args.env_id)) if lockstep else env, args.episodes,
                                   args.seed, max_steps=args.max_steps, progress=args.progress)
        summary = {"policy": args.policy, "env_id": args.env_id, "seeds": [args.seed, args.seed + args.episodes - 1],
                   "returns": result.returns.tolist(), "mean_return": result.mean_return,
                   "std_return": result.std_return}
        if args.video is not None:
            path, _ = record_video(policy, env, args.video, args.seed, max_steps=args.max_steps)
            summary["video"] = str(path)
    run_dir = make_run_dir(args.output_dir, args.env_id, args.exp_name, args.seed)
    with closing(make_writer(run_dir, {k: str(v) for k, v in vars(args).items()})) as writer:
        writer.add_scalar("eval/mean_return", result.mean_return, 0)
        writer.add_scalar("eval/std_return", result.std_return, 0)
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    print(f"{args.policy} on {args.env_id}: return {result.mean_return:.1f} +- {result.std_return:.1f} over "
          f"{args.episodes} episodes (seeds {args.seed}..{args.seed + args.episodes - 1}; results in {run_dir})")
    return 0
