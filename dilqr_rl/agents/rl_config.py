"""``RLConfig``: the settings of one actor-critic run (no torch import: ``dilqr-rl rl --help`` reads it).

Choices are plain strings checked here, so that a wrong one is one ``error:`` line on the command line that lists
the valid values; checks that need the environment (the model's parameter names, the algorithm's hyperparameter
names) are :func:`dilqr_rl.agents.rl.check_config`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dilqr_rl.agents.model_error import parse_model_error

ALGOS = ("ppo", "a2c", "sac", "td3")
"""Stable-Baselines3 algorithms ``dilqr-rl rl`` trains with."""
POLICIES = ("dilqr", "mlp")
"""Actors: the DiLQR controller (``DiLQRPolicy``, ``DiLQRSACPolicy``, ``DiLQRTD3Policy``) or SB3's MlpPolicy."""
LEARNABLE = ("physics", "cost", "cost-map")
"""What a DiLQR actor may learn: the dynamics' physical parameters, the cost's weights (log-weights), a cost map."""


def rl_env_ids() -> tuple[str, ...]:
    """Environments ``dilqr-rl rl`` runs in: every state-observing env of the registry (``env_registry.ENVS``), each
    with a registered model (the DiLQR actor) and an iLQR expert (the 1 of the normalised return). Imported when a
    config is checked, not with this module (the registry imports torch; ``--help`` should not)."""
    from dilqr_rl.policies.env_registry import STATE_ENV_IDS

    return STATE_ENV_IDS


