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


def start_sequences(levels: tuple[float, ...], switches: tuple[int, ...], horizon: int, u_lower: Tensor,
                    u_upper: Tensor, like: Tensor) -> Tensor:
    """Cold-start control sequences (S, T, m): constant ones, then bang-bang ones.

    ``levels``: constants as fractions of the upper (c > 0) or lower (c < 0) bound; ``switches``: for each k,
    the upper bound for steps 1..k and the lower bound after, and the mirror image (two sequences per k).
    ``u_lower``, ``u_upper``: the bounds, scalars or (m,); ``like``: a tensor giving the dtype and device.
    """
    lower = torch.as_tensor(u_lower, dtype=like.dtype, device=like.device).reshape(-1)
    upper = torch.as_tensor(u_upper, dtype=like.dtype, device=like.device).reshape(-1)
    lower, upper = torch.broadcast_tensors(lower, upper)
    T = horizon
    constant = torch.stack([(c * upper if c > 0 else -c * lower) for c in levels])  # (S_c, m)
    sequences = [constant.unsqueeze(1).expand(-1, T, -1)]
    if switches:
        first = (torch.arange(T, device=like.device) < torch.tensor(switches, device=like.device).view(-1, 1))
        first = first.unsqueeze(-1)  # (K, T, 1)
        sequences += [torch.where(first, upper, lower), torch.where(first, lower, upper)]
    return torch.cat(sequences)
