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

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dilqr_rl.agents.bc import BCResult
from dilqr_rl.agents.bc_step import StepBCTrainer
from dilqr_rl.agents.clone_config import POLICY_KINDS, CloneConfig
from dilqr_rl.agents.clone_data import demonstrations, episode_masks, kind_splits
from dilqr_rl.agents.clone_policies import ClonePolicySpec, build_clone_policy
from dilqr_rl.agents.clone_trainers import DiLQRCloneTrainer, EncodedMLPTrainer, EpisodeCloneTrainer
from dilqr_rl.agents.evaluation import EvalResult, evaluate_episodes
from dilqr_rl.agents.reference_returns import Reference, reference_returns
from dilqr_rl.data.episodes import EpisodeDataset
from dilqr_rl.policies.dilqr_clone import physical_parameters
from dilqr_rl.policies.env_registry import env_control, make_env


class Cloner:
    """One policy of ``config.policy`` being cloned for ``env_id``: build, fit on episode arrays, evaluate."""

    def __init__(self, env_id: str, config: CloneConfig, env_kwargs: dict[str, Any] | None = None) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        env = self.make_env()
        try:
            self.config = config = config.for_observations(len(env.observation_space.shape) > 1)
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
            checkpoint_dir: str | Path | None = None, writer=None, label: str | None = None,
            states: np.ndarray | None = None, lr_scale: float = 1.0) -> BCResult:
        """Train on the transitions (rows of an episode consecutive), split by episode; the policy keeps the
        best-validation parameters. ``states``: the true states, needed with ``state_weight > 0`` (unused otherwise);
        ``lr_scale`` multiplies the learning rate (DAgger's later rounds).
        Shapes: observations (N, *obs_shape), actions (N, m), episode_ids (N,), states (N, n)."""
        cfg = self.config
        if cfg.state_weight > 0 and states is None:
            raise ValueError("state_weight > 0 regresses the state map on the recorded true states, and these episodes "
                             "have none: collect them in an env that reports info['state'] (our envs), or set "
                             "state_weight 0")
        masks = episode_masks(episode_ids, cfg.val_fraction, cfg.test_fraction, cfg.seed)
        horizon = self.policy.controller.config.horizon if cfg.policy == "dilqr" and cfg.loss == "plan" else None
        train, val, test = kind_splits(cfg.policy, observations, actions, episode_ids, masks, horizon,
                                       states if cfg.state_weight > 0 else None)
        if writer is not None:
            for name, mask in zip(("train", "val", "test"), masks):
                writer.add_scalar(f"bc/{name}_transitions", int(mask.sum()), 0)
        config = cfg.bc_config(checkpoint_dir, label, lr_scale)
        encoder = {"state_weight": cfg.state_weight, "encoder_lr": cfg.encoder_lr}
        if cfg.policy == "dilqr":
            trainer = DiLQRCloneTrainer(self.policy, self.spec, config, cfg.loss, writer=writer,
                                        model_warmup=cfg.model_warmup, **encoder)
        elif cfg.policy == "lstm":
            trainer = EpisodeCloneTrainer(self.policy, self.spec, config, writer=writer, **encoder)
        elif self.spec.images:
            trainer = EncodedMLPTrainer(self.policy, self.spec, config, writer=writer, **encoder)
        else:
            if cfg.state_weight > 0:
                raise ValueError(f"state_weight > 0 trains a learned state map, and the MLP reads {self.env_id}'s "
                                 "observations directly: set state_weight 0")
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
    n_demos, demos_return = demonstrations(ds)
    out: dict[str, Any] = {"policy": config.policy, "env_id": ds.env_id, "demonstrations": n_demos,
                           "expert_labels": len(ds), "demonstrations_return": demos_return}
    start = cloner.physics()
    untrained = (cloner.evaluate(config.eval_episodes, config.eval_seed)
                 if config.eval_episodes and config.evaluate_untrained else None)
    result = cloner.fit(ds.observations, ds.actions, ds.episode, checkpoint_dir, writer,
                        states=ds.arrays.get("states"))
    out.update(train_seconds=result.wall_time, best_epoch=result.best_epoch, best_val_loss=result.best_val_loss,
               test_loss=result.test_loss)
    if checkpoint_dir is not None:
        out["checkpoint"] = str(checkpoint_dir / "best.pt")
    if cloner.spec.kind == "dilqr":
        out.update(physics_true=cloner.true_physics, physics_start=start, physics_learned=cloner.physics())
    if config.eval_episodes:
        trained = cloner.evaluate(config.eval_episodes, config.eval_seed)
        if reference is None:
            reference = reference_returns(cloner.make_env, config.eval_episodes, config.eval_seed, config.progress)
        out.update(evaluation_returns(untrained, trained, reference))
        _log_returns(writer, out, (config.epochs or POLICY_KINDS[config.policy].epochs) + 1)
    return out


def evaluation_returns(untrained: EvalResult | None, trained: EvalResult, reference: Reference) -> dict[str, Any]:
    """The untrained (None where not evaluated) and trained returns, raw and normalised, with the reference they
    are normalised by."""
    before = None if untrained is None else untrained.mean_return
    return {"eval_seeds": [reference.seed, reference.seed + reference.episodes - 1],
            "untrained_return": before, "return": trained.mean_return,
            "return_std": trained.std_return, "random_return": reference.random, "expert_return": reference.expert,
            "normalized_untrained": None if before is None else reference.normalize(before),
            "normalized_return": reference.normalize(trained.mean_return)}


def _log_returns(writer, metrics: dict[str, Any], step: int) -> None:
    if writer is None:
        return
    for key in ("untrained_return", "return", "normalized_untrained", "normalized_return", "random_return",
                "expert_return"):
        if metrics[key] is not None:
            writer.add_scalar(f"eval/{'mean_return' if key == 'return' else key}", metrics[key], step)
