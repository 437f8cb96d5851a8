"""``dilqr-rl video``: a GIF (or MP4 with imageio-ffmpeg) of one episode of the expert or a BC checkpoint."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field

import torch

import dilqr_rl.envs  # noqa: F401  (registers the environments)
from dilqr_rl.agents.evaluation import load_policy
from dilqr_rl.agents.video import record_video
from dilqr_rl.cli.args import arg_help
from dilqr_rl.envs.registration import make_env

HELP = "Record one episode of the expert or a BC checkpoint as a GIF (or MP4 with imageio-ffmpeg)"


@dataclass
class Args:
    policy: str = field(default="expert", metadata=arg_help("'expert' or the path of a BC checkpoint (best.pt)"))
    env_id: str = field(default="dilqr_rl/Pendulum-v0", metadata=arg_help("Gymnasium id"))
    output: str = field(default="runs/videos/episode.gif", metadata=arg_help("video file (.gif or .mp4)"))
    seed: int = field(default=0, metadata=arg_help("episode seed"))
    max_steps: int = field(default=0, metadata=arg_help("cut the episode after this many steps (0: env's limit)"))
    fps: int = field(default=0, metadata=arg_help("frames per second (0: the env's render_fps)"))
    threads: int = field(default=1, metadata=arg_help("torch CPU threads"))


def run(args: Args) -> int:
    torch.set_num_threads(args.threads)
    with closing(make_env(args.env_id, render_mode="rgb_array")) as env:
        policy = load_policy(args.policy, env)
        path, ret = record_video(policy, env, args.output, args.seed, fps=args.fps or None,
                                 max_steps=args.max_steps or None)
    print(f"wrote {path} (return {ret:.1f})")
    return 0
