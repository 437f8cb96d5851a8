"""``expert_for(env)``: the receding-horizon iLQR expert for each supported environment.

Supported (recognised from ``env.unwrapped`` and, for the MuJoCo adapter, the wrapper chain):

- Gymnasium's ``Pendulum-v1``: the pendulum model with the constants read from the env (g, m, l, dt,
  max_speed, max_torque), planning on a periodic version of its reward.
- ``dilqr_rl/Pendulum-v0`` (either observation) and ``dilqr_rl/PixelPendulum-v0``: the env's own model
  (``env.unwrapped.dynamics``). The pixel expert is privileged: it reads the true state of the env it
  was built for (``env.unwrapped.state``), so it serves that one env only.
- ``dilqr_rl/CartpoleSwingUp-v0`` and ``dilqr_rl/CartpoleBalance-v0``: the env's own cart-pole model,
  planning on the swing-up reward with a periodic angle term.
- Gymnasium's ``InvertedPendulum-v5`` (raw MuJoCo observations and controls, or through
  ``dilqr_rl.envs.InvertedPendulumStateAdapter``: states and forces): the cart-pole model fitted to
  MuJoCo transitions (:data:`~dilqr_rl.policies.expert_fit.INVERTED_PENDULUM_FIT`), an approximation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import gymnasium as gym
import numpy as np
import torch

from dilqr_rl.envs.inverted_pendulum import STATE_ORDER, mujoco_obs_to_cartpole_state
from dilqr_rl.models.cartpole import CartpoleDynamics
from dilqr_rl.models.pendulum import PendulumDynamics
from dilqr_rl.policies.expert import ExpertSettings, ILQRExpert
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.expert_fit import INVERTED_PENDULUM_FIT, CartpoleFit
from dilqr_rl.policies.state_maps import CartpoleAngleMap, IdentityStateMap, PendulumAngleMap, ReorderStateMap

SUPPORTED = (
    "Pendulum-v1",
    "InvertedPendulum-v5 (raw, or through dilqr_rl.envs.InvertedPendulumStateAdapter)",
    "dilqr_rl/Pendulum-v0",
    "dilqr_rl/PixelPendulum-v0",
    "dilqr_rl/CartpoleSwingUp-v0",
    "dilqr_rl/CartpoleBalance-v0",
)

PENDULUM_WEIGHTS = (1.0, 0.1, 0.001)
"""(theta, theta_dot, torque): ``Pendulum-v1``'s reward weights (the angle term made periodic)."""
CARTPOLE_WEIGHTS = (0.1, 0.01, 1.0, 0.01, 0.001)
"""(x, x_dot, theta, theta_dot, force): the swing-up reward's weights (``dilqr_rl.envs.cartpole``)."""
INVERTED_PENDULUM_WEIGHTS = (1.0, 0.1, 10.0, 0.1, 1e-5)
"""(x, x_dot, theta, theta_dot, force in N): keep the pole upright and the cart near the rail's centre."""

DEFAULT_SETTINGS: dict[str, ExpertSettings] = {
    "gym_pendulum": ExpertSettings(horizon=60, max_iter=5, cold_iter=60, cold_switches=(3, 6, 10, 15, 20, 25)),
    "pendulum": ExpertSettings(horizon=40, max_iter=10, cold_iter=60),
    "cartpole_swingup": ExpertSettings(horizon=60, max_iter=5, cold_iter=60),
    "cartpole_balance": ExpertSettings(horizon=25, max_iter=3, cold_iter=30, cold_starts=(0.0,)),
    "inverted_pendulum": ExpertSettings(horizon=25, max_iter=3, cold_iter=30, cold_starts=(0.0,)),
}
"""Settings per expert family; ``expert_for(env, **overrides)`` replaces fields.

``gym_pendulum`` (Gymnasium's ``Pendulum-v1``) plans 3 s ahead from bang-bang cold starts: from the bottom the
best swing-up pumps once (push with the swing, against it, then up), which T = 40 does not see and constant
starts do not reach (mean return over seeds 0..99: -146.5 with the ``pendulum`` settings, -134.3 with these; a
grid dynamic-programming policy gets about -133; ``scripts/expert_returns.py``). Our own pendulums keep the
``pendulum`` settings, which the committed demo and studies were run with."""


def expert_for(env: gym.Env, **overrides) -> ILQRExpert:
    """The iLQR expert for ``env`` (see the module docstring); ``overrides`` replace ExpertSettings fields.

    Raises ``ValueError`` for an unsupported environment, listing the supported ones.
    """
    for matches, build in _BUILDERS:
        if matches(env):
            return build(env, overrides)
    raise ValueError(
        f"no iLQR expert for {_describe(env)}; supported environments: {', '.join(SUPPORTED)}"
    )


def _describe(env: gym.Env) -> str:
    spec = getattr(env, "spec", None)
    return f"{type(env.unwrapped).__name__}" + (f" (id {spec.id!r})" if spec is not None else "")


def _settings(family: str, overrides: dict) -> ExpertSettings:
    try:
        return replace(DEFAULT_SETTINGS[family], **overrides)
    except TypeError:
        valid = ", ".join(ExpertSettings.__dataclass_fields__)
        raise ValueError(f"unknown expert setting in {sorted(overrides)}; valid: {valid}") from None


def _pendulum_obs_to_state(obs: np.ndarray) -> np.ndarray:
    """(B, 3) = (cos theta, sin theta, theta_dot) -> (B, 2) = (theta, theta_dot)."""
    obs = np.asarray(obs, dtype=np.float64)
    return np.stack([np.arctan2(obs[:, 1], obs[:, 0]), obs[:, 2]], axis=1)


def _identity(obs: np.ndarray) -> np.ndarray:
    return np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)


