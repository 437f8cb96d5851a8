"""dilqr_rl: a differentiable, box-constrained iLQR layer and policies built on it.

The public entry point is :class:`DiLQR`; shipped dynamics and cost models live in
:mod:`dilqr_rl.models`. The names below are imported on first use, so ``import dilqr_rl`` (and the
``dilqr-rl --help`` that goes through it) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["DiLQR", "DiLQRError", "GradMethod", "HessianFallbackWarning", "NonFiniteError", "NotConvergedError",
           "OnUnconverged", "PerStep", "RowCouplingError", "Solution", "SolverConfig", "UnconvergedWarning",
           "__version__"]

if TYPE_CHECKING:
    from dilqr_rl.control import (
        DiLQR,
        DiLQRError,
        GradMethod,
        HessianFallbackWarning,
        NonFiniteError,
        NotConvergedError,
        OnUnconverged,
        PerStep,
        RowCouplingError,
        Solution,
        SolverConfig,
        UnconvergedWarning,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("dilqr_rl.control"), name)
    raise AttributeError(f"module 'dilqr_rl' has no attribute {name!r}")
