"""Registered ids of our environments (the ``dilqr_rl/`` namespace) and :func:`make_env`.

``import dilqr_rl.envs`` registers them. Gymnasium >= 1.0 loads no plugins (it reads no ``gymnasium.envs``
entry points), so ``gymnasium.make("dilqr_rl/Pendulum-v0")`` alone, in a process that has not imported
``dilqr_rl.envs``, raises ``NamespaceNotFound``; Gymnasium's way to make it without the import is to prefix
the id with the module that registers it: ``gymnasium.make("dilqr_rl.envs:dilqr_rl/Pendulum-v0")``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

PENDULUM_ID = "dilqr_rl/Pendulum-v0"
CARTPOLE_SWINGUP_ID = "dilqr_rl/CartpoleSwingUp-v0"
CARTPOLE_BALANCE_ID = "dilqr_rl/CartpoleBalance-v0"
PIXEL_PENDULUM_ID = "dilqr_rl/PixelPendulum-v0"

_SPECS: dict[str, tuple[str, int, dict[str, Any]]] = {
    PENDULUM_ID: ("dilqr_rl.envs.pendulum:PendulumEnv", 200, {}),
    CARTPOLE_SWINGUP_ID: ("dilqr_rl.envs.cartpole:CartpoleEnv", 500, {"task": "swingup"}),
    CARTPOLE_BALANCE_ID: ("dilqr_rl.envs.cartpole:CartpoleEnv", 500, {"task": "balance"}),
    PIXEL_PENDULUM_ID: ("dilqr_rl.envs.pixel_pendulum:PixelPendulumEnv", 200, {}),
}
ENV_IDS: tuple[str, ...] = tuple(_SPECS)
"""Every id this package registers."""


def register_envs() -> None:
    """Register :data:`ENV_IDS` with Gymnasium (idempotent).

    The time limit is the registered ``max_episode_steps`` (a ``TimeLimit`` wrapper, so
    ``gymnasium.make(id, max_episode_steps=N)`` changes it); the unwrapped env gets
    ``max_episode_steps=None`` so it does not count twice.
    """
    for env_id, (entry_point, max_steps, kwargs) in _SPECS.items():
        if env_id not in gym.registry:
            gym.register(
                env_id,
                entry_point=entry_point,
                max_episode_steps=max_steps,
                kwargs={**kwargs, "max_episode_steps": None},
            )


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make(env_id, **kwargs)`` for our ids and Gymnasium's (``"Pendulum-v1"``,
    ``"InvertedPendulum-v5"``); our ids are registered first. Unknown ids raise a ``ValueError``
    listing ours.

    With ``render_mode="rgb_array"``, Gymnasium's ``Pendulum-v1`` and ``CartPole`` draw their frames with
    numpy instead of pygame (:func:`dilqr_rl.envs.classic_render.with_numpy_render`)."""
    register_envs()
    if env_id not in gym.registry:
        raise ValueError(
            f"unknown environment id {env_id!r}; this package registers {list(ENV_IDS)}, and any id in "
            "gymnasium.registry (e.g. 'Pendulum-v1', 'InvertedPendulum-v5') works too"
        )
    env = gym.make(env_id, **kwargs)
    if kwargs.get("render_mode") != "rgb_array":
        return env
    from dilqr_rl.envs.classic_render import with_numpy_render

    return with_numpy_render(env)
