"""The settings of cloning a policy from expert episodes and of DAgger (no torch import: ``--help`` reads them).

Choices are plain strings checked here, so that a wrong one is one ``error:`` line on the command line listing the
valid values; checks that need the environment (the model's parameter names, the observation shape) happen when
the policy is built (:class:`~dilqr_rl.agents.clone.Cloner`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dilqr_rl.agents.model_error import parse_model_error

if TYPE_CHECKING:
    from dilqr_rl.agents.bc import BCConfig

LEARNABLE = ("physics", "cost")
"""What a cloned DiLQR actor may learn (:data:`dilqr_rl.policies.dilqr_clone.LEARNABLE`; a test keeps them equal)."""
DILQR_LOSSES = ("huber", "first", "plan")
"""The DiLQR clone's losses (:mod:`dilqr_rl.agents.clone_trainers`); the first is the default."""
HUBER_DELTA = 0.1
"""The ``huber`` loss's threshold, in units of the control's half range: errors of u_1 above 10% of it count
linearly. Why ``huber`` is the default: on a swing-up a few demonstration states sit where the actor's plan goes the
other way round from the expert's (its horizon is shorter), u_1 at the opposite bound, an error of the whole control
range. Squared, they dominate the loss: on ``Pendulum-v1`` (20 demonstrations, seed 2) 2.4% of the states carry 99%
of it at the true physics, and the descent from the wrong start fits them by collapsing the pole length below 0
(return 0.008). The Huber loss counts each like any other large error, so the states the physics explain steer the
fit. On held-out evaluation seeds 2000..2019 (``benchmarks/clone_settings.py``, 40 epochs, 3 seeds, every size of
the closed-loop-bc grid) it averages 0.956 on ``Pendulum-v1`` (0.895 squared; 0.987-0.991 at 2-50 demonstrations,
0.79 at 1), 1.000 on the cart-pole swing-up at 1, 2 and 5 demonstrations (0.866) and 1.000 on
``InvertedPendulum-v5`` (as squared), with no trial below 0.5 (one per env squared)."""

IMAGE_STATE_WEIGHT = 10.0
"""``state_weight``'s default on image observations (the pixel pendulum; measured: 10 and 100 clone alike)."""
LR_SCHEDULES = ("constant", "cosine")
""":data:`dilqr_rl.agents.bc.LR_SCHEDULES` (a test keeps them equal)."""


@dataclass(frozen=True)
class KindDefaults:
    """Training defaults of one policy kind (a config's ``None`` takes these)."""

    epochs: int
    batch_size: int
    """Transitions per step; for ``lstm`` whole episodes per step."""
    lr: float
    relative_lr: bool = False
    """Scale each parameter tensor's lr by its initial magnitude (physical parameters of different scales)."""
    round_lr_scale: float = 1.0
    """DAgger's retraining in rounds 1, 2, ... (from the fitted parameters) runs at ``lr`` x this."""


DILQR_ROUND_LR_SCALE = 0.25
"""The DiLQR actor's DAgger rounds retrain at a quarter of its cloning rate. A fresh Adam at the full relative rate
(2% of each physical parameter per step) kicks fitted physics out of their basin: on ``Pendulum-v1`` (10 labelled
episodes: 6 demonstrations, 4 rounds of 1; seed 0) round 1's training loss rose from 0.32 to 0.65 while the length
fell from 0.60 to 0.06, and the learner ended at 0.001 normalised (0.753 after round 0); at a quarter of the rate the
loss fell in every round and the rounds returned 0.989, 0.988, 0.986, 0.985 (seed 1: 0.984 at the full rate, 0.986
at a quarter)."""

DILQR_EPOCHS = 40
"""Passes over the data of the DiLQR actor's cloning (and of each DAgger round). At 20 the cart-pole swing-up's
physics were still moving (its best validation epochs are 21-23 of 40): on held-out evaluation seeds 2000..2019
(``benchmarks/clone_settings.py``, 3 seeds, the squared loss ``first``) its BC clone reaches 0.990 from 5
demonstrations and 0.963 from 2 at 40 epochs, against 0.936 and 0.652 at 20; ``Pendulum-v1`` is unchanged (0.895
against 0.906 over its 18 trials, every size but 1 demonstration within 0.004 of the mean at 20),
``InvertedPendulum-v5`` stays at 1.000, and DAgger (budget 5 and 10 on ``Pendulum-v1``, 5 on the cart-pole) keeps
0.986-0.990 and 1.000 (a development check)."""

