"""Training and evaluating frame predictors (:mod:`dilqr_rl.policies.image_prediction`) on pixel episodes.

Training samples windows: an episode e and a start t, the observation at t (F stacked frames), the next K
expert actions and the frames t .. t + K. The loss is the per-pixel MSE of the decoded frames at step 0 (the
reconstruction) and at ``decoded_steps`` steps drawn from 1..K (the prediction; a uniform sample of the steps
is an unbiased estimate of the loss over all K, at a fraction of the decoder's cost), plus, for a
:class:`~dilqr_rl.policies.image_prediction.PlanningPredictor`, ``action_weight`` times the MSE between the
planned and the expert's controls (the imitation loss). The planner is warm-started from the expert's
controls in training; evaluation gives it only the observation.

Optional terms (:class:`PredictionConfig`): a regression of the encoder on the recorded true state
(``state_steps``, ``state_weight``), a latent consistency loss (``consistency_weight``), and a decoder kept off
the predicted frames (``decoder_on_predictions = False``: it learns from the reconstruction only).

Evaluation predicts K steps from the first observation of each test episode: ``plan`` (the planner's own
controls, started from constant controls as the expert starts), ``rollout`` (a predictor's dynamics under
the expert's controls).

Shapes: frames (E, L + 1, H, W) uint8, actions (E, L, m); errors (N, K + 1) per-pixel MSE for k = 0..K.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from dilqr_rl.agents.logging import StepHistory
from dilqr_rl.agents.physics_optim import adam_with_physics, hold_physics
from dilqr_rl.control import UnconvergedWarning
from dilqr_rl.data.pixel_episodes import stack_observations
from dilqr_rl.policies.image_models import pixel_mse, to_unit
from dilqr_rl.policies.image_prediction import FramePrediction, LatentRolloutPredictor, PlanningPredictor, decode_steps


@dataclass(frozen=True)
class PredictionConfig:
    """Optimisation of a frame predictor."""

    steps: int = 1500
    """Gradient steps (each on ``batch_size`` windows)."""
    batch_size: int = 16
    """Windows per step."""
    lr: float = 1e-3
    """Adam's learning rate for the networks (encoder, decoder, latent step model)."""
    physics_lr: float = 1e-2
    """Adam's learning rate for each physical parameter, relative to its initial magnitude."""
    action_weight: float = 1e-2
    """Weight of the imitation loss (planned vs expert controls) next to the per-pixel MSE."""
    reconstruction_warmup: int = 0
    """First steps on the reconstruction loss (step 0) alone: an autoencoder warm-up that gives the encoder a
    state before any prediction (or plan) is asked of it."""
    state_steps: int = 0
    """First steps during which the encoder also regresses the recorded true state (``state_features`` of it,
    weight ``state_weight``, added to the step's loss; ``steps`` or more: throughout). It anchors the encoder
    to the physical state and its conventions (theta = 0 upright, the sense of rotation), which frames alone
    leave open (any rotation or reflection of the angle decodes to the same frames) and which the planner's
    physics and cost need. After these steps the losses are on pixels (and actions) only."""
    state_weight: float = 1.0
    """Weight of the state regression during ``state_steps``."""
    consistency_weight: float = 0.0
    """Weight of the latent consistency loss (needs ``state_features``; after ``reconstruction_warmup``): the
    model's dynamics rolled out under the expert's controls from the encoded observation, against the
    encodings of the observations actually reached, at the decoded steps (the targets carry no gradient; both
    compared through ``state_features`` for a planner). A self-supervised system identification in the
    encoder's state: no true state is used. Off in the ``visual`` study: in exploratory 700-step runs (not
    committed; the targets then still used batch statistics) it drew the learned gravity away from the truth,
    where the runs without it moved gravity towards it. Noise in the encoded start states biases such a fit (as
    errors in the inputs of any regression do); not investigated further."""
    decoder_on_predictions: bool = True
    """Whether the predicted frames' loss also trains the decoder. False: the decoder learns from the
    reconstruction (step 0) alone and the prediction loss reaches only what made the predicted states (encoder,
    dynamics, planner): a prediction that puts the pendulum in the wrong place is corrected where it went
    wrong, instead of the decoder learning to hedge between places (a blurred, darker frame)."""
    physics_warmup: int = 0
    """Steps during which the physical parameters stay at their start (the encoder first learns a state the
    model's physics can predict; learning both at once from a random encoder drifts the physics)."""
    decoded_steps: int = 8
    """Predicted steps decoded per window in training (drawn from 1..K without replacement), besides step 0."""
    log_every: int = 25
    """Steps between entries of the history (each entry averages the steps since the last)."""
    seed: int = 0
    """Seeds the windows and the decoded steps."""
    device: str = "cpu"
    """Where the networks and the batches live."""

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.decoded_steps, self.log_every) < 1:
            raise ValueError(f"steps, batch_size, decoded_steps and log_every must be >= 1; got {self}")
        counts = {"reconstruction_warmup": self.reconstruction_warmup, "state_steps": self.state_steps,
                  "physics_warmup": self.physics_warmup}
        if bad := {name: n for name, n in counts.items() if n < 0}:
            raise ValueError(f"{', '.join(bad)} count steps and must be >= 0 (0: none); got {bad}")
        if not (self.lr > 0 and self.physics_lr > 0 and min(self.action_weight, self.state_weight,
                                                             self.consistency_weight) >= 0):
            raise ValueError("need lr > 0, physics_lr > 0 and action_weight, state_weight, consistency_weight >= 0; "
                             f"got {self}")


