"""Single-step behaviour cloning of an SB3 actor-critic policy on pixel episodes (frames, states, actions).

The loss is the squared error between the policy's deterministic action (the mean of its Gaussian: for a
:class:`~dilqr_rl.policies.DiLQRPolicy` the first planned control) and the expert's action, on observations
rebuilt from the stored frames; optionally plus ``state_weight`` times the squared error between a state
read-out of the actor's features and the true state's features (cos theta, sin theta, theta_dot / 8): the
auxiliary state supervision. Only the actor is trained (encoder, heads, physics); the critic and the log-std
stay as built, for a later PPO fine-tuning.

Shapes: frames (E, L + 1, H, W) uint8, states (E, L + 1, n), actions (E, L, m).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from torch import Tensor, nn

from dilqr_rl.agents.logging import StepHistory
from dilqr_rl.agents.physics_optim import adam_with_physics, hold_physics
from dilqr_rl.data.pixel_episodes import stack_observations
from dilqr_rl.envs.pendulum import MAX_SPEED

SPEED_SCALE = MAX_SPEED
"""theta_dot is divided by this (the pendulum's speed limit) in the auxiliary state features."""


@dataclass(frozen=True)
class PixelBCConfig:
    """Optimisation of pixel behaviour cloning."""

    steps: int = 1500
    """Gradient steps (each on ``batch_size`` transitions drawn uniformly from all episodes)."""
    batch_size: int = 32
    """Transitions per step."""
    lr: float = 1e-3
    """Adam's learning rate for the networks."""
    physics_lr: float = 1e-2
    """Adam's learning rate for each physical parameter, relative to its initial magnitude."""
    physics_warmup: int = 0
    """Steps during which the physical parameters stay at their start."""
    state_weight: float = 0.0
    """Weight of the auxiliary state supervision (0: the policy learns from actions only)."""
    log_every: int = 50
    """Steps between entries of the history (each averages the steps since the last)."""
    seed: int = 0
    """Seeds the order of the transitions."""
    device: str = "cpu"
    """Where the policy and the batches live."""

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.log_every) < 1 or self.physics_warmup < 0:
            raise ValueError(f"steps, batch_size and log_every must be >= 1 and physics_warmup >= 0; got {self}")
        if not (self.lr > 0 and self.physics_lr > 0 and self.state_weight >= 0):
            raise ValueError(f"need lr > 0, physics_lr > 0 and state_weight >= 0; got {self}")


def state_features(states: Tensor) -> Tensor:
    """(theta, theta_dot) (B, 2) -> (cos theta, sin theta, theta_dot / SPEED_SCALE) (B, 3): the state features of
    the auxiliary loss here and of the ``visual`` study's state regression."""
    return torch.stack([torch.cos(states[:, 0]), torch.sin(states[:, 0]), states[:, 1] / SPEED_SCALE], -1)


def actor_outputs(policy: ActorCriticPolicy, obs: Tensor) -> tuple[Tensor, Tensor]:
    """The actor's features (B, d) (a DiLQR policy's: the state (theta, theta_dot)) and deterministic action (B, m)."""
    features = policy.pi_features_extractor(preprocess_obs(obs, policy.observation_space, policy.normalize_images))
    mean = policy.action_net(policy.mlp_extractor.forward_actor(features))
    return features, mean


def train_pixel_bc(policy: ActorCriticPolicy, frames: Tensor, states: Tensor, actions: Tensor, stack: int,
                   config: PixelBCConfig, physics: Sequence[nn.Parameter] = (), param_names: Sequence[str] = (),
                   state_head: nn.Module | None = None, writer=None) -> dict[str, list[float]]:
    """Train the actor of ``policy`` (module docstring); return the history: ``train/loss``,
    ``train/action_mse``, ``train/state_mse``, ``train/grad_norm`` (of everything trained),
    ``train/saturated_fraction`` (of the batch's deterministic actions at a bound of the action space),
    ``train/step_seconds`` and ``param/<name>`` of ``physics``.

    ``state_head`` maps the actor's features to the 3 state features for the auxiliary loss (trained along;
    e.g. a linear layer for an MLP policy); by default the features are a DiLQR policy's state (theta,
    theta_dot). ``physics`` are trained at ``physics_lr`` (relative), everything else at ``lr``.
    """
    E, L1 = frames.shape[:2]
    generator = torch.Generator().manual_seed(config.seed)
    trained = nn.ModuleDict({"policy": policy, "head": state_head or nn.Identity()})
    optimizer = adam_with_physics(trained, physics, config.lr, config.physics_lr)
    log = StepHistory(config.log_every, config.steps, writer)
    low, high = (torch.as_tensor(b, device=config.device) for b in (policy.action_space.low, policy.action_space.high))
    policy.set_training_mode(True)
    for step in range(1, config.steps + 1):
        start = time.perf_counter()
        hold_physics(optimizer, step <= config.physics_warmup)
        index = torch.randint(E * (L1 - 1), (config.batch_size,), generator=generator)
        e, t = index // (L1 - 1), index % (L1 - 1)
        obs = stack_observations(frames, e, t, stack).to(config.device)
        features, mean = actor_outputs(policy, obs)
        action_mse = (mean - actions[e, t].to(mean)).square().sum(-1).mean()
        state_mse = mean.new_zeros(())
        if config.state_weight > 0:
            read = state_head(features) if state_head is not None else state_features(features)
            state_mse = (read - state_features(states[e, t]).to(read)).square().sum(-1).mean()
        loss = action_mse + config.state_weight * state_mse
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        log.add(step, {"train/loss": loss.item(), "train/action_mse": action_mse.item(),
                       "train/state_mse": state_mse.item(), "train/grad_norm": _grad_norm(trained),
                       "train/saturated_fraction": _at_bounds(mean.detach(), low, high).mean().item(),
                       "train/step_seconds": time.perf_counter() - start},
                {f"param/{n}": p.item() for n, p in zip(param_names, physics)})
    policy.set_training_mode(False)
    return log.history


def _grad_norm(module: nn.Module) -> float:
    """The 2-norm of all gradients of ``module`` (0 where none reached)."""
    norms = [p.grad.detach().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def _at_bounds(actions: Tensor, low: Tensor, high: Tensor, tol: float = 1e-6) -> Tensor:
    """(B, m) -> (B,) float: 1 where an action sits at a bound of the action space (a box-constrained planner's
    first control there has zero derivative in everything before it)."""
    low, high = low.to(actions), high.to(actions)
    return ((actions <= low + tol) | (actions >= high - tol)).any(-1).to(actions.dtype)
