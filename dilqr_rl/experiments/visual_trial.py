"""One ``visual`` trial: train a frame predictor on expert swing-ups from pixels and measure its predictions.

Methods: ``dilqr`` (:class:`~dilqr_rl.policies.image_prediction.PlanningPredictor`: image encoder ->
(theta, theta_dot) -> DiLQR plan with a learnable pendulum from a wrong start and the expert's cost ->
decoder of the planned angles), ``dilqr-pixels`` (the same network trained without the state regression: the
ablation) and ``latent`` (:class:`~dilqr_rl.policies.image_prediction.LatentRolloutPredictor`: the same encoder
and decoder around a 3-dimensional latent and an MLP step model rolled out under the expert's controls). All are
trained by :func:`dilqr_rl.agents.frame_prediction.train_predictor` with the losses the config switches on
(``state_steps``, ``consistency_weight``, ``decoder_on_predictions``; see ``PredictionConfig``); the DiLQR
head is evaluated twice: planning its own controls (``plan``) and running its learned dynamics under the
expert's controls (``rollout``), the information the baseline gets.

A trial writes TensorBoard logs, ``history.json`` (training curves and, under ``eval/<mode>/mse``, the
per-pixel MSE (N, K + 1) of each test trajectory and step), ``predictions_<mode>.npy`` (the predicted frames of
the first three test trajectories, for the report's strips) and ``result.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dilqr_rl.agents.frame_prediction import PredictionConfig, prediction_errors, train_predictor
from dilqr_rl.agents.logging import make_writer
from dilqr_rl.control import DiLQR
from dilqr_rl.data import PixelEpisodeDataset, collect_pixel_episodes
from dilqr_rl.envs.pendulum import MAX_TORQUE
from dilqr_rl.models import PendulumDynamics
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.expert_envs import PENDULUM_WEIGHTS
from dilqr_rl.policies.image_models import ImageDecoder, ImageEncoder
from dilqr_rl.policies.image_prediction import LatentRolloutPredictor, PlanningPredictor, ResidualStep
from dilqr_rl.policies.pixel_state import pendulum_features as state_features  # what the encoders are regressed on
from dilqr_rl.policies.state_maps import PendulumFeatureMap, PendulumLatentMap

METHODS = ("dilqr", "dilqr-pixels", "latent")
MODES = {"dilqr": ("plan", "rollout"), "dilqr-pixels": ("plan",), "latent": ("rollout",)}
"""Evaluation modes per method (see the module docstring)."""
TRUTH = {"mass": 1.0, "gravity": 10.0}
COLD_STARTS = (0.0, MAX_TORQUE, -MAX_TORQUE)
"""The constant controls the DiLQR head starts its test plans from (as the expert starts an episode)."""
STRIP_TRAJECTORIES = 3


class AngleFeatures(nn.Module):
    """(theta, theta_dot) (R, 2) -> (cos theta, sin theta) (R, 2): what a frame shows of the state."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return PendulumFeatureMap()(x)[:, :2]


def build_model(config: dict[str, Any]) -> tuple[nn.Module, list[nn.Parameter], list[str]]:
    """The trial's predictor, its physical parameters and their names (seeded by ``config["seed"]``)."""
    torch.manual_seed(config["seed"])
    size, frames = config["size"], config["frames"]
    widths = {"channels": tuple(config["channels"])}
    if config["method"] == "latent":
        model = LatentRolloutPredictor(ImageEncoder((frames, size, size), 3, **widths), ResidualStep(3, 1),
                                       ImageDecoder(3, (1, size, size), channels=widths["channels"][::-1]))
        return model, [], []
    dynamics = PendulumDynamics(mass=config["start_mass"], gravity=config["start_gravity"], dtype=torch.float64)
    dynamics.length.requires_grad_(False)  # known: the pendulum identifies 3 g / (2 l) and 3 / (m l^2) only
    layer = DiLQR(dynamics, PeriodicQuadraticCost(PENDULUM_WEIGHTS, angle_index=0), config["horizon"],
                  -MAX_TORQUE, MAX_TORQUE, max_iter=config["max_iter"], tol=1e-6, on_unconverged="zero")
    encoder = nn.Sequential(ImageEncoder((frames, size, size), 3, **widths), PendulumLatentMap())
    decoder = nn.Sequential(AngleFeatures(), ImageDecoder(2, (1, size, size), channels=widths["channels"][::-1]))
    return PlanningPredictor(encoder, layer, decoder), [dynamics.mass, dynamics.gravity], ["mass", "gravity"]