POLICY_KINDS: dict[str, KindDefaults] = {
    "dilqr": KindDefaults(epochs=DILQR_EPOCHS, batch_size=100, lr=0.02, relative_lr=True,
                          round_lr_scale=DILQR_ROUND_LR_SCALE),
    "mlp": KindDefaults(epochs=200, batch_size=64, lr=1e-3),
    "lstm": KindDefaults(epochs=300, batch_size=4, lr=1e-2),
}
"""Policy kind -> training defaults (measured on Pendulum-v1 from 5 demonstrations, the DiLQR epochs on every
state-based env; see the README)."""


@dataclass(frozen=True)
class CloneConfig:
    """How to clone a policy from expert episodes (``None``: the policy kind's default, ``POLICY_KINDS``)."""

    policy: str = "dilqr"
    """dilqr (the env's DiLQR actor from a wrong start of the physics), mlp or lstm (over the observation history)."""
    model_error: tuple[str, ...] | None = None
    """The DiLQR actor's wrong start, NAME=REL (model = true x (1 + REL)), e.g. mass=0.3 length=-0.3; None: the
    env's registered default."""
    learn: tuple[str, ...] = ("physics",)
    """What the DiLQR actor learns: physics, cost (the cost's weights), or both."""
    loss: str = DILQR_LOSSES[0]
    """The DiLQR actor's loss: huber (its first control u_1 against the expert's action, squared below
    0.1 of the control's half range, ``HUBER_DELTA``, and linear above), first (the same, squared) or plan (its whole
    plan against the expert's next T actions, squared)."""
    epochs: int | None = None
    """Passes over the training episodes (None: dilqr 40, mlp 200, lstm 300)."""
    batch_size: int | None = None
    """Transitions per step, or episodes for lstm (None: dilqr 100, mlp 64, lstm 4)."""
    lr: float | None = None
    """Adam's learning rate (None: dilqr 0.02 relative to each physical parameter's size, mlp 1e-3, lstm 1e-2)."""
    lr_schedule: str = "constant"
    """constant or cosine."""
    val_fraction: float = 0.2
    """Fraction of the episodes held out to select the best epoch."""
    test_fraction: float = 0.0
    """Fraction of the episodes held out for a test loss (0: none; the return in the env is the real test)."""
    state_weight: float | None = None
    """Weight of an auxiliary state regression for image observations: the squared error between the state
    features (cos theta, sin theta, theta_dot / 8 for the pixel pendulum) of the policy's learned state map and
    of the recorded true state (the dataset's ``states``), added to the action loss (0: actions only; None: 10
    on image observations, 0 on states)."""
    model_warmup: int | None = None
    """Epochs at the start of each fit during which the DiLQR actor's model (physics, cost) stays put and only its
    learned state map trains (image observations: a plan from an untrained encoder's states teaches the physics
    nonsense). None: half the epochs on image observations, 0 on states."""
    encoder_lr: float = 3e-3
    """Adam's learning rate of a learned state map (image observations: the DiLQR actor's keypoint encoder, and the
    networks' copy of it)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """MLP hidden widths."""
    lstm_hidden: int = 64
    """LSTM hidden size."""
    eval_episodes: int = 20
    """Evaluation episodes of the untrained and trained policy, the random policy and the expert (0: skip)."""
    eval_seed: int = 1000
    """Seed of the first evaluation episode (away from the demonstrations' seeds 0, 1, ...)."""
    evaluate_untrained: bool = True
    """Also evaluate the policy before training (False: skip it; the untrained returns are then None)."""
    seed: int = 0
    """Seeds the split, the initial weights and the batches."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        for name, value, valid in (("policy", self.policy, POLICY_KINDS), ("loss", self.loss, DILQR_LOSSES)):
            if value not in valid:
                raise ValueError(f"{name}={value!r}: expected one of {', '.join(valid)}")
        if not self.learn:
            raise ValueError(f"learn names nothing; expected one or more of {', '.join(LEARNABLE)}")
        for item in self.learn:
            if item not in LEARNABLE:
                raise ValueError(f"learn={item!r}: expected one or more of {', '.join(LEARNABLE)}")
        if self.policy != "dilqr":
            dilqr_only = (("model_error", self.model_error, None), ("learn", self.learn, ("physics",)),
                          ("loss", self.loss, DILQR_LOSSES[0]), ("model_warmup", self.model_warmup, None))
            for name, value, default in dilqr_only:
                given = tuple(value) if isinstance(value, list) else value
                if given != default:
                    raise ValueError(f"{name} sets the DiLQR actor, and policy={self.policy} has none: drop it, "
                                     "or use policy=dilqr")
        if self.model_error is not None:
            parse_model_error(self.model_error)
        for name in ("epochs", "batch_size", "lstm_hidden"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value}: must be >= 1")
        if self.state_weight is not None and not (0 <= self.state_weight < float("inf")):
            raise ValueError(f"state_weight={self.state_weight}: must be a finite number >= 0 (0: actions only)")
        if self.model_warmup is not None and self.model_warmup < 0:
            raise ValueError(f"model_warmup={self.model_warmup}: must be >= 0 epochs")
        if not self.encoder_lr > 0:
            raise ValueError(f"encoder_lr={self.encoder_lr}: must be > 0")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr={self.lr}: must be > 0")
        if min(self.hidden_sizes, default=1) < 1:
            raise ValueError(f"hidden_sizes must be >= 1; got {' '.join(map(str, self.hidden_sizes))}")
        if self.eval_episodes < 0:
            raise ValueError(f"eval_episodes must be >= 0 (0 skips the evaluation); got {self.eval_episodes}")
        if not (0.0 < self.val_fraction < 1.0 and 0.0 <= self.test_fraction < 1.0):
            raise ValueError(f"need 0 < val_fraction < 1 and 0 <= test_fraction < 1; got {self.val_fraction} and "
                             f"{self.test_fraction}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; valid: {list(LR_SCHEDULES)}")

    def for_observations(self, images: bool) -> CloneConfig:
        """This config with ``state_weight`` and (for ``dilqr``) ``model_warmup`` resolved for image or state
        observations (their None defaults: 10 and half the epochs on images, 0 and 0 on states)."""
        epochs = self.epochs or POLICY_KINDS[self.policy].epochs
        weight = self.state_weight if self.state_weight is not None else (IMAGE_STATE_WEIGHT if images else 0.0)
        warmup = self.model_warmup
        if warmup is None and self.policy == "dilqr":
            warmup = epochs // 2 if images else 0
        return dataclasses.replace(self, state_weight=weight, model_warmup=warmup)

    def model_errors(self) -> dict[str, float] | None:
        """``model_error`` as ``{name: relative error}``; None: the env's default."""
        return None if self.model_error is None else parse_model_error(self.model_error)

    def bc_config(self, checkpoint_dir: str | Path | None, label: str | None = None,
                  lr_scale: float = 1.0) -> BCConfig:
        """The trainer's settings, the kind's defaults where this config says None (the learning rate x
        ``lr_scale``)."""
        from dilqr_rl.agents.bc import BCConfig

        kind = POLICY_KINDS[self.policy]
        return BCConfig(epochs=self.epochs or kind.epochs, batch_size=self.batch_size or kind.batch_size,
                        optimizer="adam", lr=(self.lr or kind.lr) * lr_scale, relative_lr=kind.relative_lr,
                        lr_schedule=self.lr_schedule, seed=self.seed, progress=self.progress,
                        progress_label=label or f"bc {self.policy}",
                        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir))



