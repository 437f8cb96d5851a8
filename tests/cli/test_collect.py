"""``dilqr-rl collect`` as a subprocess: tiny runs that write files which load back."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from dilqr_rl.cli import main
from dilqr_rl.data import EpisodeDataset, PlanDataset, collect_episodes, collect_plans
from dilqr_rl.data.minari_export import _datasets_root
from tests import SUBPROCESS_TIMEOUT_S


def collect(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dilqr_rl.cli", "collect", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=SUBPROCESS_TIMEOUT_S)


def test_collect_plans_to_the_default_path(tmp_path) -> None:
    result = collect("--kind", "plans", "--system", "pendulum-upright", "--n-train", "3", "--n-val", "1", "--n-test",
                     "2", "--seed", "5", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "runs" / "data" / "plans__pendulum-upright__3-1-2__seed5.npz"
    assert f"wrote {path.relative_to(tmp_path)}" in result.stdout
    ds = PlanDataset.load(path, system="pendulum-upright")
    assert len(ds.split("test")) == 2 and ds.metadata["seed"] == 5


def test_collect_episodes_with_output(tmp_path) -> None:
    out = tmp_path / "eps.npz"
    result = collect("--kind", "episodes", "--env-id", "dilqr_rl/CartpoleBalance-v0", "--n-episodes", "2",
                     "--max-episode-steps", "5", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "episodes dilqr_rl/CartpoleBalance-v0" in result.stderr  # the progress bar
    ds = EpisodeDataset.load(out, env_id="dilqr_rl/CartpoleBalance-v0")
    assert len(ds) == 10 and ds.has_states


def test_collect_user_errors(tmp_path, capsys) -> None:
    result = collect("--system", "acrobot", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice 'acrobot' for argument '--system'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()
    assert main(["collect", "--format", "minari"]) == 2
    assert capsys.readouterr().err == ("error: --format minari writes episodes (Minari datasets are episodes); plans "
                                       "stay in our npz format: add --kind episodes or drop --format minari\n")
    assert main(["collect", "--kind", "episodes", "--env-id", "CartPole-v1", "--no-progress",
                 "--output", str(tmp_path / "e.npz")]) == 2
    assert capsys.readouterr().err.startswith("error: --env-id CartPole-v1: no iLQR expert for CartPoleEnv")
    assert main(["collect", "--output", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --output {tmp_path}: this is a folder; pass a file name")
    assert main(["collect", "--threads", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --threads must be >= 1")


def test_datasets_are_ordinary_files(tmp_path) -> None:
    path = collect_plans("pendulum-upright", n_train=1, n_val=1, n_test=0, progress=False).save(tmp_path / "p.npz")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600


def test_collect_episodes_as_a_minari_dataset_round_trip(tmp_path, capsys) -> None:
    minari = pytest.importorskip("minari")
    root = tmp_path / "minari"
    assert main(["collect", "--kind", "episodes", "--format", "minari", "--n-episodes", "2", "--max-episode-steps",
                 "6", "--no-progress", "--output", str(root), "--dataset-id", "dilqr_rl/pendulum-test-v0"]) == 0
    assert "wrote Minari dataset dilqr_rl/pendulum-test-v0 (2 episodes)" in capsys.readouterr().out
    ours = collect_episodes("dilqr_rl/Pendulum-v0", 2, seed=0, progress=False, max_episode_steps=6)
    with _datasets_root(root):
        dataset = minari.load_dataset("dilqr_rl/pendulum-test-v0")
        episodes = list(dataset.iterate_episodes())
        env = dataset.recover_environment()
        env.close()
    assert [e.id for e in episodes] == [0, 1] and dataset.total_steps == len(ours)
    for k, episode in enumerate(episodes):
        rows = ours.episode == k
        np.testing.assert_allclose(episode.observations[:-1], ours.observations[rows])
        np.testing.assert_allclose(episode.observations[-1], ours.next_observations[rows][-1])
        np.testing.assert_allclose(episode.actions, ours.actions[rows])
        np.testing.assert_allclose(episode.rewards, ours.rewards[rows])
        np.testing.assert_array_equal(episode.truncations, ours.truncated[rows])
        np.testing.assert_allclose(episode.infos["state"][:-1], ours.states[rows])
    assert main(["collect", "--kind", "episodes", "--format", "minari", "--n-episodes", "1", "--max-episode-steps",
                 "2", "--no-progress", "--output", str(root), "--dataset-id", "dilqr_rl/pendulum-test-v0"]) == 2
    assert capsys.readouterr().err.startswith("error: --dataset-id dilqr_rl/pendulum-test-v0: ")


def test_minari_format_needs_the_extra(tmp_path, capsys, monkeypatch) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "minari" else find_spec(name, *a))
    assert main(["collect", "--kind", "episodes", "--format", "minari", "--output", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("error: --format minari needs minari, which is not installed: pip install "
                                       "'dilqr_rl[minari]'\n")


def test_collect_refuses_to_overwrite_a_dataset(tmp_path, capsys) -> None:
    out = tmp_path / "plans.npz"
    tiny = ["collect", "--n-train", "1", "--n-val", "1", "--n-test", "0", "--no-progress", "--output", str(out)]
    assert main(tiny) == 0
    written = out.read_bytes()
    capsys.readouterr()
    assert main([*tiny, "--seed", "1"]) == 2
    assert capsys.readouterr().err == (f"error: --output {out}: the file exists; pass --overwrite to replace it, or "
                                       "another --output\n")
    assert out.read_bytes() == written
    assert main([*tiny, "--seed", "1", "--overwrite"]) == 0
    assert PlanDataset.load(out).metadata["seed"] == 1


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no file can be created")
def test_collect_to_an_unwritable_path_is_one_line(tmp_path) -> None:
    result = collect("--output", "/proc/nope/x.npz", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == ("error: --output /proc/nope/x.npz: its folder /proc/nope: /proc is not writable; pass a "
                             "folder you can write to\n")


def test_collect_checks_counts_and_the_minari_id_before_collecting(tmp_path, capsys) -> None:
    pytest.importorskip("minari")
    root = tmp_path / "minari"
    assert main(["collect", "--kind", "episodes", "--format", "minari", "--n-episodes", "1", "--no-progress",
                 "--output", str(root), "--dataset-id", "no id"]) == 2
    assert capsys.readouterr().err.startswith("error: --dataset-id no id: Malformed dataset ID: no id.")
    assert not root.exists()  # Minari itself makes the dataset's folder before it checks the id
    for option, message in ((["--n-train", "-1"], "--n-train, --n-val and --n-test must be >= 0; got -1, 20 and 50"),
                            (["--kind", "episodes", "--n-episodes", "0"], "--n-episodes must be >= 1; got 0"),
                            (["--max-episode-steps", "0"], "--max-episode-steps must be >= 1; got 0")):
        assert main(["collect", *option, "--output", str(tmp_path / "x.npz")]) == 2
        assert capsys.readouterr().err == f"error: {message}\n"
    assert list(tmp_path.iterdir()) == []
