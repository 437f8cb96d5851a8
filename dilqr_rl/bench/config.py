"""Settings of ``dilqr-rl bench``: one frozen dataclass, a docstring under each field (the command's ``--help``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class BenchConfig:
    """Timing studies of the layer: backward time vs iterations and horizon (DiLQR Fig. 2), the speed of
    both model kinds against mpc.pytorch, and batch x horizon scaling. Writes CSV/JSON/Markdown/PNG under
    runs/bench/{study}__{time}/ (``--out benchmarks/results`` refreshes the committed results)."""

    study: Literal["iterations", "speed", "scale"] = "iterations"
    """iterations: backward time vs iterations and horizon for the three modes (DiLQR Fig. 2); speed: both
    model kinds (and the user-written cart-pole) against mpc.pytorch at the issue's sizes, with the target
    ratios; scale: forward per iteration and backward over batch x horizon."""
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
    mpc: bool = True
    """Also time mpc.pytorch (PyPI 'mpc') when installed."""
    out: str = ""
    """Output folder; empty: runs/bench/{study}__{time}."""

    def resolved(self) -> BenchConfig:
        """The grid actually run: ``quick`` replaces it with a tiny one."""
        if not self.quick:
            return self
        return replace(self, iters=(2, 4), horizons=(5,), sweep=(5, 10), repeats=1, batch=4, speed_horizons=(5,),
                       speed_iters=3, scale_batches=(1, 4), scale_horizons=(5,), scale_iters=2)
