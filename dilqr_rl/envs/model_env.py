"""The shared core of our environments: one step is one call of a shipped dynamics model in float64.

Stepping with the model itself (not a numpy copy of its equations) makes the environment and the model
agree to the last bit, so an expert that plans with :attr:`ModelEnv.dynamics` plans with the true
physics.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from numpy.typing import ArrayLike

from dilqr_rl.envs.validation import require_steps, validate_action, validate_state
from dilqr_rl.models.base import DynamicsModel


class ModelEnv(gym.Env[np.ndarray, np.ndarray]):
    """A Gymnasium environment simulating ``x_{t+1} = f(x_t, u_t)`` with a :class:`DynamicsModel`.

    The control is one number clipped to ``[-action_bound, action_bound]`` before the step. The
    environment truncates after ``max_episode_steps`` steps (``None``: never; registered ids pass
    ``None`` and let ``gymnasium.make``'s ``TimeLimit`` wrapper count instead). ``info["state"]`` holds
    the true state after every reset and step.

    ``reset(options={"state": x})`` starts from the given state instead of a random one.

    Subclasses set ``observation_space`` and implement ``_initial_state``, ``_observation``, ``_reward``,
    ``_terminated`` and ``_draw``; ``_on_new_state`` is a hook for observations with memory.

    Shapes:
        state (n,) float64, action (1,), info["state"] (n,) float64, render (H, W, 3) uint8.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        dynamics_cls: type[DynamicsModel],
        physics: dict[str, float],
        action_bound: float,
        render_mode: str | None,
        max_episode_steps: int | None,
    ) -> None:
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; valid: {self.metadata['render_modes']} or None "
                "(for a window, wrap the env in gymnasium.wrappers.HumanRendering)"
            )
        self.render_mode = render_mode
        self.max_episode_steps = require_steps("max_episode_steps", max_episode_steps)
        self.action_bound = float(action_bound)
        self.action_space = spaces.Box(-self.action_bound, self.action_bound, (1,), np.float32)
        self._dynamics_cls = dynamics_cls
        self._physics = dict(physics)
        self._model = self._build_dynamics().requires_grad_(False)
        self._state: np.ndarray | None = None
        self._elapsed = 0

    def _build_dynamics(self) -> DynamicsModel:
        return self._dynamics_cls(**self._physics, dtype=torch.float64)

    @property
    def dynamics(self) -> DynamicsModel:
        """A new float64 model with this environment's physics, owned by the caller (safe to train)."""
        return self._build_dynamics()

    @property
    def physics(self) -> dict[str, float]:
        """The dynamics model's constructor keywords: ``type(env.dynamics)(**env.physics)``."""
        return dict(self._physics)

    @property
    def state(self) -> np.ndarray:
        """A copy of the true state (n,) float64."""
        return self._require_state().copy()

    def _require_state(self) -> np.ndarray:
        if self._state is None:
            raise RuntimeError("the environment has no state yet: call env.reset() before step() or state")
        return self._state

    def _simulate(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One model step from ``state`` (n,) under ``u`` (1,), both float64."""
        with torch.inference_mode():
            x = torch.from_numpy(state).unsqueeze(0)  # (1, n)
            return self._model(x, torch.from_numpy(u).unsqueeze(0))[0].numpy().copy()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if options is not None and "state" in options:
            self._state = validate_state('options["state"]', options["state"], self._model.state_dim)
        else:
            self._state = self._initial_state()
        self._elapsed = 0
        self._on_new_state(reset=True)
        return self._observation(), self._info()

    def step(self, action: ArrayLike) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        state = self._require_state()
        u = validate_action(action, self.action_bound)
        next_state = self._simulate(state, u)
        terminated = self._terminated(next_state)
        reward = self._reward(state, u, terminated)
        self._state = next_state
        self._elapsed += 1
        truncated = self.max_episode_steps is not None and self._elapsed >= self.max_episode_steps
        self._on_new_state(reset=False)
        return self._observation(), reward, terminated, truncated, self._info()

    def render(self) -> np.ndarray | None:
        """The current frame (H, W, 3) uint8 when ``render_mode="rgb_array"``, else ``None``."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render mode; create the environment with "
                'render_mode="rgb_array" to get frames'
            )
            return None
        return self._draw(self._require_state())

    def _info(self) -> dict[str, Any]:
        return {"state": self.state}

    def _on_new_state(self, reset: bool) -> None:
        """Called after each reset and step, once ``self._state`` holds the new state."""

    def _initial_state(self) -> np.ndarray:
        raise NotImplementedError

    def _observation(self) -> np.ndarray:
        raise NotImplementedError

    def _reward(self, state: np.ndarray, u: np.ndarray, terminated: bool) -> float:
        """Reward of applying the clipped control ``u`` in ``state`` (the state before the step)."""
        raise NotImplementedError

    def _terminated(self, state: np.ndarray) -> bool:
        raise NotImplementedError

    def _draw(self, state: np.ndarray) -> np.ndarray:
        raise NotImplementedError
