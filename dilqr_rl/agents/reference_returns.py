"""The two returns that normalise a policy's: a uniform random policy (0) and the env's iLQR expert (1), on the
same seeded evaluation episodes as the policy's (:func:`~dilqr_rl.agents.evaluation.evaluate_episodes`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from dilqr_rl.agents.evaluation import RandomPolicy, evaluate_episodes, normalized_return
from dilqr_rl.policies.expert_envs import expert_for


@dataclass(frozen=True)
class Reference:
    """Mean returns of the random policy and of the expert over one set of seeded episodes."""

    random: float
    expert: float
    episodes: int
    seed: int
    """Episode i was reset with ``seed + i``."""

    def normalize(self, value: float) -> float | None:
        """(value - random) / (expert - random); None where the expert is not above the random policy (e.g. on
        episodes cut too short for the expert to pay off): then nothing can be normalised."""
        if not self.expert > self.random:
            return None
        return float(normalized_return(value, self.random, self.expert))


def reference_returns(make_env: Callable[[], gym.Env], n_episodes: int, seed: int, progress: bool = False
                      ) -> Reference:
    """The random policy's (seeded by ``seed``) and the expert's mean returns over episodes seeded ``seed``,
    ``seed + 1``, ... (in lockstep; the pixel pendulum's privileged expert one after another)."""
    env = make_env()
    try:
        random = RandomPolicy(env.observation_space, env.action_space, seed=seed)
        expert = expert_for(env)
        lockstep = env.observation_space.dtype != np.uint8
        random_return = evaluate_episodes(random, make_env if lockstep else env, n_episodes, seed,
                                          progress=progress, label="random policy").mean_return
        expert_return = evaluate_episodes(expert, make_env if lockstep else env, n_episodes, seed,
                                          progress=progress, label="expert").mean_return
    finally:
        env.close()
    return Reference(random_return, expert_return, n_episodes, seed)
