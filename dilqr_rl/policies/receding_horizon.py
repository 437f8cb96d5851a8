"""Receding-horizon helpers shared by the MPC-style policies (the iLQR expert, ``MPCPolicy``)."""

from __future__ import annotations

import torch
from torch import Tensor


def shift_plan(u: Tensor) -> Tensor:
    """The next step's warm start from a plan: drop u_1 and repeat u_T, i.e. (u_2, ..., u_T, u_T).

    Shapes: u (B, T, m) -> (B, T, m).
    """
    if u.ndim != 3:
        raise ValueError(f"shift_plan needs a batch of plans u (B, T, m); got shape {tuple(u.shape)}")
    return torch.cat([u[:, 1:], u[:, -1:]], dim=1)
