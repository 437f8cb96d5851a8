"""Google's trajax (JAX) on the pendulum swing-up, for comparison only (``dilqr-rl bench --study trajax``).

trajax is not on PyPI (PyPI's ``trajax`` is another project) and is no dependency of ours: the README's
"Benchmark" section says how to install it. Nothing here imports JAX until :func:`load` is called, so
``dilqr-rl bench`` runs without it and :func:`available` only looks for the package.

The problem is the one of :mod:`dilqr_rl.bench.problems`, written as JAX functions: the pendulum
``theta_dot' = theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt``, ``theta' = theta + theta_dot' dt``
and the stage cost ``||w o [x; u]||^2``. Our horizon T (states x_1..x_T, controls u_1..u_T, the stage cost
at every t) is trajax's T - 1 controls: its ``X`` (T, n) are our x, and trajax evaluates the stage cost at
its last state with a zero control (it pads U), which is our u_T at the optimum (with inactive bounds u_T
costs ``w_u^2 u_T^2`` and moves nothing). So the control plans compare as ``[U; 0]`` against our u.

``trajax.optimizers.ilqr`` runs under ``jit`` and ``vmap`` over the batch; its backward is
``vjp_method="tvlqr_experimental"``, the implicit one that differentiates the parameters the dynamics close
over (its default ``tvlqr`` differentiates cost parameters only). trajax's ``ilqr`` has no bounds.

One thread: XLA's CPU client runs its Eigen kernels (matrix products, decompositions) on an intra-op
thread pool as large as the machine. ``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``
in ``XLA_FLAGS``, read once when JAX starts its CPU client, keeps them on the calling thread, as
``torch.set_num_threads(1)`` does for torch, so that both peers use one core. ``load(threads=1)`` sets them
unless JAX was imported before (then they cannot take effect, and ``Loaded.single_thread`` says so).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from dilqr_rl.bench.problems import SYSTEMS, imitation_target
from dilqr_rl.bench.timing import Measured

SINGLE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
DT = 0.05  # the pendulum's time step, as UserPendulum and PendulumDynamics
PHYSICS = (1.0, 1.0, 10.0)  # (m, l, g) of the benchmark's pendulum


def available() -> bool:
    """Whether Google's trajax (a package with ``optimizers.py``) and JAX can be imported; imports neither."""
    try:
        spec, jax = importlib.util.find_spec("trajax"), importlib.util.find_spec("jax")
    except (ImportError, ValueError):
        return False
    if spec is None or jax is None:
        return False
    return any((Path(folder) / "optimizers.py").is_file() for folder in spec.submodule_search_locations or ())


class Loaded(NamedTuple):
    """The imported modules and what the report records of them."""

    jax: Any
    optimizers: Any
    single_thread: bool
    """Whether XLA was started with the one-thread flags."""
    versions: dict


def load(threads: int = 1) -> Loaded:
    """Import JAX and trajax; with ``threads == 1`` set XLA's one-thread flags first (see the module's doc)."""
    if threads == 1 and "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_XLA_FLAGS}".strip()
    return _import()


