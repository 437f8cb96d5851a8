"""``mlp(sizes)``: the tanh multilayer perceptron shared by the learned state maps and the neural baselines."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]`` with ``activation`` (tanh) between them (none
    after the last).

    Shapes: (B, sizes[0]) -> (B, sizes[-1]).
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"mlp needs at least two layer sizes, all >= 1 (input, ..., output); got {list(sizes)}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)
