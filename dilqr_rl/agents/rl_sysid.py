"""System identification during actor-critic training: the DiLQR actor's physics fitted to its own rollouts.

PPO's gradient optimises the return, and through the plan it moves the physics little (``Pendulum-v1`` from 30%
off: the identified combinations 3g/(2l) and 3/(m l^2) moved 27.9 -> 27.8 and 4.71 -> 4.82 in 12k steps, true 15
and 3). The transitions the rollouts collect say directly what the physics are. :class:`RolloutSysId` fits the
actor's physical parameters to them (:func:`~dilqr_rl.agents.sysid.fit_sysid`, the one-step prediction loss with
the angle's residual wrapped) every ``every`` env steps, between an update and the next rollout, and forgets the
actor's stored plans (they were solved for the old physics). The physics then learn from the fits alone: the RL
loss's updates skip them (an optimizer pre-hook drops their gradients) and train the rest (cost, cost map,
log-std, critic). With ``then_plan_as`` (an env's ``EnvControl.identified_actor``), the actor plans with those
settings from the first fit on: a longer horizon pays once the physics are right but amplifies the wrong start's
(``Pendulum-v1`` from 30% off: -1358.5 at T = 40 following, -719.7 at the registered T = 20).

Transitions: on-policy, each rollout buffer's consecutive steps within an episode (x_t, u_t, x_{t+1}), the last
``window`` of them kept; off-policy, the last ``window`` of the replay buffer. States are the registry's map of the
observations (``EnvControl.obs_to_state``), controls the applied actions (clipped to the action space) in the
model's units (action / ``action_scale``).

Shapes: x (R, n), u (R, m), x_next (R, n).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from dilqr_rl.agents.sysid import SysIdConfig, fit_sysid
from dilqr_rl.agents.sysid_episodes import model_units
from dilqr_rl.policies.env_registry import ActorSettings, EnvControl

DEFAULT_WINDOW = 20_000
"""Transitions a fit uses (the most recent)."""
DEFAULT_FIT = SysIdConfig(epochs=1, batch_size=1024, lr=1e-2, progress=False)
"""Adam on mini-batches of 1024 transitions; each fit starts from the current physics (``epochs`` is set per fit
from ``steps``)."""
DEFAULT_STEPS = 1000
"""Gradient steps of each fit (whole passes over the transitions, at least this many steps)."""


class RolloutSysId(BaseCallback):
    """Fit a DiLQR actor's physics to the transitions of its rollouts every ``every`` env steps (module docstring).

    Logs ``sysid/transition_loss`` (after the fit, mean squared one-step error), ``sysid/transitions`` and
    ``sysid/horizon`` (the actor's, after the fit).
    """

    def __init__(self, control: EnvControl, every: int, window: int = DEFAULT_WINDOW,
                 config: SysIdConfig = DEFAULT_FIT, steps: int = DEFAULT_STEPS,
                 then_plan_as: ActorSettings | None = None) -> None:
        super().__init__()
        if every < 1 or window < 1 or steps < 1:
            raise ValueError(f"every, window and steps must be >= 1 (env steps, transitions, gradient steps); got "
                             f"{every}, {window}, {steps}")
        self.control = control
        self.every = int(every)
        self.window = int(window)
        self.config = config
        self.steps = int(steps)
        self.then_plan_as = then_plan_as
        self.fits = 0
        self.last_loss: float | None = None
        self._kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._last_fit = 0

    def _on_training_start(self) -> None:
        policy = self.model.policy
        controller = getattr(policy, "controller", None)
        if controller is None:
            raise ValueError("RolloutSysId fits a DiLQR actor's physics; this policy has no controller")
        self._last_fit = self.num_timesteps
        physics = list(controller.dynamics.parameters())
        actor = getattr(policy, "actor", None)
        optimizer = actor.optimizer if actor is not None else policy.optimizer

        def drop_physics_gradients(*_: Any) -> None:  # the fits set the physics; the RL loss trains the rest
            for p in physics:
                p.grad = None

        self._hook = optimizer.register_step_pre_hook(drop_physics_gradients)

    def _on_training_end(self) -> None:
        self._hook.remove()

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if isinstance(self.model, OnPolicyAlgorithm):
            self._keep(*self._rollout_transitions())

    def _on_rollout_start(self) -> None:
        # Between the last update and the next rollout: PPO's update has re-solved its rollout with the physics
        # that rollout acted on, so nothing of it is judged by physics it did not use.
        if self.num_timesteps - self._last_fit >= self.every:
            self.fit()

    def fit(self) -> None:
        """Fit the physics now to the kept (on-policy) or replayed (off-policy) transitions, if there are any."""
        obs, actions, next_obs = self._transitions()
        self._last_fit = self.num_timesteps
        if len(obs) == 0:
            return
        x, u, x_next = self._model_units(obs, actions, next_obs)
        controller = self.model.policy.controller
        dynamics = getattr(controller.dynamics, "model", controller.dynamics)  # MuJoCo: behind ScaledControl
        angle = getattr(getattr(self.control.cost, "model", self.control.cost), "angle_index", None)
        dtype = next(dynamics.parameters()).dtype
        passes = math.ceil(self.steps / math.ceil(len(x) / self.config.batch_size))
        config = dataclasses.replace(self.config, epochs=passes, seed=self.config.seed + self.fits)
        result = fit_sysid(dynamics, x.to(dtype), u.to(dtype), x_next.to(dtype), config, angle_index=angle)
        _copy_to_target(self.model.policy)
        _forget_plans(self.model.policy)
        if self.fits == 0 and self.then_plan_as is not None:
            plan_as(self.model, self.then_plan_as)
        self.fits += 1
        self.last_loss = result.loss
        self.logger.record("sysid/transition_loss", result.loss)
        self.logger.record("sysid/transitions", len(x))
        self.logger.record("sysid/horizon", controller.config.horizon)

    def _keep(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray) -> None:
        self._kept.append((obs, actions, next_obs))
        while sum(len(o) for o, _, _ in self._kept) - len(self._kept[0][0]) >= self.window:
            self._kept.pop(0)

    def _transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if isinstance(self.model, OnPolicyAlgorithm):
            if not self._kept:
                return np.zeros((0,)), np.zeros((0,)), np.zeros((0,))
            obs, actions, next_obs = (np.concatenate(parts) for parts in zip(*self._kept))
            return obs[-self.window:], actions[-self.window:], next_obs[-self.window:]
        return self._replay_transitions()

    def _rollout_transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(obs_t, a_t, obs_{t+1}) of the rollout buffer's steps whose successor is in the same episode."""
        buffer = self.model.rollout_buffer
        obs, actions, starts = buffer.observations, buffer.actions, buffer.episode_starts  # (S, E, ...)
        same = starts[1:] == 0  # (S - 1, E): step t + 1 continues step t's episode
        return obs[:-1][same], actions[:-1][same], obs[1:][same]

    def _replay_transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last ``window`` transitions of the replay buffer (its next observations are the true ones, also at
        an episode's end)."""
        buffer = self.model.replay_buffer
        size = buffer.buffer_size if buffer.full else buffer.pos
        order = (np.arange(size) + (buffer.pos if buffer.full else 0)) % buffer.buffer_size  # oldest first
        rows = order[-max(1, self.window // buffer.n_envs):]

        def flat(a: np.ndarray) -> np.ndarray:
            return a[rows].reshape(len(rows) * buffer.n_envs, *a.shape[2:])

        # SB3 stores an off-policy Box action scaled to [-1, 1]; the env got it unscaled
        return flat(buffer.observations), self.model.policy.unscale_action(flat(buffer.actions)), \
            flat(buffer.next_observations)

    def _model_units(self, obs: np.ndarray, actions: np.ndarray,
                     next_obs: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        space = self.model.action_space
        applied = np.clip(actions.reshape(len(actions), -1), space.low, space.high)
        return model_units(self.control, applied, self.control.obs_to_state(obs), self.control.obs_to_state(next_obs))


def plan_as(model: BaseAlgorithm, settings: ActorSettings) -> None:
    """``model``'s DiLQR policy plans with ``settings`` from now on, and so does the one ``model.save`` stores (SB3's
    ``load`` rebuilds the policy from ``model.policy_kwargs``, then loads its weights)."""
    model.policy.plan_as(settings)
    kwargs = settings.policy_kwargs()
    options = {**(model.policy_kwargs.get("solver_options") or {}), **kwargs.pop("solver_options")}
    model.policy_kwargs = {**model.policy_kwargs, **kwargs, "solver_options": options}


def _forget_plans(policy: Any) -> None:
    """Empty the DiLQR actors' plan memories (and target actor's): their plans were solved for the old physics."""
    for first in policy.first_controls():
        first.forget_plans()


def _copy_to_target(policy: Any) -> None:
    """TD3: the target actor plans with the fitted physics too (its other weights keep trailing the actor's)."""
    acting, *targets = policy.first_controls()
    with torch.no_grad():
        for target in targets:
            for p, q in zip(acting.controller.dynamics.parameters(), target.controller.dynamics.parameters()):
                q.copy_(p)
