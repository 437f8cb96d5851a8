#!/bin/bash
# PPO (or ALGO=a2c) with the DiLQR actor learning its physics from the RL loss, at several --controller-lr-scale
# values, with the physical parameters at rates relative to their initial magnitude, from the env's default wrong
# start, evaluated before and after training on the study's 20 episodes (seeds 1000..1019). Two runs at a time; one
# line per run.
#
# SCALES (default "1 3 10"), SEEDS (default "0 1 2") and ENVS (default "Pendulum-v1 InvertedPendulum-v5") choose the
# grid; the budgets are the rl study's reduced grid: Pendulum-v1 10k env steps (12,288 ran), InvertedPendulum-v5 5k
# (5,024), dilqr_rl/CartpoleSwingUp-v0 6,144. The committed output: benchmarks/results/ppo_controller_lr_scale.txt.
set -e
cd "$(dirname "$0")/.."
SCALES=${SCALES:-"1 3 10"}
SEEDS=${SEEDS:-"0 1 2"}
ENVS=${ENVS:-"Pendulum-v1 InvertedPendulum-v5"}
ALGO=${ALGO:-ppo}
steps() {
  case "$1" in
    Pendulum-v1) echo 10000 ;;
    InvertedPendulum-v5) echo 5000 ;;
    dilqr_rl/CartpoleSwingUp-v0) echo 6144 ;;
    *) echo "no budget for $1" >&2; exit 2 ;;
  esac
}
run() {
  "${DILQR_RL:-.venv/bin/dilqr-rl}" rl --env-id "$1" --algo "$ALGO" --policy dilqr --total-timesteps "$(steps "$1")" \
    --eval-freq 0 --controller-lr-scale "$2" --seed "$3" --checkpoint-freq 0 \
    --output-dir runs/ppo_controller_lr_scale 2>/dev/null \
    | grep "normalised return" | sed "s|^|$1 $ALGO scale=$2 seed=$3: |"
}
jobs=()
for scale in $SCALES; do
  for seed in $SEEDS; do
    for env in $ENVS; do
      jobs+=("$env $scale $seed")
    done
  done
done
for ((i = 0; i < ${#jobs[@]}; i += 2)); do
  run ${jobs[i]} &
  if ((i + 1 < ${#jobs[@]})); then run ${jobs[i + 1]}; fi
  wait
done
