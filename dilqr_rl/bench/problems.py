"""The benchmark problems: swing-up starts, a quadratic goal cost, bounded controls.

``pendulum`` is the problem of DiLQR Fig. 2 (|u| <= 2). Two model kinds solve it: ``closed-form`` (the
shipped ``PendulumDynamics`` and ``GoalCost``, which give the solver closed-form derivatives) and
``autograd`` (the same physics and cost written as plain ``nn.Module``s, :mod:`dilqr_rl.bench.user_models`,
differentiated by autograd). ``cartpole`` (|u| <= 10) comes in the ``autograd`` kind only: the user-written
cart-pole of :class:`~dilqr_rl.bench.user_models.UserCartpole`.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from dilqr_rl import DiLQR
from dilqr_rl.bench.user_models import UserCartpole, UserPendulum, WeightedQuadCost
from dilqr_rl.models import GoalCost, PendulumDynamics

ModelKind = Literal["closed-form", "autograd"]
MODEL_KINDS: tuple[ModelKind, ...] = ("closed-form", "autograd")


@dataclass(frozen=True)
class System:
    """A benchmark system: cost weights w on tau = [x; u] (goal 0), control bound, the model kinds it has."""

    weights: tuple[float, ...]
    u_max: float
    kinds: tuple[ModelKind, ...]


SYSTEMS = {
    "pendulum": System((1.0, 0.3, 0.1), 2.0, MODEL_KINDS),
    "cartpole": System((0.1, 0.1, 1.0, 0.1, 0.01), 10.0, ("autograd",)),
}
WEIGHTS, U_MAX = SYSTEMS["pendulum"].weights, SYSTEMS["pendulum"].u_max


def make_models(model: ModelKind = "closed-form", dtype=torch.float64, device="cpu",
                system: str = "pendulum") -> tuple[nn.Module, nn.Module]:
    """(dynamics, cost) of the given kind; the cost is ||w o tau||^2 in every kind."""
    spec = SYSTEMS[system]
    if model not in spec.kinds:
        raise ValueError(f"model must be one of {', '.join(map(repr, spec.kinds))} for {system}; got {model!r}")
    weights = torch.tensor(spec.weights, dtype=dtype)
    goal = torch.zeros_like(weights)
    if model == "closed-form":
        dyn, cost = PendulumDynamics(max_speed=None, dtype=dtype), GoalCost(weights, goal)
    else:
        dyn = UserPendulum(dtype) if system == "pendulum" else UserCartpole(dtype)
        cost = WeightedQuadCost(weights**2, goal)
    return dyn.to(device), cost.to(device)


def make_layer(method: str, horizon: int, iters: int, dtype=torch.float64, device="cpu", tol=0.0,
               model: ModelKind = "closed-form", system: str = "pendulum", u_max: float | None = None) -> DiLQR:
    """DiLQR on the system, |u| <= ``u_max`` (default: the system's bound); ``tol=0`` runs exactly ``iters``
    iterations."""
    dyn, cost = make_models(model, dtype, device, system)
    u_max = SYSTEMS[system].u_max if u_max is None else u_max
    return DiLQR(dyn, cost, horizon, -u_max, u_max, grad_method=method, max_iter=iters, tol=tol,
                 on_unconverged="warn", control_dim=1)


def swing_up_starts(batch: int, seed: int = 0, dtype=torch.float64, device="cpu",
                    system: str = "pendulum") -> torch.Tensor:
    """x_init: pendulum (B, 2) theta ~ U(-pi, pi), theta_dot ~ U(-1, 1); cart-pole (B, 4) the same angle
    and rate, position and velocity ~ U(-0.5, 0.5)."""
    gen = torch.Generator().manual_seed(seed)
    theta = (2 * torch.rand(batch, generator=gen, dtype=dtype) - 1) * math.pi
    speed = 2 * torch.rand(batch, generator=gen, dtype=dtype) - 1
    if system == "pendulum":
        return torch.stack([theta, speed], -1).to(device)
    cart = torch.rand(batch, 2, generator=gen, dtype=dtype) - 0.5
    return torch.stack([cart[:, 0], cart[:, 1], theta, speed], -1).to(device)


def imitation_target(shape: torch.Size | tuple[int, ...], dtype=torch.float64, seed: int = 1) -> torch.Tensor:
    """The fixed random control target of :func:`imitation_loss` (on the CPU), shape of u (B, T, m)."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@functools.lru_cache(maxsize=64)
def _target_on(shape: torch.Size, dtype: torch.dtype, device: torch.device, seed: int) -> torch.Tensor:
    return imitation_target(shape, dtype, seed).to(device)


def imitation_loss(sol, seed: int = 1) -> torch.Tensor:
    """A fixed random quadratic loss on the plan (the kind of loss imitation learning backpropagates):
    sum ||u - target||^2 + 0.1 sum ||x||^2. The target is made once per shape, dtype and device (as the JAX peer
    makes its own once), so a timed call counts the loss, not the drawing of its target."""
    target = _target_on(sol.u.shape, sol.u.dtype, sol.u.device, seed)
    return ((sol.u - target) ** 2).sum() + 0.1 * (sol.x**2).sum()


def warm_step_case(model: ModelKind, dtype=torch.float32, batch: int = 8, horizon: int = 20,
                   iters: int = 2) -> Callable[[], None]:
    """A warm-started receding-horizon step, ready to time: ``iters`` graph-free iterations on ``batch`` swing-up
    starts from their converged plan (solved here, once)."""
    step = make_layer("implicit", horizon, iters, dtype=dtype, model=model)
    x0 = swing_up_starts(batch, dtype=dtype)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = make_layer("implicit", horizon, 50, dtype=dtype, model=model)(x0).u

    def run() -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            step(x0, u_init=warm)

    return run


def solution_case(model: ModelKind, batch: int, horizon: int, dtype=torch.float32) -> Callable[[], None]:
    """Time to solution, ready to time: the forward to tol 1e-7 on ``batch`` swing-up starts plus the implicit
    backward of :func:`imitation_loss`."""
    ctrl = make_layer("implicit", horizon, 100, dtype=dtype, model=model, tol=1e-7)
    x0 = swing_up_starts(batch, dtype=dtype)
    return lambda: imitation_loss(ctrl(x0)).backward()
