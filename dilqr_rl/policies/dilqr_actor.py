"""The DiLQR actor's parts, built from policy kwargs: what ``DiLQRPolicy`` (PPO, A2C), ``DiLQRSACPolicy`` and
``DiLQRTD3Policy`` share.

:class:`ActorSpec` checks the kwargs once (taking the model of the env the SB3 algorithm trains on when
``dynamics`` and ``cost`` are omitted) and :meth:`ActorSpec.build` makes the modules: the DiLQR controller,
the state map (observation -> state) and an optional cost map, deep copies of what the kwargs hold.
:class:`FirstControl` solves and returns u_1; :func:`controller_optimizer` gives the controller's parameters
their own learning rate (``controller_lr_scale``).

Shapes: obs (B, *obs_shape) -> state (B, n) -> u_1 (B, m); the controller plans (B, T, m).
"""

from __future__ import annotations

import copy
import functools
import inspect
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, unwrap_vec_normalize
from torch import Tensor, nn

from dilqr_rl.control.errors import UnconvergedWarning, unconverged_warnings
from dilqr_rl.control.layer import DiLQR
from dilqr_rl.control.solution import Solution
from dilqr_rl.policies.cost_maps import make_cost_map
from dilqr_rl.policies.state_maps import make_state_map

DEFAULT_SOLVER_OPTIONS: dict[str, Any] = {"max_iter": 20, "tol": 1e-5, "on_unconverged": "warn"}
"""Solver options for RL unless overridden: a modest iteration budget; unconverged items are counted."""


@dataclass
class SolverStats:
    """Running diagnostics of the controller's solves since the last ``pop``: counts, not solver state."""

    items: int = 0
    converged: int = 0
    iterations: int = 0
    warned: bool = False

    def record(self, sol: Solution) -> None:
        self.items += sol.converged.numel()
        self.converged += int(sol.converged.sum())
        self.iterations += int(sol.iterations.sum())

    def pop(self) -> dict[str, float]:
        """``{"converged_fraction", "iterations"}`` averaged over items since the last call (empty if none)."""
        if self.items == 0:
            return {}
        out = {"converged_fraction": self.converged / self.items, "iterations": self.iterations / self.items}
        self.items = self.converged = self.iterations = 0
        return out


class FirstControl(nn.Module):
    """State (B, n) -> u_1 (B, m) of the DiLQR plan, solved in the controller's dtype.

    ``UnconvergedWarning``s are not repeated per solve: the first one is re-issued once, pointing to the
    counts in ``stats``; the layer's ``on_unconverged`` still decides the gradient of those items.
    """

    def __init__(self, controller: DiLQR, stats: SolverStats, dtype: torch.dtype,
                 cost_map: nn.Module | None = None) -> None:
        super().__init__()
        self.controller = controller
        self.stats = stats
        self.dtype = dtype
        self.cost_map = cost_map

    def forward(self, observed: Tensor) -> Tensor:
        state = observed.to(self.dtype)
        cost_args = self.cost_map(state) if self.cost_map is not None else None
        # Not warnings.catch_warnings: entering it resets Python's once-per-place registries, and every
        # other warning (the backward's HessianFallbackWarning) would then repeat at every rollout step.
        with unconverged_warnings(False):
            sol = self.controller(state, cost_args=cost_args)
        if not sol.all_converged and self.controller.config.tol > 0 and not self.stats.warned:
            self.stats.warned = True
            items = int((~sol.converged).sum())
            warnings.warn(f"iLQR did not converge within max_iter={self.controller.config.max_iter} for {items} "
                          f"of {sol.converged.numel()} states of a rollout or update batch. Further unconverged "
                          "solves of this policy are not reported one by one; their fraction is in "
                          "policy.solver_stats (logged as ilqr/converged_fraction).", UnconvergedWarning,
                          stacklevel=2)
        self.stats.record(sol)
        return sol.first_control().to(observed.dtype)


class ActorParts(NamedTuple):
    """The modules of one DiLQR actor (:meth:`ActorSpec.build`)."""

    controller: DiLQR
    state_map: nn.Module
    """Observations (B, *obs_shape) -> states (B, n)."""
    state_dim: int
    cost_map: nn.Module | None
    """States (B, n) -> per-item cost parameters ``{keyword: (B, ...)}``, or ``None``."""


