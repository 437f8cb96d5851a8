"""Which modules have a C form (``models.c``) for the compiled solve, and their parameters in its layout.

A form is registered for an exact class: a subclass may change ``forward``, so it runs on the PyTorch path,
as does an instance that sets its own ``forward`` or closed forms (e.g. ``jacobians = None`` to ask for autograd)
or has forward hooks. The library's models are registered here; a module of a higher layer registers its cost
where it is defined (:func:`register_cost`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from torch import nn

from dilqr_rl.models.cartpole import CartpoleDynamics
from dilqr_rl.models.costs import GoalCost, PendulumSwingUpCost
from dilqr_rl.models.pendulum import PendulumDynamics

DYNAMICS_KINDS = {"pendulum": 0, "cartpole": 1}
"""The dynamics forms of models.c (``dynamics_form_of``)."""
COST_KINDS = {"periodic_quadratic": 0, "goal": 1, "pendulum_swing_up": 2}
"""The cost forms of models.c (``cost_form_of``)."""

Parameters = Callable[[nn.Module], "list[float] | None"]
"""A module -> its C form's parameter vector, or None where this instance has no form."""


class Form(NamedTuple):
    """A module's C form: the kind (an id of models.c) and its parameters."""

    kind: int
    parameters: list[float]


_OVERRIDABLE = frozenset({"forward", "jacobians", "lagrangian_hessian", "derivatives"})
"""Methods an instance may shadow (then it has no form: its own methods run)."""
_DYNAMICS: dict[type, tuple[int, Parameters]] = {}
_COSTS: dict[type, tuple[int, Parameters]] = {}


def register_dynamics(cls: type, kind: str, parameters: Parameters) -> None:
    """Solve with the C form ``kind`` (a key of :data:`DYNAMICS_KINDS`) for modules of exactly ``cls``."""
    _DYNAMICS[cls] = (DYNAMICS_KINDS[kind], parameters)


def register_cost(cls: type, kind: str, parameters: Parameters) -> None:
    """Solve with the C form ``kind`` (a key of :data:`COST_KINDS`) for modules of exactly ``cls``."""
    _COSTS[cls] = (COST_KINDS[kind], parameters)


def _form(registry: dict[type, tuple[int, Parameters]], module: nn.Module) -> Form | None:
    entry = registry.get(type(module))
    if entry is None or not _OVERRIDABLE.isdisjoint(vars(module)) or module._forward_hooks or module._forward_pre_hooks:
        return None
    parameters = entry[1](module)
    return None if parameters is None else Form(entry[0], parameters)


def dynamics_form(module: nn.Module) -> Form | None:
    """The C form of a dynamics module, or None."""
    return _form(_DYNAMICS, module)


def cost_form(module: nn.Module) -> Form | None:
    """The C form of a cost module, or None."""
    return _form(_COSTS, module)


def _pendulum(m: PendulumDynamics) -> list[float]:
    speed = math.inf if m.max_speed is None else m.max_speed
    return [m.mass.item(), m.length.item(), m.gravity.item(), m.dt, speed]


def _goal(m: GoalCost) -> list[float] | None:
    if m.time_varying:
        return None
    return m.weights.detach().tolist() + m.goal.detach().tolist()


register_dynamics(PendulumDynamics, "pendulum", _pendulum)
register_dynamics(CartpoleDynamics, "cartpole", lambda m: [m.cart_mass.item(), m.pole_mass.item(), m.length.item(),
                                                           m.gravity.item(), m.dt])
register_cost(GoalCost, "goal", _goal)
register_cost(PendulumSwingUpCost, "pendulum_swing_up", lambda m: m.w.tolist())
