"""Checkpoints of an SB3 run that a later call resumes from, and Ctrl-C.

A checkpoint is ``checkpoints/model_<steps>_steps.zip`` (``model.save``: the policy, its optimizers and the
algorithm's state) with, beside it:

- ``model_<steps>_steps.vecnormalize.pkl``: the ``VecNormalize`` statistics, when the run normalises (rl-zoo3's
  ``normalize``), so that the model acts on the env's observations in ``dilqr-rl evaluate`` and a resumed run
  continues the running means;
- ``model_<steps>_steps.replay_buffer.pkl`` (SAC, TD3): the replay buffer, so that a resumed run samples the
  transitions it collected. Only the latest checkpoint keeps one (a buffer is up to tens of MB); the older
  checkpoints load and act, and a resume from them would start with an empty buffer.
"""

from __future__ import annotations

import re
from pathlib import Path

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from dilqr_rl.agents.evaluation import vecnormalize_path

CHECKPOINTS = "checkpoints"
REPLAY_BUFFER_SUFFIX = ".replay_buffer.pkl"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: the model was saved to ``checkpoint``; resume from ``run_dir``."""

    def __init__(self, run_dir: Path, checkpoint: Path, timesteps: int) -> None:
        super().__init__(f"interrupted at {timesteps} steps; saved {checkpoint}")
        self.run_dir, self.checkpoint, self.timesteps = run_dir, checkpoint, timesteps


def steps_of(path: Path) -> int:
    """The ``<steps>`` of ``model_<steps>_steps.zip`` (-1 for another name)."""
    match = re.search(r"_(\d+)_steps\.zip$", Path(path).name)
    return int(match.group(1)) if match else -1


def checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's ``checkpoints/model_<steps>_steps.zip``, oldest first."""
    return sorted(Path(run_dir, CHECKPOINTS).glob("*_steps.zip"), key=steps_of)


def checkpoint_path(run_dir: Path, timesteps: int) -> Path:
    return run_dir / CHECKPOINTS / f"model_{timesteps}_steps.zip"


def replay_buffer_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(REPLAY_BUFFER_SUFFIX)


def save_model(model: BaseAlgorithm, path: Path, replay_buffer: bool = False) -> None:
    """``model.save(path)`` and the ``VecNormalize`` statistics beside it; with ``replay_buffer`` (off-policy
    algorithms) the buffer too, removing the buffers of the other checkpoints in that folder."""
    model.save(path)
    normalizer = model.get_vec_normalize_env()
    if normalizer is not None:
        normalizer.save(str(vecnormalize_path(path)))
    if replay_buffer and isinstance(model, OffPolicyAlgorithm):
        buffer = replay_buffer_path(path)
        model.save_replay_buffer(buffer)
        for old in path.parent.glob(f"*{REPLAY_BUFFER_SUFFIX}"):
            if old != buffer:
                old.unlink()


def load_model(algorithm: type[BaseAlgorithm], path: Path, venv: VecEnv) -> BaseAlgorithm:
    """The model saved at ``path`` (by :func:`save_model`) on ``venv``, wrapped in its saved ``VecNormalize``
    (training on) and with its replay buffer, where they were saved."""
    stats = vecnormalize_path(path)
    if stats.is_file():
        venv = VecNormalize.load(str(stats), venv)
        venv.training = True
    model = algorithm.load(path, env=venv)
    buffer = replay_buffer_path(path)
    if buffer.is_file() and isinstance(model, OffPolicyAlgorithm):
        model.load_replay_buffer(buffer)
    return model


class CheckpointEvery(BaseCallback):
    """Save a checkpoint (:func:`save_model`) at the first rollout start past each multiple of ``every`` env steps
    (PPO and A2C: at whole rollouts)."""

    def __init__(self, run_dir: Path, every: int) -> None:
        super().__init__()
        self.run_dir, self.every = run_dir, int(every)
        self.next_at = 0

    def _on_training_start(self) -> None:
        self.next_at = (self.num_timesteps // self.every + 1) * self.every

    def _on_rollout_start(self) -> None:
        # Between rollouts: the last transition is stored and learned from (SAC and TD3 store it after _on_step).
        if self.num_timesteps >= self.next_at:
            save_model(self.model, checkpoint_path(self.run_dir, self.num_timesteps), replay_buffer=True)
            self.next_at = (self.num_timesteps // self.every + 1) * self.every

    def _on_step(self) -> bool:
        return True


def learn_with_checkpoints(model: BaseAlgorithm, total_timesteps: int, run_dir: Path, checkpoint_freq: int,
                           callbacks: list[BaseCallback], progress: bool) -> None:
    """``model.learn`` up to ``total_timesteps`` env steps in all (a resumed model continues its count), a
    checkpoint every ``checkpoint_freq`` steps (0: none) and at the end; on Ctrl-C a checkpoint and
    :class:`TrainingInterrupted`."""
    if checkpoint_freq:
        callbacks = [*callbacks, CheckpointEvery(run_dir, checkpoint_freq)]
    remaining = total_timesteps - model.num_timesteps
    try:
        if remaining > 0:
            model.learn(remaining, callback=callbacks, progress_bar=progress, reset_num_timesteps=False)
    except KeyboardInterrupt:
        path = checkpoint_path(run_dir, model.num_timesteps)
        save_model(model, path, replay_buffer=True)
        raise TrainingInterrupted(run_dir, path, model.num_timesteps) from None
    save_model(model, checkpoint_path(run_dir, model.num_timesteps), replay_buffer=True)  # where a resume starts
