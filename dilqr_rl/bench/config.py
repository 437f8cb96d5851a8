"""Settings of ``dilqr-rl bench``: one frozen dataclass, a docstring under each field (the command's ``--help``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class BenchConfig:
    """Timing studies of the layer: backward time vs iterations and horizon (DiLQR Fig. 2), the speed of
    both model kinds against mpc.pytorch, batch x horizon scaling, and the speed against Google's trajax
    (JAX). Writes CSV/JSON/Markdown/PNG under
    runs/bench/{study}__{time}/ (``--out benchmarks/results`` refreshes the committed results)."""

    study: Literal["iterations", "speed", "scale", "trajax"] = "iterations"
    """iterations: backward time vs iterations and horizon for the three modes (DiLQR Fig. 2); speed: both
    model kinds (and the user-written cart-pole) against mpc.pytorch at B = 20, T = 10/20/30, with the project's
    target ratios (README, "Speed against mpc.pytorch"); scale: forward per iteration and backward over batch x
    horizon; trajax: both model kinds against trajax's ilqr (jit, vmap, implicit VJP) solving to tol, float32 and
    float64, with the project's targets (README, "Speed against trajax"; ours alone when trajax is not
    installed)."""
    model: Literal["closed-form", "autograd"] = "closed-form"
    """Model kind of the iterations study: closed-form (shipped models with closed-form derivatives) or
    autograd (the same physics as plain nn.Modules). The speed and scale studies run both."""
    quick: bool = False
    """Tiny grid (seconds); used by the tests."""
    iters: tuple[int, ...] = (10, 50, 100, 200, 300)
    """iLQR iteration counts (iterations study)."""
    horizons: tuple[int, ...] = (5, 10, 20, 30)
    """Horizons T (iterations study)."""
    sweep: tuple[int, ...] = (10, 20, 50, 100, 200)
    """Horizons of the implicit backward sweep (iterations study)."""
    sweep_iters: int = 200
    """Iteration cap of the horizon sweep (solves to tol 1e-7)."""
    speed_horizons: tuple[int, ...] = (10, 20, 30)
    """Horizons of the speed study."""
    speed_iters: int = 50
    """Iterations per solve in the speed study (tol = 0: exactly this many)."""
    scale_batches: tuple[int, ...] = (1, 20, 256, 1024)
    """Batch sizes of the scale study."""
    scale_horizons: tuple[int, ...] = (10, 50, 200)
    """Horizons of the scale study."""
    scale_iters: int = 10
    """Iterations per solve in the scale study."""
    batch: int = 20
    """Batch size B (iterations and speed studies)."""
    repeats: int = 5
    """Repeats per configuration (medians are reported)."""
    dtype: Literal["float64", "float32"] = "float64"
    """Floating point type."""
    device: str = "cpu"
    """Torch device, e.g. cpu or cuda (mpc.pytorch runs on the CPU only)."""
    threads: int = 1
    """Torch intra-op threads: 1 gives steady timings on a shared machine; 0 keeps torch's default."""
    trajax_single_horizons: tuple[int, ...] = (10, 20)
    """Horizons at B = 1 (trajax study)."""
    trajax_horizons: tuple[int, ...] = (10, 20, 30)
    """Horizons at B = --batch (trajax study)."""
    trajax_dtypes: tuple[Literal["float32", "float64"], ...] = ("float32", "float64")
    """Floating point types of the trajax study (it ignores --dtype)."""
    trajax_tol: float = 1e-7
    """Tolerance of both solvers in the trajax study: ours' tol and trajax's grad_norm_threshold, the same
    number (raised in float32 to our floor, 50 eps)."""
    receding_batch: int = 8
    """Batch of the warm-started receding-horizon steps (trajax study)."""
    receding_horizon: int = 20
    """Horizon of the receding-horizon steps."""
    receding_iters: int = 3
    """Iteration cap of a receding-horizon step (it stops earlier once converged)."""
    receding_steps: int = 20
    """Timed receding-horizon steps per repeat."""
    trajax: bool = True
    """Also time trajax (not on PyPI; see the README's Benchmark section) when importable."""
    mpc: bool = True
    """Also time mpc.pytorch (PyPI 'mpc') when installed."""
    out: str = ""
    """Output folder; empty: runs/bench/{study}__{time}."""

    def resolved(self) -> BenchConfig:
        """The grid actually run: ``quick`` replaces it with a tiny one."""
        if not self.quick:
            return self
        return replace(self, iters=(2, 4), horizons=(5,), sweep=(5, 10), repeats=1, batch=4, speed_horizons=(5,),
                       speed_iters=3, scale_batches=(1, 4), scale_horizons=(5,), scale_iters=2,
                       trajax_single_horizons=(5,), trajax_horizons=(5,), receding_batch=2, receding_horizon=5,
                       receding_steps=3)
