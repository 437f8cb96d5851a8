"""Each env's clones (DiLQR actor, MLP, LSTM), the pixel pendulum's included, load in ``dilqr-rl evaluate`` and
``dilqr-rl video``."""

from __future__ import annotations

import json

import imageio.v2 as imageio
import pytest

from dilqr_rl.agents.clone import clone_from_episodes
from dilqr_rl.agents.clone_config import CloneConfig
from dilqr_rl.cli import main
from dilqr_rl.data import collect_episodes

ENVS = ("Pendulum-v1", "dilqr_rl/CartpoleSwingUp-v0", "InvertedPendulum-v5", "dilqr_rl/PixelPendulum-v0")


@pytest.fixture(scope="module", params=ENVS)
def episodes(request):
    return collect_episodes(request.param, 2, seed=0, progress=False, max_episode_steps=4)


@pytest.mark.parametrize("policy", ["dilqr", "mlp", "lstm"])
def test_a_clone_of_each_env_evaluates_and_records(policy, episodes, tmp_path, capsys):
    config = CloneConfig(policy=policy, epochs=1, eval_episodes=0, progress=False)
    checkpoint = clone_from_episodes(episodes, config, run_dir=tmp_path / "run")["checkpoint"]
    env_id = episodes.env_id
    assert main(["evaluate", "--policy", checkpoint, "--episodes", "2", "--max-steps", "2",  # the env it records
                 "--no-progress", "--output-dir", str(tmp_path / "eval")]) == 0
    assert f"{checkpoint} on {env_id}: return" in capsys.readouterr().out
    (run_dir,) = (tmp_path / "eval").iterdir()
    assert len(json.loads((run_dir / "result.json").read_text())["returns"]) == 2
    video = tmp_path / "clone.gif"
    assert main(["video", "--policy", checkpoint, "--env-id", env_id, "--output", str(video), "--max-steps", "2",
                 "--no-progress"]) == 0
    assert f"wrote {video}" in capsys.readouterr().out and len(imageio.mimread(video)) == 3


def test_a_clone_in_another_env_is_refused(tmp_path, capsys):
    ds = collect_episodes("Pendulum-v1", 2, seed=0, progress=False, max_episode_steps=3)
    checkpoint = clone_from_episodes(ds, CloneConfig(policy="lstm", epochs=1, eval_episodes=0, progress=False),
                                     run_dir=tmp_path)["checkpoint"]
    assert main(["evaluate", "--policy", checkpoint, "--env-id", "dilqr_rl/CartpoleSwingUp-v0",
                 "--output-dir", str(tmp_path / "eval")]) == 2
    assert capsys.readouterr().err == (
        f"error: --policy {checkpoint} does not fit --env-id dilqr_rl/CartpoleSwingUp-v0: {checkpoint} was trained on "
        "observations (3,) and actions (1,), but dilqr_rl/CartpoleSwingUp-v0 has observations (4,) and actions (1,): "
        "evaluate it in the environment it was trained on\n")


def test_a_runs_video_is_named_after_the_run_and_plays_in_the_env_it_records(tmp_path, capsys, monkeypatch):
    ds = collect_episodes("dilqr_rl/CartpoleSwingUp-v0", 2, seed=0, progress=False, max_episode_steps=3)
    config = CloneConfig(policy="mlp", epochs=1, eval_episodes=0, progress=False)
    run = tmp_path / "runs" / "cartpole-run"
    checkpoint = clone_from_episodes(ds, config, run_dir=run)["checkpoint"]
    monkeypatch.chdir(tmp_path)
    assert main(["video", "--policy", checkpoint, "--max-steps", "2", "--no-progress"]) == 0
    video = tmp_path / "runs" / "videos" / "cartpole-run__best__seed0.gif"
    assert f"wrote {video.relative_to(tmp_path)}" in capsys.readouterr().out and video.is_file()
