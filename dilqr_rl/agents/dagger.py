"""DAgger (Ross et al., 2011) for any cloned policy: roll the learner, let the expert label what it visits, retrain.

Round 0 clones the demonstrations (:class:`~dilqr_rl.agents.clone.Cloner`). Round k = 1..K rolls
``episodes_per_round`` episodes of the mixture policy that applies the expert's action with probability
beta_k = beta0^k and the learner's otherwise (per step and env), asks the expert for its action at every visited
state (its label; from the true state ``info["state"]`` where the env reports it, as the pixel pendulum's
expert needs, else from the observation), adds these episodes to the data and retrains the learner on all of
it, continuing from its current parameters at the learning rate x ``round_lr_scale`` (the DiLQR actor's: 0.25,
:data:`~dilqr_rl.agents.clone_config.DILQR_ROUND_LR_SCALE`). Each round ends with the learner's return (alone,
beta = 0) over the seeded evaluation episodes; the number of expert labels counts every state the expert labelled
(demonstrations included).

A label is the expert's best answer at the state (:meth:`~dilqr_rl.policies.ILQRExpert.relabel_state`): the
cheaper of its cold multi-start solve and the solve warm-started from its previous step's shifted plan. The warm
chain alone, as the expert runs when it drives, gives poor labels on another policy's trajectory (measured on
``Pendulum-v1``: 30% of them more than 0.1 away from the cold answer), and retraining on them drove the DiLQR
actor's physics to a degenerate model (the length through zero).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dilqr_rl.agents.bc import save_checkpoint
from dilqr_rl.agents.clone import Cloner, evaluation_returns
from dilqr_rl.agents.clone_config import DaggerConfig
from dilqr_rl.agents.clone_data import demonstrations
from dilqr_rl.agents.reference_returns import Reference, reference_returns
from dilqr_rl.data.episodes import EpisodeDataset
from dilqr_rl.policies.expert import ILQRExpert
from dilqr_rl.policies.expert_envs import expert_for


class OffsetWriter:
    """A TensorBoard writer whose steps are shifted by ``offset`` (one round's epochs after the previous')."""

    def __init__(self, writer, offset: int) -> None:
        self.writer, self.offset = writer, offset

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, self.offset + step)


def rollout_labelled(learner, expert: ILQRExpert, envs: list[gym.Env], seeds: list[int], beta: float,
                     rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One episode per env (reset with ``seeds``) in lockstep of the mixture policy (module docstring).

    Returns the arrays of an :class:`~dilqr_rl.data.EpisodeDataset` whose ``actions`` are the expert's labels
    (with ``states`` and ``next_states`` where the envs report them), plus ``applied`` (the actions the env got)
    and ``expert_acted`` (bool), episodes numbered 0..B-1, and each episode's return (B,).
    """
    B = len(envs)
    obs, infos = (list(v) for v in zip(*(env.reset(seed=s) for env, s in zip(envs, seeds))))
    with_states = all("state" in info for info in infos)
    plan, learner_state = None, None
    starts = np.ones(B, dtype=bool)  # the learner's episode starts
    done = np.zeros(B, dtype=bool)
    logs: list[dict[str, list]] = [{} for _ in range(B)]
    returns = np.zeros(B)
    while not done.all():
        batch = np.stack(obs)
        if with_states:
            x = np.stack([np.asarray(info["state"], dtype=np.float64) for info in infos])
        else:
            x = expert.obs_to_state(batch)
        labels, plan = expert.relabel_state(torch.from_numpy(np.asarray(x, dtype=np.float64)), plan)
        own, learner_state = learner.predict(batch, state=learner_state, episode_start=starts, deterministic=True)
        expert_acts = rng.random(B) < beta
        applied = np.where(expert_acts[:, None], labels, np.asarray(own).reshape(labels.shape))
        starts = np.zeros(B, dtype=bool)
        for i in np.flatnonzero(~done):
            next_obs, reward, terminated, truncated, info = envs[i].step(applied[i])
            row = {"observations": obs[i], "actions": labels[i], "rewards": reward, "terminated": terminated,
                   "truncated": truncated, "next_observations": next_obs, "applied": applied[i],
                   "expert_acted": expert_acts[i]}
            if with_states:
                row.update(states=x[i], next_states=np.asarray(info["state"], dtype=np.float64))
            for key, value in row.items():
                logs[i].setdefault(key, []).append(value)
            returns[i] += float(reward)
            obs[i], infos[i] = next_obs, info
            done[i] = terminated or truncated
    arrays = {key: np.concatenate([np.asarray(log[key]) for log in logs]) for key in logs[0]}
    arrays["episode"] = np.concatenate([np.full(len(log["rewards"]), i, dtype=np.int64) for i, log in enumerate(logs)])
    return arrays, returns


