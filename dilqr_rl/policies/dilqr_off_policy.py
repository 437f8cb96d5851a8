"""``DiLQRSACPolicy`` and ``DiLQRTD3Policy``: Stable-Baselines3's own SAC and TD3 with a DiLQR actor.

Actor: observation -> state map -> DiLQR -> u_1 (the first planned control), written in SB3's action scale
by the action space's bounds, a = 2 (u_1 - low) / (high - low) - 1 (SB3 maps actions in [-1, 1] back to the
space before the env steps, so the env receives u_1):

- SAC: a squashed Gaussian, action = tanh(mu + sigma * xi), whose mean is chosen so that the squashed mean is
  the plan: mu = atanh(clip(a, -(1 - SQUASH_EPS), 1 - SQUASH_EPS)). The deterministic action tanh(mu) is u_1
  (within SQUASH_EPS of the scale at the bounds). log sigma is state-independent: one learnable value per
  action dimension (``log_std_init``, SB3's SAC default -3), clipped to [-20, 2] as SB3's SAC actor does.
  A plan on a bound puts the mean far out (atanh(1 - 1e-6) = 7.25), where tanh saturates: such states are
  explored only as far as the log-std reaches, which SAC's entropy term raises.
- TD3: the deterministic plan, clip(a, -1, 1). ``actor_target`` is a second DiLQR actor built from the same
  kwargs and loaded with the actor's weights, as SB3 builds it; TD3 polyak-updates it (dynamics, cost, state
  and cost maps) and adds its clipped target-policy noise to its actions.

Critics: SB3's own (``n_critics`` Q networks on the observation's features and the action, ``net_arch``),
unchanged. The actor loss (SAC: alpha log pi - min Q; TD3: -Q_1) reaches the learnable parameters of the
dynamics, the cost and the cost map through the layer's implicit backward (docs/implicit_gradient.md).

Usage::

    policy_kwargs = dict(dynamics=PendulumDynamics(mass=1.5), cost=PendulumSwingUpCost(), horizon=15,
                         state_map="pendulum_angle")
    model = SAC(DiLQRSACPolicy, "Pendulum-v1", policy_kwargs=policy_kwargs)
    model = TD3(DiLQRTD3Policy, "Pendulum-v1", policy_kwargs=policy_kwargs)
    model = SAC(DiLQRSACPolicy, "Pendulum-v1", policy_kwargs=dict(env_id="Pendulum-v1"))  # the registered model

Policy kwargs: ``DiLQRPolicy``'s actor kwargs (``dynamics``, ``cost`` or ``env_id`` and ``model_error``,
``horizon``, ``starts``, ``start_switches``, ``plan_memory``, ``follow_tolerance``, ``u_lower``,
``u_upper``, ``grad_method``, ``state_map``, ``cost_map``, ``solver_options``, ``controller_dtype``,
``controller_lr_scale``: the controller's parameter group in ``actor.optimizer``) with the same meaning and
defaults, and SB3's ``SACPolicy`` / ``TD3Policy`` kwargs, where ``net_arch`` describes the critics only (a
list or ``dict(qf=[...])``). ``use_sde`` and ``share_features_extractor=True`` are not supported.

Shapes: obs (B, *obs_shape) -> state (B, n) -> action (B, m) in [-1, 1]; the controller plans (B, T, m).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.sac.policies import LOG_STD_MAX, LOG_STD_MIN, SACPolicy
from stable_baselines3.td3.policies import TD3Policy
from torch import Tensor, nn

from dilqr_rl.control.layer import DiLQR
from dilqr_rl.policies.dilqr_actor import (
    DEFAULT_PLAN_MEMORY,
    ActorParts,
    ActorSpec,
    FirstControl,
    SolverStats,
    controller_optimizer,
    critic_arch,
)
from dilqr_rl.policies.pixel_state import match_image_scaling

if TYPE_CHECKING:
    from dilqr_rl.policies.env_registry import ActorSettings

SQUASH_EPS = 1e-6
"""How close to +-1 the SAC actor's squashed mean may come: mu = atanh(clip(a, +-(1 - SQUASH_EPS)))."""


class PlanActor(BasePolicy):
    """Observation -> u_1 of the DiLQR plan in SB3's action scale (see the module docstring).

    The state map is the features extractor. Shapes: obs (B, *obs_shape) -> (B, m).
    """

    action_space: spaces.Box

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Box, parts: ActorParts,
                 first_control: FirstControl, normalize_images: bool = True) -> None:
        low, high = np.asarray(action_space.low), np.asarray(action_space.high)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError(f"SB3's SAC and TD3 act in [-1, 1], scaled to the action space's bounds, which must be "
                             f"finite; got low {low.tolist()} and high {high.tolist()}: give the env finite action "
                             "bounds (e.g. gymnasium.wrappers.RescaleAction)")
        super().__init__(observation_space, action_space, features_extractor=parts.state_map,
                         normalize_images=normalize_images, squash_output=True)
        match_image_scaling(parts.state_map, normalize_images)
        self.first_control = first_control
        self.register_buffer("action_low", torch.as_tensor(low), persistent=False)
        self.register_buffer("action_high", torch.as_tensor(high), persistent=False)

    @property
    def controller(self) -> DiLQR:
        """The DiLQR layer (its ``dynamics`` and ``cost`` hold the learned parameters)."""
        return self.first_control.controller

    @property
    def state_map(self) -> nn.Module:
        return self.features_extractor

    @property
    def cost_map(self) -> nn.Module | None:
        return self.first_control.cost_map

    def scaled_plan(self, obs: PyTorchObs) -> Tensor:
        """a = 2 (u_1 - low) / (high - low) - 1, in [-1, 1] when u_1 is inside the action space. (B, m)."""
        u = self.first_control(self.extract_features(obs, self.features_extractor))  # (B, m)
        return 2.0 * (u - self.action_low) / (self.action_high - self.action_low) - 1.0


