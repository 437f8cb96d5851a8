"""``DiLQRPolicy``: a Stable-Baselines3 actor-critic policy whose actor is a differentiable iLQR controller.

Actor: observation -> state map -> DiLQR -> u_1 (the first planned control) as the mean of SB3's diagonal
Gaussian, with a learnable log-std. Critic: SB3's features extractor (``FlattenExtractor`` by default) and
an MLP (``net_arch``). The policy-gradient loss reaches every learnable parameter of the dynamics and cost
through the layer's implicit backward (docs/implicit_gradient.md), so PPO/A2C can correct a misspecified
physical model.

Usage::

    model = PPO(DiLQRPolicy, "dilqr_rl/Pendulum-v0")  # plans with a learnable copy of the env's model
    policy_kwargs = dict(dynamics=PendulumDynamics(mass=1.5), cost=PendulumSwingUpCost(), horizon=15,
                         state_map="pendulum_angle")
    model = PPO(DiLQRPolicy, "Pendulum-v1", policy_kwargs=policy_kwargs)  # your own model

Without ``dynamics`` and ``cost`` the policy takes them, and the state map, from the environment the SB3
algorithm that builds it trains on (:func:`dilqr_rl.policies.env_models.env_model`: the env's own model
for our envs, and the models of ``expert_for`` for Gymnasium's ``Pendulum-v1`` and ``InvertedPendulum-v5``).

The planner reads observations in the env's own units, so the policy refuses an env wrapped in SB3's
``VecNormalize`` with ``norm_obs=True`` (``ValueError``; ``norm_obs=False``, normalising rewards only, is
fine). The check runs when the algorithm builds the policy (``PPO(DiLQRPolicy, env)``, ``PPO.load(path,
env=env)``); an env given later with ``model.set_env`` is not checked.

The policy deep-copies ``dynamics``, ``cost`` and a module ``state_map``, so the objects in
``policy_kwargs`` stay an untouched description (SB3 pickles ``policy_kwargs`` with cloudpickle and saves
the trained values separately in the state dict). Solver diagnostics of every solve accumulate in
``policy.solver_stats`` (not part of the state dict) for a trainer to log under ``ilqr/``.

Shapes: obs (B, *obs_shape) -> state (B, n) -> action mean (B, m); the controller plans (B, T, m).
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import DiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.type_aliases import Schedule
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


class CriticExtractor(nn.Module):
    """SB3's ``mlp_extractor`` for a DiLQR policy: the actor's latent is the state itself (identity); the
    critic's latent is an MLP of the critic features. Shapes: state (B, n) -> (B, n); features (B, d) ->
    (B, net_arch[-1])."""

    def __init__(self, state_dim: int, features_dim: int, net_arch: Sequence[int],
                 activation_fn: type[nn.Module]) -> None:
        super().__init__()
        self.value_net = nn.Sequential(*create_mlp(features_dim, -1, list(net_arch), activation_fn))
        self.latent_dim_pi = state_dim
        self.latent_dim_vf = net_arch[-1] if net_arch else features_dim

    def forward(self, features: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        state, critic_features = features
        return self.forward_actor(state), self.forward_critic(critic_features)

    def forward_actor(self, state: Tensor) -> Tensor:
        return state

    def forward_critic(self, features: Tensor) -> Tensor:
        return self.value_net(features)


def _critic_arch(net_arch: list[int] | dict[str, list[int]] | None) -> list[int]:
    if net_arch is None:
        return [64, 64]
    if isinstance(net_arch, dict):
        if set(net_arch) - {"vf"}:
            raise ValueError(f"net_arch describes the critic only (the actor is the controller): pass a list "
                             f"or dict(vf=[...]); got keys {sorted(net_arch)}")
        return list(net_arch.get("vf", [64, 64]))
    return list(net_arch)


def _bound(value: float | Sequence[float] | np.ndarray | None, default: np.ndarray, name: str) -> Tensor:
    bound = torch.as_tensor(default if value is None else value, dtype=torch.float64)
    if not bool(torch.isfinite(bound).all()):
        raise ValueError(f"{name} must be finite; got {bound.tolist()}. The action space is unbounded: pass "
                         f"{name}= in policy_kwargs.")
    return bound


class DiLQRPolicy(ActorCriticPolicy):
    """Actor-critic policy with a DiLQR actor (see the module docstring).

    Policy kwargs, besides SB3's ``ActorCriticPolicy`` ones (``net_arch`` describes the critic only;
    ``use_sde`` and ``share_features_extractor=True`` are not supported):

    - ``dynamics``, ``cost``: ``nn.Module`` models; their learnable parameters are trained. Default (both
      omitted): the model of the env the algorithm trains on (see the module docstring).
    - ``horizon``: planning horizon T (default 15).
    - ``u_lower``, ``u_upper``: control bounds (default: the Box action space's ``low``/``high``).
    - ``grad_method``: ``"implicit"`` (default), ``"diffmpc"`` or ``"unroll"``.
    - ``state_map``: ``"identity"`` (default; with the env's model: the env's map), ``"pendulum_angle"``,
      ``"mlp"``, ``"cnn"`` or an ``nn.Module``.
      A module (e.g. a pretrained encoder) keeps its weights; SB3's orthogonal init (``ortho_init``) only
      initialises the named learned maps.
    - ``solver_options``: ``DiLQR`` options (``max_iter``, ``tol``, ``on_unconverged``, ...), merged over
      ``DEFAULT_SOLVER_OPTIONS``.
    - ``cost_map``: ``None`` (default), ``"goal_weights"`` or an ``nn.Module``: a network from the state to
      per-item cost parameters ``{keyword: (B, ...)}`` the cost takes (Actor-Critic MPC's cost map), trained
      through the plan by the layer's exact gradient. ``"goal_weights"``
      (:class:`~dilqr_rl.policies.cost_maps.GoalWeightsMap`) predicts the weights around the cost's own and a
      goal, and starts at the nominal cost (the untrained actor is the actor without a map).
    - ``controller_dtype``: dtype the controller solves in (default ``torch.float64``).
    - ``controller_lr_scale``: learning rate of the controller's parameters (dynamics and cost) relative to
      the algorithm's learning rate (default 1). The optimizer holds them in their own parameter group
      (``optimizer.param_groups[1]``), whose ``lr`` is reset to ``scale * param_groups[0]["lr"]`` before
      every step, so SB3's learning-rate schedule (which writes one ``lr`` into every group) keeps the ratio.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        dynamics: nn.Module | None = None,
        cost: nn.Module | None = None,
        horizon: int = 15,
        u_lower: float | Sequence[float] | None = None,
        u_upper: float | Sequence[float] | None = None,
        grad_method: str = "implicit",
        state_map: str | nn.Module | None = None,
        cost_map: str | nn.Module | None = None,
        solver_options: dict[str, Any] | None = None,
        controller_dtype: torch.dtype = torch.float64,
        controller_lr_scale: float = 1.0,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        share_features_extractor: bool = False,
        use_sde: bool = False,
        **kwargs: Any,
    ) -> None:
        algorithm = _training_algorithm()
        _refuse_normalized_observations(getattr(algorithm, "env", None))
        if dynamics is None and cost is None:
            dynamics, cost, env_map = _model_of_training_env(algorithm)
            state_map = env_map if state_map is None else state_map
        elif dynamics is None or cost is None:
            raise ValueError("DiLQRPolicy needs both dynamics and cost in policy_kwargs, or neither (then it uses "
                             "the model of the env it trains on)")
        state_map = "identity" if state_map is None else state_map
        if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"DiLQRPolicy needs a 1-D continuous Box action space (the controls u); got "
                             f"{action_space}")
        if use_sde or share_features_extractor:
            raise ValueError("DiLQRPolicy supports neither use_sde=True nor share_features_extractor=True: "
                             "the actor's features are the state map's output, the critic has its own")
        if not (isinstance(controller_lr_scale, (int, float)) and controller_lr_scale > 0
                and np.isfinite(controller_lr_scale)):
            raise ValueError(f"controller_lr_scale must be a positive finite number (the controller's learning "
                             f"rate relative to the algorithm's); got {controller_lr_scale!r}")
        options = {**DEFAULT_SOLVER_OPTIONS, **(solver_options or {})}
        self.solver_stats = SolverStats()
        controller = DiLQR(
            copy.deepcopy(dynamics), copy.deepcopy(cost), horizon,
            _bound(u_lower, action_space.low, "u_lower"), _bound(u_upper, action_space.high, "u_upper"),
            grad_method=grad_method, **options,
        ).to(controller_dtype)
        if controller.control_dim not in (None, action_space.shape[0]):
            raise ValueError(f"the dynamics have control_dim = {controller.control_dim} but the action space "
                             f"has {action_space.shape[0]} actions")
        state_dim = getattr(controller.dynamics, "state_dim", None)
        if state_dim is None:
            raise ValueError("the dynamics module needs a state_dim attribute (the size n of its state)")
        self._state_map_given = isinstance(state_map, nn.Module)
        built_cost_map = None if cost_map is None else make_cost_map(
            copy.deepcopy(cost_map), int(state_dim), controller.cost).to(controller_dtype)
        self._actor_parts = (controller, make_state_map(copy.deepcopy(state_map), observation_space.shape,
                                                        state_dim), int(state_dim), built_cost_map)
        self._config = dict(horizon=horizon, u_lower=u_lower, u_upper=u_upper, grad_method=grad_method,
                            solver_options=solver_options, controller_dtype=controller_dtype,
                            controller_lr_scale=float(controller_lr_scale))
        self._critic_net_arch = _critic_arch(net_arch)
        super().__init__(observation_space, action_space, lr_schedule, net_arch=net_arch,
                         share_features_extractor=False, use_sde=False, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = CriticExtractor(self._actor_parts[2], self.vf_features_extractor.features_dim,
                                             self._critic_net_arch, self.activation_fn)

    def _build(self, lr_schedule: Schedule) -> None:
        controller, state_map, _, cost_map = self._actor_parts
        # The state map is the actor's features extractor; SB3's `features_extractor` aliases it.
        self.pi_features_extractor = self.features_extractor = state_map
        # SB3's `_build` re-initialises the features extractors (ortho_init): restore a given module's weights.
        given = copy.deepcopy(state_map.state_dict()) if self._state_map_given else None
        super()._build(lr_schedule)
        if given is not None:
            state_map.load_state_dict(given)
        if not isinstance(self.action_dist, DiagGaussianDistribution):
            raise ValueError(f"DiLQRPolicy needs SB3's DiagGaussianDistribution; got {self.action_dist}")
        # Swap SB3's (orthogonally initialized) linear head for the controller, then rebuild the optimizer.
        self.action_net = FirstControl(controller, self.solver_stats, self._config["controller_dtype"], cost_map)
        self.optimizer = self._make_optimizer(lr_schedule(1))
        del self._actor_parts

    def _make_optimizer(self, lr: float) -> torch.optim.Optimizer:
        """Two parameter groups: [everything else, the controller's parameters] (see ``controller_lr_scale``)."""
        controller_ids = {id(p) for p in self.controller.parameters()}
        groups = [{"params": [p for p in self.parameters() if id(p) not in controller_ids]},
                  {"params": list(self.controller.parameters()), "lr": lr * self._config["controller_lr_scale"]}]
        optimizer = self.optimizer_class(groups, lr=lr, **self.optimizer_kwargs)
        optimizer.register_step_pre_hook(self._scale_controller_lr)
        return optimizer

    def _scale_controller_lr(self, optimizer: torch.optim.Optimizer, *_: Any) -> None:
        """Optimizer step pre-hook: controller lr = ``controller_lr_scale`` x the other parameters' lr."""
        base, controller = optimizer.param_groups
        controller["lr"] = base["lr"] * self._config["controller_lr_scale"]

    @property
    def controller(self) -> DiLQR:
        """The DiLQR layer (its ``dynamics`` and ``cost`` hold the learned parameters)."""
        return self.action_net.controller

    @property
    def state_map(self) -> nn.Module:
        return self.pi_features_extractor

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._config, dynamics=self.controller.dynamics, cost=self.controller.cost,
                    state_map=self.state_map, cost_map=self.action_net.cost_map, net_arch=self._critic_net_arch)
        return data


