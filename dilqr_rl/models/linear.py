"""Linear time-invariant dynamics with learnable matrices."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dilqr_rl.models.base import DynamicsModel


class LinearDynamics(DynamicsModel):
    """``x_{t+1} = A x_t + B u_t`` with learnable ``A (n, n)`` and ``B (n, m)``."""

    def __init__(self, A: Tensor, B: Tensor) -> None:
        super().__init__()
        A, B = torch.as_tensor(A), torch.as_tensor(B)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square (n, n) matrix, got shape {tuple(A.shape)}")
        if B.ndim != 2 or B.shape[0] != A.shape[0]:
            raise ValueError(f"B must be (n, m) with n = {A.shape[0]} rows, got shape {tuple(B.shape)}")
        self.A = nn.Parameter(A.clone())
        self.B = nn.Parameter(B.clone())
        self.state_dim = A.shape[0]
        self.control_dim = B.shape[1]

    def forward(self, x: Tensor, u: Tensor) -> Tensor:
        return x @ self.A.T + u @ self.B.T

    def jacobians(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        rows = x.shape[0]
        return self.A.expand(rows, -1, -1), self.B.expand(rows, -1, -1)

    def lagrangian_hessian(self, x: Tensor, u: Tensor, lam: Tensor) -> Tensor:
        size = self.state_dim + self.control_dim
        return x.new_zeros(x.shape[0], size, size)

    def physical_parameters(self) -> dict[str, Tensor]:
        return {"A": self.A, "B": self.B}
