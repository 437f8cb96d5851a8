"""The shared tanh MLP builder: layer sizes, activations, and the modules built on it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dilqr_rl.policies.baselines import MLPPolicy, MLPSequencePolicy
from dilqr_rl.policies.mlp import mlp
from dilqr_rl.policies.state_maps import MLPEncoder


def test_mlp_has_tanh_between_layers_and_none_after_the_last():
    net = mlp([3, 8, 5, 2])
    assert [type(layer) for layer in net] == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert [(layer.in_features, layer.out_features) for layer in net[::2]] == [(3, 8), (8, 5), (5, 2)]
    assert net(torch.randn(4, 3)).shape == (4, 2)
    assert [type(layer) for layer in mlp([3, 2])] == [nn.Linear]


def test_encoder_and_baselines_share_the_builder():
    for module, sizes in ((MLPEncoder(3, 2, hidden=(16,)).net, [3, 16, 2]),
                          (MLPPolicy(3, 1, -2.0, 2.0, hidden_sizes=(16,)).net, [3, 16, 1]),
                          (MLPSequencePolicy(2, 1, 5, -2.0, 2.0, hidden_sizes=(16,)).net, [2, 16, 5])):
        assert [type(layer) for layer in module] == [type(layer) for layer in mlp(sizes)]
        assert [tuple(p.shape) for p in module.parameters()] == [tuple(p.shape) for p in mlp(sizes).parameters()]


@pytest.mark.parametrize("sizes", [[3], [3, 0, 2]])
def test_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match=r"mlp needs at least two layer sizes, all >= 1"):
        mlp(sizes)
