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
from dilqr_rl.data.pixel_episodes import stack_observations
from dilqr_rl.models import PendulumDynamics
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.image_models import ImageDecoder, ImageEncoder, pixel_mse, to_unit
from dilqr_rl.policies.image_prediction import LatentRolloutPredictor, PlanningPredictor, ResidualStep
from dilqr_rl.policies.pixel_state import pendulum_features as state_features
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
    with pytest.raises(ValueError, match=r"state_steps, physics_warmup count steps and must be >= 0 \(0: none\); "
                                         r"got \{'state_steps': -1, 'physics_warmup': -2\}"):
        PredictionConfig(state_steps=-1, physics_warmup=-2)


_pendulum_features = state_features  # the visual study's (and pixel BC's): (cos theta, sin theta, theta_dot / 8)


@pytest.mark.parametrize("make", [lambda: _planner()[0], _latent], ids=["planner", "latent"])
def test_state_steps_regress_the_encoder_then_stop(data, make):
    model = make()
    config = PredictionConfig(steps=4, batch_size=2, decoded_steps=1, reconstruction_warmup=1, state_steps=2,
                              state_weight=2.5, action_weight=0.0, log_every=1)
    history = train_predictor(model, data["frames"], data["actions"], 4, K, config, states=data["states"],
                              state_features=_pendulum_features)
    assert len(history["train/state_mse"]) == 2  # logged at steps 1 and 2 only
    assert all(np.isfinite(history["train/state_mse"])) and min(history["train/state_mse"]) > 0
    # the logged loss: step 1 the reconstruction, step 2 the prediction (reconstruction and 1 predicted step
    # averaged), both + 2.5 x the state MSE; steps 3 and 4 the prediction alone
    loss, rec, state = history["train/loss"], history["train/reconstruction_mse"], history["train/state_mse"]
    pred = history["train/prediction_mse"]  # steps 2..4
    assert loss[0] == pytest.approx(rec[0] + 2.5 * state[0], rel=1e-5)
    assert loss[1] == pytest.approx((rec[1] + pred[0]) / 2 + 2.5 * state[1], rel=1e-5)
    assert loss[2:] == pytest.approx([(r + p) / 2 for r, p in zip(rec[2:], pred[1:])], rel=1e-5)
    with pytest.raises(ValueError, match="state_steps = 2 regresses the encoder on the recorded states"):
        train_predictor(model, data["frames"], data["actions"], 4, K, config)
    with pytest.raises(ValueError, match=r"states \(2, 6, 2\) must have one row per frame, \(E, L \+ 1, n\) with "
                                         r"\(E, L \+ 1\) = \(2, 7\)"):
        train_predictor(model, data["frames"], data["actions"], 4, K, config, states=data["states"][:, 1:],
                        state_features=_pendulum_features)


def test_state_loss_compares_the_planner_state_through_the_features(data):
    from dilqr_rl.agents.frame_prediction import _state_loss
    model, _ = _planner()
    obs = to_unit(data["frames"][:, :1].expand(-1, 4, -1, -1))
    state = data["states"][:, 0]
    with torch.no_grad():
        loss = _state_loss(model, obs, state, _pendulum_features)
        encoded = _pendulum_features(model.encoder(obs).double())
        expected = (encoded - _pendulum_features(state.double())).square().mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    with pytest.raises(ValueError, match=r"the encoding \(2, 3\) \(through state_features for a planner\) and the "
                                         r"state features \(2, 2\) differ"):
        _state_loss(_latent(), obs, state, lambda x: x)


def test_a_decoder_kept_off_the_predictions_learns_from_the_reconstruction_alone(data):
    from dilqr_rl.agents.frame_prediction import _prediction_loss, _windows
    model = _latent()
    obs, targets, u, steps, _ = _windows(data["frames"], data["actions"], 4, K, 3, 2, torch.Generator().manual_seed(0))
    _prediction_loss(model, obs, targets, u, steps, 0.0, decoder_on_predictions=False)[0].backward()
    kept_off = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    # the same loss's reconstruction term alone: (1 / S) x the step-0 per-pixel MSE, S = 3 decoded steps
    reconstruction = pixel_mse(model.reconstruct(obs), targets[:, 0]).mean() / len(steps)
    reconstruction.backward()
    for name, p in model.named_parameters():
        if name.startswith("decoder."):
            torch.testing.assert_close(kept_off[name], p.grad, rtol=1e-5, atol=1e-8)
    # ... while the predictions still train what made the predicted latents (the step model)
    assert all(p.grad is None for n, p in model.named_parameters() if n.startswith("step."))
    assert any(kept_off[n].abs().max() > 0 for n, _ in model.named_parameters() if n.startswith("step."))


def test_consistency_loss_is_the_rollout_against_the_reached_encodings(data):
    from dilqr_rl.agents.frame_prediction import _consistency_loss
    model, dynamics = _planner()
    model.eval()  # BatchNorm on running statistics: the encodings below are the loss's own
    e, t = torch.tensor([0, 1]), torch.tensor([0, 2])
    obs = to_unit(stack_observations(data["frames"], e, t, 4))
    u = data["actions"][e[:, None], t[:, None] + torch.arange(K)]
    steps = torch.tensor([0, 1, 3])
    reached = to_unit(stack_observations(data["frames"], e.repeat_interleave(2), (t[:, None] + steps[1:]).flatten(), 4))
    loss = _consistency_loss(model, obs, u, reached, steps, _pendulum_features)
    with torch.no_grad():
        x = model.encoder(obs).double()
        path = [x]
        for k in range(K):
            path.append(dynamics(path[-1], u[:, k].double()))
        predicted = torch.stack(path, 1)[:, steps[1:]].flatten(0, 1)
        target = model.encoder(reached).double()
        expected = (_pendulum_features(predicted) - _pendulum_features(target)).square().mean()
    assert loss.item() == pytest.approx(float(expected), rel=1e-6)
    loss.backward()
    assert dynamics.gravity.grad is not None and dynamics.gravity.grad != 0  # a system identification signal
    model.train()
    _consistency_loss(model, obs, u, reached, steps, _pendulum_features)
    assert model.encoder.training  # the targets are encoded in eval mode, and the mode is put back
    with pytest.raises(ValueError, match=r"consistency_weight = 1\.0 compares a planner's states through "
                                         r"state_features"):
        train_predictor(model, data["frames"], data["actions"], 4, K, PredictionConfig(steps=1,
                                                                                        consistency_weight=1.0))
