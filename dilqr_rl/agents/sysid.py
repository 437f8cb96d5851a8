"""System identification on next-state transitions: the papers' SysId baseline.

Fits the learnable parameters of a dynamics model by minimising ``MSE(f(x_t, u_t; theta_hat), x_{t+1})``
over observed transitions (states are observed, unlike imitation which sees actions only).
:func:`fit_sysid` fits transitions alone; :class:`SysIdSequenceTrainer` runs the papers' protocol, which
fits the DiLQR learner's dynamics on the transitions of the training plans and selects the epoch by the
validation imitation loss, as the imitation learners are.

Shapes: x (R, n), u (R, m), x_next (R, n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from dilqr_rl.agents.bc_sequence import SequenceBCTrainer


@dataclass(frozen=True)
class SysIdConfig:
    """Optimisation settings of a SysId fit."""

    epochs: int = 500
    """Passes over the transitions."""
    batch_size: int = 1024
    """Transitions per gradient step."""
    lr: float = 1e-2
    """Learning rate of the optimizer."""
    optimizer: str = "adam"
    """``adam`` or ``rmsprop`` (alpha 0.5, the papers' setting)."""
    seed: int = 0
    """Seeds the order of the mini-batches."""
    progress: bool = True
    """Show a tqdm progress bar."""

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"need epochs >= 0, batch_size >= 1 and lr > 0; got epochs={self.epochs}, "
                             f"batch_size={self.batch_size}, lr={self.lr}")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: ['adam', 'rmsprop']")


@dataclass
class SysIdResult:
    """Final transition loss, the fitted parameters and the loss curve."""

    loss: float
    params: dict[str, float]
    history: list[float] = field(default_factory=list)


def transitions_from_plans(x: Tensor, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(x_t, u_t, x_{t+1}) for t = 1..T-1 from trajectories x (N, T, n), u (N, T, m), flattened to rows."""
    if x.ndim != 3 or u.ndim != 3 or x.shape[:2] != u.shape[:2]:
        raise ValueError(f"x must be (N, T, n) and u (N, T, m) with the same N and T; got {tuple(x.shape)} "
                         f"and {tuple(u.shape)}")
    n, m = x.shape[-1], u.shape[-1]
    return x[:, :-1].reshape(-1, n), u[:, :-1].reshape(-1, m), x[:, 1:].reshape(-1, n)


def transition_loss(dynamics: nn.Module, x: Tensor, u: Tensor, x_next: Tensor, angle_index: int | None = None
                    ) -> Tensor:
    """Mean over rows of ``||f(x, u) - x_next||^2``; with ``angle_index``, that coordinate's residual is wrapped
    to [-pi, pi) (an angle that crossed +-pi between the model's prediction and the data costs its true error)."""
    residual = dynamics(x, u) - x_next  # (R, n)
    if angle_index is not None:
        wrapped = torch.remainder(residual[:, angle_index] + math.pi, 2 * math.pi) - math.pi
        residual = torch.cat([residual[:, :angle_index], wrapped[:, None], residual[:, angle_index + 1:]], dim=1)
    return residual.square().sum(-1).mean()


def fit_sysid(dynamics: nn.Module, x: Tensor, u: Tensor, x_next: Tensor, config: SysIdConfig = SysIdConfig(),
              writer=None, angle_index: int | None = None) -> SysIdResult:
    """Fit the parameters of ``dynamics`` that require grad, in place; log ``train/transition_loss``
    (``angle_index``: see :func:`transition_loss`)."""
    if not (x.shape[0] == u.shape[0] == x_next.shape[0]) or x.shape != x_next.shape:
        raise ValueError(f"x, u, x_next must have the same number of rows and x_next the shape of x; got "
                         f"{tuple(x.shape)}, {tuple(u.shape)}, {tuple(x_next.shape)}")
    if x.shape[0] == 0:
        raise ValueError("no transitions to fit: x, u, x_next have 0 rows (collect plans with n_train >= 1)")
    params = [p for p in dynamics.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the dynamics have no parameter that requires grad: nothing to identify")
    opt = (torch.optim.Adam(params, lr=config.lr) if config.optimizer == "adam"
           else torch.optim.RMSprop(params, lr=config.lr, alpha=0.5))
    g = torch.Generator().manual_seed(config.seed)
    history: list[float] = []
    for epoch in tqdm(range(config.epochs), disable=not config.progress, desc="sysid", leave=False):
        total = 0.0
        for idx in torch.randperm(x.shape[0], generator=g).split(config.batch_size):
            opt.zero_grad(set_to_none=True)
            loss = transition_loss(dynamics, x[idx], u[idx], x_next[idx], angle_index)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / x.shape[0])
        if writer is not None:
            writer.add_scalar("train/transition_loss", history[-1], epoch + 1)
            for name, p in dynamics.named_parameters():
                if p.requires_grad and p.numel() == 1:
                    writer.add_scalar(f"param/{name}", float(p.detach()), epoch + 1)
    with torch.no_grad():
        final = float(transition_loss(dynamics, x, u, x_next, angle_index))
    named = {k: float(p.detach()) for k, p in dynamics.named_parameters() if p.numel() == 1}
    return SysIdResult(loss=final, params=named, history=history)


class SysIdSequenceTrainer(SequenceBCTrainer):
    """SysId as the papers' code runs it: train the DiLQR learner's dynamics on next-state transitions of
    the training plans, select the epoch by the validation imitation loss, report the test imitation loss.

    Data: splits (x_init (N, n), u (N, T, m), x (N, T, n)) with x the expert's states. The training loss
    per plan is the mean squared next-state error over its T-1 transitions and the n state entries.
    """

    def train_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        u, x = batch[1], batch[2]
        return plan_transition_loss(self.policy.dynamics, x, u), {}


def plan_transition_loss(dynamics: nn.Module, x: Tensor, u: Tensor) -> Tensor:
    """Mean squared next-state error of each plan: x (N, T, n), u (N, T, m) -> (N,)."""
    N, T, n = x.shape
    xs, us, nxt = transitions_from_plans(x, u)
    return (dynamics(xs, us) - nxt).square().view(N, T - 1, n).mean((1, 2))
