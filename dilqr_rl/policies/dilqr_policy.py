"""``DiLQRPolicy``: a Stable-Baselines3 actor-critic policy whose actor is a differentiable iLQR controller.

Actor: observation -> state map -> DiLQR -> u_1 (the first planned control) as the mean of SB3's diagonal
Gaussian, with a learnable log-std. Critic: SB3's features extractor (``FlattenExtractor`` by default) and
an MLP (``net_arch``). The policy-gradient loss reaches every learnable parameter of the dynamics and cost
through the layer's implicit backward (docs/implicit_gradient.md), so PPO/A2C can correct a misspecified
physical model.

Usage::

    env_id = "dilqr_rl/Pendulum-v0"  # plans with a learnable copy of the env's registered model
    model = PPO(DiLQRPolicy, env_id, policy_kwargs=dict(env_id=env_id))
    model = PPO(DiLQRPolicy, "Pendulum-v1", policy_kwargs=dict(env_id="Pendulum-v1",
                                                               model_error=dict(mass=-0.3, length=-0.3)))
    policy_kwargs = dict(dynamics=PendulumDynamics(mass=1.5), cost=PendulumSwingUpCost(), horizon=15,
                         state_map="pendulum_angle")
    model = PPO(DiLQRPolicy, "Pendulum-v1", policy_kwargs=policy_kwargs)  # your own model

With ``env_id`` (:func:`dilqr_rl.policies.env_models.env_model`) the policy plans with the env's entry in
:mod:`dilqr_rl.policies.env_registry`: the env's own model for our envs, the models of ``expert_for`` for
Gymnasium's ``Pendulum-v1`` and ``InvertedPendulum-v5``, the expert's cost and state map, and the registered
actor settings (horizon, starts, iterations), with which the untrained actor reaches the expert's return.
The policy gets its model only through its kwargs (SB3 hands a policy the spaces, not the env).

Where the actor's solve starts (``FirstControl``): a new observation that continues the previous step (when
acting) from the previous plan, shifted; any other new one from each of its starts, keeping the cheapest
converged plan; an observation seen before from what the plan memory stored for it. So PPO's update
differentiates the fixed point its rollout applied, and the log-probability at update time is that of the
rollout's action distribution.

The planner reads observations in the env's own units: do not wrap the env in SB3's ``VecNormalize`` with
``norm_obs=True`` (``norm_obs=False``, normalising rewards only, is fine). The policy cannot see the env;
the trainers of ``dilqr_rl.agents`` refuse it (``refuse_normalized_observations``).

The policy deep-copies ``dynamics``, ``cost`` and a module ``state_map``, so the objects in
``policy_kwargs`` stay an untouched description (SB3 pickles ``policy_kwargs`` with cloudpickle and saves
the trained values separately in the state dict). Solver diagnostics of every solve accumulate in
``policy.solver_stats`` (not part of the state dict) for a trainer to log under ``ilqr/``.

Shapes: obs (B, *obs_shape) -> state (B, n) -> action mean (B, m); the controller plans (B, T, m).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import DiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.type_aliases import Schedule
from torch import Tensor, nn

from dilqr_rl.control.layer import DiLQR
from dilqr_rl.policies.dilqr_actor import (
    DEFAULT_PLAN_MEMORY,
    ActorSpec,
    FirstControl,
    SolverStats,
    controller_optimizer,
    critic_arch,
)
from dilqr_rl.policies.dilqr_actor import DEFAULT_SOLVER_OPTIONS as DEFAULT_SOLVER_OPTIONS  # the docstring's
from dilqr_rl.policies.pixel_state import match_image_scaling

if TYPE_CHECKING:
    from dilqr_rl.policies.env_registry import ActorSettings


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


class DiLQRPolicy(ActorCriticPolicy):
    """Actor-critic policy with a DiLQR actor (see the module docstring).

    Policy kwargs, besides SB3's ``ActorCriticPolicy`` ones (``net_arch`` describes the critic only;
    ``use_sde`` and ``share_features_extractor=True`` are not supported):

    - ``dynamics``, ``cost``: ``nn.Module`` models; their learnable parameters are trained.
    - ``env_id``: instead of ``dynamics`` and ``cost``, the registered model of that env (module docstring);
      ``model_error``: ``{parameter: relative error}`` applied to its physics (a wrong start).
    - ``horizon``: planning horizon T (default: the env's registered one with ``env_id``, else 15).
    - ``starts``, ``start_switches``: the cold starts of a new observation (``ExpertSettings.cold_starts`` /
      ``cold_switches``; default: the env's with ``env_id``, else the zero start).
    - ``plan_memory``: observations whose plans are kept as warm starts (default 100,000; 0: none). PPO's
      update re-solves each rollout observation from its stored plan: keep it at least ``n_steps * n_envs``.
    - ``follow_tolerance``: a new observation whose state is within this distance (max-norm over the state,
      the cost's angle wrapped) of the state the previous call's plan predicted for the same row (a rollout's
      env) is solved warm from that plan shifted by one step, instead of from the starts (0:
      always from the starts; default: the env's registered value with ``env_id``, else 0.5). Needs the plan
      memory, which keeps the update consistent with the rollout.
    - ``u_lower``, ``u_upper``: control bounds (default: the Box action space's ``low``/``high``).
    - ``grad_method``: ``"implicit"`` (default), ``"diffmpc"`` or ``"unroll"``.
    - ``state_map``: ``"identity"`` (default; with the env's model: the env's map), ``"pendulum_angle"``,
      ``"mlp"``, ``"cnn"`` or an ``nn.Module``.
      A module (e.g. a pretrained encoder) keeps its weights; SB3's orthogonal init (``ortho_init``) only
      initialises the named learned maps.
    - ``solver_options``: ``DiLQR`` options (``max_iter``, ``tol``, ``on_unconverged``, ...), merged over
      ``DEFAULT_SOLVER_OPTIONS`` (an unconverged item gets a zero gradient and is counted).
    - ``cost_map``: ``None`` (default), ``"goal_weights"`` or an ``nn.Module``: a network from the state to
      per-item cost parameters ``{keyword: (B, ...)}`` the cost takes (Actor-Critic MPC's cost map), trained
      through the plan by the layer's exact gradient. ``"goal_weights"``
      (:class:`~dilqr_rl.policies.cost_maps.GoalWeightsMap`) predicts the weights around the cost's own and a
      goal, and starts at the nominal cost (the untrained actor is the actor without a map).
    - ``controller_dtype``: dtype the controller solves in (default ``torch.float64``).
    - ``controller_lr_scale``: learning rate of the controller's parameters (dynamics and cost) relative to
      the algorithm's learning rate (default 1; ``dilqr-rl rl`` and ``train_rl`` pass 3 for PPO and 10 for A2C,
      measured from the envs' wrong starts, see ``RLConfig.lr_scale``), each physical parameter's also relative to
      its initial magnitude (a mass of 1 and a gravity of 10 move at the same relative speed). The optimizer
      holds each in a parameter group of its own (``optimizer.param_groups[1:]``), whose ``lr`` is reset to its
      ``lr_factor * param_groups[0]["lr"]`` before every step, so SB3's learning-rate schedule (which writes one
      ``lr`` into every group) keeps the ratios (``dilqr_actor.controller_optimizer``).
    """

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
        use_sde: bool = False,
        env_id: str | None = None,
        model_error: dict[str, float] | None = None,
        starts: Sequence[float] | None = None,
        start_switches: Sequence[int] | None = None,
        plan_memory: int = DEFAULT_PLAN_MEMORY,
        follow_tolerance: float | None = None,
        **kwargs: Any,
    ) -> None:
        spec = ActorSpec.from_kwargs(
            "DiLQRPolicy", "PPO", action_space, dynamics, cost, state_map, env_id=env_id, model_error=model_error,
            cost_map=cost_map, horizon=horizon, u_lower=u_lower, u_upper=u_upper, grad_method=grad_method,
            solver_options=solver_options, controller_dtype=controller_dtype,
            controller_lr_scale=controller_lr_scale, starts=starts, start_switches=start_switches,
            plan_memory=plan_memory, follow_tolerance=follow_tolerance)
        if use_sde or share_features_extractor:
            raise ValueError("DiLQRPolicy supports neither use_sde=True nor share_features_extractor=True: "
                             "the actor's features are the state map's output, the critic has its own")
        self.solver_stats = SolverStats()
        self._state_map_given = isinstance(spec.state_map, nn.Module)
        self._actor_parts = spec.build(observation_space, action_space)
        self._spec = spec
        self._config = spec.config()
        self._critic_net_arch = critic_arch(net_arch, "vf", [64, 64])
        super().__init__(observation_space, action_space, lr_schedule, net_arch=net_arch,
                         share_features_extractor=False, use_sde=False, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = CriticExtractor(self._actor_parts.state_dim, self.vf_features_extractor.features_dim,
                                             self._critic_net_arch, self.activation_fn)

    def _build(self, lr_schedule: Schedule) -> None:
        _controller, state_map, _, _cost_map = self._actor_parts
        # The state map is the actor's features extractor; SB3's `features_extractor` aliases it.
        self.pi_features_extractor = self.features_extractor = state_map
        match_image_scaling(state_map, self.normalize_images)
        # SB3's `_build` re-initialises the features extractors (ortho_init): restore a given module's weights.
        given = copy.deepcopy(state_map.state_dict()) if self._state_map_given else None
        super()._build(lr_schedule)
        if given is not None:
            state_map.load_state_dict(given)
        if not isinstance(self.action_dist, DiagGaussianDistribution):
            raise ValueError(f"DiLQRPolicy needs SB3's DiagGaussianDistribution; got {self.action_dist}")
        # Swap SB3's (orthogonally initialized) linear head for the controller, then rebuild the optimizer.
        self.action_net = self._spec.first_control(self._actor_parts, self.solver_stats)
        self.optimizer = self._make_optimizer(lr_schedule(1))
        del self._actor_parts

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """SB3's ``predict``; the rows ``episode_start`` marks do not follow the previous call's plans
        (``FirstControl.begin_episodes``)."""
        self.action_net.begin_episodes(episode_start)
        return super().predict(observation, state, episode_start, deterministic)

    def first_controls(self) -> list[FirstControl]:
        """The policy's DiLQR actors (its ``action_net``), acting one first: what holds plans and physics."""
        return [self.action_net]

    def plan_as(self, settings: ActorSettings) -> None:
        """Plan from now on with ``settings`` (horizon, iterations, starts, following; e.g. an env's
        ``identified_actor`` once its physics are fitted), the learned modules kept and the stored plans forgotten.
        ``save`` and ``load`` keep the new settings. Call it between updates: a rollout's log-probabilities are
        those of the actor that acted."""
        self._spec = self._spec.planning_as(settings)
        self._config = self._spec.config()
        self._spec.replan(self.action_net)

    def _make_optimizer(self, lr: float) -> torch.optim.Optimizer:
        """Everything else in group 0, each controller parameter in a group of its own (``controller_lr_scale``)."""
        return controller_optimizer(self.parameters(), self.controller, self.optimizer_class, lr,
                                    self.optimizer_kwargs, self._config["controller_lr_scale"])

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


