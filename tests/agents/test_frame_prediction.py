"""Training and evaluating frame predictors on pixel episodes: warm-ups, what the history holds, the
per-step errors, errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dilqr_rl.agents.frame_prediction import PredictionConfig, predict, prediction_errors, train_predictor
from dilqr_rl.control import DiLQR
from dilqr_rl.data import collect_pixel_episodes
from dilqr_rl.models import PendulumDynamics
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.image_models import ImageDecoder, ImageEncoder, pixel_mse, to_unit
from dilqr_rl.policies.image_prediction import LatentRolloutPredictor, PlanningPredictor, ResidualStep
from dilqr_rl.policies.state_maps import PendulumFeatureMap, PendulumLatentMap

SIZE, K = 32, 3
TINY = {"channels": (4, 4, 4, 4, 4), "hidden": (8, 8)}


@pytest.fixture(scope="module")
def data() -> dict[str, torch.Tensor]:
    return collect_pixel_episodes(2, seed=1, steps=6, start="hanging", size=SIZE, batch_size=2).tensors()


def _planner() -> tuple[PlanningPredictor, PendulumDynamics]:
    torch.manual_seed(0)
    dynamics = PendulumDynamics(mass=1.3, gravity=7.0, dtype=torch.float64)
    layer = DiLQR(dynamics, PeriodicQuadraticCost((1.0, 0.1, 0.001), 0), K, -2.0, 2.0, max_iter=5, tol=1e-6,
                  on_unconverged="zero")
    encoder = nn.Sequential(ImageEncoder((4, SIZE, SIZE), 3, **TINY), PendulumLatentMap())
    decoder = nn.Sequential(PendulumFeatureMap(), ImageDecoder(3, (1, SIZE, SIZE), **TINY))
    return PlanningPredictor(encoder, layer, decoder), dynamics


def _latent() -> LatentRolloutPredictor:
    torch.manual_seed(0)
    return LatentRolloutPredictor(ImageEncoder((4, SIZE, SIZE), 3, **TINY), ResidualStep(3, 1),
                                  ImageDecoder(3, (1, SIZE, SIZE), **TINY))


def test_planner_training_warmups_and_history(data):
    model, dynamics = _planner()
    config = PredictionConfig(steps=4, batch_size=2, decoded_steps=2, reconstruction_warmup=2, physics_warmup=3,
                              log_every=1)
    history = train_predictor(model, data["frames"], data["actions"], 4, K, config,
                              [dynamics.mass, dynamics.gravity], param_names=["mass", "gravity"])
    assert len(history["train/reconstruction_mse"]) == 4
    assert len(history["train/prediction_mse"]) == 2 and len(history["ilqr/converged_fraction"]) == 2  # steps 3, 4
    assert history["param/mass"][:3] == [1.3, 1.3, 1.3] and history["param/mass"][3] != 1.3
    assert all(0.0 <= f <= 1.0 for f in history["ilqr/converged_fraction"])


def test_prediction_errors_match_a_direct_computation(data):
    model = _latent()
    train_predictor(model, data["frames"], data["actions"], 4, K, PredictionConfig(steps=2, batch_size=2,
                                                                                    decoded_steps=1))
    errors, images = prediction_errors(model, data["frames"], data["actions"], 4, K, "rollout", chunk=1)
    assert errors.shape == (2, K + 1) and images.shape == (2, K + 1, SIZE, SIZE) and images.dtype == np.uint8
    obs = to_unit(data["frames"][:, :1].expand(-1, 4, -1, -1))  # after a reset all slots hold the first frame
    with torch.no_grad():
        frames = model(obs, data["actions"][:, :K], torch.arange(K + 1)).frames  # (2, K + 1, 1, H, W)
    expected = pixel_mse(frames.flatten(0, 1), to_unit(data["frames"][:, : K + 1]).unsqueeze(2).flatten(0, 1))
    np.testing.assert_allclose(errors, expected.view(2, K + 1).numpy(), rtol=1e-5)


def test_plan_mode_uses_only_the_observation(data):
    model, _ = _planner()
    model.eval()
    obs = to_unit(data["frames"][:, :1].expand(-1, 4, -1, -1))
    with torch.no_grad():
        zeros = predict(model, obs, torch.zeros(2, K, 1), None, "plan", levels=(0.0, 2.0, -2.0))
        other = predict(model, obs, torch.ones(2, K, 1), None, "plan", levels=(0.0, 2.0, -2.0))
    torch.testing.assert_close(zeros.u, other.u)  # the expert's controls are not used


def test_errors_on_bad_input(data):
    with pytest.raises(TypeError, match="model must be a PlanningPredictor or LatentRolloutPredictor; got Linear"):
        predict(nn.Linear(1, 1), torch.zeros(1), torch.zeros(1), None, "plan")
    with pytest.raises(ValueError, match=r"episodes of 6 steps are shorter than the predicted horizon K = 9"):
        train_predictor(_latent(), data["frames"], data["actions"], 4, 9, PredictionConfig(steps=1))
    with pytest.raises(ValueError, match="steps, batch_size, decoded_steps and log_every must be >= 1"):
        PredictionConfig(decoded_steps=0)
