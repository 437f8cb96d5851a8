"""Run directories and hyperparameter tables."""

from __future__ import annotations

import dataclasses

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dilqr_rl.agents.logging import StepHistory, hparams_table, make_run_dir, make_writer


def test_make_run_dir_name_sanitizes_env_ids(tmp_path):
    path = make_run_dir(tmp_path, "dilqr_rl/Pendulum-v0", "bc dx", 3, timestamp=1700000000)
    assert path.name == "dilqr_rl-Pendulum-v0__bc-dx__3__1700000000"
    assert path.is_dir() and path.parent == tmp_path
    again = make_run_dir(tmp_path, "dilqr_rl/Pendulum-v0", "bc dx", 3, timestamp=1700000000)
    assert again.name == "dilqr_rl-Pendulum-v0__bc-dx__3__1700000000-1"


@dataclasses.dataclass
class _Config:
    lr: float = 1e-3
    env_id: str = "Pendulum-v1"
    layers: tuple = (64, 64)


def test_hparams_table_and_writer(tmp_path):
    table = hparams_table(_Config())
    assert table.splitlines()[:3] == ["|param|value|", "|-|-|", "|lr|0.001|"]
    assert "|layers|(64, 64)|" in table
    writer = make_writer(tmp_path, _Config())
    writer.add_scalar("train/loss", 1.5, 0)
    writer.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    events.Reload()
    assert "train/loss" in events.Tags()["scalars"]
    assert any(tag.startswith("hyperparameters") for tag in events.Tags()["tensors"])
    assert events.Scalars("train/loss")[0].value == 1.5
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1  # hparams in the writer's own file



def test_step_history_averages_each_scalar_over_the_steps_that_gave_it():
    log = StepHistory(every=4, last=6)
    for step in range(1, 7):  # "state" stops after step 5, inside the second block; "late" starts at step 3
        scalars = {"loss": float(step)}
        if step <= 5:
            scalars["state"] = 1.0
        if step >= 3:
            scalars["late"] = 10.0 * step
        log.add(step, scalars, {"param": -step})
    assert log.history["loss"] == [2.5, 5.5]
    assert log.history["state"] == [1.0, 1.0]  # not 1 x (1 of 2 steps) = 0.5 in the second block
    assert log.history["late"] == [35.0, 55.0]
    assert log.history["param"] == [-4, -6]