@dataclass
class ActorSpec:
    """The DiLQR actor's policy kwargs, checked (their meaning: ``DiLQRPolicy``'s docstring). The modules are
    the caller's description; :meth:`build` deep-copies them."""

    dynamics: nn.Module
    cost: nn.Module
    state_map: str | nn.Module
    cost_map: str | nn.Module | None
    horizon: int
    u_lower: float | Sequence[float] | None
    u_upper: float | Sequence[float] | None
    grad_method: str
    solver_options: dict[str, Any] | None
    controller_dtype: torch.dtype
    controller_lr_scale: float

    @classmethod
    def from_kwargs(cls, policy: str, algorithm_name: str, action_space: spaces.Space, dynamics: nn.Module | None,
                    cost: nn.Module | None, state_map: str | nn.Module | None, **config: Any) -> ActorSpec:
        """Check the kwargs of ``policy`` (its class name, for errors; ``algorithm_name``, an SB3 algorithm it
        plugs into, for examples). Without ``dynamics`` and ``cost``: the model and state map of the env of the SB3
        algorithm now building the policy (written into its ``policy_kwargs``, so ``load`` needs no env)."""
        algorithm = _training_algorithm()
        _refuse_normalized_observations(getattr(algorithm, "env", None), policy)
        if dynamics is None and cost is None:
            dynamics, cost, env_map = _model_of_training_env(algorithm, policy, algorithm_name)
            state_map = env_map if state_map is None else state_map
        elif dynamics is None or cost is None:
            raise ValueError(f"{policy} needs both dynamics and cost in policy_kwargs, or neither (then it uses "
                             "the model of the env it trains on)")
        if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"{policy} needs a 1-D continuous Box action space (the controls u); got "
                             f"{action_space}")
        scale = config["controller_lr_scale"]
        if not (isinstance(scale, (int, float)) and scale > 0 and np.isfinite(scale)):
            raise ValueError(f"controller_lr_scale must be a positive finite number (the controller's learning "
                             f"rate relative to the algorithm's); got {scale!r}")
        return cls(dynamics=dynamics, cost=cost, state_map="identity" if state_map is None else state_map,
                   **{**config, "controller_lr_scale": float(scale)})

    def build(self, observation_space: spaces.Space, action_space: spaces.Box) -> ActorParts:
        """New modules (deep copies of the description), the controller in ``controller_dtype``."""
        options = {**DEFAULT_SOLVER_OPTIONS, **(self.solver_options or {})}
        controller = DiLQR(
            copy.deepcopy(self.dynamics), copy.deepcopy(self.cost), self.horizon,
            _bound(self.u_lower, action_space.low, "u_lower"), _bound(self.u_upper, action_space.high, "u_upper"),
            grad_method=self.grad_method, **options,
        ).to(self.controller_dtype)
        if controller.control_dim not in (None, action_space.shape[0]):
            raise ValueError(f"the dynamics have control_dim = {controller.control_dim} but the action space "
                             f"has {action_space.shape[0]} actions")
        state_dim = getattr(controller.dynamics, "state_dim", None)
        if state_dim is None:
            raise ValueError("the dynamics module needs a state_dim attribute (the size n of its state)")
        cost_map = None if self.cost_map is None else make_cost_map(
            copy.deepcopy(self.cost_map), int(state_dim), controller.cost).to(self.controller_dtype)
        state_map = make_state_map(copy.deepcopy(self.state_map), observation_space.shape, state_dim)
        return ActorParts(controller, state_map, int(state_dim), cost_map)

    def config(self) -> dict[str, Any]:
        """The kwargs that are not modules (for ``_get_constructor_parameters``)."""
        return dict(horizon=self.horizon, u_lower=self.u_lower, u_upper=self.u_upper, grad_method=self.grad_method,
                    solver_options=self.solver_options, controller_dtype=self.controller_dtype,
                    controller_lr_scale=self.controller_lr_scale)


def controller_optimizer(parameters: Iterable[nn.Parameter], controller: DiLQR,
                         optimizer_class: type[torch.optim.Optimizer], lr: float, optimizer_kwargs: dict[str, Any],
                         controller_lr_scale: float) -> torch.optim.Optimizer:
    """An optimizer with two parameter groups, [the other ``parameters``, the controller's parameters].

    The controller's group's ``lr`` is reset to ``controller_lr_scale * param_groups[0]["lr"]`` before every
    step (a step pre-hook), so SB3's learning-rate schedule, which writes one ``lr`` into every group, keeps
    the ratio.
    """
    controller_ids = {id(p) for p in controller.parameters()}
    groups = [{"params": [p for p in parameters if id(p) not in controller_ids]},
              {"params": list(controller.parameters()), "lr": lr * controller_lr_scale}]
    optimizer = optimizer_class(groups, lr=lr, **optimizer_kwargs)
    optimizer.register_step_pre_hook(functools.partial(_scale_controller_lr, controller_lr_scale))
    return optimizer


