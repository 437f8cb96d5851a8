"""The follow tolerance where the model is right: the zero-config DiLQR actor (true or fitted model) at each
tolerance, its return and how many steps followed its previous plan.

    python benchmarks/follow_tolerance_actor.py ENV_ID EPISODES TOL [TOL ...]
    python benchmarks/follow_tolerance_actor.py dilqr_rl/CartpoleSwingUp-v0 10 0.5 0.02
    python benchmarks/follow_tolerance_actor.py InvertedPendulum-v5 5 0.5 0.02

Episodes seeded 1000..; prints env, tolerance, mean return, wall seconds, env steps and the solver's counts.
"""

from __future__ import annotations

import sys
import time

import torch
from stable_baselines3 import PPO

from dilqr_rl.agents.evaluation import evaluate_episodes
from dilqr_rl.policies import DiLQRPolicy
from dilqr_rl.policies.env_registry import make_env


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    env_id, episodes, tolerances = argv[0], int(argv[1]), [float(t) for t in argv[2:]]
    env = make_env(env_id)
    for tolerance in tolerances:
        model = PPO(DiLQRPolicy, env, n_steps=8, batch_size=8, seed=0,
                    policy_kwargs=dict(env_id=env_id, follow_tolerance=tolerance))
        start = time.time()
        result = evaluate_episodes(model.policy, lambda: make_env(env_id), n_episodes=episodes, seed=1000)
        counts = {k: v for k, v in vars(model.policy.solver_stats).items() if not k.startswith("_")}
        print(env_id, tolerance, round(float(result.returns.mean()), 1), f"{time.time() - start:.1f}s",
              int(result.lengths.sum()), counts, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
