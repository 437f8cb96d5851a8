"""Gymnasium's MuJoCo ``InvertedPendulum-v5`` seen in the state order and units of :class:`CartpoleDynamics`.

``InvertedPendulum-v5`` is the non-realizable test bed: its physics (MuJoCo, RK4 with 0.02 s sub-steps,
two per 0.04 s environment step, joint damping 1, joint limits |x| <= 1 m and |theta| <= 90 degrees,
a capsule pole of about 5 kg on a 10.5 kg cart) is NOT the cart-pole model, so an expert
planning with the model plans with an approximation (fit its parameters to transitions).

Conventions (checked against MuJoCo in ``tests/envs/test_inverted_pendulum.py``):

- observation: MuJoCo gives [x, theta, x_dot, theta_dot] (qpos then qvel); the model wants
  [x, x_dot, theta, theta_dot]: the same numbers reordered, no sign or unit change. In both, theta = 0
  is upright and positive theta tips the pole towards +x (the hinge axis is +y), x is in metres.
- action: MuJoCo's control a in [-3, 3] drives a motor of gear 100 on the cart's slider, so the force
  is ``F = gear * a`` newtons (up to 300 N) and ``a = F / gear``; positive force pushes towards +x, as in
  the model.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike

from dilqr_rl.envs.validation import validate_action

INVERTED_PENDULUM_ID = "InvertedPendulum-v5"
STATE_ORDER = (0, 2, 1, 3)
"""``state = obs[..., STATE_ORDER]`` and, the order being its own inverse, ``obs = state[..., STATE_ORDER]``."""


def mujoco_obs_to_cartpole_state(obs: ArrayLike) -> np.ndarray:
    """MuJoCo observations (..., 4) [x, theta, x_dot, theta_dot] -> model states (..., 4) float64."""
    array = np.asarray(obs, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != 4:
        raise ValueError(
            f"obs must end in 4 entries [x, theta, x_dot, theta_dot] (InvertedPendulum-v5), got shape "
            f"{array.shape}"
        )
    return array[..., STATE_ORDER]


def cartpole_state_to_mujoco_obs(state: ArrayLike) -> np.ndarray:
    """Model states (..., 4) [x, x_dot, theta, theta_dot] -> MuJoCo observations (..., 4) float64."""
    array = np.asarray(state, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != 4:
        raise ValueError(
            f"state must end in 4 entries [x, x_dot, theta, theta_dot] (cart-pole model), got shape "
            f"{array.shape}"
        )
    return array[..., STATE_ORDER]


def mujoco_action_to_force(action: ArrayLike, gear: float = 100.0) -> np.ndarray:
    """MuJoCo controls (..., 1) -> cart forces (..., 1) in newtons: ``gear * action``."""
    return gear * np.asarray(action, dtype=np.float64)


def force_to_mujoco_action(force: ArrayLike, gear: float = 100.0) -> np.ndarray:
    """Cart forces (..., 1) in newtons -> MuJoCo controls (..., 1): ``force / gear``."""
    return np.asarray(force, dtype=np.float64) / gear


class InvertedPendulumStateAdapter(gym.Wrapper[np.ndarray, np.ndarray, np.ndarray, np.ndarray]):
    """``InvertedPendulum-v5`` with cart-pole model states as observations and forces as actions.

    Observations are float64 states [x, x_dot, theta, theta_dot] (4,) (also in ``info["state"]``);
    actions are forces (1,) in newtons within [-gear * 3, gear * 3], converted with
    :func:`force_to_mujoco_action`. Rewards, terminations and truncations are the wrapped env's.
    ``physics`` gives the time step and the actuator: {"dt", "gear", "force_limit"}.

    Shapes:
        observation (4,) float64, action (1,) newtons.
    """

    def __init__(self, env: gym.Env) -> None:
        from gymnasium.envs.mujoco.inverted_pendulum_v5 import InvertedPendulumEnv

        if not isinstance(env.unwrapped, InvertedPendulumEnv):
            raise ValueError(
                f"InvertedPendulumStateAdapter wraps Gymnasium's {INVERTED_PENDULUM_ID}, got "
                f"{type(env.unwrapped).__name__}; pass gymnasium.make({INVERTED_PENDULUM_ID!r})"
            )
        super().__init__(env)
        mujoco_env = env.unwrapped
        self.gear = float(mujoco_env.model.actuator_gear[0, 0])
        self.dt = float(mujoco_env.dt)
        self.force_limit = self.gear * float(env.action_space.high[0])
        self.action_space = spaces.Box(-self.force_limit, self.force_limit, (1,), np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, (4,), np.float64)

    @property
    def physics(self) -> dict[str, float]:
        """The time step of one env step (s), the motor's gear and the force bound (N)."""
        return {"dt": self.dt, "gear": self.gear, "force_limit": self.force_limit}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self._adapt(obs, info)

    def step(self, action: ArrayLike) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        force = validate_action(action, self.force_limit)
        obs, reward, terminated, truncated, info = self.env.step(force_to_mujoco_action(force, self.gear))
        state, info = self._adapt(obs, info)
        return state, float(reward), terminated, truncated, info

    @staticmethod
    def _adapt(obs: np.ndarray, info: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        state = mujoco_obs_to_cartpole_state(obs)
        return state, {**info, "state": state.copy()}