class DiLQRSACActor(PlanActor):
    """SAC's actor: a squashed Gaussian whose squashed mean is the plan (see the module docstring)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Box, parts: ActorParts,
                 first_control: FirstControl, log_std_init: float = -3.0, normalize_images: bool = True) -> None:
        super().__init__(observation_space, action_space, parts, first_control, normalize_images)
        action_dim = action_space.shape[0]
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))  # (m,)
        self.action_dist = SquashedDiagGaussianDistribution(action_dim)

    def get_action_dist_params(self, obs: PyTorchObs) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """(mu (B, m), log sigma (m,), {}) of the Gaussian before tanh."""
        a = self.scaled_plan(obs)
        mean = torch.atanh(a.clamp(-1.0 + SQUASH_EPS, 1.0 - SQUASH_EPS))
        return mean, self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX), {}

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> Tensor:
        mean, log_std, _ = self.get_action_dist_params(obs)
        return self.action_dist.actions_from_params(mean, log_std, deterministic=deterministic)

    def action_log_prob(self, obs: PyTorchObs) -> tuple[Tensor, Tensor]:
        """A sampled action (B, m) (reparametrised) and its log-probability (B,), as SAC's actor loss takes."""
        mean, log_std, _ = self.get_action_dist_params(obs)
        return self.action_dist.log_prob_from_params(mean, log_std)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> Tensor:
        return self(observation, deterministic)


class DiLQRTD3Actor(PlanActor):
    """TD3's actor: the deterministic plan, clip(a, -1, 1)."""

    def forward(self, obs: PyTorchObs) -> Tensor:
        return self.scaled_plan(obs).clamp(-1.0, 1.0)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> Tensor:
        return self(observation)


class _DiLQRActorPolicy:
    """What ``DiLQRSACPolicy`` and ``DiLQRTD3Policy`` add to SB3's ``SACPolicy`` / ``TD3Policy`` (mixin)."""

    actor: PlanActor
    _spec: ActorSpec
    _critic_net_arch: list[int]
    _solver_stats: SolverStats

    def _check_kwargs(self, name: str, algorithm: str, action_space: spaces.Space, net_arch: Any,
                      default_arch: list[int], use_sde: bool, share_features_extractor: bool,
                      actor_kwargs: dict[str, Any]) -> dict[str, list[int]]:
        """Store the checked actor spec and critic arch; return the ``net_arch`` to give SB3."""
        self._spec = ActorSpec.from_kwargs(name, algorithm, action_space, **actor_kwargs)
        self._solver_stats = SolverStats()
        if use_sde or share_features_extractor:
            raise ValueError(f"{name} supports neither use_sde=True nor share_features_extractor=True: the actor's "
                             "features are the state map's output, the critics have their own")
        self._critic_net_arch = critic_arch(net_arch, "qf", default_arch)
        return {"pi": [], "qf": self._critic_net_arch}

    def _parts(self) -> ActorParts:
        return self._spec.build(self.observation_space, self.action_space)

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        # The actor's optimizer, rebuilt with the controller's parameters in their own group.
        self.actor.optimizer = controller_optimizer(
            self.actor.parameters(), self.actor.controller, self.optimizer_class, lr_schedule(1),
            self.optimizer_kwargs, self._spec.controller_lr_scale)

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """SB3's ``predict``; the rows ``episode_start`` marks do not follow the previous call's plans
        (``FirstControl.begin_episodes``)."""
        self.actor.first_control.begin_episodes(episode_start)
        return super().predict(observation, state, episode_start, deterministic)

    def plan_as(self, settings: ActorSettings) -> None:
        """Plan from now on with ``settings`` (horizon, iterations, starts, following; e.g. an env's
        ``identified_actor`` once its physics are fitted), in the actor and TD3's target actor, the learned modules
        kept and the stored plans forgotten. ``save`` and ``load`` keep the new settings."""
        self._spec = self._spec.planning_as(settings)
        for first in self.first_controls():
            self._spec.replan(first)

    def first_controls(self) -> list[FirstControl]:
        """The policy's DiLQR actors, acting one first: the actor's and, in TD3, the target actor's (what holds
        plans and physics)."""
        return [actor.first_control for actor in (self.actor, getattr(self, "actor_target", None)) if actor is not None]

    @property
    def controller(self) -> DiLQR:
        """The actor's DiLQR layer (its ``dynamics`` and ``cost`` hold the learned parameters)."""
        return self.actor.controller

    @property
    def state_map(self) -> nn.Module:
        return self.actor.state_map

    @property
    def solver_stats(self) -> SolverStats:
        """Diagnostics of every solve of the policy's actors (in TD3 the target actor's too), for a trainer to
        log under ``ilqr/``; not part of the state dict."""
        return self._solver_stats

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._spec.config(), dynamics=self.controller.dynamics, cost=self.controller.cost,
                    state_map=self.actor.state_map, cost_map=self.actor.cost_map, net_arch=self._critic_net_arch)
        return data