def _training_algorithm() -> BaseAlgorithm | None:
    """The SB3 algorithm now building this policy, or ``None`` (a policy built outside one).

    SB3 builds the policy inside the algorithm's ``_setup_model`` from the spaces alone, so the algorithm
    (and its env) is found on the call stack (``PPO(DiLQRPolicy, env)``, ``A2C(...)``, ``PPO.load``).
    """
    frame = inspect.currentframe()
    while frame is not None and not isinstance(frame.f_locals.get("self"), BaseAlgorithm):
        frame = frame.f_back
    algorithm = frame.f_locals["self"] if frame is not None else None
    del frame
    return algorithm


def _refuse_normalized_observations(venv: VecEnv | None) -> None:
    """Raise ``ValueError`` if ``venv`` normalises observations (SB3's ``VecNormalize(norm_obs=True)``)."""
    normalize = unwrap_vec_normalize(venv) if venv is not None else None
    if normalize is not None and normalize.norm_obs:
        raise ValueError(
            "DiLQRPolicy plans with a model of the env's physics and reads observations in the env's own units, but "
            "the env is wrapped in VecNormalize(norm_obs=True), which hands the policy normalised observations "
            "(the planner would take them for states): wrap it in VecNormalize(env, norm_obs=False) to normalise "
            "rewards only, or leave VecNormalize out")


