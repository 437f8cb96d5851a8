"""The DiLQR actor's parts, built from policy kwargs: what ``DiLQRPolicy`` (PPO, A2C), ``DiLQRSACPolicy`` and
``DiLQRTD3Policy`` share.

:class:`ActorSpec` checks the kwargs once (with ``env_id`` instead of ``dynamics`` and ``cost``: the env's entry
in :mod:`dilqr_rl.policies.env_registry`) and :meth:`ActorSpec.build` makes the modules: the DiLQR controller,
the state map (observation -> state) and an optional cost map, deep copies of what the kwargs hold.
:class:`FirstControl` solves (from its starts, or warm from its :class:`PlanMemory`) and returns u_1;
:func:`controller_optimizer` gives the controller's parameters their own learning rate (``controller_lr_scale``).
The policy gets its model only through its kwargs, SB3's normal path: nothing inspects the algorithm or its env
(:func:`refuse_normalized_observations` is for trainers that hold the env).

Shapes: obs (B, *obs_shape) -> state (B, n) -> u_1 (B, m); the controller plans (B, T, m).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium
import numpy as np
import stable_baselines3
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, unwrap_vec_normalize
from torch import Tensor, nn

import dilqr_rl
from dilqr_rl.control.errors import UnconvergedWarning, pass_over, unconverged_warnings, warn
from dilqr_rl.control.kernels import forms
from dilqr_rl.control.layer import DiLQR
from dilqr_rl.control.solution import Solution
from dilqr_rl.policies.cost_maps import make_cost_map
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.receding_horizon import shift_plan, start_sequences
from dilqr_rl.policies.state_maps import make_state_map

if TYPE_CHECKING:
    from dilqr_rl.policies.env_registry import ActorSettings

pass_over(*(str(Path(module.__file__).parent) for module in (dilqr_rl, stable_baselines3, gymnasium)))
# (the solver's warnings raised while a policy acts or trains name the user's line, e.g. ``model.learn(...)``)

DEFAULT_SOLVER_OPTIONS: dict[str, Any] = {"max_iter": 20, "tol": 1e-5, "on_unconverged": "zero"}
"""Solver options for RL unless overridden: a modest iteration budget; an item that has not converged gets a zero
gradient (its last iterate's fixed-point formula can have the wrong sign) and is counted in ``solver_stats``."""
DEFAULT_HORIZON = 15
"""T of a policy given its own ``dynamics`` and ``cost`` without ``horizon``."""
DEFAULT_PLAN_MEMORY = 100_000
"""Observations whose plans the actor keeps as warm starts (least recently used dropped first)."""
DEFAULT_FOLLOW_TOLERANCE = 0.02
"""When acting, a new state within this distance (max-norm, the cost's angle wrapped) of the state the previous
call's plan predicted for the same row is solved warm from that plan, shifted (see :class:`FirstControl`).

Following saves solves; it should not change what the actor does where its model predicts the env. With the true
model on dilqr_rl/CartpoleSwingUp-v0 (10 episodes) and the fitted model on InvertedPendulum-v5 (5 episodes) the
actor follows on 4990 of 5000 and 4995 of 5000 steps at 0.02 as at 0.5, with the same returns (-375.3, 1000).
Where the model is wrong a larger tolerance follows stale plans: the DiLQR clones of the cart-pole swing-up from 5
demonstrations (closed-loop-bc's BC trial, seeds 0..4) returned 0.527 / 0.896 / 1.000 / 0.989 / 0.994 normalised
at 0.5 and 0.937 / 0.872 / 1.000 / 0.978 / 0.929 at 0.02 (evaluation seeds 2000..2019; mean 0.881 -> 0.943; on
1000..1019 seed 0 went 0.610 -> 0.972, seed 1 0.927 -> 0.863), at about 1.5x the time per step. The other side:
InvertedPendulum-v5's balancing actor under every mass and length x0.7 keeps 0.988 following stale plans and 0.801
re-solving from its zero start (``benchmarks/results/follow_tolerance.md``)."""


def _periodic_quadratic_form(cost: PeriodicQuadraticCost) -> list[float]:
    """The C form's parameters (angle index, weights, goal 0): the registered envs' cost (the zero-config actor's
    and the expert's) is solved compiled."""
    log_w = cost._parameters.get("log_w")
    weights = cost.w if log_w is None else log_w.exp()
    return [cost.angle_index, *weights.detach().tolist(), *[0.0] * weights.numel()]


def _periodic_quadratic_leaves(cost: PeriodicQuadraticCost, gradient: Tensor) -> list[tuple[Tensor, Tensor]]:
    """The gradient in (angle index, weights, goal) -> in the learnable log-weights (dw / dlog_w = w), if any."""
    log_w = cost._parameters.get("log_w")
    return [] if log_w is None else [(log_w, gradient[1 : 1 + log_w.numel()] * log_w.detach().exp())]


def _periodic_quadratic_rows(cost: PeriodicQuadraticCost, t: Tensor, args: dict[str, Tensor]) -> Tensor | None:
    """(angle index, weights, goal) per row, with the per-item weights and goals of a cost map: its actor's
    rollouts solve compiled too."""
    w = cost.w
    values = forms.per_row(args, {"weights": w, "goal": torch.zeros_like(w)}, t.numel())
    if values is None:
        return None
    return torch.cat([w.new_full((t.numel(), 1), float(cost.angle_index)), *values], -1)


forms.register_cost(PeriodicQuadraticCost, "periodic_quadratic", _periodic_quadratic_form, _periodic_quadratic_leaves,
                    _periodic_quadratic_rows)


@dataclass
class SolverStats:
    """Running diagnostics of the controller's solves since the last ``pop``: counts, not solver state."""

    items: int = 0
    converged: int = 0
    iterations: int = 0
    warm: int = 0
    """Items warm-started from the plan memory."""
    followed: int = 0
    """New items warm-started from the previous call's plan (shifted)."""
    warned: bool = False

    def record(self, sol: Solution, warm: int = 0, start_iterations: int = 0, followed: int = 0) -> None:
        """Count the solve ``sol``; ``warm`` of its items came from the plan memory, ``followed`` from the
        previous call's plans; ``start_iterations`` were spent choosing the others' starts."""
        self.items += sol.converged.numel()
        self.converged += int(sol.converged.sum())
        self.iterations += int(sol.iterations.sum()) + start_iterations
        self.warm += warm
        self.followed += followed

    def pop(self) -> dict[str, float]:
        """``{"converged_fraction", "iterations", "warm_fraction", "followed_fraction"}`` averaged over items
        since the last call (empty if none)."""
        if self.items == 0:
            return {}
        out = {"converged_fraction": self.converged / self.items, "iterations": self.iterations / self.items,
               "warm_fraction": self.warm / self.items, "followed_fraction": self.followed / self.items}
        self.items = self.converged = self.iterations = self.warm = self.followed = 0
        return out


class PlanMemory:
    """Plans (T, m) keyed by the observation they were solved for; the least recently used go first.

    Rows are keyed by a hash of their bytes, so a later call with the same observation (PPO re-evaluating its
    rollout, a replay batch) warm-starts from what was stored for it: the converged plan, or for an item that did
    not converge the start it was solved from (solving again from it gives the same iterate). ``recent`` holds,
    per batch size, the last call's predicted next states (B, n) and shifted plans (B, T, m): the warm starts of
    the rows that continue a trajectory. Not saved with the policy.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._plans: OrderedDict[int, Tensor] = OrderedDict()
        self.recent: dict[int, tuple[Tensor, Tensor]] = {}

    def __len__(self) -> int:
        return len(self._plans)

    @staticmethod
    def keys(observed: Tensor) -> list[int]:
        rows = observed.detach().cpu().contiguous().numpy().reshape(observed.shape[0], -1)
        return [hash(row.tobytes()) for row in rows]

    def lookup(self, keys: list[int]) -> list[Tensor | None]:
        found = []
        for key in keys:
            plan = self._plans.get(key)
            if plan is not None:
                self._plans.move_to_end(key)
            found.append(plan)
        return found

    def store(self, keys: list[int], plans: Tensor, keep: Tensor) -> None:
        """Keep ``plans[i]`` (B, T, m) for ``keys[i]`` where ``keep[i]`` (B,) is True (the others are left as
        they are)."""
        plans = plans.detach()
        for key, plan, ok in zip(keys, plans, keep.tolist()):
            if ok:
                self._plans[key] = plan
                self._plans.move_to_end(key)
        while len(self._plans) > self.capacity:
            self._plans.popitem(last=False)


class FirstControl(nn.Module):
    """State (B, n) -> u_1 (B, m) of the DiLQR plan, solved in the controller's dtype.

    Where the plan starts, row by row:

    - an observation seen before (in ``memory``) starts from what the memory stored for it: its converged plan,
      or the start an unconverged solve began from, so the solve returns the same plan (iterate) again;
    - when acting (no gradient recorded: SB3's rollouts, ``predict``), a new one within ``follow_tolerance`` of
      the state the previous such call's plan predicted for the same row (same batch size: a rollout's envs, in
      order) starts from that plan shifted by one step, as a receding-horizon expert's warm start does;
    - any other new one is solved from each of the ``starts`` (S, T, m) and starts from the cheapest converged
      solution (with one start, the zero start, that is one solve).

    The gradient is the layer's, at the plan returned (implicit: exact; unconverged items per the layer's
    ``on_unconverged``). PPO's update finds every rollout observation in the memory (its capacity must cover
    the rollout buffer), so it re-solves from the plan the rollout applied, and its log-probability is that of
    the same fixed point. Solves that record a gradient (updates, cloning) never follow, and following needs the
    memory: without one the actor is a function of the observation alone (the starts, every call).

    ``UnconvergedWarning``s are not repeated per solve: the first one is re-issued once, pointing to the
    counts in ``stats``.
    """

    def __init__(self, controller: DiLQR, stats: SolverStats, dtype: torch.dtype,
                 cost_map: nn.Module | None = None, starts: tuple[float, ...] = (0.0,),
                 start_switches: tuple[int, ...] = (), memory: PlanMemory | None = None,
                 follow_tolerance: float = 0.0) -> None:
        super().__init__()
        self.controller = controller
        self.stats = stats
        self.dtype = dtype
        self.cost_map = cost_map
        self.starts = tuple(float(c) for c in starts)
        self.start_switches = tuple(int(k) for k in start_switches)
        self.memory = memory
        self.follow_tolerance = float(follow_tolerance)
        angle = getattr(controller.cost, "angle_index", None)
        self._angles = [int(angle)] if isinstance(angle, int) else []
        """State indices compared modulo 2 pi when following (the periodic cost's angle)."""

    def forward(self, observed: Tensor) -> Tensor:
        return self.solve(observed).first_control().to(observed.dtype)

    def solve(self, observed: Tensor) -> Solution:
        """The plan for each observed state (B, n) (see the class docstring)."""
        state = observed.to(self.dtype)
        cost_args = self.cost_map(state) if self.cost_map is not None else None
        keys = self.memory.keys(observed) if self.memory is not None else None
        # Not warnings.catch_warnings: entering it resets Python's once-per-place registries, and every
        # other warning (the backward's HessianFallbackWarning) would then repeat at every rollout step.
        with unconverged_warnings(False):
            u_init, counts = self._warm_starts(state, cost_args, keys)
            sol = self.controller(state, u_init=u_init, cost_args=cost_args)
        if keys is not None:
            self._remember(keys, sol, u_init)
        if not sol.all_converged and self.controller.config.tol > 0 and not self.stats.warned:
            self.stats.warned = True
            items = int((~sol.converged).sum())
            warn(f"iLQR did not converge within max_iter={self.controller.config.max_iter} for {items} of "
                 f"{sol.converged.numel()} states of a rollout or update batch. Further unconverged solves of this "
                 "policy are not reported one by one; their fraction is in policy.solver_stats (logged as "
                 "ilqr/converged_fraction).", UnconvergedWarning)
        self.stats.record(sol, *counts)
        return sol

    def _remember(self, keys: list[int], sol: Solution, u_init: Tensor | None) -> None:
        """Store each row's converged plan, or the start of an unconverged one; and the rows' predicted next
        states and shifted plans for the next call of this batch size."""
        u = sol.u.detach()
        start = torch.zeros_like(u) if u_init is None else u_init.detach()
        self.memory.store(keys, torch.where(sol.converged.view(-1, 1, 1), u, start), torch.ones_like(sol.converged))
        if self.follow_tolerance > 0 and u.shape[1] > 1 and not torch.is_grad_enabled():
            self.memory.recent[u.shape[0]] = (sol.x[:, 1].detach(), shift_plan(u))

    def forget_plans(self) -> None:
        """Empty the plan memory, keeping its capacity (the plans were solved for other parameters or settings)."""
        if self.memory is not None:
            self.memory = PlanMemory(self.memory.capacity)

    def begin_episodes(self, episode_start: Any) -> None:
        """The rows of the next acting call where ``episode_start`` (B,) is True (SB3's ``predict`` argument; None:
        no information) begin a new episode: they do not follow the previous call's plans, however close the
        new state is to the one those plans predicted (e.g. a balancing task resets near where it ended)."""
        if episode_start is None or self.memory is None:
            return
        starts = torch.as_tensor(np.asarray(episode_start, dtype=bool).reshape(-1))
        recent = self.memory.recent.get(starts.numel())
        if recent is None or not bool(starts.any()):
            return
        predicted, shifted = recent
        predicted = predicted.clone()
        predicted[starts.to(predicted.device)] = float("nan")  # a NaN gap is never within the tolerance
        self.memory.recent[starts.numel()] = (predicted, shifted)

    def _following(self, state: Tensor, rows: list[int]) -> list[Tensor | None]:
        """For the ``rows`` of ``state`` (B, n): the previous call's shifted plan where the state is within
        ``follow_tolerance`` of its prediction, else None."""
        if not (self.follow_tolerance > 0 and rows) or torch.is_grad_enabled():
            return [None] * len(rows)
        recent = self.memory.recent.get(state.shape[0])
        if recent is None:
            return [None] * len(rows)
        predicted, shifted = recent
        index = torch.tensor(rows, device=state.device)
        gap = state.detach()[index] - predicted[index].to(state.dtype)
        if self._angles:
            wrapped = gap[:, self._angles]
            gap[:, self._angles] = torch.atan2(wrapped.sin(), wrapped.cos())
        close = (gap.abs().amax(-1) <= self.follow_tolerance).tolist()
        return [shifted[i].to(state.dtype) if ok else None for i, ok in zip(rows, close)]

    def _warm_starts(self, state: Tensor, cost_args: dict[str, Tensor] | None,
                     keys: list[int] | None) -> tuple[Tensor | None, tuple[int, int, int]]:
        """u_init (B, T, m) or None (zeros), and the counts (rows from the memory, iterations spent on the
        starts of new rows, rows following the previous call's plans)."""
        B, T = state.shape[0], self.controller.config.horizon
        found = self.memory.lookup(keys) if keys is not None else [None] * B
        new = [i for i, plan in enumerate(found) if plan is None]
        warm = B - len(new)
        if self.memory is not None:
            for i, plan in zip(new, self._following(state, new)):
                found[i] = plan
        cold = [i for i, plan in enumerate(found) if plan is None]
        followed = len(new) - len(cold)
        single_zero = self.starts == (0.0,) and not self.start_switches
        if not cold or single_zero:
            if len(cold) == B:
                return None, (0, 0, 0)
            return _assemble(found, cold, None), (warm, 0, followed)
        c = self.controller
        sequences = start_sequences(self.starts, self.start_switches, T, c.u_lower, c.u_upper, state)  # (S, T, m)
        S, m = sequences.shape[0], sequences.shape[-1]
        rows = torch.tensor(cold, device=state.device)
        x = state.detach()[rows]
        args = None if cost_args is None else {k: v.detach()[rows].repeat(S, *[1] * (v.ndim - 1))
                                               for k, v in cost_args.items()}
        with torch.no_grad():
            sol = c(x.repeat(S, 1), sequences.unsqueeze(1).expand(S, len(cold), T, m).reshape(-1, T, m),
                    cost_args=args)
        cost = torch.where(sol.converged, sol.cost, sol.cost + float("inf")).view(S, -1)
        cost = torch.where(torch.isinf(cost).all(0, keepdim=True), sol.cost.view(S, -1), cost)
        best = cost.argmin(0)
        chosen = sol.u.view(S, -1, T, m)[best, torch.arange(len(cold), device=state.device)]  # (cold, T, m)
        return _assemble(found, cold, chosen), (warm, int(sol.iterations.sum()), followed)


def _assemble(found: list[Tensor | None], cold: list[int], chosen: Tensor | None) -> Tensor:
    """u_init (B, T, m): the memory's plans where ``found``, ``chosen`` (cold, T, m) on the ``cold`` rows (zeros
    when None; not None when every row is cold)."""
    if not cold:
        return torch.stack(found)
    if len(cold) == len(found):
        return chosen
    warm = [i for i, plan in enumerate(found) if plan is not None]
    plans = torch.stack([found[i] for i in warm])
    u_init = plans.new_zeros(len(found), *plans.shape[1:])
    u_init[warm] = plans
    if chosen is not None:
        u_init[cold] = chosen
    return u_init


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
    starts: tuple[float, ...] = (0.0,)
    start_switches: tuple[int, ...] = ()
    plan_memory: int = DEFAULT_PLAN_MEMORY
    follow_tolerance: float = DEFAULT_FOLLOW_TOLERANCE

    @classmethod
    def from_kwargs(cls, policy: str, algorithm_name: str, action_space: spaces.Space, dynamics: nn.Module | None,
                    cost: nn.Module | None, state_map: str | nn.Module | None, env_id: str | None = None,
                    model_error: Mapping[str, float] | None = None, horizon: int | None = None,
                    starts: Sequence[float] | None = None, start_switches: Sequence[int] | None = None,
                    solver_options: dict[str, Any] | None = None, plan_memory: int = DEFAULT_PLAN_MEMORY,
                    follow_tolerance: float | None = None, **config: Any) -> ActorSpec:
        """Check the kwargs of ``policy`` (its class name, for errors; ``algorithm_name``, an SB3 algorithm it
        plugs into, for examples). With ``env_id`` (and no ``dynamics`` and ``cost``): the registered model of
        that env with ``model_error`` applied, its state map and its zero-config actor's horizon, starts and
        iterations, each unless given."""
        if env_id is not None:
            if dynamics is not None or cost is not None:
                raise ValueError(f"{policy} takes either env_id (the env's registered model) or dynamics and cost, "
                                 "not both")
            from dilqr_rl.policies.env_models import env_model

            try:
                model = env_model(env_id, model_error)
            except ValueError as error:
                raise ValueError(f"{policy}: env_id={env_id!r}: {error}") from None
            dynamics, cost = model.dynamics, model.cost
            state_map = model.state_map if state_map is None else state_map
            actor = model.actor
            horizon = actor.horizon if horizon is None else horizon
            starts = actor.starts if starts is None else starts
            start_switches = actor.start_switches if start_switches is None else start_switches
            follow_tolerance = actor.follow_tolerance if follow_tolerance is None else follow_tolerance
            solver_options = {"max_iter": actor.max_iter, **(solver_options or {})}
        elif model_error:
            raise ValueError(f"{policy}: model_error applies to the registered model of env_id; with your own "
                             "dynamics, build them with the parameters you want")
        elif dynamics is None and cost is None:
            raise ValueError(
                f"{policy} needs a model to plan with: policy_kwargs=dict(env_id='Pendulum-v1') for an env's "
                "registered model (dilqr_rl.policies.env_registry.SUPPORTED lists them; "
                "model_error=dict(mass=-0.3) for a wrong start), or policy_kwargs=dict(dynamics=..., cost=...): "
                f"the nn.Module models the controller plans with, e.g. {algorithm_name}({policy}, env, "
                "policy_kwargs=dict(env_id='dilqr_rl/Pendulum-v0'))")
        elif dynamics is None or cost is None:
            raise ValueError(f"{policy} needs both dynamics and cost in policy_kwargs, or neither (then env_id: "
                             "the registered model of an env)")
        if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f"{policy} needs a 1-D continuous Box action space (the controls u); got "
                             f"{action_space}")
        scale = config["controller_lr_scale"]
        if not (isinstance(scale, (int, float)) and scale > 0 and np.isfinite(scale)):
            raise ValueError(f"controller_lr_scale must be a positive finite number (the controller's learning "
                             f"rate relative to the algorithm's); got {scale!r}")
        starts = (0.0,) if starts is None else tuple(float(c) for c in starts)
        start_switches = () if start_switches is None else tuple(start_switches)
        if not starts or any(not -1 <= c <= 1 for c in starts):
            raise ValueError(f"starts must be a non-empty sequence of numbers in [-1, 1] (constant cold starts as "
                             f"fractions of the upper (> 0) or lower (< 0) control bound); got {starts}")
        if any(not (isinstance(k, (int, np.integer)) and k >= 1) for k in start_switches):
            raise ValueError(f"start_switches must be whole numbers of steps k >= 1; got {start_switches}")
        if not (isinstance(plan_memory, (int, np.integer)) and plan_memory >= 0):
            raise ValueError(f"plan_memory must be a whole number >= 0 (observations whose plans are kept as warm "
                             f"starts; 0: none); got {plan_memory!r}")
        follow_tolerance = DEFAULT_FOLLOW_TOLERANCE if follow_tolerance is None else follow_tolerance
        if not (isinstance(follow_tolerance, (int, float)) and 0 <= follow_tolerance < float("inf")):
            raise ValueError(f"follow_tolerance must be a finite number >= 0 (how far, in state units, a new state "
                             f"may be from the previous plan's prediction to be warm-started from that plan; 0: "
                             f"never); got {follow_tolerance!r}")
        return cls(dynamics=dynamics, cost=cost, state_map="identity" if state_map is None else state_map,
                   horizon=DEFAULT_HORIZON if horizon is None else horizon, solver_options=solver_options,
                   starts=starts, start_switches=tuple(int(k) for k in start_switches), plan_memory=int(plan_memory),
                   follow_tolerance=float(follow_tolerance), **{**config, "controller_lr_scale": float(scale)})

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
        expected = getattr(state_map, "observation_shape", None)
        if expected is not None and tuple(expected) != tuple(observation_space.shape):
            raise ValueError(
                f"the state map {type(state_map).__name__} reads observations of shape {tuple(expected)} but the env "
                f"gives {tuple(observation_space.shape)} (env_id builds the map for the env's default frames): pass "
                f"state_map={type(state_map).__name__}({tuple(observation_space.shape)}) in policy_kwargs, or make "
                "the env with its default size")
        return ActorParts(controller, state_map, int(state_dim), cost_map)

    def first_control(self, parts: ActorParts, stats: SolverStats) -> FirstControl:
        """The actor's solve (starts and plan memory as configured) over ``parts``."""
        memory = PlanMemory(self.plan_memory) if self.plan_memory > 0 else None
        return FirstControl(parts.controller, stats, self.controller_dtype, parts.cost_map, self.starts,
                            self.start_switches, memory, self.follow_tolerance)

    def planning_as(self, settings: ActorSettings) -> ActorSpec:
        """This spec planning with ``settings`` (horizon, iterations, starts, following); the models and the other
        solver options unchanged."""
        return replace(self, horizon=settings.horizon, starts=settings.starts, start_switches=settings.start_switches,
                       follow_tolerance=settings.follow_tolerance,
                       solver_options={**(self.solver_options or {}), "max_iter": settings.max_iter})

    def replan(self, first: FirstControl) -> None:
        """Make the built ``first`` plan as this spec does (its controller's horizon and iterations, its starts and
        following), its stored plans forgotten (they have the old horizon). Its modules are kept."""
        options = {**DEFAULT_SOLVER_OPTIONS, **(self.solver_options or {})}
        controller = first.controller
        controller.config = replace(controller.config, horizon=self.horizon, max_iter=options["max_iter"])
        first.starts, first.start_switches = self.starts, self.start_switches
        first.follow_tolerance = self.follow_tolerance
        first.forget_plans()

    def config(self) -> dict[str, Any]:
        """The kwargs that are not modules (for ``_get_constructor_parameters``); the model itself is stored as
        modules, so a loaded policy needs neither ``env_id`` nor the registry."""
        return dict(horizon=self.horizon, u_lower=self.u_lower, u_upper=self.u_upper, grad_method=self.grad_method,
                    solver_options=self.solver_options, controller_dtype=self.controller_dtype,
                    controller_lr_scale=self.controller_lr_scale, starts=self.starts,
                    start_switches=self.start_switches, plan_memory=self.plan_memory,
                    follow_tolerance=self.follow_tolerance)


