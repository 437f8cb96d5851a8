"""rl-zoo3's tuned hyperparameters for the environments and algorithms of ``dilqr-rl rl`` (one table).

Source: DLR-RM/rl-baselines3-zoo at commit :data:`ZOO_COMMIT` (2026-04-23), files ``hyperparams/{ppo,a2c,sac,
td3}.yml``, copied by hand (rl-zoo3 is not a dependency). What the entries are:

- ``Pendulum-v1``: rl-zoo3 has a tuned entry for each of PPO, A2C, SAC and TD3. ``dilqr_rl/Pendulum-v0`` has
  Pendulum-v1's physics and reward (``dilqr_rl.envs.pendulum``), so it borrows them.
- ``InvertedPendulum-v5``: rl-zoo3 tunes PPO on ``InvertedPendulum-v2`` (the same MuJoCo task, older simulator
  bindings); A2C, SAC and TD3 have no entry.
- Everything else gets rl-zoo3's ``default`` entry of that algorithm: SB3's defaults, and for TD3 Gaussian
  action noise (std 0.1) with one gradient step per env step.

An entry's ``n_timesteps`` is rl-zoo3's training budget, kept as ``zoo_budget`` for reference; ``normalize: true``
is SB3's ``VecNormalize`` on observations and rewards; ``lin_<x>`` is a learning rate falling linearly from x to
0 over training. Where an entry normalises observations, the DiLQR actor does not (its planner reads states in
the env's units): its runs normalise rewards only. gSDE (``use_sde``) is SB3's exploration for MLP actors; the
DiLQR policies do not support it, so their runs drop ``use_sde`` and ``sde_sample_freq`` and explore with SB3's
state-independent Gaussian instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

ZOO_COMMIT = "22e3ff2450fd92033f7f032915e1f64894a09584"
"""The rl-baselines3-zoo commit the table was copied from."""
ZOO_URL = f"https://github.com/DLR-RM/rl-baselines3-zoo/blob/{ZOO_COMMIT}/hyperparams/{{algo}}.yml"
SDE_KEYS = ("use_sde", "sde_sample_freq")
"""Algorithm kwargs of gSDE exploration, which the DiLQR policies do not support."""


@dataclass(frozen=True)
class ZooEntry:
    """One algorithm's hyperparameters for one env (the rl-zoo3 YAML keys, split by where SB3 takes them)."""

    algo: str
    """The file, ``hyperparams/{algo}.yml``."""
    key: str
    """The entry's name in that file (an env id, or ``default``)."""
    algo_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments of the SB3 algorithm (``PPO(..., **algo_kwargs)``); a learning rate ``("lin", x)`` is
    rl-zoo3's ``lin_x``."""
    policy_kwargs: Mapping[str, Any] = field(default_factory=dict)
    n_envs: int = 1
    normalize: bool = False
    """VecNormalize observations and rewards (the DiLQR actor: rewards only)."""
    action_noise_std: float | None = None
    """TD3's ``noise_type: normal`` with this std (on SB3's [-1, 1] action scale)."""
    zoo_budget: int | None = None
    """rl-zoo3's ``n_timesteps``."""
    note: str = ""
    """Why this entry serves an env it was not tuned for ("" if it was)."""

    @property
    def source(self) -> str:
        """E.g. ``"rl-zoo3 hyperparams/ppo.yml: Pendulum-v1"`` (and the note)."""
        return f"rl-zoo3 hyperparams/{self.algo}.yml: {self.key}" + (f" ({self.note})" if self.note else "")

    def url(self) -> str:
        return ZOO_URL.format(algo=self.algo)


PENDULUM: dict[str, ZooEntry] = {
    "ppo": ZooEntry("ppo", "Pendulum-v1", dict(
        n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2,
        use_sde=True, sde_sample_freq=4), n_envs=4, zoo_budget=100_000),
    "a2c": ZooEntry("a2c", "Pendulum-v1", dict(
        ent_coef=0.0, max_grad_norm=0.5, n_steps=8, gae_lambda=0.9, vf_coef=0.4, gamma=0.9, use_rms_prop=True,
        normalize_advantage=False, learning_rate=("lin", 7e-4), use_sde=True),
        policy_kwargs=dict(log_std_init=-2, ortho_init=False), n_envs=8, normalize=True, zoo_budget=1_000_000),
    "sac": ZooEntry("sac", "Pendulum-v1", dict(learning_rate=1e-3), zoo_budget=20_000),
    "td3": ZooEntry("td3", "Pendulum-v1", dict(
        gamma=0.98, buffer_size=200_000, learning_starts=10_000, gradient_steps=1, train_freq=1, learning_rate=1e-3),
        policy_kwargs=dict(net_arch=[400, 300]), action_noise_std=0.1, zoo_budget=20_000),
}
INVERTED_PENDULUM_PPO = ZooEntry("ppo", "InvertedPendulum-v2", dict(
    batch_size=64, n_steps=32, gamma=0.999, learning_rate=0.000222425, ent_coef=1.37976e-07, clip_range=0.4,
    n_epochs=5, gae_lambda=0.9, max_grad_norm=0.3, vf_coef=0.19816), normalize=True, zoo_budget=1_000_000,
    note="the same MuJoCo task as InvertedPendulum-v5")
DEFAULTS: dict[str, ZooEntry] = {
    "ppo": ZooEntry("ppo", "default", note="no tuned entry"),
    "a2c": ZooEntry("a2c", "default", note="no tuned entry"),
    "sac": ZooEntry("sac", "default", note="no tuned entry"),
    "td3": ZooEntry("td3", "default", dict(train_freq=1, gradient_steps=1), action_noise_std=0.1,
                    note="no tuned entry"),
}

TABLE: dict[tuple[str, str], ZooEntry] = {
    **{("Pendulum-v1", algo): entry for algo, entry in PENDULUM.items()},
    **{("dilqr_rl/Pendulum-v0", algo): replace(entry, note="Pendulum-v1's physics and reward")
       for algo, entry in PENDULUM.items()},
    ("InvertedPendulum-v5", "ppo"): INVERTED_PENDULUM_PPO,
}
"""(env id, algorithm) -> the entry; pairs not listed use :data:`DEFAULTS`."""


def zoo_entry(env_id: str, algo: str) -> ZooEntry:
    """rl-zoo3's hyperparameters of ``algo`` (ppo, a2c, sac, td3) for ``env_id``: its tuned entry, a borrowed
    one, or its ``default`` (see the module docstring)."""
    if algo not in DEFAULTS:
        raise ValueError(f"algo must be one of {', '.join(DEFAULTS)}; got {algo!r}")
    return TABLE.get((env_id, algo), DEFAULTS[algo])
