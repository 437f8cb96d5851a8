"""Gymnasium environments that simulate the shipped dynamics models, registered on import.

Ids: ``dilqr_rl/Pendulum-v0``, ``dilqr_rl/CartpoleSwingUp-v0``, ``dilqr_rl/CartpoleBalance-v0``,
``dilqr_rl/PixelPendulum-v0``; Gymnasium's MuJoCo ``InvertedPendulum-v5`` is used through
:class:`InvertedPendulumStateAdapter`. Importing this package sets ``MUJOCO_GL=egl`` when no renderer
is set and no display exists, so ``render_mode="rgb_array"`` works headless.

Our environments depend on :mod:`dilqr_rl.models` only.
"""

from dilqr_rl.envs.headless import use_egl_when_headless

use_egl_when_headless()

from dilqr_rl.envs.cartpole import CartpoleEnv, CartpoleObservation, CartpoleTask, swingup_cost  # noqa: E402
from dilqr_rl.envs.inverted_pendulum import (  # noqa: E402
    INVERTED_PENDULUM_ID,
    InvertedPendulumStateAdapter,
    cartpole_state_to_mujoco_obs,
    force_to_mujoco_action,
    mujoco_action_to_force,
    mujoco_obs_to_cartpole_state,
)
from dilqr_rl.envs.model_env import ModelEnv  # noqa: E402
from dilqr_rl.envs.pendulum import PendulumEnv, PendulumObservation, angle_normalize, pendulum_reward  # noqa: E402
from dilqr_rl.envs.pixel_pendulum import PixelPendulumEnv  # noqa: E402
from dilqr_rl.envs.registration import (  # noqa: E402
    CARTPOLE_BALANCE_ID,
    CARTPOLE_SWINGUP_ID,
    ENV_IDS,
    PENDULUM_ID,
    PIXEL_PENDULUM_ID,
    make_env,
    register_envs,
)

register_envs()

__all__ = [
    "CARTPOLE_BALANCE_ID",
    "CARTPOLE_SWINGUP_ID",
    "ENV_IDS",
    "INVERTED_PENDULUM_ID",
    "PENDULUM_ID",
    "PIXEL_PENDULUM_ID",
    "CartpoleEnv",
    "CartpoleObservation",
    "CartpoleTask",
    "InvertedPendulumStateAdapter",
    "ModelEnv",
    "PendulumEnv",
    "PendulumObservation",
    "PixelPendulumEnv",
    "angle_normalize",
    "cartpole_state_to_mujoco_obs",
    "force_to_mujoco_action",
    "make_env",
    "mujoco_action_to_force",
    "mujoco_obs_to_cartpole_state",
    "pendulum_reward",
    "register_envs",
    "swingup_cost",
]
