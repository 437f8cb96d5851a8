"""PPO with a DiLQR actor whose pendulum model starts with the wrong mass: does the return improve, and
does the mass move toward the truth?

    .venv/bin/python scripts/ppo_misspecified.py            # 12k steps, mass 0.5 vs true 1.0
    .venv/bin/python scripts/ppo_misspecified.py --quick    # a 1k-step smoke run

Prints the deterministic evaluation return and the model mass before and after training; TensorBoard logs
and the checkpoint are in the printed run directory.
"""

from __future__ import annotations

import argparse

from dilqr_rl.agents.ppo import PPOConfig, train_ppo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1k steps, short horizon: a smoke run")
    parser.add_argument("--timesteps", type=int, default=PPOConfig.total_timesteps)
    parser.add_argument("--mass-error", type=float, default=-0.5)
    parser.add_argument("--cost", choices=("swingup", "goal"), default="swingup")
    parser.add_argument("--learning-rate", type=float, default=PPOConfig.learning_rate)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="runs")
    args = parser.parse_args()
    config = PPOConfig(total_timesteps=args.timesteps, mass_error=args.mass_error, cost=args.cost,
                       learning_rate=args.learning_rate, seed=args.seed, output_dir=args.output_dir,
                       exp_name="ppo_misspecified")
    if args.quick:
        config = PPOConfig(total_timesteps=1024, n_envs=2, n_steps=256, n_epochs=2, horizon=8, max_iter=8,
                           eval_episodes=1, mass_error=args.mass_error, cost=args.cost, seed=args.seed,
                           output_dir=args.output_dir, exp_name="ppo_misspecified_quick")
    result = train_ppo(config)
    print(f"run directory: {result.run_dir}")
    print(f"true mass {config.true_mass:.3f}; model mass {result.initial_params['mass']:.4f} -> "
          f"{result.final_params['mass']:.4f}")
    print(f"deterministic return ({config.eval_episodes} episodes): {result.initial_return:.1f} -> "
          f"{result.final_return:.1f}")


if __name__ == "__main__":
    main()
