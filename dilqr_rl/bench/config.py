"""Settings of ``dilqr-rl bench`` (one frozen dataclass; its fields' help is the command's ``--help``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal


def _help(text: str) -> dict:
    return {"help": text}


@dataclass(frozen=True)
class BenchConfig:
    """Settings of the timing studies (``dilqr-rl bench --help``)."""

    study: Literal["iterations", "speed", "scale"] = field(default="iterations", metadata=_help(
        "iterations: backward time vs iterations and horizon for the three modes (DiLQR Fig. 2); speed: both "
        "model kinds against mpc.pytorch at the issue's sizes, with the target ratios; scale: batch x horizon"))
    model: Literal["closed-form", "autograd"] = field(default="closed-form", metadata=_help(
        "model kind of the iterations study: closed-form (shipped models with closed-form derivatives) or "
        "autograd (the same physics as plain nn.Modules); the speed and scale studies run both"))
    quick: bool = field(default=False, metadata=_help("tiny grid (seconds); used by the tests"))
    iters: tuple[int, ...] = field(default=(10, 50, 100, 200, 300), metadata=_help("iLQR iteration counts"))
    horizons: tuple[int, ...] = field(default=(5, 10, 20, 30), metadata=_help("horizons T"))
    sweep: tuple[int, ...] = field(default=(10, 20, 50, 100, 200),
                                   metadata=_help("horizons of the implicit backward sweep"))
    sweep_iters: int = field(default=200, metadata=_help("iteration cap of the horizon sweep (solves to tol 1e-7)"))
    speed_horizons: tuple[int, ...] = field(default=(10, 20, 30), metadata=_help("horizons of the speed study"))
    speed_iters: int = field(default=50, metadata=_help("iterations per solve in the speed study"))
    scale_batches: tuple[int, ...] = field(default=(1, 20, 256, 1024), metadata=_help("batch sizes of the scale study"))
    scale_horizons: tuple[int, ...] = field(default=(10, 50, 200), metadata=_help("horizons of the scale study"))
    scale_iters: int = field(default=10, metadata=_help("iterations per solve in the scale study"))
    batch: int = field(default=20, metadata=_help("batch size B (iterations and speed studies)"))
    repeats: int = field(default=5, metadata=_help("repeats per configuration (medians are reported)"))
    dtype: Literal["float64", "float32"] = field(default="float64", metadata=_help("floating point type"))
    device: str = field(default="cpu", metadata=_help("torch device, e.g. cpu or cuda"))
    threads: int = field(default=1, metadata=_help(
        "torch intra-op threads (1 gives steady timings on a shared machine; 0 keeps torch's default)"))
    mpc: bool = field(default=True, metadata=_help("also time mpc.pytorch (PyPI 'mpc') when installed"))
    out: str = field(default="", metadata=_help(
        "output folder; default runs/bench/{study}__{time}. The committed results are refreshed with "
        "--out benchmarks/results"))

    def resolved(self) -> BenchConfig:
        """The grid actually run: ``quick`` replaces it with a tiny one."""
        if not self.quick:
            return self
        return replace(self, iters=(2, 4), horizons=(5,), sweep=(5, 10), repeats=1, batch=4, speed_horizons=(5,),
                       speed_iters=3, scale_batches=(1, 4), scale_horizons=(5,), scale_iters=2)