@functools.cache
def _import() -> Loaded:
    import jax

    if not hasattr(jax, "tree_map"):  # removed from JAX (0.6); trajax still calls jax.tree_map
        jax.tree_map = jax.tree_util.tree_map
    from trajax import optimizers

    single = "xla_cpu_multi_thread_eigen=false" in os.environ.get("XLA_FLAGS", "")
    versions = {name: _version(name) for name in ("jax", "jaxlib", "trajax")}
    versions["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    return Loaded(jax, optimizers, single, versions)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def pendulum(params):
    """dynamics(x, u, t) -> x' (n,) of the benchmark pendulum with ``params`` = (m, l, g) (3,)."""
    import jax.numpy as jnp

    m, l, g = params[0], params[1], params[2]

    def dynamics(x, u, t):
        speed = x[1] + (3 * g / (2 * l) * jnp.sin(x[0]) + 3.0 / (m * l**2) * u[0]) * DT
        return jnp.stack([x[0] + speed * DT, speed])

    return dynamics


def goal_cost(x, u, t):
    """g(x, u, t) = ||w o [x; u]||^2, the pendulum's goal cost (goal 0)."""
    import jax.numpy as jnp

    tau = jnp.concatenate([x, u])
    return jnp.sum(jnp.asarray(SYSTEMS["pendulum"].weights, tau.dtype) ** 2 * tau**2)


def _pad(U):
    """[U; 0]: trajax's T - 1 controls as our T (the last one is 0 at the optimum). (..., T-1, m) -> (..., T, m)."""
    import jax.numpy as jnp

    return jnp.concatenate([U, jnp.zeros_like(U[..., :1, :])], -2)


class SwingUp:
    """trajax's ``ilqr`` on a batch of swing-up starts, its forward and its backward jitted separately.

    ``forward`` solves (vmap over the batch) and keeps the residuals of the VJP w.r.t. (m, l, g);
    ``backward`` pulls back the gradient of :func:`~dilqr_rl.bench.problems.imitation_loss`. A shape's
    first call traces and compiles both. Shapes: x0 (B, n) -> u (B, T, m), grad (3,).
    """

    def __init__(self, horizon: int, batch: int, dtype: torch.dtype, tol: float, max_iter: int) -> None:
        self.jax, self.optimizers = _import().jax, _import().optimizers
        self.x64 = dtype == torch.float64
        self.horizon, self.tol, self.max_iter = horizon, tol, max_iter
        with self.jax.enable_x64(self.x64):
            jnp = self.jax.numpy
            self.params = jnp.asarray(PHYSICS, self._dtype)
            self.target = jnp.asarray(imitation_target((batch, horizon, 1), dtype).numpy())
            self._forward = self.jax.jit(self._vjp)
            self._backward = self.jax.jit(self._pull_back)

    @property
    def _dtype(self):
        return self.jax.numpy.float64 if self.x64 else self.jax.numpy.float32

    def inputs(self, x0: torch.Tensor):
        with self.jax.enable_x64(self.x64):
            return self.jax.numpy.asarray(x0.detach().cpu().numpy(), self._dtype)

    def _solve(self, params, x0, U0, max_iter: int):
        """One start: (X (T, n), [U; 0] (T, m)), iterations."""
        X, U, *_, iterations = self.optimizers.ilqr(
            goal_cost, pendulum(params), x0, U0, maxiter=max_iter, grad_norm_threshold=self.tol,
            vjp_method="tvlqr_experimental")
        return (X, _pad(U)), iterations

    def _vjp(self, params, x0):
        U0 = self.jax.numpy.zeros((self.horizon - 1, 1), x0.dtype)
        def solve(params):
            return self.jax.vmap(lambda x: self._solve(params, x, U0, self.max_iter))(x0)

        XU, pull_back, iterations = self.jax.vjp(solve, params, has_aux=True)
        return XU, pull_back, iterations

    def _pull_back(self, pull_back, XU):
        def loss(XU):
            X, U = XU
            return ((U - self.target) ** 2).sum() + 0.1 * (X**2).sum()

        return pull_back(self.jax.grad(loss)(XU))[0]

    def measure(self, x0) -> Measured:
        """Time the forward and the backward from ``x0`` (as made by :meth:`inputs`)."""
        block = self.jax.block_until_ready
        with self.jax.enable_x64(self.x64):
            c0, t0 = time.process_time(), time.perf_counter()
            XU, pull_back, iterations = block(self._forward(self.params, x0))
            t1 = time.perf_counter()
            grad = block(self._backward(pull_back, XU))
            t2, c2 = time.perf_counter(), time.process_time()
        return Measured(t1 - t0, t2 - t1, c2 - c0, np.asarray(iterations), np.asarray(XU[1]), np.asarray(grad))


class Receding(SwingUp):
    """Receding-horizon steps: each starts ``iters`` iterations from the previous plan shifted by one step
    and moves to the plan's next state (the model is the plant). Shapes: x (B, n), U (B, T-1, m)."""

    def __init__(self, horizon: int, batch: int, dtype: torch.dtype, tol: float, iters: int) -> None:
        super().__init__(horizon, batch, dtype, tol, max_iter=100)
        with self.jax.enable_x64(self.x64):
            self._cold = self.jax.jit(self._plan)
            self._step = self.jax.jit(functools.partial(self._warm_step, iters=iters))

    def _plan(self, x0):
        U0 = self.jax.numpy.zeros((self.horizon - 1, 1), x0.dtype)
        (_, U), _ = self.jax.vmap(lambda x: self._solve(self.params, x, U0, self.max_iter))(x0)
        return U[:, :-1]

    def _warm_step(self, x, U, iters: int):
        jnp = self.jax.numpy
        shifted = jnp.concatenate([U[:, 1:], jnp.zeros_like(U[:, :1])], 1)
        (X, U), iterations = self.jax.vmap(lambda x, u: self._solve(self.params, x, u, iters))(x, shifted)
        return X[:, 1], U[:, :-1], iterations

    def start(self, x0: torch.Tensor):
        """(x, U) of the converged cold plan from ``x0``."""
        x = self.inputs(x0)
        with self.jax.enable_x64(self.x64):
            return x, self.jax.block_until_ready(self._cold(x))

    def step(self, x, U):
        """(x', U', iterations (B,), seconds) of one timed step."""
        with self.jax.enable_x64(self.x64):
            t0 = time.perf_counter()
            x, U, iterations = self.jax.block_until_ready(self._step(x, U))
            return x, U, np.asarray(iterations), time.perf_counter() - t0
