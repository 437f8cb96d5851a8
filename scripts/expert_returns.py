"""Measure the iLQR experts' returns (the figures in the README) and optionally refit the MuJoCo model.

    python scripts/expert_returns.py          # Pendulum-v1 100 episodes, swing-up 10, InvertedPendulum 10
    python scripts/expert_returns.py --quick  # a few short episodes of each
    python scripts/expert_returns.py --refit  # also refit the InvertedPendulum-v5 model

Episode i of an env is reset with seed i (``evaluate_policy`` on a ``DummyVecEnv`` seeded with 0).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

import dilqr_rl.envs  # noqa: F401  (registers our ids)
from dilqr_rl.policies import expert_for
from dilqr_rl.policies.expert_fit import INVERTED_PENDULUM_FIT, fit_inverted_pendulum


@dataclass
class Case:
    env_id: str
    episodes: int
    quick_episodes: int
    quick_steps: int


CASES = (
    Case("Pendulum-v1", 100, 4, 200),
    Case("dilqr_rl/CartpoleSwingUp-v0", 10, 2, 150),
    Case("InvertedPendulum-v5", 10, 2, 200),
)


def measure(case: Case, quick: bool) -> tuple[np.ndarray, np.ndarray, float]:
    n = case.quick_episodes if quick else case.episodes
    kwargs = {"max_episode_steps": case.quick_steps} if quick else {}
    venv = DummyVecEnv([lambda: gym.make(case.env_id, **kwargs) for _ in range(n)])
    venv.seed(0)
    start = time.perf_counter()
    returns, lengths = evaluate_policy(expert_for(venv.envs[0]), venv, n_eval_episodes=n,
                                       return_episode_rewards=True, warn=False)
    return np.asarray(returns), np.asarray(lengths), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few short episodes per env")
    parser.add_argument("--refit", action="store_true", help="refit the InvertedPendulum-v5 model")
    parser.add_argument("--only", default=None, help="measure only this env id")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.refit:
        print("stored:", INVERTED_PENDULUM_FIT)
        print("refit: ", fit_inverted_pendulum())
    for case in CASES:
        if args.only and case.env_id != args.only:
            continue
        returns, lengths, seconds = measure(case, args.quick)
        print(f"{case.env_id}: {len(returns)} episodes (seeds 0..{len(returns) - 1}), mean return "
              f"{returns.mean():.2f} +- {returns.std():.2f}, min {returns.min():.2f}, max {returns.max():.2f}, "
              f"mean length {lengths.mean():.0f}, {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
