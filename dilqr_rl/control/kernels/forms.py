"""Which modules have a C form (``dynamics.c``, ``costs.c``) for the compiled solve and the implicit gradient, their
parameters in its layout, and how a gradient in those parameters maps back to the module's leaf tensors.

A form is registered for an exact class: a subclass may change ``forward``, so it runs on the PyTorch path,
as does an instance that sets its own ``forward`` or closed forms (e.g. ``jacobians = None`` to ask for autograd)
or has forward hooks. The library's models are registered here; a module of a higher layer registers its cost
where it is defined (:func:`register_cost`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from dilqr_rl.models.cartpole import CartpoleDynamics
from dilqr_rl.models.costs import GoalCost, PendulumSwingUpCost
from dilqr_rl.models.pendulum import PendulumDynamics

DYNAMICS_KINDS = {"pendulum": 0, "cartpole": 1}
"""The dynamics forms of dynamics.c (``dynamics_form_of``)."""
COST_KINDS = {"periodic_quadratic": 0, "goal": 1, "pendulum_swing_up": 2}
"""The cost forms of costs.c (``cost_form_of``)."""
_COST_SIZES = {0: lambda n: 1 + 2 * (n + 1), 1: lambda n: 2 * (n + 1), 2: lambda n: 3 if n == 2 else -1}
"""Cost kind -> the number of parameters its C form reads for n states and one control (-1: no such form)."""


def cost_fits(kind: int, count: int, n: int) -> bool:
    """Whether ``count`` parameters are what the cost form ``kind`` reads for n states and one control (a module
    whose vectors broadcast, e.g. one weight for every coordinate, has no C form: its PyTorch path runs)."""
    return _COST_SIZES[kind](n) == count

Parameters = Callable[[nn.Module], "list[float] | None"]
"""A module -> its C form's parameter vector, or None where this instance has no form."""
Leaves = Callable[[nn.Module, Tensor], "list[tuple[Tensor, Tensor]]"]
"""A module and the gradient (P,) of a function in its form's parameter vector -> the gradient in each of the
module's leaf tensors the vector is computed from: [(leaf, gradient shaped like the leaf)]."""
Rows = Callable[[nn.Module, Tensor, "dict[str, Tensor]"], "Tensor | None"]
"""A cost module, step indices t (R,) and per-row problem data {keyword: (R, ...)} (a solve's ``cost_args``) -> its
C form's parameters row by row (R, P), computed with torch ops (differentiable in the data and the module's
tensors), or None where the form cannot take that data."""


class Form(NamedTuple):
    """A module's C form: the kind (an id of the C sources), its parameters and the map of their gradient to the
    module's leaf tensors."""

    kind: int
    parameters: list[float] | Tensor
    leaves: Leaves
    psi: bool = True
    """Whether the form has the gradient of Psi in its parameters (a generated form of a module with many
    parameters leaves it to the PyTorch path)."""
    generated: bool = False
    """Whether the form was generated from the module's trace (:mod:`.codegen`) rather than written for its class."""


_OVERRIDABLE = frozenset({"forward", "jacobians", "lagrangian_hessian", "derivatives"})
"""Methods an instance may shadow (then it has no form: its own methods run)."""
_DYNAMICS: dict[type, tuple[int, Parameters, Leaves]] = {}
_COSTS: dict[type, tuple[int, Parameters, Leaves]] = {}
_COST_ROWS: dict[type, Rows] = {}


def no_leaves(module: nn.Module, gradient: Tensor) -> list[tuple[Tensor, Tensor]]:
    """For a form whose parameters are constants of the module (buffers)."""
    return []


def register_dynamics(cls: type, kind: str, parameters: Parameters, leaves: Leaves = no_leaves) -> None:
    """Solve with the C form ``kind`` (a key of :data:`DYNAMICS_KINDS`) for modules of exactly ``cls``."""
    _DYNAMICS[cls] = (DYNAMICS_KINDS[kind], parameters, leaves)


def register_cost(cls: type, kind: str, parameters: Parameters, leaves: Leaves = no_leaves,
                  rows: Rows | None = None) -> None:
    """Solve with the C form ``kind`` (a key of :data:`COST_KINDS`) for modules of exactly ``cls``; with ``rows``
    also solves that take per-item or per-step data (``cost_args``) or whose cost varies with the step."""
    _COSTS[cls] = (COST_KINDS[kind], parameters, leaves)
    if rows is None:
        _COST_ROWS.pop(cls, None)
    else:
        _COST_ROWS[cls] = rows


