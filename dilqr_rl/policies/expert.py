"""``ILQRExpert``: receding-horizon box-constrained iLQR (a DiLQR solve per step) as an SB3-style policy.

At every step the expert solves

    min_{u_1..u_T} sum_{t=1..T} g(x_t, u_t)   s.t. x_1 = x, x_{t+1} = f(x_t, u_t), u_lower <= u_t <= u_upper

with its model f (the environment's true physics, or a fitted approximation), applies u_1, and keeps the
plan shifted by one step (u_2..u_T, u_T) as the warm start of the next solve. Episode starts (and calls
without a warm start) are solved from several starts (constant controls and, where set, bang-bang sequences
that switch bound once) and keep the cheapest solution, which avoids the poor local minima a zero warm start
gives on swing-up tasks.

``predict(obs, state, episode_start, deterministic)`` follows Stable-Baselines3: ``state`` is the warm
start, returned by the previous call, so ``stable_baselines3.common.evaluation.evaluate_policy`` runs
the expert (it passes the state back and flags episode starts). Build one with
:func:`dilqr_rl.policies.expert_for`.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from dilqr_rl.control import DiLQR, UnconvergedWarning
from dilqr_rl.policies.receding_horizon import shift_plan, start_sequences


@dataclass(frozen=True)
class ExpertSettings:
    """How the receding-horizon expert solves each step."""

    horizon: int = 40
    """T, planned steps per solve."""
    max_iter: int = 10
    """iLQR iterations per warm-started step (the shifted plan is nearly optimal already)."""
    cold_iter: int = 60
    """iLQR iterations at an episode start (no warm start)."""
    tol: float = 1e-6
    """Convergence tolerance of each solve (see ``SolverConfig.tol``)."""
    cold_starts: tuple[float, ...] = (0.0, 1.0, -1.0)
    """Constant control sequences tried at an episode start, as fractions of the upper (positive) or
    lower (negative) control bound; the cheapest solution is kept."""
    cold_switches: tuple[int, ...] = ()
    """Switch steps k of bang-bang starts also tried at an episode start: for each k, the control at its upper
    bound for steps 1..k and at its lower bound after, and the mirror image (two starts per k; k >= horizon
    gives constant starts at the bounds, so a shorter ``horizon`` override keeps these valid). A swing-up
    that has to pump the pole (push one way, then the other) starts in the right basin from one of these,
    where iLQR from constant controls finds a plan that stalls short of the top or loops the pole round."""

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.max_iter < 1 or self.cold_iter < 1:
            raise ValueError(f"horizon, max_iter and cold_iter must be >= 1; got {self}")
        if not self.cold_starts or any(abs(c) > 1 for c in self.cold_starts):
            raise ValueError(f"cold_starts must be a non-empty tuple of numbers in [-1, 1]; got {self.cold_starts}")
        if any(not (isinstance(k, int) and k >= 1) for k in self.cold_switches):
            raise ValueError(f"cold_switches must be whole numbers of steps k >= 1 (the control switches bound "
                             f"after step k); got {self.cold_switches}")

    def as_dict(self) -> dict:
        return {**asdict(self), "cold_starts": list(self.cold_starts), "cold_switches": list(self.cold_switches)}


ObsToState = Callable[[np.ndarray], np.ndarray]
"""Batched observations (B, *obs_shape) -> model states (B, n) float64."""


class ILQRExpert:
    """Receding-horizon iLQR with a known model, usable wherever SB3 expects a policy's ``predict``.

    ``u`` is the model's control; the environment's action is ``action_scale * u`` (e.g. MuJoCo
    controls from forces). ``obs_to_state`` maps observations to model states; ``state_map``, where given, is
    the same map as a torch module (the default state map of a DiLQR policy planning with this model; see
    :mod:`dilqr_rl.policies.state_maps`). The expert plans with frozen copies of ``dynamics`` and ``cost``: the
    caller's modules are left as they are (still trainable).

    Shapes:
        predict: obs (B, *obs_shape) or (*obs_shape,), state (B, T, m) or None, episode_start (B,) ->
        actions (B, m) (or (m,) for one observation), plan (B, T, m) float64.
        act: x (B, n) float64 tensor, plan (B, T, m) or None, cold (B,) bool -> u_1 (B, m), plan (B, T, m).
    """

    def __init__(
        self,
        dynamics: nn.Module,
        cost: nn.Module,
        u_lower: float,
        u_upper: float,
        obs_to_state: ObsToState,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        settings: ExpertSettings | None = None,
        action_scale: float = 1.0,
        name: str = "expert",
        state_map: nn.Module | None = None,
    ) -> None:
        self.settings = settings or ExpertSettings()
        s = self.settings
        dynamics = copy.deepcopy(dynamics).requires_grad_(False)
        cost = copy.deepcopy(cost).requires_grad_(False)
        solver = {"u_lower": u_lower, "u_upper": u_upper, "tol": s.tol, "on_unconverged": "warn"}
        self.warm = DiLQR(dynamics, cost, s.horizon, max_iter=s.max_iter, **solver)
        self.cold = DiLQR(dynamics, cost, s.horizon, max_iter=s.cold_iter, **solver)
        self.u_lower, self.u_upper = float(u_lower), float(u_upper)
        self.obs_to_state = obs_to_state
        self.state_map = state_map
        """``obs_to_state`` as a torch ``nn.Module`` (B, *obs_shape) -> (B, n), or None (no such map given)."""
        self.observation_space = observation_space
        self.action_space = action_space
        self.action_scale = float(action_scale)
        self.name = name
        self.control_dim = int(getattr(dynamics, "control_dim", 1))
        self.solves = 0
        """Solves so far (one per state acted on); with ``converged_solves``, the converged fraction."""
        self.converged_solves = 0

    def __repr__(self) -> str:
        return f"ILQRExpert({self.name}, {self.settings})"

    @property
    def dynamics(self) -> nn.Module:
        return self.warm.dynamics

    @property
    def cost(self) -> nn.Module:
        return self.warm.cost

    def predict(
        self,
        observation: np.ndarray,
        state: np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """SB3's ``predict``: actions for (batched) observations; ``state`` is the returned warm start."""
        obs = np.asarray(observation)
        single = obs.shape == self.observation_space.shape
        if single:
            obs = obs[None]
        x = torch.as_tensor(np.asarray(self.obs_to_state(obs), dtype=np.float64))  # (B, n)
        actions, plan = self.predict_state(x, state, episode_start)
        return (actions[0] if single else actions), plan

    def predict_state(
        self, x: Tensor, state: np.ndarray | None = None, episode_start: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`predict` from model states x (B, n) (e.g. ``info["state"]``): actions (B, m), plan."""
        B, T = x.shape[0], self.settings.horizon
        cold = torch.ones(B, dtype=torch.bool)
        plan = None
        if state is not None:
            state = np.asarray(state, dtype=np.float64)
            if state.shape != (B, T, self.control_dim):
                raise ValueError(f"state must be the plan (B, T, m) = {(B, T, self.control_dim)} returned by "
                                 f"the previous predict call, or None; got shape {state.shape}")
            plan = torch.from_numpy(state)
            cold = torch.zeros(B, dtype=torch.bool)
            if episode_start is not None:
                cold = torch.as_tensor(np.asarray(episode_start, dtype=bool).reshape(B))
        u1, plan = self.act(x, plan, cold)
        actions = np.clip(u1.numpy() * self.action_scale, self.action_space.low, self.action_space.high)
        return actions.astype(self.action_space.dtype), plan.numpy()

    def act(self, x: Tensor, plan: Tensor | None, cold: Tensor) -> tuple[Tensor, Tensor]:
        """Solve from states x (B, n) warm-started by ``plan`` where ``cold`` is False.

        Returns the first controls u_1 (B, m) and the next warm start: the plan shifted by one step.
        """
        if x.ndim != 2:
            raise ValueError(f"x must be a batch of states (B, n); got shape {tuple(x.shape)}")
        x = x.to(torch.float64)
        B, T, m = x.shape[0], self.settings.horizon, self.control_dim
        if plan is None:
            cold = torch.ones(B, dtype=torch.bool)
            plan = x.new_zeros(B, T, m)
        u = plan.clone()
        converged = torch.zeros(B, dtype=torch.bool)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UnconvergedWarning)  # few iterations per step is the design
            if bool(cold.any()):
                u[cold], converged[cold], _ = self._solve_cold(x[cold])
            if bool((~cold).any()):
                sol = self.warm(x[~cold], plan[~cold])
                u[~cold], converged[~cold] = sol.u, sol.converged
        self.solves += B
        self.converged_solves += int(converged.sum())
        return u[:, 0], shift_plan(u)

    def relabel_state(self, x: Tensor, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The expert's best answer at states it is not driving (DAgger's labels on a learner's trajectory).

        Like :meth:`predict_state`, but every state is solved cold (from all the cold starts) and, where ``state``
        holds a previous plan (shifted), also warm-started from it; the cheaper plan gives the action. Along its
        own trajectory the warm start is the expert's plan and nearly optimal; along another policy's it is a
        plan for a state the system never reached, and a few warm iterations from it can stall in a poor local
        minimum that the cold starts avoid. Returns actions (B, m) and the chosen plans shifted (B, T, m).
        """
        x = x.to(torch.float64)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UnconvergedWarning)
            u, converged, cost = self._solve_cold(x)
            if state is not None:
                warm = self.warm(x, torch.as_tensor(np.asarray(state, dtype=np.float64)))
                better = warm.cost < cost  # (B,)
                u = torch.where(better[:, None, None], warm.u, u)
                converged = torch.where(better, warm.converged, converged)
        self.solves += x.shape[0]
        self.converged_solves += int(converged.sum())
        actions = np.clip(u[:, 0].numpy() * self.action_scale, self.action_space.low, self.action_space.high)
        return actions.astype(self.action_space.dtype), shift_plan(u).numpy()

    def _solve_cold(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Best of the cold starts: plans (B, T, m), whether each converged (B,) and its cost (B,)."""
        B, T, m = x.shape[0], self.settings.horizon, self.control_dim
        s = self.settings
        sequences = start_sequences(s.cold_starts, s.cold_switches, T, self.u_lower, self.u_upper, x)  # (S, T, m')
        S = sequences.shape[0]
        starts = sequences.unsqueeze(1).expand(S, B, T, m).reshape(S * B, T, m)
        sol = self.cold(x.repeat(S, 1), starts.contiguous())
        best = sol.cost.view(S, B).argmin(0)  # (B,)
        rows = torch.arange(B)
        return (sol.u.view(S, B, T, m)[best, rows], sol.converged.view(S, B)[best, rows],
                sol.cost.view(S, B)[best, rows])
