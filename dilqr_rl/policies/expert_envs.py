"""``expert_for(env)``: the receding-horizon iLQR expert for each environment of the registry.

The model, cost, maps and solver settings of each env are its entry in
:mod:`dilqr_rl.policies.env_registry` (the one place that binds an env to them). Expert settings per env:

- The pendulums (``Pendulum-v1``, ``dilqr_rl/Pendulum-v0``, the pixel pendulum) plan 3 s ahead (T = 60) from
  bang-bang cold starts: from the bottom the best swing-up pumps once (push with the swing, against it, then
  up), which T = 40 does not see and constant starts do not reach (``scripts/expert_returns.py`` measures it on
  seeded episodes, tuned on seeds 0..99 of ``Pendulum-v1`` and checked on others).
- The cart-pole swing-up plans T = 60; the balancing tasks T = 25 from a zero start.
"""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym

from dilqr_rl.policies.env_registry import (
    CARTPOLE_WEIGHTS as CARTPOLE_WEIGHTS,
)
from dilqr_rl.policies.env_registry import (
    INVERTED_PENDULUM_WEIGHTS as INVERTED_PENDULUM_WEIGHTS,
)
from dilqr_rl.policies.env_registry import (
    PENDULUM_WEIGHTS as PENDULUM_WEIGHTS,
)
from dilqr_rl.policies.env_registry import (
    SUPPORTED as SUPPORTED,
)
from dilqr_rl.policies.env_registry import env_control
from dilqr_rl.policies.expert import ExpertSettings, ILQRExpert

__all__ = ["SUPPORTED", "ILQRExpert", "expert_for"]


def expert_for(env: gym.Env, **overrides) -> ILQRExpert:
    """The iLQR expert for ``env`` (see the module docstring); ``overrides`` replace ExpertSettings fields.

    Raises ``ValueError`` for an unsupported environment, listing the supported ones.
    """
    c = env_control(env)
    try:
        settings = replace(c.expert, **overrides)
    except TypeError:
        valid = ", ".join(ExpertSettings.__dataclass_fields__)
        raise ValueError(f"unknown expert setting in {sorted(overrides)}; valid: {valid}") from None
    return ILQRExpert(c.dynamics, c.cost, c.u_lower, c.u_upper, c.obs_to_state, env.observation_space,
                      env.action_space, settings, action_scale=c.action_scale, name=c.name, state_map=c.state_map)
