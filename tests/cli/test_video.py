"""``dilqr-rl video`` end to end as a subprocess."""

from __future__ import annotations

import subprocess
import sys

import imageio.v2 as imageio

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]


def test_video_writes_a_gif(tmp_path):
    path = tmp_path / "v.gif"
    out = subprocess.run([*CLI, "video", "--output", str(path), "--max-steps", "6"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(imageio.mimread(path)) == 7 and f"wrote {path}" in out.stdout


def test_video_rejects_an_unknown_format(tmp_path):
    out = subprocess.run([*CLI, "video", "--output", str(tmp_path / "v.avi"), "--max-steps", "2"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr == "error: unsupported video format '.avi'; valid: ['.gif', '.mp4']\n"
