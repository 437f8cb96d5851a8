from dilqr_rl.agents.ppo import PPOConfig, train_ppo  # noqa: F401  (re-exports)
