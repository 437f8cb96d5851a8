"""The :class:`~dilqr_rl.agents.bc.BCTrainer` hooks of each cloned policy kind (the MLP's is ``StepBCTrainer``).

- :class:`DiLQRCloneTrainer`: the DiLQR actor's plan against the expert. ``loss="first"``: ``||u_1 - a_t||^2``,
  the action the actor applies. ``loss="plan"``: the mean over the plan of ``||u_k - a_{t+k-1}||^2`` against
  the expert's next T actions in its episode (masked past the episode's end), which also reaches the
  controls of the plan that are not at a bound when u_1 is (a box-constrained u_1 at a bound has zero
  derivative in the physics). Measured on ``Pendulum-v1`` (README): ``first`` clones, ``plan`` drifts to
  wrong physics (the expert's receding-horizon actions are not the open-loop plan of a shorter horizon).
  Logs the fraction of u_1 at a bound (``bc/saturated_fraction``), the physical parameters (``param/``) and
  the solver's counts (``ilqr/``).
- :class:`EpisodeCloneTrainer`: the LSTM over whole episodes from a zero hidden state, the squared error
  averaged over each episode's steps.
"""

from __future__ import annotations

from torch import Tensor

from dilqr_rl.agents.bc import BCConfig, BCTrainer
from dilqr_rl.agents.clone_config import DILQR_LOSSES
from dilqr_rl.agents.clone_policies import ClonePolicySpec
from dilqr_rl.policies.dilqr_clone import DiLQRActorPolicy, physical_parameters
from dilqr_rl.policies.lstm_policy import LSTMPolicy


class DiLQRCloneTrainer(BCTrainer):
    """BC of the DiLQR actor (module docstring). Data: (obs (N, *obs_shape), a (N, m)) and with ``loss="plan"``
    also (future actions (N, T, m), mask (N, T))."""

    def __init__(self, policy: DiLQRActorPolicy, spec: ClonePolicySpec, config: BCConfig, loss: str = "first",
                 writer=None) -> None:
        if loss not in DILQR_LOSSES:
            raise ValueError(f"unknown DiLQR clone loss {loss!r}; valid: {list(DILQR_LOSSES)}")
        super().__init__(policy, config, writer, spec=spec.checkpoint_spec())
        self.loss = loss
        self.bounds = (policy.controller.u_lower, policy.controller.u_upper)

    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        obs, actions = batch[0], batch[1]
        sol = self.policy.solve(obs)
        u1 = sol.first_control()
        if self.loss == "first":
            loss = (u1 - actions.to(u1)).square().sum(-1)
        else:
            future, mask = batch[2].to(u1), batch[3].to(u1)
            loss = ((sol.u - future).square().sum(-1) * mask).sum(-1) / mask.sum(-1)
        low, high = (b.to(u1) for b in self.bounds)
        at_bound = ((u1 <= low + 1e-6) | (u1 >= high - 1e-6)).any(-1).to(u1.dtype)
        return loss, {"bc/saturated_fraction": float(at_bound.mean())}

    def metrics(self) -> dict[str, float]:
        out = {f"param/{k}": v for k, v in physical_parameters(self.policy.dynamics).items()}
        out.update({f"ilqr/{k}": v for k, v in self.policy.solver_stats.pop().items()})
        return out

    def load_extra_state(self, state: dict) -> None:
        self.policy.forget_plans()


class EpisodeCloneTrainer(BCTrainer):
    """BC of the LSTM on whole episodes. Data: (obs (E, L, d), actions (E, L, m), mask (E, L))."""

    def __init__(self, policy: LSTMPolicy, spec: ClonePolicySpec, config: BCConfig, writer=None) -> None:
        super().__init__(policy, config, writer, spec=spec.checkpoint_spec())

    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        obs, actions, mask = batch
        predicted, _ = self.policy(obs)
        error = (predicted - actions).square().sum(-1) * mask  # (E, L)
        return error.sum(-1) / mask.sum(-1).clamp(min=1.0), {}