def _scale_controller_lr(scale: float, optimizer: torch.optim.Optimizer, *_: Any) -> None:
    """Optimizer step pre-hook: controller lr = ``scale`` x the other parameters' lr."""
    base, controller = optimizer.param_groups
    controller["lr"] = base["lr"] * scale


def critic_arch(net_arch: list[int] | dict[str, list[int]] | None, key: str, default: list[int]) -> list[int]:
    """The critic's hidden sizes from ``net_arch`` (a list, or ``{key: [...]}``: the actor is the controller)."""
    if net_arch is None:
        return list(default)
    if isinstance(net_arch, dict):
        if set(net_arch) - {key}:
            raise ValueError(f"net_arch describes the critic only (the actor is the controller): pass a list "
                             f"or dict({key}=[...]); got keys {sorted(net_arch)}")
        return list(net_arch.get(key, default))
    return list(net_arch)


def _bound(value: float | Sequence[float] | np.ndarray | None, default: np.ndarray, name: str) -> Tensor:
    bound = torch.as_tensor(default if value is None else value, dtype=torch.float64)
    if not bool(torch.isfinite(bound).all()):
        raise ValueError(f"{name} must be finite; got {bound.tolist()}. The action space is unbounded: pass "
                         f"{name}= in policy_kwargs.")
    return bound


def _training_algorithm() -> BaseAlgorithm | None:
    """The SB3 algorithm now building this policy, or ``None`` (a policy built outside one).

    SB3 builds the policy inside the algorithm's ``_setup_model`` from the spaces alone, so the algorithm
    (and its env) is found on the call stack (``PPO(DiLQRPolicy, env)``, ``SAC(...)``, ``PPO.load``).
    """
    frame = inspect.currentframe()
    while frame is not None and not isinstance(frame.f_locals.get("self"), BaseAlgorithm):
        frame = frame.f_back
    algorithm = frame.f_locals["self"] if frame is not None else None
    del frame
    return algorithm


def _refuse_normalized_observations(venv: VecEnv | None, policy: str) -> None:
    """Raise ``ValueError`` if ``venv`` normalises observations (SB3's ``VecNormalize(norm_obs=True)``)."""
    normalize = unwrap_vec_normalize(venv) if venv is not None else None
    if normalize is not None and normalize.norm_obs:
        raise ValueError(
            f"{policy} plans with a model of the env's physics and reads observations in the env's own units, but "
            "the env is wrapped in VecNormalize(norm_obs=True), which hands the policy normalised observations "
            "(the planner would take them for states): wrap it in VecNormalize(env, norm_obs=False) to normalise "
            "rewards only, or leave VecNormalize out")


def _model_of_training_env(algorithm: BaseAlgorithm | None, policy: str,
                           example: str) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(dynamics, cost, state map) of the env of ``algorithm``, the SB3 algorithm now building this policy.

    The models are written into the algorithm's ``policy_kwargs``, which ``model.save`` stores, so
    ``<Algorithm>.load`` rebuilds the same policy without the env.
    """
    from dilqr_rl.policies.env_models import env_model

    venv = getattr(algorithm, "env", None)
    venv = venv.unwrapped if venv is not None else None
    if not isinstance(venv, DummyVecEnv):
        raise ValueError(f"{policy} without dynamics and cost takes the model of the env it trains on, which "
                         f"needs an SB3 algorithm with a DummyVecEnv, e.g. {example}({policy}, "
                         "'dilqr_rl/Pendulum-v0'); otherwise pass policy_kwargs=dict(dynamics=..., cost=...): the "
                         "nn.Module models the controller plans with")
    try:
        model = env_model(venv.envs[0])
    except ValueError as error:
        raise ValueError(f"{policy} has no default model for this env ({error}); pass "
                         "policy_kwargs=dict(dynamics=..., cost=...): the nn.Module models the controller plans "
                         "with") from None
    algorithm.policy_kwargs.update(dynamics=model.dynamics, cost=model.cost, state_map=model.state_map)
    return model.dynamics, model.cost, model.state_map
