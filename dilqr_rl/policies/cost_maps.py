"""Cost maps: networks from the controller's state to per-item cost parameters (Actor-Critic MPC's cost map).

A DiLQR actor with a cost map plans, for each state in the batch, with cost parameters the network predicts
for that state: ``controller(state, cost_args=cost_map(state))``. The layer differentiates its solution in
those per-item parameters exactly (``DiLQR.forward``'s ``cost_args``), so the policy gradient trains the
network through the plan.

Shapes:
    GoalWeightsMap: state (B, n) -> {"weights": (B, N), "goal": (B, N)}, N = n + m.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dilqr_rl.policies.mlp import mlp


class GoalWeightsMap(nn.Module):
    """Per-item weights and goal of a weighted quadratic cost around its nominal weights ``w0`` (N,):

        weights = w0 * exp(d_w(state)),   goal = d_g(state),   [d_w, d_g] = MLP(state)

    The MLP's last layer starts at zero, so the untrained map reproduces the nominal cost (weights w0, goal
    0): a policy with this map starts as the policy without it. The cost must take ``weights`` and ``goal``
    keyword arguments (``PeriodicQuadraticCost``, ``GoalCost``).
    """

    def __init__(self, state_dim: int, nominal_weights: Tensor | Sequence[float],
                 hidden_sizes: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        w0 = torch.as_tensor(nominal_weights, dtype=torch.get_default_dtype()).flatten()
        if not bool((w0 >= 0).all()):
            raise ValueError(f"nominal_weights must be non-negative; got {w0.tolist()}")
        self.register_buffer("nominal_weights", w0.clone())
        self.net = mlp([int(state_dim), *map(int, hidden_sizes), 2 * w0.numel()])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, state: Tensor) -> dict[str, Tensor]:
        log_scale, goal = self.net(state).chunk(2, dim=-1)  # (B, N) each
        return {"weights": self.nominal_weights * log_scale.exp(), "goal": goal}


COST_MAPS = ("goal_weights",)
"""Names ``DiLQRPolicy(cost_map=...)`` accepts besides a module."""


def make_cost_map(spec: str | nn.Module, state_dim: int, cost: nn.Module) -> nn.Module:
    """The cost map named ``spec`` for ``cost`` (its nominal weights from ``cost.w`` or ``cost.weights``), or
    ``spec`` itself."""
    if isinstance(spec, nn.Module):
        return spec
    if spec not in COST_MAPS:
        valid = ", ".join(repr(name) for name in COST_MAPS)
        raise ValueError(f"cost_map must be one of {valid} or an nn.Module (state -> {{keyword: tensor}}); "
                         f"got {spec!r}")
    cost = getattr(cost, "model", cost)  # through a ScaledControl wrapper
    weights = getattr(cost, "w", None)
    weights = getattr(cost, "weights", None) if weights is None else weights
    if not isinstance(weights, Tensor):
        raise ValueError(f"cost_map='goal_weights' predicts weights around the cost's own, but "
                         f"{type(cost).__name__} has no tensor attribute w or weights: pass your own cost map "
                         "module")
    return GoalWeightsMap(state_dim, weights.detach())