def dataset(config: dict[str, Any], split: str) -> PixelEpisodeDataset:
    """Expert swing-ups from hanging down, cached under ``data_dir``: ``train`` seeded by the trial's seed,
    ``test`` the same for every trial."""
    n = config["n_train"] if split == "train" else config["n_test"]
    seed = 1000 * (config["seed"] + 1) if split == "train" else 100_000
    name = f"visual__{split}__{config['size']}px__{n}x{config['episode_steps']}__seed{seed}.npz"
    path = Path(config["data_dir"]) / name
    if path.is_file():
        return PixelEpisodeDataset.load(path)
    ds = collect_pixel_episodes(n, seed=seed, steps=config["episode_steps"], start="hanging", size=config["size"],
                                frames=config["frames"])
    ds.save(path)  # atomic: trials collecting the same data at once write the same bytes
    return ds


def resolve_state_steps(config: dict[str, Any]) -> int:
    """``config["state_steps"]``: a number of steps, or ``"all"`` (every step; the study's recipes say so)."""
    value = config.get("state_steps", 0)
    if value == "all":
        return config["steps"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"state_steps must be a number of steps >= 0 or 'all'; got {value!r}")
    return value


def _training(config: dict[str, Any]) -> PredictionConfig:
    return PredictionConfig(
        steps=config["steps"], batch_size=config["batch_size"], lr=config["lr"], physics_lr=config["physics_lr"],
        action_weight=config["action_weight"], reconstruction_warmup=config["reconstruction_warmup"],
        physics_warmup=config["physics_warmup"], state_steps=resolve_state_steps(config),
        state_weight=config.get("state_weight", 1.0), consistency_weight=config.get("consistency_weight", 0.0),
        decoder_on_predictions=config.get("decoder_on_predictions", True), decoded_steps=config["decoded_steps"],
        seed=config["seed"], device=config.get("device", "cpu"))


def run_visual_trial(config: dict[str, Any], trial_dir: str | Path) -> dict[str, Any]:
    """Train and evaluate one method (``config["method"]`` in ``METHODS``); return the metrics."""
    if config["method"] not in METHODS:
        raise ValueError(f"unknown method {config['method']!r}; valid: {list(METHODS)}")
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    train, test = dataset(config, "train"), dataset(config, "test")
    model, physics, names = build_model(config)
    device = config.get("device", "cpu")
    model.to(device)
    writer = make_writer(trial_dir, config)
    tensors = train.tensors()
    try:
        history = train_predictor(model, tensors["frames"], tensors["actions"], train.stack, config["horizon"],
                                  _training(config), physics, writer, names, tensors["states"], state_features)
    finally:
        writer.close()
    metrics: dict[str, Any] = {"train_seconds": float(np.mean(history["train/step_seconds"]) * config["steps"])}
    test_tensors = test.tensors()
    for mode in MODES[config["method"]]:
        errors, images = prediction_errors(model, test_tensors["frames"], test_tensors["actions"], test.stack,
                                           config["horizon"], mode, COLD_STARTS, device)
        history[f"eval/{mode}/mse"] = errors.tolist()
        np.save(trial_dir / f"predictions_{mode}.npy", images[:STRIP_TRAJECTORIES])
        mean = errors.mean(0)
        metrics.update({f"{mode}_mse_k{k}": float(mean[k]) for k in (0, 1, 10, 20, config["horizon"]) if k < len(mean)})
        metrics[f"{mode}_mse_mean"] = float(mean[1:].mean())
    metrics.update({f"param_{n}": p.item() for n, p in zip(names, physics)})
    if "ilqr/converged_fraction" in history:
        metrics["converged_fraction"] = float(np.mean(history["ilqr/converged_fraction"]))
    metrics["wall_time_s"] = time.perf_counter() - started
    (trial_dir / "history.json").write_text(json.dumps(history))
    (trial_dir / "result.json").write_text(json.dumps(metrics, indent=1))
    return metrics
