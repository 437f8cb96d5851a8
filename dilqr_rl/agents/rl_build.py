"""The SB3 model of an actor-critic run: the algorithm with rl-zoo3's hyperparameters (:mod:`.zoo_hyperparams`)
and either SB3's MlpPolicy or a DiLQR policy planning with the env's registered model from a wrong start.

The DiLQR actor's policy kwargs are ``dict(env_id=..., model_error=...)`` (the registry's model, every physical
parameter learnable) with ``cost_map="goal_weights"`` for ``learn`` cost-map. Where the run learns something
else (``learn`` without physics, or cost), it passes the same registered model as ``dynamics`` and ``cost``, with
the physics frozen or the cost's weights made learnable log-weights
(:meth:`~dilqr_rl.policies.expert_costs.PeriodicQuadraticCost.learnable_copy`). A run that identifies the physics
from its rollouts (``sysid_every``) starts with the env's actor and plans with its actor settings for
identified physics (``EnvControl.identified_actor``, where the env registers them) from the first fit on
(:func:`identified_actor`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from stable_baselines3 import A2C, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv

from dilqr_rl.agents.rl_config import RLConfig
from dilqr_rl.agents.zoo_hyperparams import SDE_KEYS, ZooEntry, zoo_entry
from dilqr_rl.policies.dilqr_actor import refuse_normalized_observations
from dilqr_rl.policies.dilqr_off_policy import DiLQRSACPolicy, DiLQRTD3Policy
from dilqr_rl.policies.dilqr_policy import DiLQRPolicy
from dilqr_rl.policies.env_models import env_model, learnable_cost
from dilqr_rl.policies.env_registry import ActorSettings, EnvControl, env_control, make_env

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "sac": SAC, "td3": TD3}
DILQR_POLICIES: dict[str, type] = {"ppo": DiLQRPolicy, "a2c": DiLQRPolicy, "sac": DiLQRSACPolicy,
                                   "td3": DiLQRTD3Policy}
NOT_HYPERPARAMETERS = ("self", "policy", "env", "policy_kwargs", "tensorboard_log", "verbose", "seed", "device",
                       "_init_setup_model", "action_noise", "replay_buffer_class", "replay_buffer_kwargs",
                       "rollout_buffer_class", "rollout_buffer_kwargs")
EXTRA_HYPERPARAMETERS = ("n_envs", "noise_std")
"""Settings ``hyperparams`` may change besides the algorithm's keyword arguments (rl-zoo3's names)."""


@dataclass(frozen=True)
class Hyperparameters:
    """What a run trains with: the rl-zoo3 entry, changed for the DiLQR actor and by ``config.hyperparams``."""

    entry: ZooEntry
    algo_kwargs: dict[str, Any]
    policy_kwargs: dict[str, Any]
    n_envs: int
    normalize: bool
    action_noise_std: float | None
    dropped: tuple[str, ...] = ()
    """rl-zoo3 settings the DiLQR actor does not take (gSDE)."""
    overrides: dict[str, float] = field(default_factory=dict)

    def as_dict(self, policy: str) -> dict[str, Any]:
        """For ``hyperparameters.json`` and printing (a linear learning rate as rl-zoo3's ``lin_<x>``)."""
        kwargs = {k: f"lin_{v[1]:g}" if isinstance(v, tuple) else v for k, v in self.algo_kwargs.items()}
        return {"source": self.entry.source, "url": self.entry.url(), "n_envs": self.n_envs,
                "normalize_observations": self.normalize and policy == "mlp", "normalize_rewards": self.normalize,
                "algo_kwargs": kwargs, "policy_kwargs": self.policy_kwargs, "action_noise_std": self.action_noise_std,
                "dropped": list(self.dropped), "overrides": self.overrides, "zoo_budget": self.entry.zoo_budget}


def _hyperparameter_types(algo: str) -> dict[str, type]:
    """The algorithm's keyword arguments and their default's type."""
    signature = inspect.signature(ALGORITHMS[algo].__init__)
    return {name: type(p.default) for name, p in signature.parameters.items() if name not in NOT_HYPERPARAMETERS}


def resolve_hyperparameters(config: RLConfig) -> Hyperparameters:
    """rl-zoo3's entry for ``(env_id, algo)``, without gSDE for the DiLQR actor, with ``config.hyperparams``."""
    entry = zoo_entry(config.env_id, config.algo)
    kwargs = dict(entry.algo_kwargs)
    dropped = tuple(k for k in SDE_KEYS if k in kwargs) if config.policy == "dilqr" else ()
    for key in dropped:
        del kwargs[key]
    n_envs, noise = entry.n_envs, entry.action_noise_std
    types = _hyperparameter_types(config.algo)
    for key, value in config.hyperparams.items():
        if key == "n_envs":
            n_envs = round(value)
        elif key == "noise_std":
            noise = float(value)
        elif key in types:
            kind = types[key]
            kwargs[key] = bool(value) if kind is bool else round(value) if kind is int else float(value)
    return Hyperparameters(entry, kwargs, dict(entry.policy_kwargs), n_envs, entry.normalize, noise, dropped,
                           dict(config.hyperparams))


OFF_POLICY_CRITIC_FIRST = 3_000
"""Env steps (one critic update each) an off-policy DiLQR actor waits after learning starts, by default.

Measured on Pendulum-v1, TD3, seed 0, the default wrong start, learning from 1,000 steps (development runs): with
no wait the critic's early gradient took the pole length 0.7 -> 0.23 and the normalised return 0.478 -> -0.053 by
4,000 steps; with the actor held to 4,000 steps the return reached 0.990 by 6,000 and stayed there to 10,000."""
SB3_LEARNING_STARTS = 100
"""SAC's and TD3's ``learning_starts`` when none is given (Stable-Baselines3's default)."""


def actor_warmup_steps(config: RLConfig, hp: Hyperparameters | None = None) -> int:
    """The env steps during which the DiLQR actor's learned parameters stay fixed: ``config.actor_warmup``, or by
    default 0 for PPO and A2C and ``learning_starts`` + :data:`OFF_POLICY_CRITIC_FIRST` for SAC and TD3."""
    if config.actor_warmup is not None:
        return config.actor_warmup
    if config.algo in ("ppo", "a2c") or config.policy != "dilqr":
        return 0
    hp = hp if hp is not None else resolve_hyperparameters(config)
    return int(hp.algo_kwargs.get("learning_starts", SB3_LEARNING_STARTS)) + OFF_POLICY_CRITIC_FIRST


def check_config(config: RLConfig) -> None:
    """What :class:`RLConfig` cannot check alone: ``hyperparams`` names of the algorithm, ``model_error`` names of
    the env's model. ``ValueError`` saying which and listing the valid names."""
    types = _hyperparameter_types(config.algo)
    unknown = sorted(set(config.hyperparams) - set(types) - set(EXTRA_HYPERPARAMETERS))
    if unknown:
        valid = sorted([*types, *EXTRA_HYPERPARAMETERS])
        raise ValueError(f"hyperparams={', '.join(unknown)}: not a hyperparameter of "
                         f"{ALGORITHMS[config.algo].__name__}; its hyperparameters: {', '.join(valid)}")
    if config.hyperparams.get("n_envs", 1) < 1:
        raise ValueError(f"hyperparams=n_envs {config.hyperparams['n_envs']:g}: must be >= 1 (parallel envs)")
    if config.policy == "dilqr":
        try:
            env_model(config.env_id, config.model_errors())
        except ValueError as error:
            raise ValueError(f"model_error {' '.join(config.model_error or ())}: {error}") from None


def _registered(env_id: str) -> EnvControl:
    """The registry's :class:`EnvControl` of a fresh env of ``env_id``."""
    with make_env(env_id) as env:
        return env_control(env)


def default_model_error(env_id: str) -> dict[str, float]:
    """The env's registered wrong start (``EnvControl.model_error``)."""
    return dict(_registered(env_id).model_error)


def registered_parameters(env_id: str) -> dict[str, float]:
    """The physical parameters of the env's registered model (the truth of our envs and Pendulum-v1; the fitted
    model of InvertedPendulum-v5)."""
    dynamics = _registered(env_id).dynamics
    return {name: p.item() for name, p in dynamics.named_parameters() if p.numel() == 1}


def identified_actor(config: RLConfig, control: EnvControl) -> ActorSettings | None:
    """The actor settings a run that identifies its physics plans with after its first fit: the env's
    ``control.identified_actor`` (with ``config.horizon``, if given), or None (no identification, or the env
    registers none: the actor keeps planning as it started)."""
    settings = control.identified_actor if config.sysid_every > 0 else None
    if settings is None or config.horizon is None:
        return settings
    return replace(settings, horizon=config.horizon)


def model_error_of(config: RLConfig) -> dict[str, float]:
    """``config``'s model error, or the env's default."""
    given = config.model_errors()
    return default_model_error(config.env_id) if given is None else given


def dilqr_policy_kwargs(config: RLConfig) -> dict[str, Any]:
    """The DiLQR policy's kwargs (see the module docstring)."""
    learn = set(config.learn)
    error = model_error_of(config)
    extra: dict[str, Any] = {"controller_lr_scale": config.lr_scale}
    if config.horizon is not None:
        extra["horizon"] = config.horizon
    if "cost-map" in learn:
        extra["cost_map"] = "goal_weights"
    if "physics" in learn and "cost" not in learn:
        return dict(env_id=config.env_id, model_error=error, **extra)
    model = env_model(config.env_id, error)
    model.dynamics.requires_grad_("physics" in learn)
    cost = learnable_cost(model.cost) if "cost" in learn else model.cost
    return {**model.policy_kwargs(), "cost": cost, **extra}


def build_model(config: RLConfig, hp: Hyperparameters, venv: VecEnv) -> BaseAlgorithm:
    """The SB3 algorithm on ``venv`` with the configured actor (no logger attached)."""
    kwargs = {k: LinearSchedule(v[1], 0.0, 1.0) if isinstance(v, tuple) else v for k, v in hp.algo_kwargs.items()}
    if hp.action_noise_std is not None:
        m = venv.action_space.shape[0]
        kwargs["action_noise"] = NormalActionNoise(np.zeros(m), hp.action_noise_std * np.ones(m))
    if config.policy == "dilqr":
        policy = DILQR_POLICIES[config.algo]
        refuse_normalized_observations(venv, policy.__name__)
        policy_kwargs = {**hp.policy_kwargs, **dilqr_policy_kwargs(config)}
    else:
        policy, policy_kwargs = "MlpPolicy", dict(hp.policy_kwargs)
    return ALGORITHMS[config.algo](policy, venv, policy_kwargs=policy_kwargs, seed=config.seed,
                                   verbose=config.verbose, **kwargs)

