"""Episode videos from an environment's ``rgb_array`` frames: GIF via imageio, MP4 with imageio-ffmpeg."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np

from dilqr_rl.agents.evaluation import run_episode

VIDEO_SUFFIXES = (".gif", ".mp4")


def check_video_target(path: str | Path, fps: int | None = None) -> Path:
    """Refuse a video ``path`` (or ``fps``, if given) that :func:`write_video` cannot write, before any
    episode is run; return the path."""
    path = Path(path)
    if path.suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"unsupported video format {path.suffix!r}; valid: {list(VIDEO_SUFFIXES)}")
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if path.suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise ModuleNotFoundError("writing MP4 needs imageio-ffmpeg, which is not installed: pip install "
                                  "'dilqr_rl[video]' (or imageio-ffmpeg), or write a .gif")
    return path


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 20) -> Path:
    """Write frames (H, W, 3) uint8 to ``path`` (.gif or .mp4); return the path."""
    path = check_video_target(path, fps)
    if not frames:
        raise ValueError("no frames to write: record an episode with an env made with render_mode='rgb_array'")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".mp4":
        imageio.mimsave(path, frames, fps=fps, macro_block_size=1)
    else:
        imageio.mimsave(path, frames, duration=1000.0 / fps, loop=0)
    return path


def record_video(policy, env: gym.Env, path: str | Path, seed: int = 0, fps: int | None = None,
                 max_steps: int | None = None, progress: bool = False) -> tuple[Path, float]:
    """Run one seeded episode of ``policy`` in ``env`` (render_mode='rgb_array'), write it; (path, return).

    ``fps`` defaults to the env's ``render_fps``; the path and fps are checked before the episode runs;
    ``progress`` shows a bar over the steps.
    """
    fps = int(env.metadata.get("render_fps", 20)) if fps is None else fps
    check_video_target(path, fps)
    ret, _, frames = run_episode(policy, env, seed, record=True, max_steps=max_steps, progress=progress)
    return write_video(frames, path, fps), ret
