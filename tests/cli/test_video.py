"""``dilqr-rl video``: GIF and MP4 files of the expert and of PPO models, distinct default names, errors."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import imageio.v2 as imageio
import pytest

from dilqr_rl.cli import main
from tests import SUBPROCESS_TIMEOUT_S

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_video_writes_a_gif(tmp_path):
    path = tmp_path / "v.gif"
    out = subprocess.run([*CLI, "video", "--output", str(path), "--max-steps", "6"], capture_output=True,
                         text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    assert len(imageio.mimread(path)) == 7 and f"wrote {path}" in out.stdout


def test_video_writes_an_mp4(tmp_path, capsys):
    pytest.importorskip("imageio_ffmpeg")  # the video extra, part of dev
    path = tmp_path / "v.mp4"
    assert main(["video", "--output", str(path), "--max-steps", "6"]) == 0
    reader = imageio.get_reader(path)
    try:
        frames = [frame for frame in reader]
    finally:
        reader.close()
    assert len(frames) == 7 and frames[0].ndim == 3 and f"wrote {path}" in capsys.readouterr().out


def test_default_names_do_not_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["video", "--max-steps", "2", "--seed", "3"]) == 0
    names = sorted(p.name for p in (tmp_path / "runs" / "videos").iterdir())
    assert names == ["dilqr_rl-Pendulum-v0__expert__seed3-1.gif", "dilqr_rl-Pendulum-v0__expert__seed3.gif"]


def test_video_user_errors(tmp_path, capsys):
    assert main(["video", "--output", str(tmp_path / "v.avi"), "--max-steps", "2"]) == 2
    assert capsys.readouterr().err == (f"error: --output {tmp_path / 'v.avi'}: unsupported video format '.avi'; use "
                                       ".gif or .mp4\n")
    assert main(["video", "--output", str(tmp_path), "--max-steps", "2"]) == 2
    assert capsys.readouterr().err.startswith(f"error: --output {tmp_path}: unsupported video format")
    folder = tmp_path / "x.gif"
    folder.mkdir()
    assert main(["video", "--output", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --output {folder}: this is a folder; pass a file name, e.g. {folder / 'out'}\n"
    assert main(["video", "--fps", "0"]) == 2
    assert capsys.readouterr().err == "error: --fps must be >= 1, or None for the env's render_fps; got 0\n"
    assert main(["video", "--max-steps", "0"]) == 2
    assert capsys.readouterr().err == "error: --max-steps must be >= 1, or None for the env's limit; got 0\n"
    assert main(["video", "--threads", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --threads must be >= 1")


def test_video_of_gymnasium_pendulum_v1_without_pygame(tmp_path):
    """Pendulum-v1 (the default env of ``dilqr-rl rl``) draws its frames with numpy; ``--no-progress`` hides the
    bar."""
    path = tmp_path / "v.gif"
    out = subprocess.run([*CLI, "video", "--env-id", "Pendulum-v1", "--output", str(path), "--max-steps", "3",
                          "--no-progress"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    frames = imageio.mimread(path)
    assert len(frames) == 4 and frames[0].shape[-1] == 3 and not (frames[0] == frames[-1]).all()
    assert "episode (seed 0)" not in out.stderr and f"wrote {path}" in out.stdout


@pytest.mark.skipif(importlib.util.find_spec("pygame") is not None, reason="pygame draws MountainCar")
def test_an_env_that_cannot_draw_frames_is_refused_before_the_episode(tmp_path, capsys):
    assert main(["video", "--env-id", "MountainCar-v0", "--output", str(tmp_path / "v.gif")]) == 2
    assert capsys.readouterr().err == (
        "error: --env-id MountainCar-v0 cannot draw video frames here: Gymnasium draws MountainCarEnv with pygame "
        "(pygame is not installed, run `pip install \"gymnasium[classic_control]\"`), and this package draws only "
        "Pendulum-v1 and CartPole-v1 without it; install pygame, or record another --env-id\n")
    assert not (tmp_path / "v.gif").exists()


def test_mujoco_without_a_working_renderer_is_refused(tmp_path):
    """InvertedPendulum-v5 records with MUJOCO_GL=egl (set when unset and headless); a renderer MuJoCo cannot
    use is one ``error:`` line naming MUJOCO_GL."""
    path = tmp_path / "v.gif"
    cmd = [*CLI, "video", "--env-id", "InvertedPendulum-v5", "--output", str(path), "--max-steps", "2",
           "--no-progress"]
    # the renderer tests/envs/test_registration.py renders headless with
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    assert len(imageio.mimread(path)) == 3
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
                         env={**os.environ, "MUJOCO_GL": "glx"})
    assert out.returncode == 2
    # Gymnasium's half-built viewer may add an "Exception ignored in ... __del__" report after the error line
    (error,) = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert error.startswith("error: --env-id InvertedPendulum-v5 cannot draw video frames here: MuJoCo could not "
                            "render with MUJOCO_GL='glx' (")
    assert error.endswith("; set MUJOCO_GL to egl or osmesa, whichever this machine has, or record another --env-id")
