import importlib.util

import imageio.v2 as imageio
import numpy as np
import pytest

from dilqr_rl.agents.evaluation import load_policy
from dilqr_rl.agents.video import record_video, write_video
from dilqr_rl.envs.registration import make_env


def frames(count=4):
    return [np.full((16, 16, 3), 40 * i, dtype=np.uint8) for i in range(count)]


def test_gif_has_every_frame(tmp_path):
    path = write_video(frames(), tmp_path / "sub" / "a.gif", fps=10)
    back = imageio.mimread(path)
    assert len(back) == 4 and back[0].shape[:2] == (16, 16)


def test_record_video_of_the_expert(tmp_path):
    env = make_env("dilqr_rl/Pendulum-v0", render_mode="rgb_array")
    path, ret = record_video(load_policy("expert", env), env, tmp_path / "e.gif", seed=0, max_steps=8)
    assert len(imageio.mimread(path)) == 9 and ret < 0


def test_video_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unsupported video format '.avi'"):
        write_video(frames(), tmp_path / "a.avi")
    with pytest.raises(ValueError, match="no frames to write"):
        write_video([], tmp_path / "a.gif")
    with pytest.raises(ValueError, match="fps must be positive"):
        write_video(frames(), tmp_path / "a.gif", fps=0)


class MustNotRun:
    def predict(self, *args, **kwargs):
        raise AssertionError("the episode ran before the video target was checked")


@pytest.mark.parametrize(("name", "fps", "message"), [("a.avi", None, r"unsupported video format '.avi'"),
                                                      ("a.gif", 0, "fps must be positive, got 0")])
def test_record_video_checks_the_target_before_running_the_episode(tmp_path, name, fps, message):
    env = make_env("dilqr_rl/Pendulum-v0", render_mode="rgb_array")
    with pytest.raises(ValueError, match=message):
        record_video(MustNotRun(), env, tmp_path / name, fps=fps)
    env.close()
    assert not list(tmp_path.iterdir())


def test_mp4_without_ffmpeg_names_the_fix(tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "imageio_ffmpeg"
                        else find_spec(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'dilqr_rl\[video\]' \(or imageio-ffmpeg\)"):
        write_video(frames(), tmp_path / "a.mp4")


def test_mp4_is_written(tmp_path):
    pytest.importorskip("imageio_ffmpeg")  # the video extra, part of dev
    path = write_video(frames(), tmp_path / "a.mp4", fps=10)
    reader = imageio.get_reader(path)
    try:
        written = [frame for frame in reader]
    finally:
        reader.close()
    assert len(written) == len(frames()) and written[0].shape == frames()[0].shape
