"""``dilqr-rl bc`` end to end as a subprocess: TensorBoard events, checkpoints that load, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dilqr_rl.agents.bc import BCTrainer, load_checkpoint
from dilqr_rl.agents.bc_sequence import load_sequence_policy
from dilqr_rl.cli import main
from dilqr_rl.cli._commands import installed_command
from dilqr_rl.data import collect_plans
from tests import SUBPROCESS_TIMEOUT_S

CLI = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]
TINY = ["--n-train", "4", "--n-val", "2", "--n-test", "2", "--epochs", "2", "--batch-size", "4", "--no-progress"]


def bc(tmp_path, *extra):
    return subprocess.run([*CLI, "bc", *TINY, "--output-dir", str(tmp_path), *extra], capture_output=True,
                          text=True, timeout=SUBPROCESS_TIMEOUT_S)


@pytest.mark.parametrize("policy", ["dilqr", "lstm"])
def test_bc_writes_events_checkpoints_and_results(tmp_path, policy):
    out = bc(tmp_path, "--policy", policy, "--seed", "2")
    assert out.returncode == 0, out.stderr
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith(f"pendulum-upright__bc-{policy}__2__")
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1  # hyperparameters in the same file
    result = json.loads((run_dir / "result.json").read_text())
    assert result["test_loss"] >= 0 and f"test_loss: {result['test_loss']:.4g}" in out.stdout
    policy_module = load_sequence_policy(run_dir / "checkpoints" / "best.pt")
    assert policy_module is not None and (run_dir / "checkpoints" / "last.pt").is_file()


def test_bc_resume_continues_a_run(tmp_path):
    assert bc(tmp_path).returncode == 0
    (run_dir,) = tmp_path.iterdir()
    first = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert first["epoch"] == 2 and len(first["history"]["train/loss"]) == 2
    out = bc(tmp_path, "--resume", str(run_dir), "--epochs", "3")
    assert out.returncode == 0, out.stderr
    assert list(tmp_path.iterdir()) == [run_dir]
    resumed = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert resumed["epoch"] == 3 and len(resumed["history"]["train/loss"]) == 3
    assert resumed["history"]["train/loss"][:2] == first["history"]["train/loss"]  # continued, not restarted
    assert json.loads((run_dir / "result.json").read_text())["best_epoch"] == resumed["best_epoch"]


def test_bc_trains_on_plans_of_the_dataset_horizon(tmp_path, capsys):
    data = collect_plans("pendulum-upright", n_train=3, n_val=1, n_test=1, progress=False, horizon=6).save(
        tmp_path / "plans.npz")
    runs = tmp_path / "runs"
    assert main(["bc", "--data", str(data), "--epochs", "1", "--batch-size", "3", "--no-progress",
                 "--output-dir", str(runs)]) == 0
    (run_dir,) = runs.iterdir()
    policy = load_sequence_policy(run_dir / "checkpoints" / "best.pt")
    assert policy(torch.zeros(2, 2, dtype=torch.float64)).u.shape == (2, 6, 1)
    assert json.loads((run_dir / "result.json").read_text())["test_loss"] >= 0


def test_bc_user_errors_are_one_line_messages(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["bc", *TINY, "--n-val", "0", "--output-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the validation split is empty") and "Traceback" not in err
    assert not runs.exists()  # refused before a run directory was made
    data = collect_plans("pendulum-upright", n_train=1, n_val=1, n_test=0, progress=False).save(tmp_path / "plans.npz")
    assert main(["bc", "--system", "cartpole-balance", "--data", str(data), "--output-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --data {data} holds plans of pendulum-upright, not cartpole-balance: pass --system "
                          "pendulum-upright")
    assert main(["bc", "--data", str(tmp_path / "none.npz"), "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err == (f"error: --data {tmp_path / 'none.npz'}: no such file; create one with "
                                       "dilqr-rl collect --kind plans ...\n")
    assert main(["bc", *TINY, "--learnable", "mass", "weight", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith("error: --learnable ['weight'] are not parameters of pendulum-upright")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    assert main(["bc", "--data", str(broken), "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --data {broken}: {broken} is not a readable dilqr_rl dataset")
    assert main(["bc", *TINY, "--lr", "0", "--output-dir", str(runs)]) == 2
    assert capsys.readouterr().err == "error: --lr must be > 0, or None for the papers' default; got 0.0\n"
    assert not runs.exists()


def test_bc_without_test_plans_reports_no_test_loss(tmp_path, capsys):
    assert main(["bc", *TINY, "--n-test", "0", "--policy", "mlp", "--output-dir", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "result.json").read_text())["test_loss"] is None
    assert "test_loss: None" in capsys.readouterr().out


def test_bc_bad_resume_directory_is_reported(tmp_path):
    out = bc(tmp_path, "--resume", str(tmp_path / "nowhere"))
    assert out.returncode == 2
    assert "no checkpoints/last.pt there" in out.stderr


def test_bc_rejects_an_unknown_mode(tmp_path):
    out = bc(tmp_path, "--mode", "dcost")
    assert out.returncode == 2 and "invalid choice 'dcost' for argument '--mode'" in out.stderr


def test_bc_resume_with_another_learner_is_refused(tmp_path):
    assert bc(tmp_path).returncode == 0
    (run_dir,) = tmp_path.iterdir()
    out = bc(tmp_path, "--resume", str(run_dir), "--mode", "cost")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr == ("error: --resume continues a run with its own settings, but --mode cost (the run has dx): "
                          "drop these options, or start a new run\n")


def test_bc_prints_each_result_once_and_help_one_default(tmp_path):
    out = bc(tmp_path, "--policy", "mlp")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("test_loss") == 1
    help_text = subprocess.run([*CLI, "bc", "--help"], capture_output=True, text=True,
                               timeout=SUBPROCESS_TIMEOUT_S).stdout
    assert help_text.count("(default: 1)") == 1 and "--relative-lr" in help_text  # threads' only


def test_bc_resume_keeps_the_runs_options(tmp_path, capsys):
    runs = tmp_path / "runs"
    tiny = [*TINY, "--output-dir", str(runs)]
    assert main(["bc", *tiny, "--optimizer", "adam", "--lr", "0.05", "--seed", "3"]) == 0
    (run_dir,) = runs.iterdir()
    capsys.readouterr()
    assert main(["bc", "--resume", str(run_dir), "--no-progress"]) == 2  # --epochs 2 are done
    assert capsys.readouterr().err == (f"error: --resume {run_dir}: the run already has 2 epochs (--epochs 2); pass "
                                       "--epochs above 2 to train on\n")
    assert main(["bc", "--resume", str(run_dir), "--optimizer", "rmsprop", "--seed", "3", "--n-train", "5"]) == 2
    assert capsys.readouterr().err == ("error: --resume continues a run with its own settings, but --n-train 5 (the "
                                       "run has 4), --optimizer rmsprop (the run has adam): drop these options, or "
                                       "start a new run\n")
    assert main(["bc", "--resume", str(run_dir), "--epochs", "3", "--no-progress"]) == 0  # adam, lr 0.05, seed 3
    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert (last["epoch"], last["config"]["optimizer"], last["config"]["lr"]) == (3, "adam", 0.05)
    assert last["spec"]["init_seed"] == 3 and list(runs.iterdir()) == [run_dir]


def test_bc_resume_of_a_cosine_run_keeps_its_epochs(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["bc", *TINY, "--policy", "mlp", "--lr-schedule", "cosine", "--output-dir", str(runs)]) == 0
    (run_dir,) = runs.iterdir()
    capsys.readouterr()
    assert main(["bc", "--resume", str(run_dir), "--epochs", "4"]) == 2
    assert capsys.readouterr().err == ("error: --epochs 4: the run anneals its lr over its --epochs 2 (--lr-schedule "
                                       "cosine), which it keeps when resumed; drop --epochs, or start a new run to "
                                       "train longer\n")
    help_text = subprocess.run([*CLI, "bc", "--help"], capture_output=True, text=True, timeout=60,
                               env={**os.environ, "COLUMNS": "200"}).stdout
    assert "A resumed run may get a larger value to train" in help_text and "except --epochs" in help_text


def test_ctrl_c_in_bc_saves_and_prints_how_to_resume(tmp_path, capsys, monkeypatch):
    train_epoch, calls = BCTrainer._train_epoch, []

    def interrupted_epoch(self, *args):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C in the second epoch
            raise KeyboardInterrupt
        return train_epoch(self, *args)

    monkeypatch.setattr(BCTrainer, "_train_epoch", interrupted_epoch)
    runs = tmp_path / "runs"
    assert main(["bc", *TINY, "--epochs", "3", "--optimizer", "adam", "--output-dir", str(runs)]) == 130
    (run_dir,) = runs.iterdir()
    last = run_dir / "checkpoints" / "last.pt"
    assert capsys.readouterr().out == (f"\ninterrupted after 1 of 3 epochs; saved {last}\nrun folder: {run_dir}\n"
                                       f"resume with: {installed_command('dilqr-rl')} bc --resume {run_dir}\n")
    assert load_checkpoint(last)["epoch"] == 1 and not (run_dir / "result.json").exists()
    monkeypatch.setattr(BCTrainer, "_train_epoch", train_epoch)
    assert main(["bc", "--resume", str(run_dir)]) == 0
    assert load_checkpoint(last)["epoch"] == 3 and len(load_checkpoint(last)["history"]["train/loss"]) == 3
    assert json.loads((run_dir / "result.json").read_text())["run_dir"] == str(run_dir)


def test_a_run_interrupted_in_its_first_epoch_resumes(tmp_path, capsys, monkeypatch):
    def interrupted_epoch(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(BCTrainer, "_train_epoch", interrupted_epoch)
    runs = tmp_path / "runs"
    assert main(["bc", *TINY, "--policy", "mlp", "--output-dir", str(runs)]) == 130
    (run_dir,) = runs.iterdir()
    assert "interrupted after 0 of 2 epochs" in capsys.readouterr().out
    monkeypatch.undo()
    assert main(["bc", "--resume", str(run_dir)]) == 0
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 2


@pytest.mark.parametrize("epochs", ["0", "-5"])
def test_bc_refuses_epochs_below_1_without_a_traceback(tmp_path, epochs):
    out = bc(tmp_path, "--epochs", epochs)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr == f"error: --epochs must be >= 1 (or None: 100, or a resumed run's own); got {epochs}\n"
    assert list(tmp_path.iterdir()) == []


def test_bc_with_nothing_to_learn_leaves_no_run_folder(tmp_path, capsys):
    assert main(["bc", *TINY, "--learnable", "--output-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("error: --mode dx learns the dynamics' --learnable parameters, and --learnable "
                                       "names none: nothing to train; name some, or drop --learnable for the "
                                       "system's\n")
    assert list(tmp_path.iterdir()) == []


def test_best_epoch_counts_from_1_as_tensorboard(tmp_path, capsys):
    assert main(["bc", *TINY, "--epochs", "4", "--policy", "mlp", "--lr", "1e-2", "--output-dir", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    events = EventAccumulator(str(run_dir))
    events.Reload()
    val = {event.step: event.value for event in events.Scalars("eval/val_loss")}
    assert sorted(val) == [1, 2, 3, 4]
    best_epoch = json.loads((run_dir / "result.json").read_text())["best_epoch"]
    assert best_epoch == min(val, key=val.get) and f"best_epoch: {best_epoch}\n" in capsys.readouterr().out
    assert load_checkpoint(run_dir / "checkpoints" / "best.pt")["epoch"] == best_epoch
