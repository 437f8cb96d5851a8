"""The :class:`~dilqr_rl.agents.bc.BCTrainer` hooks of each cloned policy kind (the MLP's is ``StepBCTrainer``).

- :class:`DiLQRCloneTrainer`: the DiLQR actor's plan against the expert. ``loss="huber"`` (the default): the Huber
  loss of ``(u_1 - a_t) / h`` with h the control's half range, threshold ``HUBER_DELTA`` (squared below it, linear
  above: a state where the plan goes the other way round from the expert's weighs like any other large error,
  ``clone_config.HUBER_DELTA`` says why). ``loss="first"``: ``||u_1 - a_t||^2``, the action the actor applies.
  ``loss="plan"``: the mean over the plan of ``||u_k - a_{t+k-1}||^2`` against
  the expert's next T actions in its episode (masked past the episode's end), which also reaches the
  controls of the plan that are not at a bound when u_1 is (a box-constrained u_1 at a bound has zero
  derivative in the physics). Measured on ``Pendulum-v1`` (README): ``first`` clones, ``plan`` drifts to
  wrong physics (the expert's receding-horizon actions are not the open-loop plan of a shorter horizon).
  Logs the fraction of u_1 at a bound (``bc/saturated_fraction``), the physical parameters (``param/``) and
  the solver's counts (``ilqr/``).
- :class:`EpisodeCloneTrainer`: the LSTM over whole episodes from a zero hidden state, the squared error
  averaged over each episode's steps.
- :class:`EncodedMLPTrainer`: the MLP on image observations, through its encoder.

On image observations the policy's learned state map (the DiLQR actor's, or the networks' encoder) trains with
the policy at its own learning rate (``encoder_lr``), and with ``state_weight > 0`` the loss adds ``state_weight``
times :func:`state_error` against the recorded true state (the batch's last tensor), logged as ``bc/state_mse``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dilqr_rl.agents.bc import BCConfig, BCTrainer, make_optimizer
from dilqr_rl.agents.clone_config import DILQR_LOSSES, HUBER_DELTA
from dilqr_rl.agents.clone_policies import ClonePolicySpec
from dilqr_rl.policies.baselines import MLPPolicy
from dilqr_rl.policies.dilqr_clone import DiLQRActorPolicy, physical_parameters
from dilqr_rl.policies.lstm_policy import LSTMPolicy


def state_error(state_map: nn.Module, estimate: Tensor, true: Tensor) -> Tensor:
    """(B,) squared distance between the state features (``state_map.features``) of the estimated and the true
    states (B, n): the angle compared on the circle, the speed scaled to order 1."""
    return (state_map.features(estimate) - state_map.features(true.to(estimate))).square().sum(-1)


def learned_map(policy: nn.Module) -> nn.Module | None:
    """The trainable state map of a policy (the DiLQR actor's, a network's encoder), or None."""
    module = policy.state_map if isinstance(policy, DiLQRActorPolicy) else getattr(policy, "encoder", None)
    module = getattr(module, "map", module)  # StateFeatures -> its state map
    if module is None or not any(p.requires_grad for p in module.parameters()):
        return None
    return module


class EncoderMixin:
    """Gives a trainer's learned state map its own learning rate and the optional state regression."""

    def setup_encoder(self, encoder_lr: float, state_weight: float) -> None:
        self.state_weight = float(state_weight)
        self.state_map = learned_map(self.policy)
        if state_weight > 0 and self.state_map is None:
            raise ValueError("state_weight > 0 regresses a learned state map on the true state, and this policy "
                             "has none (it observes states): set state_weight 0")
        if self.state_map is None:
            return
        encoder = {id(p) for p in self.state_map.parameters()}
        rest = [p for p in self.policy.parameters() if p.requires_grad and id(p) not in encoder]
        self.optimizer = make_optimizer(rest, self.config)
        self.optimizer.add_param_group({"params": [p for p in self.state_map.parameters() if p.requires_grad],
                                        "lr": encoder_lr, "lr_scale": encoder_lr / self.config.lr})

    def add_state_loss(self, loss: Tensor, estimate: Tensor, true: Tensor | None, diag: dict[str, float]) -> Tensor:
        if self.state_weight <= 0:
            return loss
        error = state_error(self.state_map, estimate, true)
        diag["bc/state_mse"] = float(error.detach().mean())
        return loss + self.state_weight * error.to(loss)


