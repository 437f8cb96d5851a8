"""System identification on expert episodes in an env: fit the registered model's physics to (x_t, u_t, x_{t+1}).

The model is the env's DiLQR actor's (:func:`~dilqr_rl.policies.dilqr_clone.env_actor_policy`, from its wrong
start ``model_error``), so the fitted physics come back as a policy that plans with them: its checkpoint loads in
``dilqr-rl evaluate`` and ``video`` like a clone's. The states are the episodes' true states where the env
reported them (``info["state"]``), otherwise the registry's map of the observations (``Pendulum-v1``:
theta = atan2(sin, cos)); the controls are the actions in the model's units (MuJoCo: action / action_scale).
The residual of the angle coordinate is wrapped to [-pi, pi), so a step across theta = +-pi costs what it
should. The episodes are split by whole episodes into train and test (the test's transition loss is reported).

Shapes: x (R, n), u (R, m), x_next (R, n).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dilqr_rl.agents.bc import save_checkpoint
from dilqr_rl.agents.clone import Cloner
from dilqr_rl.agents.clone_config import CloneConfig
from dilqr_rl.agents.clone_data import episode_masks
from dilqr_rl.agents.model_error import format_model_error
from dilqr_rl.agents.sysid import SysIdConfig, fit_sysid, transition_loss
from dilqr_rl.data.episodes import EpisodeDataset
from dilqr_rl.policies.dilqr_clone import DiLQRActorPolicy, physical_parameters
from dilqr_rl.policies.env_registry import EnvControl, env_control


def episode_transitions(ds: EpisodeDataset, control: EnvControl) -> tuple[Tensor, Tensor, Tensor]:
    """(x_t, u_t, x_{t+1}) float64 of every transition of ``ds`` (module docstring), in the model's units."""
    if ds.has_states:
        return model_units(control, ds.actions, ds.states, ds.next_states)
    return model_units(control, ds.actions, control.obs_to_state(ds.observations),
                       control.obs_to_state(ds.next_observations))


def model_units(control: EnvControl, actions: np.ndarray, x: np.ndarray,
                x_next: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
    """(x, u, x_next) float64 tensors: the env's actions (R, ...) as the model's controls (action / ``action_scale``),
    the states (R, n) as they are."""
    u = np.asarray(actions, dtype=np.float64).reshape(len(actions), -1) / control.action_scale
    return tuple(torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in (x, u, x_next))


def fit_episode_sysid(policy: DiLQRActorPolicy, control: EnvControl, ds: EpisodeDataset, config: SysIdConfig,
                      test_fraction: float = 0.2, writer=None) -> dict[str, Any]:
    """Fit the physics of ``policy``'s model in place to the transitions of ``ds``'s training episodes (all of
    them when ``test_fraction`` is 0); the metrics: transitions, train and test losses, the physics (true:
    ``control``'s, start, learned)."""
    dynamics = getattr(policy.dynamics, "model", policy.dynamics)  # MuJoCo: the model behind ScaledControl
    angle_index = int(getattr(control.cost, "model", control.cost).angle_index)
    x, u, x_next = episode_transitions(ds, control)
    train = np.ones(len(ds), dtype=bool)
    if test_fraction > 0:
        train, _, _ = episode_masks(ds.episode, test_fraction, 0.0, config.seed)  # the held-out "val" is the test
    start = physical_parameters(dynamics)
    result = fit_sysid(dynamics, x[train], u[train], x_next[train], config, writer=writer, angle_index=angle_index)
    test_loss = None
    if not train.all():
        with torch.no_grad():
            test_loss = float(transition_loss(dynamics, x[~train], u[~train], x_next[~train], angle_index))
    policy.forget_plans()
    return {"transitions": int(train.sum()), "train_loss": result.loss, "test_loss": test_loss,
            "physics_true": physical_parameters(control.dynamics), "physics_start": start,
            "physics_learned": physical_parameters(dynamics)}


def sysid_from_episodes(ds: EpisodeDataset, config: SysIdConfig, model_error: dict[str, float] | None = None,
                        test_fraction: float = 0.2, env_kwargs: dict[str, Any] | None = None,
                        run_dir: str | Path | None = None, writer=None, cloner: Cloner | None = None
                        ) -> dict[str, Any]:
    """SysId of the env's registered model on ``ds`` from ``model_error`` (None: the env's default wrong start);
    the metrics of :func:`fit_episode_sysid` and, with ``run_dir``, ``checkpoint``: ``run_dir/policy.pt``, the
    env's DiLQR actor planning with the fitted physics (a clone checkpoint: ``dilqr-rl evaluate`` loads it)."""
    env_kwargs = dict(ds.metadata.get("env_kwargs", {})) if env_kwargs is None else env_kwargs
    if cloner is None:
        error = None if model_error is None else format_model_error(model_error)
        cloner = Cloner(ds.env_id, CloneConfig(policy="dilqr", model_error=error, progress=config.progress),
                        env_kwargs)
    env = cloner.make_env()
    try:
        control = env_control(env)
    finally:
        env.close()
    start = time.perf_counter()
    out = {"env_id": ds.env_id, "episodes": ds.n_episodes,
           **fit_episode_sysid(cloner.policy, control, ds, config, test_fraction, writer),
           "train_seconds": time.perf_counter() - start}
    if run_dir is not None:
        path = Path(run_dir) / "policy.pt"
        save_checkpoint(path, {"spec": cloner.spec.checkpoint_spec(), "policy": cloner.policy.state_dict()})
        out["checkpoint"] = str(path)
    return out
