"""Adam for a network with physical parameters: the networks at one learning rate, each physical parameter at a
rate relative to its initial magnitude (a mass of 1 and a gravity of 10 move at the same relative speed), and
an optional warm-up during which the physics stays put."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def adam_with_physics(model: nn.Module, physics: Sequence[nn.Parameter], lr: float, physics_lr: float
                      ) -> torch.optim.Adam:
    """Group 0: every other trainable parameter of ``model`` at ``lr``; then one group per physical parameter at
    ``physics_lr * max(|theta_0|, 1e-3)``. Each group keeps its rate in ``initial_lr`` (see :func:`hold_physics`)."""
    ids = {id(p) for p in physics}
    groups = [{"params": [p for p in model.parameters() if p.requires_grad and id(p) not in ids], "lr": lr}]
    groups += [{"params": [p], "lr": physics_lr * max(abs(p.item()), 1e-3)} for p in physics]
    for group in groups:
        group["initial_lr"] = group["lr"]
    return torch.optim.Adam(groups)


def hold_physics(optimizer: torch.optim.Optimizer, hold: bool) -> None:
    """Set the physical parameters' rates (groups 1..) to 0 while ``hold``, else back to their initial rates."""
    for group in optimizer.param_groups[1:]:
        group["lr"] = 0.0 if hold else group["initial_lr"]
