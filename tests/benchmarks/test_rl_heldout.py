"""benchmarks/rl_heldout.py: a study's final policies on held-out evaluation episodes (one tiny run here)."""

from benchmarks.rl_heldout import main
from dilqr_rl.agents.rl import RLConfig, train_rl


def test_each_run_of_the_env_and_algorithm_gets_one_normalised_row(tmp_path, capsys):
    data = tmp_path / "data"
    train_rl(RLConfig(env_id="Pendulum-v1", algo="td3", policy="mlp", total_timesteps=16, eval_freq=0,
                      eval_episodes=1, max_episode_steps=8, hyperparams={"learning_starts": 8, "batch_size": 8},
                      output_dir=str(data), progress=False))
    assert main(["--data", str(data), "--episodes", "1", "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "rl_heldout_Pendulum-v1_td3.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| mlp |")]
    assert len(rows) == 1 and rows[0].startswith("| mlp | 0 |") and text in capsys.readouterr().out
    assert "episodes seeded 2000..2000" in text


def test_a_folder_without_such_runs_is_a_usage_error(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(tmp_path), "--algo", "sac"])
    assert exit_info.value.code == 2 and f"no sac run of Pendulum-v1 in {tmp_path}" in capsys.readouterr().err
