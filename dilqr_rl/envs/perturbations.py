"""Environments with changed physics and from starts outside their training distribution: the robustness test of
Actor-Critic MPC (every mass and length x0.7 and x1.3, wider starts), one :class:`Perturbations` per env id.

The env registry (``dilqr_rl.policies.env_registry``) binds each supported id to its perturbations
(``EnvEntry.perturbations``); :func:`make_perturbed` makes one. Shapes and units are the env's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class Perturbations:
    """How one env id is made with every mass and length x a scale, and started outside its training starts."""

    wide_starts: str
    """What the wide starts are, against the training starts (for reports)."""
    kwargs: Callable[[float, bool], Mapping[str, Any]] = field(default=lambda scale, wide: {})
    """(scale, wide) -> keyword arguments of ``gymnasium.make`` (physics the constructor takes)."""
    scale_in_place: Callable[[gym.Env, float], None] | None = None
    """Scales the masses and lengths of a made env (physics the constructor does not take)."""
    wide_reset: Callable[[gym.Env, int | None], tuple] | None = None
    """Resets a made env to a wide start (None: the wide kwargs already widen its own resets)."""


class WideStart(gym.Wrapper):
    """Resets ``env`` to a start outside its training starts, drawn from the env's own seeded generator."""

    def __init__(self, env: gym.Env, reset: Callable[[gym.Env, int | None], tuple]) -> None:
        super().__init__(env)
        self._reset = reset

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        return self._reset(self.env, seed)


def make_perturbed(env_id: str, perturbations: Perturbations, scale: float = 1.0, wide: bool = False) -> gym.Env:
    """``env_id`` with every mass and length x ``scale``, starting from its wide starts when ``wide``."""
    from dilqr_rl.envs.registration import make_env

    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale={scale}: must be a positive number (1: the env's own physics)")
    env = make_env(env_id, **dict(perturbations.kwargs(scale, wide)))
    if perturbations.scale_in_place is not None and scale != 1.0:
        perturbations.scale_in_place(env, scale)
    if wide and perturbations.wide_reset is not None:
        return WideStart(env, perturbations.wide_reset)
    return env


def _scale_gym_pendulum(env: gym.Env, scale: float) -> None:
    env.unwrapped.m *= scale
    env.unwrapped.l *= scale


def _wide_gym_pendulum(env: gym.Env, seed: int | None) -> tuple:
    return env.reset(seed=seed, options={"x_init": np.pi, "y_init": 5.0})


PENDULUM_WIDE_STARTS = "theta ~ U(-pi, pi), theta_dot ~ U(-5, 5) (training: U(-1, 1))"
"""The wide starts of both pendulums (their own: theta_dot ~ U(-1, 1))."""

GYM_PENDULUM = Perturbations(
    wide_starts=PENDULUM_WIDE_STARTS,
    scale_in_place=_scale_gym_pendulum, wide_reset=_wide_gym_pendulum)
"""Gymnasium's ``Pendulum-v1``: ``m`` and ``l`` on ``env.unwrapped``; wide starts through its reset options."""


def _own_pendulum_kwargs(scale: float, wide: bool) -> dict[str, float]:
    return {"mass": 1.0 * scale, "length": 1.0 * scale}


def _wide_model_env(low: np.ndarray, high: np.ndarray) -> Callable[[gym.Env, int | None], tuple]:
    """A reset to a state ~ U(low, high), for the envs that take ``options={"state": x}``."""

    def reset(env: gym.Env, seed: int | None) -> tuple:
        env.reset(seed=seed)
        state = env.unwrapped.np_random.uniform(low, high)
        return env.reset(options={"state": state})

    return reset


OWN_PENDULUM = Perturbations(
    wide_starts=PENDULUM_WIDE_STARTS,
    kwargs=_own_pendulum_kwargs,
    wide_reset=_wide_model_env(np.array([-np.pi, -5.0]), np.array([np.pi, 5.0])))
"""``dilqr_rl/Pendulum-v0``: mass and length as constructor arguments."""


def _cartpole_kwargs(scale: float, wide: bool) -> dict[str, float]:
    return {"cart_mass": 1.0 * scale, "pole_mass": 0.1 * scale, "length": 0.5 * scale}


CARTPOLE_SWING_UP = Perturbations(
    wide_starts="x ~ U(-1, 1), theta ~ U(-pi, pi), velocities ~ U(-1, 1) (training: hanging +- 0.05)",
    kwargs=_cartpole_kwargs,
    wide_reset=_wide_model_env(np.array([-1.0, -1.0, -np.pi, -1.0]), np.array([1.0, 1.0, np.pi, 1.0])))
"""``dilqr_rl/CartpoleSwingUp-v0``: the cart's and pole's masses and the pole's length as constructor arguments."""

CARTPOLE_BALANCE = Perturbations(
    wide_starts="x ~ U(-0.5, 0.5), theta ~ U(-0.15, 0.15), velocities ~ U(-0.2, 0.2) (training: upright +- 0.05)",
    kwargs=_cartpole_kwargs,
    wide_reset=_wide_model_env(np.array([-0.5, -0.2, -0.15, -0.2]), np.array([0.5, 0.2, 0.15, 0.2])))
"""``dilqr_rl/CartpoleBalance-v0``: as the swing-up, starting further from upright (inside its 12 degree, 0.21 rad,
termination angle)."""


def _scale_mujoco_pole(env: gym.Env, scale: float) -> None:
    """The cart's and pole's masses and the pole's length x ``scale`` (the pole's inertia follows: x scale for the
    mass, x scale^2 for the length; the cart's x scale)."""
    model = env.unwrapped.model
    cart, pole, geom = model.body("cart").id, model.body("pole").id, model.geom("cpole").id
    model.body_mass[[cart, pole]] *= scale
    model.body_inertia[cart] *= scale
    model.body_inertia[pole] *= scale**3
    model.geom_size[geom, 1] *= scale
    model.geom_pos[geom] *= scale
    model.body_ipos[pole] *= scale


def _inverted_pendulum_kwargs(scale: float, wide: bool) -> dict[str, float]:
    return {"reset_noise_scale": 0.1} if wide else {}


INVERTED_PENDULUM = Perturbations(
    wide_starts="qpos, qvel ~ U(-0.1, 0.1) (training: U(-0.01, 0.01))",
    kwargs=_inverted_pendulum_kwargs, scale_in_place=_scale_mujoco_pole)
"""Gymnasium's ``InvertedPendulum-v5``: its MuJoCo model's bodies and pole geom; wide starts through its
``reset_noise_scale``."""
