"""PlanningHead: encoder -> DiLQR -> decoder, with gradients to the encoder, decoder and physics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dilqr_rl.control.layer import DiLQR
from dilqr_rl.models import PendulumDynamics, PendulumSwingUpCost
from dilqr_rl.policies import PlanningHead
from dilqr_rl.policies.state_maps import CNNEncoder


def _head(decoder: nn.Module | None = None) -> PlanningHead:
    torch.manual_seed(0)
    dilqr = DiLQR(PendulumDynamics(mass=1.2).double(), PendulumSwingUpCost(control_weight=0.05).double(),
                  horizon=5, u_lower=-2.0, u_upper=2.0, max_iter=100, tol=1e-12)
    return PlanningHead(CNNEncoder((4, 16, 16), 2, channels=8), dilqr, decoder)


def test_gradients_reach_the_encoder_decoder_and_dynamics():
    decoder = nn.Linear(2, 4 * 16 * 16).double()
    head = _head(decoder)
    out = head(torch.rand(3, 4, 16, 16))
    assert out.state.shape == (3, 2) and out.plan.u.shape == (3, 5, 1) and out.decoded.shape == (3, 5, 1024)
    loss = out.plan.u.square().sum() + out.plan.x[..., 0].sum() + out.decoded.square().mean()
    loss.backward()
    grads = [p.grad for p in head.encoder.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    assert all(p.grad is not None for p in decoder.parameters())
    assert head.dilqr.dynamics.mass.grad is not None


def test_encoder_gradient_matches_finite_differences():
    """d loss / d (encoder bias) against central finite differences in float64, every solve converged (tol 1e-12):
    the two agree to about 1e-11 here; rel 1e-7 leaves room for the differences' rounding (1e-16 / eps)."""
    head = _head()
    head.encoder.double()
    obs = torch.rand(2, 4, 16, 16, dtype=torch.float64)
    weight = head.encoder.head.bias

    def loss() -> torch.Tensor:
        plan = head(obs).plan
        assert bool(plan.converged.all()), plan.iterations
        return plan.x[..., 0].sum()

    loss().backward()
    analytic = weight.grad.clone()
    eps = 1e-6
    for i in range(2):
        with torch.no_grad():
            weight[i] += eps
            up = loss().item()
            weight[i] -= 2 * eps
            down = loss().item()
            weight[i] += eps
        assert analytic[i].item() != 0.0
        assert analytic[i].item() == pytest.approx((up - down) / (2 * eps), rel=1e-7, abs=0.0)


def test_no_decoder_gives_none():
    assert _head()(torch.rand(1, 4, 16, 16)).decoded is None


def test_errors():
    with pytest.raises(TypeError, match="dilqr must be a dilqr_rl DiLQR layer"):
        PlanningHead(nn.Identity(), nn.Identity())
    with pytest.raises(TypeError, match=r"encoder and decoder must be nn\.Modules"):
        PlanningHead(nn.Identity(), _head().dilqr, decoder=lambda x: x)
    with pytest.raises(ValueError, match="the encoder must return states \\(B, n\\)"):
        PlanningHead(nn.Identity(), _head().dilqr)(torch.rand(2, 3, 2))