def _registered(registry: dict[type, object], module: nn.Module) -> bool:
    """Whether ``module`` runs as its class's registered form: an instance that shadows a method or has hooks
    runs its own code."""
    return (type(module) in registry and _OVERRIDABLE.isdisjoint(vars(module)) and not module._forward_hooks
            and not module._forward_pre_hooks)


def _form(registry: dict[type, tuple[int, Parameters, Leaves]], module: nn.Module) -> Form | None:
    if not _registered(registry, module):
        return None
    entry = registry[type(module)]
    parameters = entry[1](module)
    return None if parameters is None else Form(entry[0], parameters, entry[2])


def dynamics_form(module: nn.Module) -> Form | None:
    """The C form of a dynamics module, or None."""
    return _form(_DYNAMICS, module)


def cost_form(module: nn.Module) -> Form | None:
    """The C form of a cost module, or None."""
    return _form(_COSTS, module)


def cost_rows(module: nn.Module, t: Tensor, args: dict[str, Tensor]) -> tuple[int, Tensor] | None:
    """(kind, parameters (R, P)) of a cost module's C form row by row, for rows at steps t (R,) with per-row data
    ``args`` {keyword: (R, ...)}, or None where the module has no such form (see :data:`Rows`)."""
    if not _registered(_COST_ROWS, module):
        return None
    table = _COST_ROWS[type(module)](module, t, args)
    return None if table is None else (_COSTS[type(module)][0], table)


def per_row(args: dict[str, Tensor], defaults: dict[str, Tensor], rows: int) -> list[Tensor] | None:
    """The values of ``defaults``' keywords per row (R, ...): each from ``args`` where given, else the default
    broadcast; None where ``args`` has a keyword the form does not know."""
    if not set(args) <= set(defaults):
        return None
    if any(args[k].shape != (rows, *defaults[k].shape[-1:]) for k in args):
        return None  # the module broadcasts other shapes (or reports them): its PyTorch path runs
    return [(args[k] if k in args else v).expand(rows, *v.shape[-1:]) for k, v in defaults.items()]


def _pendulum(m: PendulumDynamics) -> list[float]:
    speed = math.inf if m.max_speed is None else m.max_speed
    return [m.mass.item(), m.length.item(), m.gravity.item(), m.dt, speed]


def _goal(m: GoalCost) -> list[float] | None:
    if m.time_varying:
        return None
    return m.weights.detach().tolist() + m.goal.detach().tolist()


def _goal_leaves(m: GoalCost, gradient: Tensor) -> list[tuple[Tensor, Tensor]]:
    """(w, goal) -> (log_weights, goal): dw / dlog_w = w."""
    N = m.log_weights.numel()
    return [(m.log_weights, gradient[:N] * m.weights.detach()), (m.goal, gradient[N:].reshape(m.goal.shape))]


def _goal_rows(m: GoalCost, t: Tensor, args: dict[str, Tensor]) -> Tensor | None:
    """(w, goal) per row: the module's goal at each row's step where it is time-varying."""
    values = per_row(args, {"weights": m.weights, "goal": m.goal[t] if m.time_varying else m.goal}, t.numel())
    return None if values is None else torch.cat(values, -1)


def _scalars(*names: str) -> Leaves:
    """The first len(names) entries of the vector are the module's scalar parameters ``names``."""
    return lambda m, gradient: list(zip((getattr(m, name) for name in names), gradient[:len(names)].unbind()))


register_dynamics(PendulumDynamics, "pendulum", _pendulum, _scalars("mass", "length", "gravity"))
register_dynamics(CartpoleDynamics, "cartpole", lambda m: [m.cart_mass.item(), m.pole_mass.item(), m.length.item(),
                                                           m.gravity.item(), m.dt],
                  _scalars("cart_mass", "pole_mass", "length", "gravity"))
register_cost(GoalCost, "goal", _goal, _goal_leaves, _goal_rows)
register_cost(PendulumSwingUpCost, "pendulum_swing_up", lambda m: m.w.tolist())