def _windows(frames: Tensor, actions: Tensor, stack: int, horizon: int, batch: int, decoded: int,
             generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor, tuple[Tensor, Tensor]]:
    """A random batch: obs (B, F, H, W) in [0, 1], target frames (B, S, 1, H, W), expert controls (B, K, m),
    the decoded steps (S,) = 0 and ``decoded`` steps of 1..K, and the windows' (episode, start) indices (B,)."""
    E, L1 = frames.shape[:2]
    if L1 - 1 < horizon:
        raise ValueError(f"episodes of {L1 - 1} steps are shorter than the predicted horizon K = {horizon}")
    e = torch.randint(E, (batch,), generator=generator)
    t = torch.randint(L1 - horizon, (batch,), generator=generator)
    steps = torch.cat([torch.zeros(1, dtype=torch.long),
                       1 + torch.randperm(horizon, generator=generator)[:decoded].sort().values])
    obs = to_unit(stack_observations(frames, e, t, stack))
    targets = to_unit(frames[e[:, None], t[:, None] + steps]).unsqueeze(2)  # (B, S, 1, H, W)
    u = actions[e[:, None], t[:, None] + torch.arange(horizon)]  # (B, K, m)
    return obs, targets, u, steps, (e, t)


def predict(model: nn.Module, obs: Tensor, u_expert: Tensor, steps: Tensor | Sequence[int] | None, mode: str,
            levels: Sequence[float] = ()) -> FramePrediction:
    """One prediction: ``train`` (planner warm-started by the expert's controls; the baseline under them),
    ``plan`` (the planner from ``levels`` constant starts) or ``rollout`` (the dynamics under the expert's)."""
    if isinstance(model, LatentRolloutPredictor):
        return model(obs, u_expert, steps)
    if not isinstance(model, PlanningPredictor):
        raise TypeError(f"model must be a PlanningPredictor or LatentRolloutPredictor; got {type(model).__name__}")
    dtype = next(model.dilqr.parameters()).dtype
    if mode == "rollout":
        return model.rollout(obs, u_expert, steps)
    u_init = u_expert.to(dtype) if mode == "train" else model.best_constant_start(obs, levels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)  # counted in the history instead
        return model(obs, u_init, steps)