class DiLQRSACPolicy(_DiLQRActorPolicy, SACPolicy):
    """SB3's ``SACPolicy`` with a DiLQR actor (see the module docstring): ``SAC(DiLQRSACPolicy, env, ...)``."""

    actor: DiLQRSACActor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        dynamics: nn.Module | None = None,
        cost: nn.Module | None = None,
        horizon: int | None = None,
        u_lower: float | Sequence[float] | None = None,
        u_upper: float | Sequence[float] | None = None,
        grad_method: str = "implicit",
        state_map: str | nn.Module | None = None,
        cost_map: str | nn.Module | None = None,
        solver_options: dict[str, Any] | None = None,
        controller_dtype: torch.dtype = torch.float64,
        controller_lr_scale: float = 1.0,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        log_std_init: float = -3.0,
        use_sde: bool = False,
        share_features_extractor: bool = False,
        env_id: str | None = None,
        model_error: dict[str, float] | None = None,
        starts: Sequence[float] | None = None,
        start_switches: Sequence[int] | None = None,
        plan_memory: int = DEFAULT_PLAN_MEMORY,
        follow_tolerance: float | None = None,
        **kwargs: Any,
    ) -> None:
        arch = self._check_kwargs(
            "DiLQRSACPolicy", "SAC", action_space, net_arch, [256, 256], use_sde, share_features_extractor,
            dict(dynamics=dynamics, cost=cost, state_map=state_map, cost_map=cost_map, horizon=horizon,
                 u_lower=u_lower, u_upper=u_upper, grad_method=grad_method, solver_options=solver_options,
                 controller_dtype=controller_dtype, controller_lr_scale=controller_lr_scale, env_id=env_id,
                 model_error=model_error, starts=starts, start_switches=start_switches, plan_memory=plan_memory,
                 follow_tolerance=follow_tolerance))
        super().__init__(observation_space, action_space, lr_schedule, net_arch=arch, log_std_init=log_std_init,
                         use_sde=False, share_features_extractor=False, **kwargs)

    def make_actor(self, features_extractor: nn.Module | None = None) -> DiLQRSACActor:
        """A new DiLQR actor (its features extractor is the state map; ``features_extractor`` is ignored)."""
        parts = self._parts()
        return DiLQRSACActor(self.observation_space, self.action_space, parts,
                             self._spec.first_control(parts, self._solver_stats), self.actor_kwargs["log_std_init"],
                             self.normalize_images).to(self.device)


class DiLQRTD3Policy(_DiLQRActorPolicy, TD3Policy):
    """SB3's ``TD3Policy`` with a DiLQR actor and target actor (see the module docstring):
    ``TD3(DiLQRTD3Policy, env, ...)``."""

    actor: DiLQRTD3Actor
    actor_target: DiLQRTD3Actor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        dynamics: nn.Module | None = None,
        cost: nn.Module | None = None,
        horizon: int | None = None,
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
        env_id: str | None = None,
        model_error: dict[str, float] | None = None,
        starts: Sequence[float] | None = None,
        start_switches: Sequence[int] | None = None,
        plan_memory: int = DEFAULT_PLAN_MEMORY,
        follow_tolerance: float | None = None,
        **kwargs: Any,
    ) -> None:
        arch = self._check_kwargs(
            "DiLQRTD3Policy", "TD3", action_space, net_arch, [400, 300], False, share_features_extractor,
            dict(dynamics=dynamics, cost=cost, state_map=state_map, cost_map=cost_map, horizon=horizon,
                 u_lower=u_lower, u_upper=u_upper, grad_method=grad_method, solver_options=solver_options,
                 controller_dtype=controller_dtype, controller_lr_scale=controller_lr_scale, env_id=env_id,
                 model_error=model_error, starts=starts, start_switches=start_switches, plan_memory=plan_memory,
                 follow_tolerance=follow_tolerance))
        super().__init__(observation_space, action_space, lr_schedule, net_arch=arch,
                         share_features_extractor=False, **kwargs)

    def make_actor(self, features_extractor: nn.Module | None = None) -> DiLQRTD3Actor:
        """A new DiLQR actor (its features extractor is the state map; ``features_extractor`` is ignored).
        TD3Policy's ``_build`` calls it twice (actor and target) and loads the actor's weights into the target."""
        parts = self._parts()
        return DiLQRTD3Actor(self.observation_space, self.action_space, parts,
                             self._spec.first_control(parts, self._solver_stats), self.normalize_images
                             ).to(self.device)
