"""``dilqr-rl video``: a GIF (or MP4 with the video extra) of one episode of the expert, a BC or a PPO policy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from dilqr_rl.cli._errors import CLIError, check_threads, writable_file
from dilqr_rl.cli._policies import check_frames, load_cli_policy, make_cli_env, policy_env_id, run_folder

VIDEO_FORMATS = (".gif", ".mp4")


@dataclass(frozen=True)
class Args:
    """Record one seeded episode of a policy as a GIF (or MP4 with pip install 'dilqr_rl[video]')."""

    policy: str = "expert"
    """'expert' (the iLQR expert of the env), a BC checkpoint (.pt: dilqr-rl bc, bc-step, dagger, sysid) or an SB3
    PPO, A2C, SAC or TD3 model (.zip: dilqr-rl rl's model.zip or checkpoints/*_steps.zip, or model.save)."""
    env_id: str | None = None
    """Gymnasium id (None: the env the policy was trained in, as its checkpoint or run folder records it; else, and
    for the expert, dilqr_rl/Pendulum-v0)."""
    output: Path | None = None
    """Video file (.gif or .mp4); None: runs/videos/<env>__<policy>__seed<seed>.gif (a new name if taken)."""
    seed: int = 0
    """Episode seed."""
    max_steps: int | None = None
    """Cut the episode after this many steps (None: the env's limit)."""
    fps: int | None = None
    """Frames per second (None: the env's render_fps)."""
    threads: int = 1
    """torch CPU threads."""
    progress: bool = True
    """Show a progress bar over the episode's steps."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.fps is not None and self.fps < 1:
            raise ValueError(f"--fps must be >= 1, or None for the env's render_fps; got {self.fps}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"--max-steps must be >= 1, or None for the env's limit; got {self.max_steps}")


def check_video_option(path: Path, option: str) -> Path:
    """Refuse a video file the writer cannot write (format, missing MP4 support, folder), before any episode."""
    from dilqr_rl.agents.video import check_video_target

    if path.suffix not in VIDEO_FORMATS:
        raise CLIError(f"{option} {path}: unsupported video format {path.suffix or '(none)'!r}; use "
                       f"{' or '.join(VIDEO_FORMATS)}")
    try:
        check_video_target(path)
    except ImportError as error:
        raise CLIError(f"{option} {path}: {error}") from None
    return writable_file(path, option)


def default_output(args: Args) -> Path:
    """runs/videos/<env>__<policy>__seed<seed>.gif, with -1, -2, ... if that file exists (<policy>: the file's stem;
    a run's best.pt, last.pt, model.zip or policy.pt: runs/videos/<run folder>__<stem>__seed<seed>.gif, the run
    folder's name starting with its env)."""
    policy = "expert" if args.policy == "expert" else Path(args.policy).stem
    stem = f"{args.env_id.replace('/', '-')}__{policy}__seed{args.seed}"
    run = run_folder(Path(args.policy)) if policy in ("best", "last", "model", "policy") else None
    if run is not None:  # runs/<run>/checkpoints/best.pt, runs/<run>/checkpoints/round_1/best.pt, runs/<run>/model.zip
        stem = f"{run.name}__{policy}__seed{args.seed}"
    path, k = Path("runs", "videos", f"{stem}.gif"), 0
    while path.exists():
        k += 1
        path = path.with_name(f"{stem}-{k}.gif")
    return path


def run(args: Args) -> int:
    from contextlib import closing

    import torch

    from dilqr_rl.agents.video import record_video

    torch.set_num_threads(args.threads)
    args = dataclasses.replace(args, env_id=policy_env_id(args.policy, args.env_id))
    output = check_video_option(args.output if args.output is not None else default_output(args), "--output")
    with closing(make_cli_env(args.env_id, render_mode="rgb_array")) as env:
        check_frames(env, args.env_id, "record another --env-id")
        policy = load_cli_policy(args.policy, env, args.env_id)
        path, ret = record_video(policy, env, output, args.seed, fps=args.fps, max_steps=args.max_steps,
                                 progress=args.progress)
    print(f"wrote {path} (return {ret:.1f})")
    return 0
