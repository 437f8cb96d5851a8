"""``dilqr-rl video``: a GIF (or MP4 with imageio-ffmpeg) of one episode of the expert or a BC checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

import dilqr_rl.envs  # noqa: F401  (registers the environments)
from dilqr_rl.agents.evaluation import load_policy
from dilqr_rl.agents.video import record_video
from dilqr_rl.envs.registration import make_env

HELP = "Record one episode of the expert or a BC checkpoint as a GIF (or MP4 with imageio-ffmpeg)"


def _help(text: str) -> dict:
    return {"help": text}


@dataclass
class Args:
    policy: str = field(default="expert", metadata=_help("'expert' or the path of a BC checkpoint (best.pt)"))
    env_id: str = field(default="dilqr_rl/Pendulum-v0", metadata=_help("Gymnasium id"))
    system: Literal["pendulum", "cartpole"] = field(default="pendulum", metadata=_help("the expert's system"))
    output: str = field(default="runs/videos/episode.gif", metadata=_help("video file (.gif or .mp4)"))
    seed: int = field(default=0, metadata=_help("episode seed"))
    max_steps: int = field(default=0, metadata=_help("cut the episode after this many steps (0: env's limit)"))
    fps: int = field(default=0, metadata=_help("frames per second (0: the env's render_fps)"))
    threads: int = field(default=1, metadata=_help("torch CPU threads"))


def run(args: Args) -> int:
    torch.set_num_threads(args.threads)
    env = make_env(args.env_id, render_mode="rgb_array")
    policy = load_policy(args.policy, env, args.system)
    path, ret = record_video(policy, env, args.output, args.seed, fps=args.fps or None,
                             max_steps=args.max_steps or None)
    env.close()
    print(f"wrote {path} (return {ret:.1f})")
    return 0
