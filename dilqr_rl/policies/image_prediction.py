"""Frame prediction from one observation: the DiLQR paper's visual-control network, and a baseline without a
planner.

:class:`PlanningPredictor` (the paper's pipeline)::

    frames --encoder--> x_1 --DiLQR--> plan (x_1..x_T, u_1..u_T) --decoder--> frames of x_1 .. x_{T+1}

The decoded x_1 is a reconstruction of the observed frame (step k = 0); x_{k+1} is the prediction k steps
ahead, k = 1..T, where x_{T+1} = f(x_T, u_T) completes the plan by one model step. The controls are the
planner's own: nothing but the observation goes in.

:class:`LatentRolloutPredictor` (the baseline): the same kind of encoder and decoder around a learned latent
step model z_{k+1} = z_k + g([z_k; u_k]) (:class:`ResidualStep`), rolled out autoregressively under given
controls (the expert's).

Shapes (K = T predicted steps, S selected steps, d the decoder's input size):
    obs (B, F, H, W) -> FramePrediction with latent (B, K + 1, d) (k = 0..K), frames (B, S, C, H, W),
    u (B, K, m).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from dilqr_rl.control import UnconvergedWarning
from dilqr_rl.control.layer import DiLQR
from dilqr_rl.control.solution import Solution
from dilqr_rl.policies.mlp import mlp
from dilqr_rl.policies.planning_head import PlanningHead


class FramePrediction(NamedTuple):
    """Predicted states and frames for steps k = 0..K after the observation."""

    latent: Tensor
    """(B, K + 1, d): what the decoder maps to a frame at each step (the planned states for DiLQR)."""
    frames: Tensor | None
    """(B, S, C, H, W): the decoded frames of the selected steps, or None when none were asked for."""
    u: Tensor
    """(B, K, m): the controls applied at steps 0..K-1 (planned, or the given ones)."""
    plan: Solution | None
    """The DiLQR solution (None for rollouts under given controls)."""


def decode_steps(decoder: nn.Module, latent: Tensor, steps: Sequence[int] | Tensor | None) -> Tensor | None:
    """Decode ``latent[:, steps]`` (B, S, d) -> (B, S, C, H, W) in the decoder's dtype."""
    if steps is None:
        return None
    chosen = latent[:, torch.as_tensor(steps, dtype=torch.long, device=latent.device)]  # (B, S, d)
    B, S, d = chosen.shape
    dtype = next(decoder.parameters()).dtype
    flat = decoder(chosen.reshape(B * S, d).to(dtype))  # (B*S, C, H, W)
    return flat.reshape(B, S, *flat.shape[1:])


class PlanningPredictor(nn.Module):
    """``encoder -> DiLQR -> decoder`` predicting the frames of the planned steps (module docstring).

    ``encoder`` maps observations (B, F, H, W) to the controller's state (B, n); ``decoder`` maps states (R, n)
    to frames (R, C, H, W). Gradients of a loss on the frames or controls reach the encoder through
    ``x_init`` and the dynamics and cost through the layer's backward.
    """

    def __init__(self, encoder: nn.Module, dilqr: DiLQR, decoder: nn.Module) -> None:
        super().__init__()
        self.head = PlanningHead(encoder, dilqr)
        self.decoder = decoder

    @property
    def dilqr(self) -> DiLQR:
        return self.head.dilqr

    @property
    def encoder(self) -> nn.Module:
        return self.head.encoder

    def forward(self, obs: Tensor, u_init: Tensor | None = None, steps: Sequence[int] | Tensor | None = None
                ) -> FramePrediction:
        """Plan from the encoded observation (warm-started by ``u_init`` (B, T, m) if given) and decode the
        ``steps`` (indices in 0..T)."""
        out = self.head(obs, u_init)
        plan = out.plan
        last = self.dilqr.dynamics(plan.x[:, -1], plan.u[:, -1])  # x_{T+1} = f(x_T, u_T): (B, n)
        latent = torch.cat([plan.x, last.unsqueeze(1)], dim=1)  # (B, T + 1, n)
        return FramePrediction(latent, decode_steps(self.decoder, latent, steps), plan.u, plan)

    def reconstruct(self, obs: Tensor) -> Tensor:
        """The decoded encoding of the observation: (B, F, H, W) -> (B, C, H, W) (no planning)."""
        return decode_steps(self.decoder, self.encoder(obs).unsqueeze(1), [0])[:, 0]

    def rollout(self, obs: Tensor, u: Tensor, steps: Sequence[int] | Tensor | None = None) -> FramePrediction:
        """The learned dynamics alone, rolled out under given controls u (B, K, m) from the encoded observation."""
        dtype = next(self.dilqr.parameters()).dtype
        x = self.encoder(obs).to(dtype)
        states = [x]
        for k in range(u.shape[1]):
            states.append(self.dilqr.dynamics(states[-1], u[:, k].to(dtype)))
        latent = torch.stack(states, 1)  # (B, K + 1, n)
        return FramePrediction(latent, decode_steps(self.decoder, latent, steps), u, None)

    @torch.no_grad()
    def best_constant_start(self, obs: Tensor, levels: Sequence[float]) -> Tensor:
        """The controls (B, T, m) of the cheapest plan among solves started from constant controls ``levels``
        (as the iLQR expert starts an episode; a zero start is a saddle point of a swing-up from rest)."""
        dtype = next(self.dilqr.parameters()).dtype
        x = self.encoder(obs).to(dtype)
        B, S, T = x.shape[0], len(levels), self.dilqr.config.horizon
        m = int(self.dilqr.control_dim or 1)
        starts = x.new_tensor(list(levels)).view(S, 1, 1, 1).expand(S, B, T, m).reshape(S * B, T, m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnconvergedWarning)
            sol = self.dilqr(x.repeat(S, 1), starts.contiguous())
        best = sol.cost.view(S, B).argmin(0)  # (B,)
        return sol.u.view(S, B, T, m)[best, torch.arange(B)]


class ResidualStep(nn.Module):
    """A learned latent step ``z' = z + g([z; u])``, g a tanh MLP. Shapes: z (R, d), u (R, m) -> (R, d)."""

    def __init__(self, latent_dim: int, control_dim: int, hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        self.net = mlp([latent_dim + control_dim, *hidden, latent_dim])

    def forward(self, z: Tensor, u: Tensor) -> Tensor:
        return z + self.net(torch.cat([z, u], dim=-1))


class LatentRolloutPredictor(nn.Module):
    """``encoder -> step model rolled out under given controls -> decoder`` (the baseline; module docstring).

    ``encoder``: obs (B, F, H, W) -> z (B, d); ``step``: (z (R, d), u (R, m)) -> z' (R, d); ``decoder``: (R, d)
    -> frames (R, C, H, W).
    """

    def __init__(self, encoder: nn.Module, step: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.step, self.decoder = encoder, step, decoder

    def reconstruct(self, obs: Tensor) -> Tensor:
        """The decoded encoding of the observation: (B, F, H, W) -> (B, C, H, W)."""
        return self.decoder(self.encoder(obs))

    def forward(self, obs: Tensor, u: Tensor, steps: Sequence[int] | Tensor | None = None) -> FramePrediction:
        z = [self.encoder(obs)]
        for k in range(u.shape[1]):
            z.append(self.step(z[-1], u[:, k].to(z[-1].dtype)))
        latent = torch.stack(z, 1)  # (B, K + 1, d)
        return FramePrediction(latent, decode_steps(self.decoder, latent, steps), u, None)
