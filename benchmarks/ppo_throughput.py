"""PPO env steps per second: the zero-config DiLQR actor against SB3's MlpPolicy, in one run.

    python benchmarks/ppo_throughput.py [--env-id Pendulum-v1] [--n-envs 8] [--n-steps 256] [--quick]

The set-up of issue 14: ``PPO(policy, env_id)`` with 8 envs, ``n_steps=256``, one update of 5 epochs
(``total_timesteps = n_envs * n_steps``), one thread; DiLQR zero-config: ``policy_kwargs=dict(env_id=...)`` (the
env's registered model, the expert's cost and state map, the registered actor settings and plan memory). Prints steps/s of both and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import dilqr_rl.envs  # noqa: F401  (registers the dilqr_rl/... ids)
from dilqr_rl.policies import DiLQRPolicy


def steps_per_second(policy, env_id: str, n_envs: int, n_steps: int) -> float:
    venv = make_vec_env(env_id, n_envs=n_envs, seed=0)
    kwargs = None if isinstance(policy, str) else dict(env_id=env_id)
    model = PPO(policy, venv, n_steps=n_steps, n_epochs=5, batch_size=64, seed=0, device="cpu", policy_kwargs=kwargs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(total_timesteps=n_envs * n_steps)
    return model.num_timesteps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="Pendulum-v1")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="2 envs x 32 steps (the test suite runs this)")
    args = parser.parse_args(argv)
    n_envs, n_steps = (2, 32) if args.quick else (args.n_envs, args.n_steps)
    torch.set_num_threads(1)
    mlp = steps_per_second("MlpPolicy", args.env_id, n_envs, n_steps)
    dilqr = steps_per_second(DiLQRPolicy, args.env_id, n_envs, n_steps)
    print(f"{args.env_id}, {n_envs} envs x {n_steps} steps, one update of 5 epochs, one thread")
    print(f"MlpPolicy: {mlp:.0f} env steps/s; DiLQRPolicy (zero-config): {dilqr:.1f} env steps/s; "
          f"ratio 1/{mlp / dilqr:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
