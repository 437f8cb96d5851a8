"""Base classes that document the model contract the control core relies on.

Subclassing is optional: the core accepts any ``nn.Module`` with the right ``forward``. Shapes use
R for "rows" (the core flattens batch and time, R = B*T), n for the state size and m for the control
size, N = n + m.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def scalar_parameter(value: float, dtype: torch.dtype | None) -> nn.Parameter:
    """A learnable scalar created directly in ``dtype`` (so 1.3 in float64 is not a rounded float32)."""
    return nn.Parameter(torch.tensor(float(value), dtype=dtype or torch.get_default_dtype()))


class DynamicsModel(nn.Module):
    """Discrete-time dynamics ``x_{t+1} = f(x_t, u_t; theta)``.

    Shapes:
        forward: x (R, n), u (R, m) -> (R, n). Rows must not interact (the core vectorizes over them).

    Optional closed forms, used by the solver when present (they must agree with ``forward``; the test
    suite checks the shipped ones against ``torch.func``):
        ``jacobians(x, u) -> (A (R, n, n), B (R, n, m))``
        ``lagrangian_hessian(x, u, lam (R, n)) -> (R, N, N)``, the Hessian of ``lam . f`` in tau = [x; u].
    """

    state_dim: int
    control_dim: int

    def physical_parameters(self) -> dict[str, Tensor]:
        """Named scalar parameters for reports (e.g. the model loss MSE(theta - theta_hat))."""
        return {name: p for name, p in self.named_parameters()}


class CostModel(nn.Module):
    """Stage cost ``g_t(x_t, u_t; theta)``, summed over t = 1..T.

    Shapes:
        forward: x (R, n), u (R, m) [, t (R,) long when ``time_varying``] -> (R,).

    Optional closed form: ``derivatives(x, u[, t]) -> (c (R, N), C (R, N, N))``, gradient and Hessian in
    tau = [x; u].
    """

    time_varying: bool = False