@dataclass(frozen=True)
class RLConfig:
    """One actor-critic run: an SB3 algorithm with a DiLQR actor (from a wrong start of the env's physics) or an
    MLP actor, rl-zoo3's hyperparameters, seeded evaluations normalised to a random policy (0) and the iLQR expert
    (1)."""

    env_id: str = "Pendulum-v1"
    """Pendulum-v1, dilqr_rl/Pendulum-v0, dilqr_rl/CartpoleSwingUp-v0, dilqr_rl/CartpoleBalance-v0 or
    InvertedPendulum-v5."""
    algo: str = "ppo"
    """ppo, a2c, sac or td3 (Stable-Baselines3's)."""
    policy: str = "dilqr"
    """dilqr (the DiLQR controller as the actor, planning with the env's registered model) or mlp (SB3's
    MlpPolicy, the baseline)."""
    model_error: tuple[str, ...] | None = None
    """NAME=REL ...: the DiLQR actor's physical parameters start at true x (1 + REL), e.g. mass=-0.3 length=-0.3;
    parameters not named are exact. None: the env's default wrong start (printed at the start of the run)."""
    learn: tuple[str, ...] = ("physics",)
    """What the DiLQR actor learns, one or more of: physics (the dynamics' physical parameters), cost (the cost's
    weights, as log-weights), cost-map (a network from the state to per-state cost weights and goal, Actor-Critic
    MPC's cost map). cost and cost-map exclude each other (the map's weights replace the cost's)."""
    total_timesteps: int = 10_000
    """Environment steps of training (with --resume: the total to reach). PPO and A2C collect whole rollouts, so
    they may run past it to the end of the last one."""
    seed: int = 0
    """Seeds torch, numpy and the training environments."""
    start_angle: float | None = None
    """Pendulum-v1 only: episodes start at theta ~ U(-a, a) for this angle a (its reset options). None: the
    env's own starts (Pendulum-v1: the full circle)."""
    start_speed: float = 1.0
    """Pendulum-v1 with a start angle: theta_dot ~ U(-s, s) for this speed s (1.0 is the env's own)."""
    max_episode_steps: int | None = None
    """Episode length (None: the env's own limit)."""
    eval_freq: int = 2000
    """Evaluate the deterministic policy every this many env steps (0: only before and after training)."""
    eval_episodes: int = 20
    """Episodes of every evaluation, seeded with the eval seed, + 1, ... (the same in every evaluation, run and
    policy, and for the random and expert references)."""
    eval_seed: int = 1000
    """Seed of the first evaluation episode."""
    horizon: int | None = None
    """The DiLQR actor's planning horizon T (None: the env's registered zero-config actor's)."""
    controller_lr_scale: float | None = None
    """The DiLQR actor's learned parameters (physics, cost, cost map) learn at the algorithm's learning rate x
    this. None: 3 for PPO, 10 for A2C, 1 for SAC and TD3 (measured, see RLConfig.lr_scale)."""
    actor_warmup: int | None = None
    """The DiLQR actor's learned parameters stay fixed for the first this many env steps, while the critic learns
    (the actor's loss follows the critic's gradient, which is noise until the critic has learned). None: 0 for
    PPO and A2C; for SAC and TD3, their learning_starts + 3000 (3,000 critic updates first; see
    ``rl_build.actor_warmup_steps``)."""
    sysid_every: int = 0
    """Fit the DiLQR actor's physics to the transitions of its own rollouts (system identification) every this many
    env steps, between an update and the next rollout; the RL loss then trains the rest (cost, cost map, log-std)
    and leaves the physics to the fits. 0: never (the physics learn from the RL loss). Needs learn to include
    physics. After the first fit the actor plans as the env's actor for identified physics
    (``EnvControl.identified_actor``: on the pendulums T = 40 following its plans, against T = 20 from the starts,
    which amplifies wrong physics; ``horizon`` still overrides T)."""
    hyperparams: dict[str, float] = field(default_factory=dict)
    """Replace rl-zoo3's numeric algorithm hyperparameters, e.g. learning_starts 1000 n_steps 256 (whole-number
    settings are rounded); n_envs sets the number of parallel envs."""
    checkpoint_freq: int = 10_000
    """Save checkpoints/model_<steps>_steps.zip every this many env steps (0: only at the end and on Ctrl-C)."""
    threads: int = 1
    """torch CPU threads (small solves run fastest on one)."""
    output_dir: str = "runs"
    """Root of the run folders (and of references/, the random and expert returns per env, computed once)."""
    exp_name: str | None = None
    """Experiment name in the run folder's name (None: <algo>-<policy>)."""
    progress: bool = True
    """Show a progress bar."""
    verbose: int = 0
    """SB3 verbosity (1: print SB3's logged table)."""

    def __post_init__(self) -> None:
        for name, value, valid in (("env_id", self.env_id, rl_env_ids()), ("algo", self.algo, ALGOS),
                                   ("policy", self.policy, POLICIES)):
            if value not in valid:
                raise ValueError(f"{name}={value!r}: expected one of {', '.join(valid)}")
        self._check_learn()
        if self.model_error is not None:
            if self.policy == "mlp":
                raise ValueError("model_error sets the DiLQR actor's physics and policy=mlp has none: drop "
                                 "model_error, or use policy=dilqr")
            parse_model_error(self.model_error)
        if self.start_angle is not None:
            if self.env_id != "Pendulum-v1":
                raise ValueError(f"start_angle sets Pendulum-v1's reset options and {self.env_id} has none: use "
                                 "env_id=Pendulum-v1, or leave start_angle out (the env's own starts)")
            if not (self.start_angle > 0 and self.start_speed >= 0):
                raise ValueError(f"start_angle must be > 0 and start_speed >= 0; got {self.start_angle}, "
                                 f"{self.start_speed}")
        elif self.start_speed != 1.0:
            raise ValueError(f"start_speed={self.start_speed} sets the speed of the starts that start_angle sets, and "
                             "start_angle is None (the env's own starts): add start_angle (Pendulum-v1 only), or "
                             "leave start_speed out")
        self._check_counts()
        if self.sysid_every < 0:
            raise ValueError(f"sysid_every must be >= 0 (env steps between fits; 0: none); got {self.sysid_every}")
        if self.sysid_every and (self.policy != "dilqr" or "physics" not in self.learn):
            learn = " ".join(self.learn)
            raise ValueError("sysid_every fits the DiLQR actor's physics, so it needs policy=dilqr and learn=physics "
                             f"(alone or with cost or cost-map); got policy={self.policy}, learn={learn}")

    def _check_learn(self) -> None:
        if not self.learn:
            raise ValueError(f"learn names nothing; expected one or more of {', '.join(LEARNABLE)}")
        for i, item in enumerate(self.learn):
            if item not in LEARNABLE:
                raise ValueError(f"learn={item!r}: expected one or more of {', '.join(LEARNABLE)}")
            if item in self.learn[:i]:
                raise ValueError(f"learn={item!r} is given twice; give each once")
        if "cost" in self.learn and "cost-map" in self.learn:
            raise ValueError("learn=cost and learn=cost-map exclude each other: the cost map predicts the weights "
                             "that replace the cost's own; learn one of them")
        extra = [item for item in self.learn if item != "physics"]
        if self.policy == "mlp" and extra:
            raise ValueError(f"learn={extra[0]} with policy=mlp: the MLP actor has no cost; use policy=dilqr")

    def _check_counts(self) -> None:
        positive = {"total_timesteps": self.total_timesteps, "eval_episodes": self.eval_episodes,
                    "threads": self.threads}
        if self.horizon is not None:
            positive["horizon"] = self.horizon
        if self.max_episode_steps is not None:
            positive["max_episode_steps"] = self.max_episode_steps
        bad = [f"{k}={v}" for k, v in positive.items() if v < 1]
        if bad:
            raise ValueError(f"{', '.join(bad)}: must be >= 1")
        for name in ("eval_freq", "checkpoint_freq", "actor_warmup"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 0 (0: none)")
        scale = self.controller_lr_scale
        if scale is not None and not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"controller_lr_scale={scale}: must be a positive number")

    @property
    def lr_scale(self) -> float:
        """``controller_lr_scale``, or the algorithm's default: 3 for PPO, 10 for A2C, 1 for SAC and TD3, which
        step the actor once per env step (rl-zoo3's PPO on Pendulum-v1: 640 minibatch steps per 4096 env steps). Each
        physical parameter's rate is also relative to its initial magnitude (``controller_optimizer``).

        Measured from each env's default wrong start (``bash benchmarks/ppo_controller_lr_scale.sh``, output in
        ``benchmarks/results/ppo_controller_lr_scale.txt``; the rl study's budgets and evaluation episodes). PPO,
        chosen on seeds 0..2 and confirmed on 3..4: at 3, InvertedPendulum-v5 reached 1.000 in all five seeds (at
        10: 0.185, 1.000, 1.000, 1.000, 0.051) and Pendulum-v1 a mean of 0.218 (at 10: 0.024); the cart-pole
        swing-up 0.548 over seeds 0..2 (at 10: 0.564). A2C (seeds 0..2) shows no winner (Pendulum-v1 0.343 at 3,
        0.444 at 10; InvertedPendulum-v5 0.376 and 0.364) and keeps 10. Off-policy: with one absolute rate SAC at
        10 shrank the length 0.7 -> 0.07 in 3,000 steps, at 1 to 0.52 in 2,000; with relative rates TD3 at 1 (the
        actor held for 4,000 steps) reached 0.990 by 6,000 steps (seed 0)."""
        if self.controller_lr_scale is not None:
            return self.controller_lr_scale
        return {"ppo": 3.0, "a2c": 10.0}.get(self.algo, 1.0)

    @property
    def run_name(self) -> str:
        """The experiment part of the run folder's name."""
        return self.exp_name or f"{self.algo}-{self.policy}"

    def model_errors(self) -> dict[str, float] | None:
        """``model_error`` as ``{name: relative error}``; None: the env's default."""
        return None if self.model_error is None else parse_model_error(self.model_error)
