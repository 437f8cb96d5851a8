"""``dilqr-rl rl``: a tiny run as a subprocess (what it prints and writes), its artefacts in ``evaluate`` and
``video``, every user error as one ``error:`` line before any folder exists, Ctrl-C and --resume;
``scripts/ppo_misspecified.py`` (the balancing experiment on ``train_ppo``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from stable_baselines3 import PPO

from dilqr_rl.agents.rl import load_run_config
from dilqr_rl.agents.rl_checkpoints import checkpoints
from dilqr_rl.agents.rl_monitor import load_history
from dilqr_rl.cli import main
from dilqr_rl.cli._commands import installed_command
from tests import SUBPROCESS_TIMEOUT_S

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]
TINY = ["--total-timesteps", "32", "--eval-episodes", "2", "--max-episode-steps", "10", "--eval-freq", "16",
        "--horizon", "5", "--no-progress", "--start-angle", "0.3"]
TINY_PPO = ["--hyperparams", "n_steps", "8", "batch_size", "16", "n_epochs", "1", "n_envs", "2"]
TINY_SAC = ["--hyperparams", "learning_starts", "8", "batch_size", "8", "buffer_size", "200"]


def test_rl_tiny_run_prints_the_setting_every_evaluation_and_the_result(tmp_path):
    cmd = [*CLI, "rl", *TINY, *TINY_PPO, "--seed", "3", "--output-dir", str(tmp_path), "--checkpoint-freq", "16"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    run_dir = next(p for p in tmp_path.iterdir() if p.name != "references")
    assert run_dir.name.startswith("Pendulum-v1__ppo-dilqr__3__")
    lines = out.stdout.splitlines()
    assert lines[0] == ("Pendulum-v1, PPO, DiLQR actor learning physics at 3x the learning rate, model error "
                        "mass=+0.3 length=-0.3 gravity=+0.3 (the env's default; set it with --model-error)")
    assert lines[1].startswith("hyperparameters: rl-zoo3 hyperparams/ppo.yml: Pendulum-v1: n_steps=8 gae_lambda=0.95 "
                               "gamma=0.9 n_epochs=1")
    assert lines[2] == "  not for the DiLQR actor: use_sde, sde_sample_freq (gSDE)"
    references = json.loads((run_dir / "references.json").read_text())
    assert lines[3] == (f"references on 2 episodes (seeds 1000..1001): random {references['random']:.1f}, expert "
                        f"{references['expert']:.1f}")
    rows = load_history(run_dir)
    assert [r["timesteps"] for r in rows] == [0.0, 16.0, 32.0]
    untrained = rows[0]
    assert lines[4] == (f"   untrained: return {untrained['eval/mean_return']:9.1f} +- "
                        f"{untrained['eval/std_return']:6.1f}, normalised {untrained['eval/normalized_return']:.3f}")
    assert lines[5].startswith("    16 steps: return") and lines[6].startswith("    32 steps: return")
    assert re.match(r"normalised return [0-9.]+ -> [0-9.]+ \(return -?[0-9.]+ -> -?[0-9.]+\) after 32 env steps; "
                    r"[0-9.]+ env steps/s of training$", lines[7])
    assert re.match(r"mass: 1\.3000 -> [0-9.]+ \(registered model: 1\.0000\)$", lines[8])
    assert f"checkpoint: {run_dir / 'model.zip'}" in lines
    assert (f"evaluate it: {installed_command('dilqr-rl')} evaluate --policy {run_dir / 'model.zip'} --env-id "
            "Pendulum-v1 --seed 1000 --episodes 2 --max-steps 10") in lines
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    assert [p.name for p in checkpoints(run_dir)] == ["model_16_steps.zip", "model_32_steps.zip"]
    assert load_run_config(run_dir).start_angle == 0.3
    for name in ("config.json", "hyperparameters.json", "start.json", "result.json", "history.csv"):
        assert (run_dir / name).is_file(), name


@pytest.mark.parametrize(("algo", "policy", "hyperparams"), [("a2c", "mlp", ["--hyperparams", "n_steps", "8"]),
                                                             ("sac", "dilqr", TINY_SAC)])
def test_artefacts_run_in_evaluate_and_video(tmp_path, capsys, algo, policy, hyperparams):
    """Without the start box: evaluate replays the run's final evaluation (A2C's MLP through its saved
    VecNormalize statistics)."""
    args = [arg for arg in TINY if arg not in ("--start-angle", "0.3")]
    assert main(["rl", *args, "--algo", algo, "--policy", policy, *hyperparams, "--eval-freq", "0",
                 "--output-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    run_dir = next(p for p in tmp_path.iterdir() if p.name != "references")
    final = load_history(run_dir)[-1]["eval/mean_return"]
    assert main(["evaluate", "--policy", str(run_dir / "model.zip"), "--env-id", "Pendulum-v1", "--seed", "1000",
                 "--episodes", "2", "--max-steps", "10", "--no-progress", "--output-dir", str(tmp_path / "e")]) == 0
    assert f"return {final:.1f} +- " in capsys.readouterr().out
    video = tmp_path / "v.gif"
    assert main(["video", "--policy", str(checkpoints(run_dir)[-1]), "--env-id", "Pendulum-v1", "--max-steps", "3",
                 "--output", str(video)]) == 0
    assert video.is_file()


ERRORS = [
    (["--env-id", "CartPole-v1"], "error: --env-id CartPole-v1: expected one of Pendulum-v1, InvertedPendulum-v5, "
     "dilqr_rl/Pendulum-v0, dilqr_rl/CartpoleSwingUp-v0, dilqr_rl/CartpoleBalance-v0"),
    (["--algo", "dqn"], "error: --algo dqn: expected one of ppo, a2c, sac, td3"),
    (["--policy", "lstm"], "error: --policy lstm: expected one of dilqr, mlp"),
    (["--model-error", "mass"], "error: --model-error 'mass' is not NAME=REL (a physical parameter and its relative "
     "error), e.g. --model-error mass=-0.3 length=-0.3"),
    (["--model-error", "mass=-1.5"], "error: --model-error 'mass=-1.5': the relative error must be a finite number "
     "> -1 (the model's value is true x (1 + REL), which must stay positive); got -1.5"),
    (["--model-error", "mass=0.1", "mass=0.2"], "error: --model-error names mass twice ('mass=0.2'); give each "
     "parameter once"),
    (["--model-error", "pole_mass=-0.3"], "error: --model-error pole_mass=-0.3: unknown physical parameter(s) "
     "['pole_mass'] of PendulumDynamics; its parameters: ['gravity', 'length', 'mass']"),
    (["--policy", "mlp", "--model-error", "mass=0.1"], "error: --model-error sets the DiLQR actor's physics and "
     "--policy mlp has none: drop --model-error, or use --policy dilqr"),
    (["--env-id", "dilqr_rl/Pendulum-v0", "--start-angle", "0.3"], "error: --start-angle sets Pendulum-v1's reset "
     "options and dilqr_rl/Pendulum-v0 has none: use --env-id Pendulum-v1, or leave --start-angle out (the env's "
     "own starts)"),
    (["--start-angle", "0"], "error: --start-angle must be > 0 and --start-speed >= 0; got 0.0, 1.0"),
    (["--env-id", "InvertedPendulum-v5", "--start-speed", "2"], "error: --start-speed 2.0 sets the speed of the "
     "starts that --start-angle sets, and --start-angle is None (the env's own starts): add --start-angle "
     "(Pendulum-v1 only), or leave --start-speed out"),
    (["--seed", "abc"], "error: Error parsing --seed: invalid literal for int() with base 10: 'abc' (see 'dilqr-rl rl "
     "--help')"),
    (["--hyperparams", "n_steps"], "error: Error parsing --hyperparams: Failed to parse key-value pairs! (see "
     "'dilqr-rl rl --help')"),
    (["--policy", "mlp", "--learn", "cost-map"], "error: --learn cost-map with --policy mlp: the MLP actor has no "
     "cost; use --policy dilqr"),
    (["--learn", "cost", "cost-map"], "error: --learn cost and --learn cost-map exclude each other: the cost map "
     "predicts the weights that replace the cost's own; learn one of them"),
    (["--learn", "physics", "goal"], "error: --learn goal: expected one or more of physics, cost, cost-map"),
    (["--learn", "cost", "cost"], "error: --learn cost is given twice; give each once"),
    (["--total-timesteps", "0", "--eval-episodes", "0"], "error: --total-timesteps 0, --eval-episodes 0: must be "
     ">= 1"),
    (["--eval-freq", "-1"], "error: --eval-freq -1: must be >= 0 (0: none)"),
    (["--controller-lr-scale", "0"], "error: --controller-lr-scale 0.0: must be a positive number"),
    (["--hyperparams", "n_step", "8"], "error: --hyperparams n_step: not a hyperparameter of PPO; its "
     "hyperparameters: batch_size, clip_range, clip_range_vf, ent_coef, gae_lambda, gamma, learning_rate, "
     "max_grad_norm, n_envs, n_epochs, n_steps, noise_std, normalize_advantage, sde_sample_freq, stats_window_size, "
     "target_kl, use_sde, vf_coef"),
    (["--hyperparams", "n_envs", "0"], "error: --hyperparams n_envs 0: must be >= 1 (parallel envs)"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_a_bad_option_is_one_error_line_and_no_folder(tmp_path, capsys, args, message):
    assert main(["rl", *args, "--output-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not (tmp_path / "runs").exists()


def test_an_output_dir_that_is_a_file_is_an_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["rl", "--output-dir", str(blocker / "runs")]) == 2
    assert capsys.readouterr().err == (f"error: --output-dir {blocker / 'runs'}: {blocker} is a file, not a folder; "
                                       "pass a folder (it is created if missing)\n")


def test_rl_help_lists_options():
    out = subprocess.run([*CLI, "rl", "--help"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
                         env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0
    for option in ("--env-id", "--algo", "--policy", "--model-error", "--learn", "--total-timesteps", "--seed",
                   "--resume", "--start-angle", "--eval-freq", "--eval-episodes", "--hyperparams"):
        assert option in out.stdout, option
    assert "ppo, a2c, sac or td3" in out.stdout and "NAME=REL" in out.stdout


def test_ctrl_c_saves_and_resume_continues(tmp_path, capsys, monkeypatch):
    learn = PPO.learn

    def interrupted_learn(self, total_timesteps, callback=None, **kwargs):
        learn(self, 16, callback=callback, **kwargs)  # one rollout, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(PPO, "learn", interrupted_learn)
    args = [*TINY, *TINY_PPO, "--checkpoint-freq", "0", "--output-dir", str(tmp_path)]
    assert main(["rl", *args]) == 130
    run_dir = next(p for p in tmp_path.iterdir() if p.name != "references")
    out = capsys.readouterr().out
    assert f"saved {run_dir / 'checkpoints' / 'model_16_steps.zip'}" in out
    assert f"run folder: {run_dir}\nresume with: {installed_command('dilqr-rl')} rl --resume {run_dir}" in out
    monkeypatch.setattr(PPO, "learn", learn)
    assert main(["rl", "--resume", str(run_dir), "--horizon", "6"]) == 2
    assert capsys.readouterr().err == ("error: --resume continues a run with its own settings, but --horizon 6 (the "
                                       "run has 5): drop these options, or start a new run\n")
    assert main(["rl", "--resume", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"run folder: {run_dir}" in out and "after 32 env steps" in out
    assert [r["timesteps"] for r in load_history(run_dir)] == [0.0, 16.0, 32.0]
    assert PPO.load(run_dir / "model.zip").num_timesteps == 32
    assert main(["rl", "--resume", str(run_dir)]) == 2
    assert "the run already has 32 of --total-timesteps 32 steps" in capsys.readouterr().err
    assert main(["rl", "--resume", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith(f"error: --resume {tmp_path / 'nowhere'}: ")


def test_resume_needs_a_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"env_id": "Pendulum-v1"}))
    assert main(["rl", "--resume", str(run_dir)]) == 2
    assert capsys.readouterr().err == (f"error: --resume {run_dir}: the run has no checkpoints/*_steps.zip yet (it "
                                       "stopped before its first checkpoint); start a new run\n")


def test_ppo_misspecified_script_quick(tmp_path):
    script = Path(__file__).parents[2] / "scripts" / "ppo_misspecified.py"
    out = subprocess.run([sys.executable, str(script), "--quick", "--no-progress", "--output-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    sweep = re.findall(r"mass +([0-9.]+): return +(-?[0-9.]+)", out.stdout)
    assert [float(m) for m, _ in sweep] == [0.5, 0.75, 1.0, 1.5, 2.0]
    assert re.search(r"^ +64 +-?[0-9.]+ +0\.5000$", out.stdout, re.MULTILINE)  # one rollout, mass 0.5 during it
    assert re.search(r"model mass: 0\.5000 -> [0-9.]+ \(true 1\.0000\)", out.stdout)
    assert re.search(r"deterministic return \(2 episodes\): -?[0-9.]+ -> -?[0-9.]+", out.stdout)
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("Pendulum-v1__ppo_misspecified_quick-dilqr__0__")
    assert list(run_dir.glob("events.out.tfevents.*")) and (run_dir / "model.zip").exists()


def test_resuming_a_folder_whose_settings_do_not_validate_is_one_error_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"env_id": "CartPole-v1"}))
    assert main(["rl", "--resume", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: --resume {tmp_path}: its config.json is not the settings of a run this version can continue (--env-id "
        "CartPole-v1: expected one of Pendulum-v1, InvertedPendulum-v5, dilqr_rl/Pendulum-v0, "
        "dilqr_rl/CartpoleSwingUp-v0, dilqr_rl/CartpoleBalance-v0); start a new run\n")