def _cartpole_trig_to_state(obs: np.ndarray) -> np.ndarray:
    """(B, 5) = (x, x_dot, cos theta, sin theta, theta_dot) -> (B, 4)."""
    obs = np.asarray(obs, dtype=np.float64)
    return np.stack([obs[:, 0], obs[:, 1], np.arctan2(obs[:, 3], obs[:, 2]), obs[:, 4]], axis=1)


def _is_gym_pendulum(env: gym.Env) -> bool:
    from gymnasium.envs.classic_control.pendulum import PendulumEnv

    return isinstance(env.unwrapped, PendulumEnv)


def _gym_pendulum(env: gym.Env, overrides: dict) -> ILQRExpert:
    p = env.unwrapped
    model = PendulumDynamics(p.m, p.l, p.g, dt=p.dt, max_speed=p.max_speed, dtype=torch.float64)
    cost = PeriodicQuadraticCost(PENDULUM_WEIGHTS, angle_index=0)
    return ILQRExpert(model, cost, -p.max_torque, p.max_torque, _pendulum_obs_to_state, env.observation_space,
                      env.action_space, _settings("gym_pendulum", overrides), name="Pendulum-v1",
                      state_map=PendulumAngleMap())


def _own_model(env: gym.Env, cls: type) -> bool:
    return isinstance(getattr(env.unwrapped, "dynamics", None), cls)


def _own_pendulum(env: gym.Env, overrides: dict) -> ILQRExpert:
    p = env.unwrapped
    if p.observation_space.dtype == np.uint8:  # images: the pixel pendulum
        obs_to_state, state_map = _privileged_state(p), None
    elif getattr(p, "observation_mode", None) is not None and p.observation_mode.value == "state":
        obs_to_state, state_map = _identity, IdentityStateMap(2)
    else:
        obs_to_state, state_map = _pendulum_obs_to_state, PendulumAngleMap()
    cost = PeriodicQuadraticCost(PENDULUM_WEIGHTS, angle_index=0)
    return ILQRExpert(p.dynamics, cost, -p.action_bound, p.action_bound, obs_to_state, env.observation_space,
                      env.action_space, _settings("pendulum", overrides), name=type(p).__name__,
                      state_map=state_map)


def _privileged_state(unwrapped: gym.Env) -> Callable[[np.ndarray], np.ndarray]:
    """Reads the true state of ``unwrapped`` instead of decoding the images (one env only)."""

    def read(obs: np.ndarray) -> np.ndarray:
        if len(obs) != 1:
            raise ValueError(
                f"the pixel-pendulum expert reads the true state of the one env it was built for, but got "
                f"{len(obs)} observations; for vectorised envs call expert.predict_state with info['state']"
            )
        return unwrapped.state[None]

    return read


def _own_cartpole(env: gym.Env, overrides: dict) -> ILQRExpert:
    p = env.unwrapped
    trig = getattr(p, "observation_mode", None) is not None and p.observation_mode.value == "trig"
    cost = PeriodicQuadraticCost(CARTPOLE_WEIGHTS, angle_index=2)
    return ILQRExpert(p.dynamics, cost, -p.action_bound, p.action_bound,
                      _cartpole_trig_to_state if trig else _identity, env.observation_space, env.action_space,
                      _settings(f"cartpole_{p.task.value}", overrides), name=f"Cartpole ({p.task.value})",
                      state_map=CartpoleAngleMap() if trig else IdentityStateMap(4))


def _is_inverted_pendulum(env: gym.Env) -> bool:
    try:
        from gymnasium.envs.mujoco.inverted_pendulum_v5 import InvertedPendulumEnv
    except ImportError:  # mujoco missing: then this env cannot exist either
        return False
    return isinstance(env.unwrapped, InvertedPendulumEnv)


def _force_adapter_gear(env: gym.Env) -> float | None:
    """The gear of an ``InvertedPendulumStateAdapter`` in the wrapper chain (states and forces), else None."""
    while isinstance(env, gym.Wrapper):
        if hasattr(env, "gear") and hasattr(env, "force_limit"):
            return float(env.gear)
        env = env.env
    return None


def _inverted_pendulum(env: gym.Env, overrides: dict, fit: CartpoleFit = INVERTED_PENDULUM_FIT) -> ILQRExpert:
    limit = float(env.unwrapped.action_space.high[0]) * fit.gain  # model force bound (N)
    gear = _force_adapter_gear(env)
    if gear is None:  # raw MuJoCo: obs [x, theta, x_dot, theta_dot], action = force / gain
        obs_to_state, state_map = mujoco_obs_to_cartpole_state, ReorderStateMap(STATE_ORDER)
        action_scale = 1.0 / fit.gain
    else:  # adapter: states in model order, action = force in N, converted by the adapter with its gear
        obs_to_state, state_map = _identity, IdentityStateMap(4)
        action_scale = gear / fit.gain
    model = CartpoleDynamics(**fit.model_parameters(), dtype=torch.float64)
    cost = PeriodicQuadraticCost(INVERTED_PENDULUM_WEIGHTS, angle_index=2)
    return ILQRExpert(model, cost, -limit, limit, obs_to_state, env.observation_space, env.action_space,
                      _settings("inverted_pendulum", overrides), action_scale=action_scale,
                      name="InvertedPendulum-v5 (fitted cart-pole model)", state_map=state_map)


_BUILDERS: tuple[tuple[Callable[[gym.Env], bool], Callable[[gym.Env, dict], ILQRExpert]], ...] = (
    (_is_gym_pendulum, _gym_pendulum),
    (_is_inverted_pendulum, _inverted_pendulum),
    (lambda env: _own_model(env, PendulumDynamics), _own_pendulum),
    (lambda env: _own_model(env, CartpoleDynamics), _own_cartpole),
)