def aggregate(data: EpisodeDataset, arrays: dict[str, np.ndarray]) -> EpisodeDataset:
    """``data`` with the episodes of ``arrays`` appended (renumbered after ``data``'s); the arrays both have."""
    shared = [key for key in data.arrays if key in arrays]
    merged = {key: np.concatenate([data.arrays[key], arrays[key] + (data.n_episodes if key == "episode" else 0)])
              for key in shared}
    return EpisodeDataset(data.env_id, merged, dict(data.metadata))


def run_dagger(demos: EpisodeDataset, config: DaggerConfig, env_kwargs: dict[str, Any] | None = None,
               run_dir: str | Path | None = None, writer=None, reference: Reference | None = None,
               cloner: Cloner | None = None) -> dict[str, Any]:
    """DAgger from the demonstrations ``demos`` (module docstring); the metrics, with one row per round.

    ``run_dir`` gets ``checkpoints/round_<k>/`` (each round's trainer) and ``checkpoints/best.pt`` (the final
    learner); ``reference`` is measured when not given (and the evaluation is on); ``cloner``: the learner
    (default: a new one of ``config``).
    """
    env_kwargs = dict(demos.metadata.get("env_kwargs", {})) if env_kwargs is None else env_kwargs
    cloner = Cloner(demos.env_id, config, env_kwargs) if cloner is None else cloner
    ckpt = None if run_dir is None else Path(run_dir) / "checkpoints"
    evaluate = config.eval_episodes > 0
    if evaluate and reference is None:
        reference = reference_returns(cloner.make_env, config.eval_episodes, config.eval_seed, config.progress)
    untrained = (cloner.evaluate(config.eval_episodes, config.eval_seed)
                 if evaluate and config.evaluate_untrained else None)
    start_physics = cloner.physics()
    epochs = config.bc_config(None).epochs
    rng = np.random.default_rng(config.seed)
    data, rows, seconds, result = demos, [], 0.0, None
    for k in range(config.rounds + 1):
        beta = config.beta0 ** k
        row: dict[str, Any] = {"round": k, "beta": 1.0 if k == 0 else beta}
        if k > 0:
            first_seed = demos.n_episodes + (k - 1) * config.episodes_per_round  # after the demonstrations' seeds
            arrays, mixture = _labelled_round(cloner, config.episodes_per_round, first_seed, beta, rng)
            data = aggregate(data, arrays)
            row["rollout_return"] = float(mixture.mean())
        offset = k * (epochs + 2)
        start = time.perf_counter()
        cloner.fit(data.observations, data.actions, data.episode, None if ckpt is None else ckpt / f"round_{k}",
                   None if writer is None else OffsetWriter(writer, offset), label=f"dagger round {k}",
                   states=data.arrays.get("states"), lr_scale=1.0 if k == 0 else config.round_lr())
        seconds += time.perf_counter() - start
        row.update(expert_labels=len(data), train_seconds=seconds)
        if evaluate and (config.evaluate_rounds or k == config.rounds):
            result = cloner.evaluate(config.eval_episodes, config.eval_seed)
            row.update(**{"return": result.mean_return}, normalized_return=reference.normalize(result.mean_return))
        if cloner.spec.kind == "dilqr":
            row["physics"] = cloner.physics()
        _log_round(writer, row, offset + epochs + 1)
        rows.append(row)
    out: dict[str, Any] = {"policy": config.policy, "env_id": demos.env_id, "demonstrations": demonstrations(demos)[0],
                           "rounds": rows, "expert_labels": len(data), "train_seconds": seconds}
    if ckpt is not None:
        save_checkpoint(ckpt / "best.pt", {"spec": cloner.spec.checkpoint_spec(), "policy": cloner.policy.state_dict()})
        out["checkpoint"] = str(ckpt / "best.pt")
    if cloner.spec.kind == "dilqr":
        out.update(physics_true=cloner.true_physics, physics_start=start_physics, physics_learned=cloner.physics())
    if evaluate:
        out.update(evaluation_returns(untrained, result, reference))
    return out


def _labelled_round(cloner: Cloner, n_episodes: int, first_seed: int, beta: float, rng: np.random.Generator
                    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    envs = [cloner.make_env() for _ in range(n_episodes)]
    try:
        expert = expert_for(envs[0])
        return rollout_labelled(cloner.policy, expert, envs, list(range(first_seed, first_seed + n_episodes)),
                                beta, rng)
    finally:
        for env in envs:
            env.close()


def _log_round(writer, row: dict[str, Any], step: int) -> None:
    if writer is None:
        return
    for key, tag in (("beta", "rollout/beta"), ("expert_labels", "bc/expert_labels"),
                     ("rollout_return", "rollout/mixture_return"), ("return", "eval/mean_return"),
                     ("normalized_return", "eval/normalized_return")):
        if key in row:
            writer.add_scalar(tag, row[key], step)