def controller_optimizer(parameters: Iterable[nn.Parameter], controller: DiLQR,
                         optimizer_class: type[torch.optim.Optimizer], lr: float, optimizer_kwargs: dict[str, Any],
                         controller_lr_scale: float) -> torch.optim.Optimizer:
    """An optimizer with the other ``parameters`` in group 0 and each of the controller's parameters in a group of
    its own (groups 1.., :func:`controller_groups`).

    A controller group's ``lr`` is reset to ``lr_factor * param_groups[0]["lr"]`` before every step (a step
    pre-hook), so SB3's learning-rate schedule, which writes one ``lr`` into every group, keeps the ratio.
    ``lr_factor`` is ``controller_lr_scale`` times, for a physical parameter (a scalar parameter of the
    dynamics), its magnitude when the optimizer is built (``max(|theta_0|, 1e-3)``): Adam moves every parameter
    by about its rate per step, so a mass of 1 and a gravity of 10 then move at the same relative speed, as in
    cloning (:func:`dilqr_rl.agents.physics_optim.adam_with_physics`). With one rate for all, a pole length of
    0.7 moved 13x faster than a gravity of 13 relative to their sizes: on Pendulum-v1 it fell to 0.12 in SAC's
    first 4,000 actor updates while the gravity moved 3%. The cost's parameters (log-weights) move at the
    scale's rate.
    """
    controller_ids = {id(p) for p in controller.parameters()}
    physical = {id(p) for p in controller.dynamics.parameters() if p.numel() == 1}
    groups = [{"params": [p for p in parameters if id(p) not in controller_ids]}]
    for param in controller.parameters():
        factor = controller_lr_scale * (max(abs(param.item()), 1e-3) if id(param) in physical else 1.0)
        groups.append({"params": [param], "lr": lr * factor, "lr_factor": factor})
    optimizer = optimizer_class(groups, lr=lr, **optimizer_kwargs)
    optimizer.register_step_pre_hook(_scale_controller_lr)
    return optimizer


def controller_groups(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """The parameter groups of :func:`controller_optimizer` that hold the controller's parameters (one each)."""
    return optimizer.param_groups[1:]


def _scale_controller_lr(optimizer: torch.optim.Optimizer, *_: Any) -> None:
    """Optimizer step pre-hook: each controller group's lr = its ``lr_factor`` x the other parameters' lr."""
    base = optimizer.param_groups[0]
    for group in controller_groups(optimizer):
        group["lr"] = base["lr"] * group["lr_factor"]


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


def refuse_normalized_observations(venv: VecEnv | None, policy: str) -> None:
    """Raise ``ValueError`` if ``venv`` normalises observations (SB3's ``VecNormalize(norm_obs=True)``)."""
    normalize = unwrap_vec_normalize(venv) if venv is not None else None
    if normalize is not None and normalize.norm_obs:
        raise ValueError(
            f"{policy} plans with a model of the env's physics and reads observations in the env's own units, but "
            "the env is wrapped in VecNormalize(norm_obs=True), which hands the policy normalised observations "
            "(the planner would take them for states): wrap it in VecNormalize(env, norm_obs=False) to normalise "
            "rewards only, or leave VecNormalize out")