class DiLQRCloneTrainer(EncoderMixin, BCTrainer):
    """BC of the DiLQR actor (module docstring). Data: (obs (N, *obs_shape), a (N, m)), with ``loss="plan"``
    also (future actions (N, T, m), mask (N, T)), with ``state_weight > 0`` also the true states (N, n) last."""

    def __init__(self, policy: DiLQRActorPolicy, spec: ClonePolicySpec, config: BCConfig, loss: str = DILQR_LOSSES[0],
                 writer=None, state_weight: float = 0.0, encoder_lr: float = 3e-3, model_warmup: int = 0) -> None:
        if loss not in DILQR_LOSSES:
            raise ValueError(f"unknown DiLQR clone loss {loss!r}; valid: {list(DILQR_LOSSES)}")
        super().__init__(policy, config, writer, spec=spec.checkpoint_spec())
        self.setup_encoder(encoder_lr, state_weight)
        self.model_warmup = int(model_warmup)
        self.model_parameters = [p for p in policy.actor.parameters() if p.requires_grad]
        self.loss = loss
        self.bounds = (policy.controller.u_lower, policy.controller.u_upper)
        if loss == "huber" and not bool(torch.isfinite(self.bounds[1] - self.bounds[0]).all()):
            raise ValueError("loss='huber' measures u_1's error in units of the control's half range, and this "
                             "actor's control bounds are infinite: use loss='first' (the squared error)")

    def on_epoch_start(self, epoch: int) -> None:
        """The model's parameters (physics, cost) stay at their start for the first ``model_warmup`` epochs, while
        a learned state map trains: a plan from an untrained encoder's states would teach them nonsense."""
        for p in self.model_parameters:
            p.requires_grad_(epoch >= self.model_warmup)

    def fit(self, *args, **kwargs):
        try:
            return super().fit(*args, **kwargs)
        finally:
            for p in self.model_parameters:
                p.requires_grad_(True)

    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        obs, actions = batch[0], batch[1]
        x = self.policy.state(obs)
        sol = self.policy.actor.solve(x)
        u1 = sol.first_control()
        if self.loss == "huber":
            half = ((self.bounds[1] - self.bounds[0]) / 2).to(u1)
            loss = F.huber_loss(u1 / half, actions.to(u1) / half, reduction="none", delta=HUBER_DELTA).sum(-1)
        elif self.loss == "first":
            loss = (u1 - actions.to(u1)).square().sum(-1)
        else:
            future, mask = batch[2].to(u1), batch[3].to(u1)
            loss = ((sol.u - future).square().sum(-1) * mask).sum(-1) / mask.sum(-1)
        low, high = (b.to(u1) for b in self.bounds)
        at_bound = ((u1 <= low + 1e-6) | (u1 >= high - 1e-6)).any(-1).to(u1.dtype)
        diag = {"bc/saturated_fraction": float(at_bound.mean())}
        return self.add_state_loss(loss, x, batch[-1], diag), diag

    def metrics(self) -> dict[str, float]:
        out = {f"param/{k}": v for k, v in physical_parameters(self.policy.dynamics).items()}
        out.update({f"ilqr/{k}": v for k, v in self.policy.solver_stats.pop().items()})
        return out

    def load_extra_state(self, state: dict) -> None:
        self.policy.forget_plans()


class EpisodeCloneTrainer(EncoderMixin, BCTrainer):
    """BC of the LSTM on whole episodes. Data: (obs (E, L, *obs_shape), actions (E, L, m), mask (E, L)), with
    ``state_weight > 0`` also the true states (E, L, n)."""

    def __init__(self, policy: LSTMPolicy, spec: ClonePolicySpec, config: BCConfig, writer=None,
                 state_weight: float = 0.0, encoder_lr: float = 3e-3) -> None:
        super().__init__(policy, config, writer, spec=spec.checkpoint_spec())
        self.setup_encoder(encoder_lr, state_weight)

    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        obs, actions, mask = batch[:3]
        diag: dict[str, float] = {}
        if self.state_map is None:
            predicted, _ = self.policy(obs)
            extra = torch.zeros_like(mask)
        else:
            E, L = obs.shape[:2]
            x = self.state_map(obs.reshape(E * L, *obs.shape[2:]))
            predicted, _ = self.policy.from_features(self.state_map.features(x).reshape(E, L, -1))
            extra = self.add_state_loss(torch.zeros(E * L, dtype=x.dtype), x,
                                        batch[-1].reshape(E * L, -1) if self.state_weight > 0 else None, diag)
            extra = extra.reshape(E, L).to(mask)
        error = ((predicted - actions).square().sum(-1) + extra) * mask  # (E, L)
        return error.sum(-1) / mask.sum(-1).clamp(min=1.0), diag


class EncodedMLPTrainer(EncoderMixin, BCTrainer):
    """BC of an MLP that reads image observations through its encoder. Data: (obs (N, *obs_shape), a (N, m)),
    with ``state_weight > 0`` also the true states (N, n)."""

    def __init__(self, policy: MLPPolicy, spec: ClonePolicySpec, config: BCConfig, writer=None,
                 state_weight: float = 0.0, encoder_lr: float = 3e-3) -> None:
        super().__init__(policy, config, writer, spec=spec.checkpoint_spec())
        self.setup_encoder(encoder_lr, state_weight)

    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        obs, actions = batch[0], batch[1]
        x = self.state_map(obs)
        loss = (self.policy.from_features(self.state_map.features(x)) - actions).square().sum(-1)
        diag: dict[str, float] = {}
        return self.add_state_loss(loss, x, batch[-1], diag), diag
