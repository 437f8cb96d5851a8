"""``PlanningHead``: the DiLQR layer as a planning head inside a larger network.

    observation --encoder--> x_init --DiLQR--> plan (x_{1..T}, u_{1..T}) --decoder--> predictions

The encoder infers the controller's state (e.g. from the pixel pendulum's frames), the layer plans, and an
optional decoder maps every planned state back to observation space (e.g. predicted frames) for an
auxiliary loss. Gradients of any loss on the plan or the predictions reach the encoder, the decoder and
the dynamics and cost parameters (through the layer's implicit backward).

Shapes:
    obs (B, *obs_shape) -> state (B, n); plan.x (B, T, n), plan.u (B, T, m);
    decoded (B, T, *out_shape) (the decoder maps (B*T, n) -> (B*T, *out_shape)), or None.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from dilqr_rl.control.layer import DiLQR
from dilqr_rl.control.solution import Solution


class PlanningOutput(NamedTuple):
    """What a ``PlanningHead`` returns: the encoded state, the plan and the decoded plan (or None)."""

    state: Tensor
    """(B, n), the encoder's estimate of x_init."""
    plan: Solution
    """The DiLQR solution: x (B, T, n), u (B, T, m), cost and diagnostics."""
    decoded: Tensor | None
    """(B, T, *out_shape), the decoder applied to every planned state; None without a decoder."""


class PlanningHead(nn.Module):
    """``encoder -> DiLQR -> decoder``; see the module docstring.

    The encoder's output is cast to the controller's dtype (that of its dynamics parameters) before
    planning; the plan and predictions stay in that dtype.
    """

    def __init__(self, encoder: nn.Module, dilqr: DiLQR, decoder: nn.Module | None = None) -> None:
        super().__init__()
        if not isinstance(dilqr, DiLQR):
            raise TypeError(f"dilqr must be a dilqr_rl DiLQR layer; got {type(dilqr).__name__}")
        if not isinstance(encoder, nn.Module) or not (decoder is None or isinstance(decoder, nn.Module)):
            raise TypeError(f"encoder and decoder must be nn.Modules (decoder may be None); got "
                            f"{type(encoder).__name__} and {type(decoder).__name__}")
        self.encoder = encoder
        self.dilqr = dilqr
        self.decoder = decoder

    def forward(self, obs: Tensor, u_init: Tensor | None = None) -> PlanningOutput:
        state = self.encoder(obs)
        if state.ndim != 2:
            raise ValueError(f"the encoder must return states (B, n); got shape {tuple(state.shape)}")
        dtype = next(self.dilqr.parameters(), state).dtype
        plan = self.dilqr(state.to(dtype), u_init)
        decoded = None
        if self.decoder is not None:
            Bsz, T, n = plan.x.shape
            flat = self.decoder(plan.x.reshape(Bsz * T, n))  # (B*T, *out_shape)
            decoded = flat.reshape(Bsz, T, *flat.shape[1:])
        return PlanningOutput(state, plan, decoded)