def train_predictor(model: nn.Module, frames: Tensor, actions: Tensor, stack: int, horizon: int,
                    config: PredictionConfig, physics: Sequence[nn.Parameter] = (), writer=None,
                    param_names: Sequence[str] = (), states: Tensor | None = None,
                    state_features: Callable[[Tensor], Tensor] | None = None) -> dict[str, list[float]]:
    """Train ``model`` on windows of the episodes (module docstring); return the history (one entry per
    ``log_every`` steps, each term averaged over the steps of the block that had it): ``train/loss``,
    ``train/reconstruction_mse``, ``train/prediction_mse`` (after the reconstruction warm-up),
    ``train/state_mse`` (during ``state_steps``), ``train/consistency_mse`` (when weighted),
    ``train/step_seconds``, and for a planner ``train/action_mse``, ``ilqr/iterations``,
    ``ilqr/converged_fraction`` and ``param/<name>`` of ``physics``.

    ``config.state_steps > 0`` needs the episodes' true ``states`` (E, L + 1, n) and ``state_features``, which
    maps states (R, n) to the space the encoder is compared in: a :class:`PlanningPredictor`'s encoded state
    goes through it as well, a :class:`LatentRolloutPredictor`'s latent is compared as it is (its size must be
    the features')."""
    if config.state_steps and (states is None or state_features is None):
        raise ValueError(f"state_steps = {config.state_steps} regresses the encoder on the recorded states: pass "
                         "states (E, L + 1, n) and state_features, or set state_steps = 0")
    if config.state_steps and tuple(states.shape[:2]) != tuple(frames.shape[:2]):
        raise ValueError(f"states {tuple(states.shape)} must have one row per frame, (E, L + 1, n) with (E, L + 1) = "
                         f"{tuple(frames.shape[:2])} as the frames")
    if config.consistency_weight and state_features is None and isinstance(model, PlanningPredictor):
        raise ValueError(f"consistency_weight = {config.consistency_weight} compares a planner's states through "
                         "state_features (the angle wraps around): pass it, or set consistency_weight = 0")
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = adam_with_physics(model, physics, config.lr, config.physics_lr)
    log = StepHistory(config.log_every, config.steps, writer)
    model.train()
    for step in range(1, config.steps + 1):
        start = time.perf_counter()
        hold_physics(optimizer, step <= config.physics_warmup)
        obs, targets, u_expert, steps, (e, t) = _windows(frames, actions, stack, horizon, config.batch_size,
                                                         config.decoded_steps, generator)
        obs, targets, u_expert = (v.to(config.device) for v in (obs, targets, u_expert))
        if step <= config.reconstruction_warmup:
            loss, scalars = _reconstruction_loss(model, obs, targets[:, 0])
        else:
            loss, scalars = _prediction_loss(model, obs, targets, u_expert, steps.to(config.device),
                                             config.action_weight, config.decoder_on_predictions)
            if config.consistency_weight:
                reached = stack_observations(frames, e.repeat_interleave(len(steps) - 1),
                                             (t[:, None] + steps[1:]).flatten(), stack)
                consistency = _consistency_loss(model, obs, u_expert, to_unit(reached).to(config.device),
                                                steps.to(config.device), state_features)
                loss = loss + config.consistency_weight * consistency
                scalars.update({"train/consistency_mse": consistency.item(), "train/loss": loss.item()})
        if step <= config.state_steps:
            state = _state_loss(model, obs, states[e, t].to(config.device), state_features)
            loss = loss + config.state_weight * state
            scalars.update({"train/state_mse": state.item(), "train/loss": loss.item()})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scalars["train/step_seconds"] = time.perf_counter() - start
        log.add(step, scalars, {f"param/{n}": p.item() for n, p in zip(param_names, physics)})
    return log.history


def _consistency_loss(model: nn.Module, obs: Tensor, u_expert: Tensor, reached: Tensor, steps: Tensor,
                      features: Callable[[Tensor], Tensor]) -> Tensor:
    """MSE between the model's rollout under the expert's controls u_expert (B, K, m) from obs (B, F, H, W) at
    ``steps[1:]`` and the (gradient-free) encodings of the observations reached there, (B * (S - 1), F, H, W)."""
    rollout = model.rollout(obs, u_expert) if isinstance(model, PlanningPredictor) else model(obs, u_expert)
    predicted = rollout.latent[:, steps[1:]].flatten(0, 1)  # (B * (S - 1), d)
    training = model.encoder.training
    with torch.no_grad():
        model.encoder.eval()  # BatchNorm on running statistics: the targets do not depend on their batch
        target = model.encoder(reached).to(predicted.dtype)
        model.encoder.train(training)
    if isinstance(model, PlanningPredictor):
        predicted, target = features(predicted), features(target)
    return (predicted - target).square().mean()


