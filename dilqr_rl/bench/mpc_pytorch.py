"""mpc.pytorch (PyPI ``mpc``) on the same problems, for comparison only (optional extra ``bench``).

The goal cost sum_t ||w o (tau_t - g)||^2 is the QuadCost 0.5 tau^T C tau + c^T tau with C = diag(2 w^2)
and c = -2 w^2 g (plus a constant). The dynamics module is the one our layer gets: for the ``closed-form``
kind ``PendulumDynamics`` with its closed-form Jacobians as mpc.pytorch's analytic ``grad_input``
(``GradMethods.ANALYTIC``); for the ``autograd`` kind the user-written ``UserPendulum``, which mpc.pytorch
differentiates by autograd (``GradMethods.AUTO_DIFF``); the same for the user-written cart-pole.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from dilqr_rl.bench.problems import SYSTEMS, ModelKind, make_models

try:
    import mpc as mpc_pytorch
    from mpc import mpc as mpc_module
except ImportError:  # the comparison is optional
    mpc_pytorch = None


def available() -> bool:
    return mpc_pytorch is not None


class _AnalyticPendulum(nn.Module):
    """Our closed-form model behind mpc.pytorch's ``grad_input`` interface."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, u):
        return self.model(x, u)

    def grad_input(self, x, u):
        return self.model.jacobians(x, u)


def make(horizon: int, iters: int, batch: int, dtype=torch.float64, model: ModelKind = "closed-form",
         system: str = "pendulum"):
    """(solve, dynamics): ``solve(x_init) -> (x (B, T, n), u (B, T, m))`` batch-first; ``dynamics`` is the
    module whose parameters receive gradients."""
    dyn, _ = make_models(model, dtype, system=system)
    spec = SYSTEMS[system]
    analytic = model == "closed-form"
    w2 = torch.tensor(spec.weights, dtype=dtype) ** 2
    N = w2.shape[0]
    C = torch.diag(2 * w2).expand(horizon, batch, N, N)
    c = torch.zeros(horizon, batch, N, dtype=dtype)
    ctrl = mpc_module.MPC(
        N - 1, 1, horizon, u_lower=-spec.u_max, u_upper=spec.u_max, lqr_iter=iters,
        grad_method=mpc_module.GradMethods.ANALYTIC if analytic else mpc_module.GradMethods.AUTO_DIFF,
        exit_unconverged=False, detach_unconverged=False, verbose=-1, eps=0.0, n_batch=batch,
        not_improved_lim=10**9,  # run exactly lqr_iter iterations, like our tol=0
    )
    module = _AnalyticPendulum(dyn) if analytic else dyn

    def solve(x_init):
        x, u, _ = ctrl(x_init, mpc_module.QuadCost(C, c), module)
        return x.transpose(0, 1), u.transpose(0, 1)

    return solve, dyn


class ToTolerance:
    """mpc.pytorch solving the trajax study's problem (:mod:`dilqr_rl.bench.trajax_study`) to its own tolerance:
    at most ``max_iter`` iterations, stopping when every item's full control step is below ``eps`` (its test),
    bounds |u| <= ``u_max``. Its backward is DiffMPC's (the last LQR step's gradient, approximate). It reports its
    iterations by counting its linearisations of the trajectory."""

    def __init__(self, horizon: int, batch: int, dtype: torch.dtype, model: ModelKind, eps: float, max_iter: int,
                 u_max: float) -> None:
        self.dynamics, _ = make_models(model, dtype, system="pendulum")
        spec = SYSTEMS["pendulum"]
        w2 = torch.tensor(spec.weights, dtype=dtype) ** 2
        N = w2.shape[0]
        self.cost = mpc_module.QuadCost(torch.diag(2 * w2).expand(horizon, batch, N, N),
                                        torch.zeros(horizon, batch, N, dtype=dtype))
        analytic = model == "closed-form"
        self.ctrl = mpc_module.MPC(
            N - 1, 1, horizon, u_lower=-u_max, u_upper=u_max, lqr_iter=max_iter,
            grad_method=mpc_module.GradMethods.ANALYTIC if analytic else mpc_module.GradMethods.AUTO_DIFF,
            exit_unconverged=False, detach_unconverged=False, verbose=-1, eps=eps, back_eps=eps, n_batch=batch)
        self.module = _AnalyticPendulum(self.dynamics) if analytic else self.dynamics
        self.iterations = 0
        linearize = self.ctrl.linearize_dynamics

        def counted(*args, **kwargs):
            if kwargs.get("diff") is False:  # once per iteration; the final one (diff=True) builds the backward
                self.iterations += 1
            return linearize(*args, **kwargs)

        self.ctrl.linearize_dynamics = counted

    def __call__(self, x_init: torch.Tensor) -> SimpleNamespace:
        """Solve as our layer does, for :func:`~dilqr_rl.bench.timing.measure_layer`: ``x`` (B, T, n), ``u``
        (B, T, m) batch-first, differentiable in the dynamics' parameters, and ``iterations`` (B,)."""
        self.iterations = 0
        x, u, _ = self.ctrl(x_init, self.cost, self.module)
        return SimpleNamespace(x=x.transpose(0, 1), u=u.transpose(0, 1),
                               iterations=torch.full((x_init.shape[0],), self.iterations))