@dataclass(frozen=True)
class DaggerConfig(CloneConfig):
    """DAgger's rounds on top of the cloning settings (``epochs`` is per round)."""

    rounds: int = 4
    """DAgger rounds after the initial cloning of the demonstrations."""
    episodes_per_round: int = 2
    """Episodes of the mixture policy per round, each state labelled by the expert."""
    beta0: float = 0.5
    """The expert's share in round k is beta0^k (0: the learner alone from round 1)."""
    evaluate_rounds: bool = True
    """Evaluate the learner after every round (False: after the last one only)."""
    round_lr_scale: float | None = None
    """Rounds 1, 2, ... retrain from the current parameters at the learning rate x this (None: the policy kind's:
    0.25 for dilqr, 1 for mlp and lstm)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("rounds", "episodes_per_round"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        if not 0.0 <= self.beta0 <= 1.0:
            raise ValueError(f"beta0={self.beta0}: must be in [0, 1] (the expert's share in round k is beta0^k)")
        if self.round_lr_scale is not None and not self.round_lr_scale > 0:
            raise ValueError(f"round_lr_scale={self.round_lr_scale}: must be > 0 (the rounds' learning rate is the "
                             "cloning rate x this)")

    def round_lr(self) -> float:
        """The learning-rate scale of rounds 1, 2, ... (``round_lr_scale``, or the policy kind's)."""
        return POLICY_KINDS[self.policy].round_lr_scale if self.round_lr_scale is None else self.round_lr_scale