def _model_of_training_env(algorithm: BaseAlgorithm | None) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(dynamics, cost, state map) of the env of ``algorithm``, the SB3 algorithm now building this policy.

    The models are written into the algorithm's ``policy_kwargs``, which ``model.save`` stores, so
    ``PPO.load`` rebuilds the same policy without the env.
    """
    from dilqr_rl.policies.env_models import env_model

    venv = getattr(algorithm, "env", None)
    venv = venv.unwrapped if venv is not None else None
    if not isinstance(venv, DummyVecEnv):
        raise ValueError("DiLQRPolicy without dynamics and cost takes the model of the env it trains on, which "
                         "needs an SB3 algorithm with a DummyVecEnv, e.g. PPO(DiLQRPolicy, 'dilqr_rl/Pendulum-v0'); "
                         "otherwise pass policy_kwargs=dict(dynamics=..., cost=...): the nn.Module models the "
                         "controller plans with")
    try:
        model = env_model(venv.envs[0])
    except ValueError as error:
        raise ValueError(f"DiLQRPolicy has no default model for this env ({error}); pass "
                         "policy_kwargs=dict(dynamics=..., cost=...): the nn.Module models the controller plans "
                         "with") from None
    algorithm.policy_kwargs.update(dynamics=model.dynamics, cost=model.cost, state_map=model.state_map)
    return model.dynamics, model.cost, model.state_map
