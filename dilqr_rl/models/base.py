"""Base classes that document the model contract the control core relies on.

Subclassing is optional: the core accepts any ``nn.Module`` with the right ``forward``. Shapes use
R for "rows" (the core flattens batch and time, R = B*T), n for the state size and m for the control
size, N = n + m.

Models act row by row: row r of the output depends only on row r of the input, whatever the number of
rows R and whatever the other rows hold. The solver relies on it: it calls the models on the rows of
all batch items, time steps and line-search step sizes at once, and it computes the derivatives of a
model without closed forms from reverse-mode passes over summed outputs (one pass gives the per-row
Jacobians of all rows). ``DiLQR`` checks this at each call and raises ``RowCouplingError`` when a row's
output changes with the other rows: BatchNorm or Dropout in training mode does that; put such layers in
eval mode or use a per-row normalization (LayerNorm). A module that acts row by row but must not be
evaluated on stacked copies of its rows can set ``row_wise = False``: the solver then differentiates it
one row at a time with ``torch.func.vmap`` (slower) and skips the check.
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
        forward: x (R, n), u (R, m) -> (R, n), row by row (see the module docstring).

    Optional closed forms, used by the solver when present (they must agree with ``forward``; the test
    suite checks the shipped ones against ``torch.func``). Without them the solver uses autograd, which is
    exact and, for small models, about 1.2-1.5x slower per iteration:
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
        forward: x (R, n), u (R, m) [, t (R,) long when ``time_varying``] -> (R,), row by row.

    Optional closed form: ``derivatives(x, u[, t]) -> (c (R, N), C (R, N, N))``, gradient and Hessian in
    tau = [x; u].
    """

    time_varying: bool = False
