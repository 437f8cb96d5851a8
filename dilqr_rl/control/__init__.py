"""The control core: box-constrained iLQR and its gradients. Imports neither Gymnasium nor SB3."""

from dilqr_rl.control.config import GradMethod, OnUnconverged, SolverConfig
from dilqr_rl.control.errors import (
    DiLQRError,
    HessianFallbackWarning,
    NonFiniteError,
    NotConvergedError,
    RowCouplingError,
    UnconvergedWarning,
)
from dilqr_rl.control.layer import DiLQR, PerStep
from dilqr_rl.control.solution import BackwardInfo, Solution

__all__ = [
    "BackwardInfo",
    "DiLQR",
    "DiLQRError",
    "GradMethod",
    "HessianFallbackWarning",
    "NonFiniteError",
    "NotConvergedError",
    "OnUnconverged",
    "PerStep",
    "RowCouplingError",
    "Solution",
    "SolverConfig",
    "UnconvergedWarning",
]
