"""Single-step behaviour cloning of any policy from expert episodes in an env: one function per trial.

:func:`clone_from_episodes` trains a ``dilqr``, ``mlp`` or ``lstm`` policy
(:data:`~dilqr_rl.agents.clone_policies.POLICY_KINDS`) on an :class:`~dilqr_rl.data.EpisodeDataset`, split by
whole episodes, with :class:`~dilqr_rl.agents.bc.BCTrainer` (best-validation selection, TensorBoard,
checkpoints), and returns a dict of metrics: the returns of the untrained and the trained policy over seeded
evaluation episodes, both normalised (0: a random policy, 1: the expert, on the same episodes), the physics
(true, start, learned) of a DiLQR clone, the number of expert labels and the training seconds.
:class:`Cloner` holds one policy being cloned (DAgger retrains it round after round).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dilqr_rl.agents.bc import BCConfig, BCResult
from dilqr_rl.agents.bc_step import StepBCTrainer
from dilqr_rl.agents.clone_data import episode_masks, kind_splits
from dilqr_rl.agents.clone_policies import POLICY_KINDS, ClonePolicySpec, build_clone_policy
from dilqr_rl.agents.clone_trainers import DILQR_LOSSES, DiLQRCloneTrainer, EpisodeCloneTrainer
from dilqr_rl.agents.evaluation import EvalResult, evaluate_episodes
from dilqr_rl.agents.model_error import parse_model_error
from dilqr_rl.agents.reference_returns import Reference, reference_returns
from dilqr_rl.data.episodes import EpisodeDataset
from dilqr_rl.policies.dilqr_clone import LEARNABLE, physical_parameters
from dilqr_rl.policies.env_registry import env_control, make_env


@dataclass(frozen=True)
class CloneConfig:
    """How to clone a policy from expert episodes (``None``: the policy kind's default, ``POLICY_KINDS``)."""

    policy: str = "dilqr"
    """dilqr (the env's DiLQR actor from a wrong start of the physics), mlp or lstm (over the observation history)."""
    model_error: tuple[str, ...] | None = None
    """The DiLQR actor's wrong start, NAME=REL (model = true x (1 + REL)), e.g. mass=0.3 length=-0.3; None: the
    env's registered default."""
    learn: tuple[str, ...] = ("physics",)
    """What the DiLQR actor learns: physics, cost (the cost's weights), or both."""
    loss: str = "first"
    """The DiLQR actor's loss: first (its first control u_1 against the expert's action) or plan (its whole plan
    against the expert's next T actions)."""
    epochs: int | None = None
    """Passes over the training episodes (None: dilqr 20, mlp 200, lstm 300)."""
    batch_size: int | None = None
    """Transitions per step, or episodes for lstm (None: dilqr 100, mlp 64, lstm 4)."""
    lr: float | None = None
    """Adam's learning rate (None: dilqr 0.02 relative to each physical parameter's size, mlp 1e-3, lstm 3e-3)."""
    lr_schedule: str = "constant"
    """constant or cosine."""
    val_fraction: float = 0.2
    """Fraction of the episodes held out to select the best epoch."""
    test_fraction: float = 0.0
    """Fraction of the episodes held out for a test loss (0: none; the return in the env is the real test)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """MLP hidden widths."""
    lstm_hidden: int = 64
    """LSTM hidden size."""
    eval_episodes: int = 20
    """Evaluation episodes of the untrained and trained policy, the random policy and the expert (0: skip)."""
    eval_seed: int = 1000
    """Seed of the first evaluation episode (away from the demonstrations' seeds 0, 1, ...)."""
    seed: int = 0
    """Seeds the split, the initial weights and the batches."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        if self.policy not in POLICY_KINDS:
            raise ValueError(f"unknown policy {self.policy!r}; valid: {', '.join(POLICY_KINDS)}")
        if self.loss not in DILQR_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; valid: {', '.join(DILQR_LOSSES)}")
        if not self.learn or set(self.learn) - set(LEARNABLE):
            raise ValueError(f"learn must name some of {', '.join(LEARNABLE)}; got {' '.join(self.learn) or 'none'}")
        if self.policy != "dilqr" and (self.model_error is not None or self.loss != "first"
                                       or tuple(self.learn) != ("physics",)):
            raise ValueError(f"model_error, learn and loss set the DiLQR actor, and policy={self.policy} has none: "
                             "drop them, or use policy=dilqr")
        if self.model_error is not None:
            parse_model_error(self.model_error)
        for name in ("epochs", "batch_size", "lstm_hidden"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1; got {value}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr}")
        if min(self.hidden_sizes, default=1) < 1:
            raise ValueError(f"hidden_sizes must be >= 1; got {' '.join(map(str, self.hidden_sizes))}")
        if self.eval_episodes < 0:
            raise ValueError(f"eval_episodes must be >= 0 (0 skips the evaluation); got {self.eval_episodes}")
        if not (0.0 < self.val_fraction < 1.0 and 0.0 <= self.test_fraction < 1.0):
            raise ValueError(f"need 0 < val_fraction < 1 and 0 <= test_fraction < 1; got {self.val_fraction} and "
                             f"{self.test_fraction}")
        BCConfig(lr_schedule=self.lr_schedule)  # its check lists the valid schedules

    def model_errors(self) -> dict[str, float] | None:
        """``model_error`` as ``{name: relative error}``; None: the env's default."""
        return None if self.model_error is None else parse_model_error(self.model_error)

    def bc_config(self, checkpoint_dir: str | Path | None, label: str | None = None) -> BCConfig:
        """The trainer's settings, the kind's defaults where this config says None."""
        kind = POLICY_KINDS[self.policy]
        return BCConfig(epochs=self.epochs or kind.epochs, batch_size=self.batch_size or kind.batch_size,
                        optimizer="adam", lr=self.lr or kind.lr, relative_lr=kind.relative_lr,
                        lr_schedule=self.lr_schedule, seed=self.seed, progress=self.progress,
                        progress_label=label or f"bc {self.policy}",
                        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir))


class Cloner:
    """One policy of ``config.policy`` being cloned for ``env_id``: build, fit on episode arrays, evaluate."""

    def __init__(self, env_id: str, config: CloneConfig, env_kwargs: dict[str, Any] | None = None) -> None:
        self.env_id, self.config = env_id, config
        self.env_kwargs = dict(env_kwargs or {})
        env = self.make_env()
        try:
            error = config.model_errors()
            if config.policy == "dilqr" and error is None:
                error = dict(env_control(env).model_error)
            self.spec = ClonePolicySpec.for_env(
                config.policy, env_id, env, env_kwargs=self.env_kwargs, hidden_sizes=tuple(config.hidden_sizes),
                lstm_hidden=config.lstm_hidden, model_error=error if config.policy == "dilqr" else None,
                learn=tuple(config.learn), init_seed=config.seed)
            self.true_physics = physical_parameters(env_control(env).dynamics) if config.policy == "dilqr" else {}
        finally:
            env.close()
        self.policy = build_clone_policy(self.spec)

    def make_env(self) -> gym.Env:
        return make_env(self.env_id, **self.env_kwargs)

    def physics(self) -> dict[str, float]:
        """The DiLQR actor's physical parameters now ({} for the networks)."""
        return physical_parameters(self.policy.dynamics) if self.spec.kind == "dilqr" else {}

    def fit(self, observations: np.ndarray, actions: np.ndarray, episode_ids: np.ndarray,
            checkpoint_dir: str | Path | None = None, writer=None, label: str | None = None) -> BCResult:
        """Train on the transitions (rows of an episode consecutive), split by episode; the policy keeps the
        best-validation parameters. Shapes: observations (N, *obs_shape), actions (N, m), episode_ids (N,)."""
        cfg = self.config
        masks = episode_masks(episode_ids, cfg.val_fraction, cfg.test_fraction, cfg.seed)
        horizon = self.policy.controller.config.horizon if cfg.policy == "dilqr" and cfg.loss == "plan" else None
        train, val, test = kind_splits(cfg.policy, observations, actions, episode_ids, masks, horizon)
        if writer is not None:
            for name, mask in zip(("train", "val", "test"), masks):
                writer.add_scalar(f"bc/{name}_transitions", int(mask.sum()), 0)
        config = cfg.bc_config(checkpoint_dir, label)
        if cfg.policy == "dilqr":
            trainer = DiLQRCloneTrainer(self.policy, self.spec, config, cfg.loss, writer=writer)
        elif cfg.policy == "lstm":
            trainer = EpisodeCloneTrainer(self.policy, self.spec, config, writer=writer)
        else:
            trainer = StepBCTrainer(self.policy, self.spec.step_spec(), config, writer=writer)
        return trainer.fit(train, val, test if len(test[0]) else None)

    def evaluate(self, n_episodes: int, seed: int) -> EvalResult:
        """Returns over episodes seeded ``seed``, ``seed + 1``, ... in lockstep."""
        return evaluate_episodes(self.policy, self.make_env, n_episodes, seed, progress=self.config.progress,
                                 label=f"evaluate {self.config.policy}")


def clone_from_episodes(ds: EpisodeDataset, config: CloneConfig, env_kwargs: dict[str, Any] | None = None,
                        run_dir: str | Path | None = None, writer=None, reference: Reference | None = None,
                        cloner: Cloner | None = None) -> dict[str, Any]:
    """Clone ``config.policy`` from ``ds`` (module docstring) and return the metrics.

    ``env_kwargs`` make the env (default: the dataset's); ``run_dir`` gets ``checkpoints/best.pt`` and
    ``last.pt``; ``reference`` (the random and expert returns on the evaluation episodes) is measured when
    not given; ``cloner``: the policy to train (default: a new one of ``config``).
    """
    env_kwargs = dict(ds.metadata.get("env_kwargs", {})) if env_kwargs is None else env_kwargs
    cloner = Cloner(ds.env_id, config, env_kwargs) if cloner is None else cloner
    checkpoint_dir = None if run_dir is None else Path(run_dir) / "checkpoints"
    out: dict[str, Any] = {"policy": config.policy, "env_id": ds.env_id, "demonstrations": ds.n_episodes,
                           "expert_labels": len(ds), "demonstrations_return": float(ds.episode_returns().mean())}
    start = cloner.physics()
    untrained = cloner.evaluate(config.eval_episodes, config.eval_seed) if config.eval_episodes else None
    result = cloner.fit(ds.observations, ds.actions, ds.episode, checkpoint_dir, writer)
    out.update(train_seconds=result.wall_time, best_epoch=result.best_epoch, best_val_loss=result.best_val_loss,
               test_loss=result.test_loss)
    if checkpoint_dir is not None:
        out["checkpoint"] = str(checkpoint_dir / "best.pt")
    if cloner.spec.kind == "dilqr":
        out.update(physics_true=cloner.true_physics, physics_start=start, physics_learned=cloner.physics())
    if untrained is not None:
        trained = cloner.evaluate(config.eval_episodes, config.eval_seed)
        if reference is None:
            reference = reference_returns(cloner.make_env, config.eval_episodes, config.eval_seed, config.progress)
        out.update(evaluation_returns(untrained, trained, reference))
        _log_returns(writer, out, (config.epochs or POLICY_KINDS[config.policy].epochs) + 1)
    return out


def evaluation_returns(untrained: EvalResult, trained: EvalResult, reference: Reference) -> dict[str, Any]:
    """The untrained and trained returns, raw and normalised, with the reference they are normalised by."""
    return {"eval_seeds": [reference.seed, reference.seed + reference.episodes - 1],
            "untrained_return": untrained.mean_return, "return": trained.mean_return,
            "return_std": trained.std_return, "random_return": reference.random, "expert_return": reference.expert,
            "normalized_untrained": reference.normalize(untrained.mean_return),
            "normalized_return": reference.normalize(trained.mean_return)}


def _log_returns(writer, metrics: dict[str, Any], step: int) -> None:
    if writer is None:
        return
    for key in ("untrained_return", "return", "normalized_untrained", "normalized_return", "random_return",
                "expert_return"):
        writer.add_scalar(f"eval/{'mean_return' if key == 'return' else key}", metrics[key], step)
