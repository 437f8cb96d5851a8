"""dilqr_rl: a differentiable, box-constrained iLQR layer and policies built on it.

The public entry point is :class:`DiLQR`; shipped dynamics and cost models live in
:mod:`dilqr_rl.models`.
"""

from dilqr_rl.control import DiLQR, GradMethod, OnUnconverged, Solution, SolverConfig

__version__ = "0.1.0"

__all__ = ["DiLQR", "GradMethod", "OnUnconverged", "Solution", "SolverConfig", "__version__"]
