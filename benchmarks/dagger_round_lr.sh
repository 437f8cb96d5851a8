#!/bin/bash
# DAgger of the DiLQR actor on Pendulum-v1 (6 expert demonstrations, then 4 rounds of 1 learner episode: 10
# episodes of expert labels, the closed-loop-bc study's budget of 10), its rounds retraining at the full cloning
# rate (--round-lr-scale 1) and at a quarter of it (0.25, the default since), seeds 0..4.
# Results: runs/dagger_round_lr/<run>/result.json; the committed ones and their table:
# benchmarks/results/dagger_round_lr/.
set -e
cd "$(dirname "$0")/.."
mkdir -p runs/dagger_round_lr
for seed in 0 1 2 3 4; do
  for scale in 1 0.25; do
    "${DILQR_RL:-.venv/bin/dilqr-rl}" dagger --env-id Pendulum-v1 --policy dilqr --n-episodes 6 --rounds 4 \
      --episodes-per-round 1 --round-lr-scale "$scale" --seed "$seed" --no-progress \
      --output-dir runs/dagger_round_lr --exp-name "s${seed}_lr${scale}" > "runs/dagger_round_lr/s${seed}_lr${scale}.log" 2>&1
  done
done