def _state_loss(model: nn.Module, obs: Tensor, state: Tensor, features: Callable[[Tensor], Tensor]) -> Tensor:
    """MSE between the encoding of obs (B, F, H, W) and ``features`` of the true state (B, n) (train_predictor)."""
    encoded = model.encoder(obs)
    if isinstance(model, PlanningPredictor):
        encoded = features(encoded)
    target = features(state.to(encoded.dtype))
    if encoded.shape != target.shape:
        raise ValueError(f"the encoding {tuple(encoded.shape)} (through state_features for a planner) and the state "
                         f"features {tuple(target.shape)} differ in shape; state_features must map states to the "
                         "latent's size")
    return (encoded - target).square().mean()


def _reconstruction_loss(model: nn.Module, obs: Tensor, target: Tensor) -> tuple[Tensor, dict[str, float]]:
    """Per-pixel MSE of the decoded observation (step 0) alone; target (B, 1, H, W)."""
    frames = model.reconstruct(obs)
    loss = pixel_mse(frames, target.to(frames.dtype)).mean()
    return loss, {"train/loss": loss.item(), "train/reconstruction_mse": loss.item()}


def _prediction_loss(model: nn.Module, obs: Tensor, targets: Tensor, u_expert: Tensor, steps: Tensor,
                     action_weight: float, decoder_on_predictions: bool = True) -> tuple[Tensor, dict[str, float]]:
    """Per-pixel MSE of the decoded steps (step 0 and the sampled predictions) plus the weighted imitation
    loss of a planner; targets (B, S, 1, H, W), u_expert (B, K, m)."""
    if decoder_on_predictions:
        out = predict(model, obs, u_expert, steps, "train")
        frames = out.frames
    else:
        out = predict(model, obs, u_expert, None, "train")
        frozen = _frozen(model.decoder)
        frames = torch.cat([decode_steps(model.decoder, out.latent, steps[:1]),
                            decode_steps(frozen, out.latent, steps[1:])], dim=1)
    errors = pixel_mse(frames.flatten(0, 1), targets.flatten(0, 1).to(frames.dtype)).view(len(obs), -1)
    pixel = errors.mean()
    scalars = {"train/reconstruction_mse": errors[:, 0].mean().item(),
               "train/prediction_mse": errors[:, 1:].mean().item()}
    loss = pixel
    if out.plan is not None:
        action = (out.u - u_expert.to(out.u.dtype)).square().mean()
        loss = pixel + action_weight * action.to(pixel.dtype)
        scalars.update({"train/action_mse": action.item(),
                        "ilqr/iterations": float(out.plan.iterations.double().mean()),
                        "ilqr/converged_fraction": float(out.plan.converged.double().mean())})
    scalars["train/loss"] = loss.item()
    return loss, scalars


class _frozen(nn.Module):
    """``decoder`` with its parameters detached: gradients reach its input only. Its buffers are the decoder's
    own: in ``train()`` mode BatchNorm normalises the frozen call's batch (the predicted steps) by that batch's
    statistics, apart from the reconstruction's, and updates the running statistics with it too (two updates
    per training step, the predicted steps' last)."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, z: Tensor) -> Tensor:
        params = {name: p.detach() for name, p in self.decoder.named_parameters()}
        return torch.func.functional_call(self.decoder, params, (z,))  # buffers: the decoder's own


@torch.no_grad()
def prediction_errors(model: nn.Module, frames: Tensor, actions: Tensor, stack: int, horizon: int, mode: str,
                      levels: Sequence[float] = (), device: str = "cpu", chunk: int = 25
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Predict K = ``horizon`` steps from the first observation of every episode; return the per-pixel MSE
    (N, K + 1) for k = 0..K and the predicted frames (N, K + 1, H, W) uint8."""
    model.eval()
    E = frames.shape[0]
    steps = torch.arange(horizon + 1)
    errors, images = [], []
    for first in range(0, E, chunk):
        e = torch.arange(first, min(first + chunk, E))
        t = torch.zeros_like(e)
        obs = to_unit(stack_observations(frames, e, t, stack)).to(device)
        u = actions[e, :horizon].to(device)
        out = predict(model, obs, u, steps.to(device), mode, levels)
        target = to_unit(frames[e, : horizon + 1]).unsqueeze(2).to(out.frames.device)  # (b, K + 1, 1, H, W)
        diff = (out.frames.float() - target).square().flatten(2).mean(2)  # (b, K + 1)
        errors.append(diff.cpu().numpy())
        images.append((out.frames[:, :, 0].float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy())
    return np.concatenate(errors), np.concatenate(images)
