"""``DiLQRActorPolicy``: the DiLQR actor of an env's registry entry as a plain policy module, for cloning.

The same actor as :class:`~dilqr_rl.policies.DiLQRPolicy`'s (``ActorSpec`` -> state map -> ``FirstControl``),
without SB3's critic and Gaussian: observation -> state -> the cheapest converged plan over the registered
starts (warm-started from the plan memory for observations seen before) -> its first control u_1, which is
the env action (for MuJoCo's scaled controls the models are driven by the action, ``ScaledControl``). The
gradient of u_1 (or of the whole plan) reaches the learnable parameters of the dynamics and, when made
learnable, of the cost, through the layer's implicit backward.

:func:`env_actor_policy` builds one for an env from its registry entry with a wrong start of the physics
(``model_error``; ``None``: the entry's default), learning the physics and optionally the cost's weights.

Shapes: obs (B, *obs_shape) -> state (B, n) -> plan u (B, T, m) -> action u_1 (B, m).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from dilqr_rl.control.layer import DiLQR
from dilqr_rl.control.solution import Solution
from dilqr_rl.policies.dilqr_actor import ActorSpec, FirstControl, PlanMemory, SolverStats
from dilqr_rl.policies.env_models import env_model
from dilqr_rl.policies.env_registry import env_control

LEARNABLE = ("physics", "cost")
"""What a cloned DiLQR actor may learn: the dynamics' physical parameters, the cost's weights (log-weights)."""


class DiLQRActorPolicy(nn.Module):
    """State map + DiLQR first control, with SB3's ``predict`` (module docstring)."""

    def __init__(self, state_map: nn.Module, actor: FirstControl, observation_shape: Sequence[int]) -> None:
        super().__init__()
        self.state_map = state_map
        self.actor = actor
        self.observation_shape = tuple(int(s) for s in observation_shape)
        self._acting: PlanMemory | None = None

    @property
    def controller(self) -> DiLQR:
        return self.actor.controller

    @property
    def dynamics(self) -> nn.Module:
        return self.actor.controller.dynamics

    @property
    def cost(self) -> nn.Module:
        return self.actor.controller.cost

    @property
    def solver_stats(self) -> SolverStats:
        return self.actor.stats

    def state(self, obs: Tensor) -> Tensor:
        """The state map's model states (B, n) of the observations (B, *obs_shape), in the controller's dtype."""
        return self.state_map(obs.to(self.actor.dtype))

    def solve(self, obs: Tensor) -> Solution:
        """The actor's plan for the observations (B, *obs_shape), in the controller's dtype."""
        return self.actor.solve(self.state(obs))

    def forward(self, obs: Tensor) -> Tensor:
        """u_1 (B, m) in ``obs``' dtype."""
        return self.solve(obs).first_control().to(obs.dtype)

    def forget_plans(self) -> None:
        """Empty the plan memory (e.g. after loading other parameters: the plans were solved for the old ones)."""
        self.actor.forget_plans()
        self._acting = None

    @torch.no_grad()
    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True):
        """obs (*obs_shape) or (B, *obs_shape) -> action (m,) or (B, m), None (no recurrent state).

        Acting neither reads nor fills the plan memory that warm-starts training on observations seen before.
        Where the actor follows its own plans (``follow_tolerance`` > 0, the registry's setting for the env), a
        new observation that continues the previous call's trajectory (same batch size, row by row, within the
        tolerance of the predicted state; not a row ``episode_start`` marks) starts from that plan shifted, as the
        expert does; any other observation is solved from the starts. Without following, the action is a
        function of the observation and the parameters only."""
        obs_t = torch.as_tensor(np.asarray(obs), dtype=self.actor.dtype)
        single = obs_t.ndim == len(self.observation_shape)
        memory, self.actor.memory = self.actor.memory, self._acting_memory()
        try:
            self.actor.begin_episodes(episode_start)
            action = self(obs_t.unsqueeze(0) if single else obs_t).cpu().numpy().astype(np.float32)
        finally:
            self.actor.memory = memory
        return (action[0] if single else action), None

    def _acting_memory(self) -> PlanMemory | None:
        """The memory ``predict`` acts with: the previous call's plans only (capacity 0), kept between calls; None
        where the actor does not follow."""
        if self.actor.follow_tolerance <= 0:
            return None
        if self._acting is None:
            self._acting = PlanMemory(0)
        return self._acting


def env_actor_policy(env: gym.Env, model_error: Mapping[str, float] | None = None,
                     learn: Sequence[str] = ("physics",), plan_memory: int | None = None) -> DiLQRActorPolicy:
    """The registry's DiLQR actor for ``env`` (zero-config settings), planning from ``model_error``
    (``{parameter: relative error}``; None: the entry's default wrong start), learning ``learn`` (a subset of
    :data:`LEARNABLE`). ``ValueError`` for an env without a registered model, or an unknown name."""
    unknown = sorted(set(learn) - set(LEARNABLE))
    if unknown:
        raise ValueError(f"learn names {unknown}; valid: {list(LEARNABLE)}")
    error = env_control(env).model_error if model_error is None else model_error
    model = env_model(env, error)
    model.dynamics.requires_grad_("physics" in learn)
    if "cost" in learn:
        model.cost = _learnable_cost(model.cost)
    kwargs = model.policy_kwargs()
    if plan_memory is not None:
        kwargs["plan_memory"] = plan_memory
    spec = ActorSpec.from_kwargs(
        "DiLQRActorPolicy", "BC", env.action_space, kwargs.pop("dynamics"), kwargs.pop("cost"),
        kwargs.pop("state_map"), cost_map=None, u_lower=None, u_upper=None, grad_method="implicit",
        controller_dtype=torch.float64, controller_lr_scale=1.0, **kwargs)
    parts = spec.build(env.observation_space, env.action_space)
    return DiLQRActorPolicy(parts.state_map, spec.first_control(parts, SolverStats()), env.observation_space.shape)


def _learnable_cost(cost: nn.Module) -> nn.Module:
    """The cost with learnable weights (``learnable_copy``), through a ``ScaledControl`` wrapper."""
    inner = getattr(cost, "model", cost)
    if not hasattr(inner, "learnable_copy"):
        raise ValueError(f"learn=cost needs a cost with learnable weights (PeriodicQuadraticCost); this env's "
                         f"is {type(inner).__name__}")
    if inner is cost:
        return cost.learnable_copy()
    cost.model = inner.learnable_copy()
    return cost


def physical_parameters(dynamics: nn.Module) -> dict[str, float]:
    """The scalar parameters of ``dynamics`` by name (through a ``ScaledControl`` wrapper: the inner model's)."""
    inner = getattr(dynamics, "model", dynamics)
    return {name: float(p.detach()) for name, p in inner.named_parameters() if p.numel() == 1}
