#!/bin/bash
# PPO with the DiLQR actor learning its physics from the RL loss, at three --controller-lr-scale values (1, 3 and 10,
# the default), with the physical parameters at rates relative to their initial magnitude: Pendulum-v1 (10k env
# steps: 12,288) and InvertedPendulum-v5 (5k: 5,024), seeds 0..2, from the env's default wrong start, evaluated
# before and after training on the study's 20 episodes (seeds 1000..1019). Two runs at a time. Prints one line per
# run; the committed output: benchmarks/results/ppo_controller_lr_scale.txt.
set -e
cd "$(dirname "$0")/.."
run() {
  "${DILQR_RL:-.venv/bin/dilqr-rl}" rl --env-id "$1" --algo ppo --policy dilqr --total-timesteps "$2" --eval-freq 0 \
    --controller-lr-scale "$3" --seed "$4" --checkpoint-freq 0 --output-dir runs/ppo_controller_lr_scale 2>/dev/null \
    | grep "normalised return" | sed "s|^|$1 scale=$3 seed=$4: |"
}
for scale in 1 3 10; do
  for seed in 0 1 2; do
    run Pendulum-v1 10000 "$scale" "$seed" &
    run InvertedPendulum-v5 5000 "$scale" "$seed"
    wait
  done
done
