"""Timing one forward solve and its backward, for our layer and for the peers (mpc.pytorch, trajax)."""

from __future__ import annotations

import gc
import statistics
import time
import weakref
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch

from dilqr_rl.bench.problems import imitation_loss


def sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def saved_bytes(fn) -> int:
    """Bytes that autograd keeps saved for the backward of ``fn()``'s result (each storage once).

    Counted as the saved tensors freed when the result is dropped: graphs built and freed inside ``fn``
    (the autograd-path derivatives of a graph-free solve) and tensors alive elsewhere (parameters, inputs)
    do not count.
    """
    saved: list[tuple[weakref.ref, int, int]] = []

    def pack(t):
        if t.device.type != "meta":
            storage = t.untyped_storage()
            saved.append((weakref.ref(t), storage.data_ptr(), storage.nbytes()))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    alive = [entry for entry in saved if entry[0]() is not None]
    del out
    gc.collect()
    return sum({ptr: size for ref, ptr, size in alive if ref() is None}.values())


class _Plan:
    """The (x, u) of a solve, shaped like a Solution for :func:`imitation_loss`."""

    def __init__(self, x, u):
        self.x, self.u = x, u


def time_once(solve: Callable, x0: torch.Tensor, device: str = "cpu") -> tuple[float, float]:
    """Seconds for ``solve(x0)`` (forward) and for the backward of the imitation loss.

    ``solve`` returns a Solution or an (x, u) pair.
    """
    sync(device)
    t0 = time.perf_counter()
    out = solve(x0)
    loss = imitation_loss(_Plan(*out) if isinstance(out, tuple) else out)
    sync(device)
    t1 = time.perf_counter()
    loss.backward()
    sync(device)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def time_median(solve: Callable, x0: torch.Tensor, repeats: int, device: str = "cpu",
                memory: bool = False) -> tuple[float, float, float]:
    """Median forward and backward seconds over ``repeats`` runs, and the KB kept for backward (one more
    untimed solve; NaN unless ``memory``)."""
    runs = [time_once(solve, x0, device) for _ in range(repeats)]
    kb = saved_bytes(lambda: solve(x0)) / 2**10 if memory else float("nan")
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), kb


class Measured(NamedTuple):
    """One timed solve and backward, with what the comparison checks.

    Shapes: iterations (B,), u (B, T, m), grad (P,): the loss's gradient w.r.t. the P parameters timed.
    ``cpu_s``: process CPU seconds over both (all threads), to check that a solver ran on one core.
    """

    forward_s: float
    backward_s: float
    cpu_s: float
    iterations: np.ndarray
    u: np.ndarray
    grad: np.ndarray


def measure_layer(layer: torch.nn.Module, params: Sequence[torch.Tensor], x0: torch.Tensor) -> Measured:
    """Time ``layer(x0)`` with :func:`imitation_loss` (forward) and the loss's backward to ``params``.

    The gradients of ``params`` are reset first, so ``grad`` is this call's alone.
    """
    for p in params:
        p.grad = None
    c0, t0 = time.process_time(), time.perf_counter()
    sol = layer(x0)
    loss = imitation_loss(sol)
    t1 = time.perf_counter()
    loss.backward()
    t2, c2 = time.perf_counter(), time.process_time()
    grad = np.array([float(p.grad) if p.grad is not None else float("nan") for p in params])
    return Measured(t1 - t0, t2 - t1, c2 - c0, sol.iterations.numpy(), sol.u.detach().cpu().numpy(), grad)
