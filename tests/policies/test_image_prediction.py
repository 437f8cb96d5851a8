"""Frame predictors: the planning predictor (gradients reach the encoder through the layer: finite differences
in float64) and the learned-latent baseline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dilqr_rl.control import DiLQR
from dilqr_rl.models import PendulumDynamics
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.image_models import ImageDecoder, ImageEncoder
from dilqr_rl.policies.image_prediction import LatentRolloutPredictor, PlanningPredictor, ResidualStep
from dilqr_rl.policies.state_maps import PendulumAngleMap, PendulumFeatureMap

F64 = torch.float64
TINY = {"channels": (4, 4, 4), "hidden": (8, 8)}


def _planner(horizon: int = 4, size: int = 8, dtype: torch.dtype = F64) -> PlanningPredictor:
    torch.manual_seed(0)
    encoder = nn.Sequential(ImageEncoder((2, size, size), 3, **TINY), PendulumAngleMap())
    decoder = nn.Sequential(PendulumFeatureMap(), ImageDecoder(3, (1, size, size), **TINY))
    layer = DiLQR(PendulumDynamics(mass=1.3, gravity=7.0, dtype=F64), PeriodicQuadraticCost((1.0, 0.1, 0.01), 0),
                  horizon, -2.0, 2.0, max_iter=200, tol=1e-12)
    return PlanningPredictor(encoder.to(dtype), layer, decoder.to(dtype)).eval()


@pytest.mark.parametrize("size", [8, 16, 32])
def test_planning_predictor_shapes(size):
    model = _planner(horizon=5, size=size, dtype=torch.float32)
    out = model(torch.rand(3, 2, size, size), steps=[0, 2, 5])
    assert out.latent.shape == (3, 6, 2) and out.u.shape == (3, 5, 1) and out.plan.x.shape == (3, 5, 2)
    assert out.frames.shape == (3, 3, 1, size, size) and out.frames.dtype == torch.float32
    torch.testing.assert_close(out.latent[:, :5], out.plan.x)  # x_1..x_T, then x_{T+1} = f(x_T, u_T)
    torch.testing.assert_close(out.latent[:, 5], model.dilqr.dynamics(out.plan.x[:, -1], out.plan.u[:, -1]))
    assert model(torch.rand(1, 2, size, size)).frames is None
    rolled = model.rollout(torch.rand(2, 2, size, size), torch.zeros(2, 7, 1), steps=[7])
    assert rolled.latent.shape == (2, 8, 2) and rolled.frames.shape == (2, 1, 1, size, size) and rolled.plan is None


def _central_difference(loss, parameter: torch.Tensor, index: int, eps: float = 1e-6) -> float:
    flat = parameter.data.view(-1)
    with torch.no_grad():
        flat[index] += eps
        up = float(loss())
        flat[index] -= 2 * eps
        down = float(loss())
        flat[index] += eps
    return (up - down) / (2 * eps)


@pytest.mark.parametrize("target", ["controls", "frames"])
def test_gradients_reach_the_encoder_through_the_layer(target):
    """d loss / d (encoder weights) and d loss / d mass against central finite differences, float64. The loss on
    the planned controls reaches the encoder only through the layer's implicit backward (x_init)."""
    model = _planner()
    obs = torch.rand(2, 2, 8, 8, dtype=F64)
    weights = torch.randn(2, 4, 1, dtype=F64)
    picture = torch.rand(2, 2, 1, 8, 8, dtype=F64)

    def loss() -> torch.Tensor:
        out = model(obs, steps=[1, 4] if target == "frames" else None)
        assert bool(out.plan.converged.all())
        if target == "controls":
            return (weights * out.u).sum()
        return (out.frames - picture).square().sum()

    model.zero_grad()
    loss().backward()
    encoder = model.encoder[0]
    for parameter in (encoder.fc[-1].weight, encoder.fc[-1].bias, encoder.conv[0].weight, model.dilqr.dynamics.mass):
        index = int(parameter.grad.abs().argmax())  # a unit whose ReLUs pass the gradient
        analytic = float(parameter.grad.view(-1)[index])
        assert analytic != 0.0
        assert analytic == pytest.approx(_central_difference(loss, parameter, index), rel=1e-5, abs=1e-8)


def test_best_constant_start_is_the_cheapest_solution():
    model = _planner(horizon=10)
    obs = torch.rand(3, 2, 8, 8, dtype=F64)
    best = model.best_constant_start(obs, (0.0, 2.0, -2.0))
    assert best.shape == (3, 10, 1)
    costs = torch.stack([model(obs, torch.full((3, 10, 1), level, dtype=F64)).plan.cost
                         for level in (0.0, 2.0, -2.0)])
    torch.testing.assert_close(model(obs, best).plan.cost, costs.min(0).values)


def test_latent_rollout_predictor_runs_the_step_model_under_given_controls():
    torch.manual_seed(0)
    model = LatentRolloutPredictor(ImageEncoder((2, 8, 8), 3, **TINY), ResidualStep(3, 1, hidden=(8,)),
                                   ImageDecoder(3, (1, 8, 8), **TINY))
    u = torch.randn(2, 6, 1)
    out = model(torch.rand(2, 2, 8, 8), u, steps=[0, 6])
    assert out.latent.shape == (2, 7, 3) and out.frames.shape == (2, 2, 1, 8, 8) and out.plan is None
    torch.testing.assert_close(out.latent[:, 1], model.step(out.latent[:, 0], u[:, 0]))
    out.frames.sum().backward()
    assert all(p.grad is not None for p in model.step.parameters())
