#!/usr/bin/env bash
# Every number and figure of docs/papers/results.md, from the shipped policies and the datasets of
# scripts/train_pretrained.sh (data/robot_nav, data/thermal_tank). Run on an otherwise idle
# machine: the timing columns are medians measured side by side in one run, but a loaded CPU
# still shifts them. Outputs go to results/ (about 30 minutes on 2 cores). WORKERS=2 runs the
# closed-loop episodes two at a time (same episodes; per-step times then share the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
MIMPC=${MIMPC:-.venv/bin/mimpc}
WORKERS=${WORKERS:-1}
P=mimpc/pretrained
step() { echo; echo "\$ $*"; "$@"; }

# exact MIQP controller in closed loop (issue: foundation)
step $MIMPC rollout --env robot_nav --controller miqp --episodes 10 --out results/rollout_robot_nav --no-progress --workers $WORKERS
step $MIMPC rollout --env thermal_tank --controller miqp --episodes 5 --max-steps 200 --out results/rollout_thermal_tank --no-progress --workers $WORKERS

step .venv/bin/python benchmarks/miqp_agreement.py

# open-loop metrics on the held-out test splits (paper Figs. 2-3)
for env in robot_nav thermal_tank; do
  step $MIMPC evaluate --checkpoint $P/$env/sl.pt $P/$env/ssl.pt $P/$env/hybrid.pt $P/$env/lpae.pt \
    --data data/$env --out results/evaluate_$env
done
step $MIMPC evaluate --checkpoint $P/robot_nav/hybrid.pt --data data/robot_nav --repair 2 --out results/evaluate_robot_nav_repair

# the main job: closed-loop comparison on shared seeds
step $MIMPC compare --env robot_nav --episodes 50 --out results/compare_robot_nav --no-progress --workers $WORKERS
step $MIMPC compare --env thermal_tank --episodes 5 --out results/compare_thermal_tank --no-progress --workers $WORKERS

# per-step latency at the states the exact controller visits (fresh seeds), each controller in a
# block of its own, three interleaved rounds; then the certified cascade over the whole domain
for env in robot_nav thermal_tank; do
  step $MIMPC bench step-latency --env $env --method hybrid,hybrid+cert,lpae --n 300 --rounds 3
done
step $MIMPC bench certified --env robot_nav --open-loop 1000 --episodes 100 --arbitrary-starts \
  --closed-loop-variants 5 --out results/certified_robot_nav.json
step $MIMPC bench certified --env thermal_tank --open-loop 1000 --episodes 20 --closed-loop-variants 2 \
  --variants "shifted,topk:8:first;shifted,topk:1:first;shifted,topk:32:first;shifted,topk:8:cheapest" \
  --out results/certified_thermal_tank.json
step $MIMPC bench qp-layer --threads 1

# soak: many episodes per controller, no exception, no NaN, memory growth
for env in thermal_tank robot_nav; do
  step $MIMPC bench soak --env $env --episodes 20
done

# the LP-AE paper's Table 1 and ablations
step $MIMPC bench lpae --no-progress
step $MIMPC bench lpae --diagnose --seeds 3 --penalty-cap 3e4 --no-progress --out results/lpae_diagnose_cap3e4

# the figures the docs show
mkdir -p docs/figures
cp results/compare_robot_nav/trajectories.png docs/figures/compare_robot_nav_trajectories.png
cp results/compare_robot_nav/timing.png docs/figures/compare_robot_nav_timing.png
cp results/compare_thermal_tank/trajectories.png docs/figures/compare_thermal_tank_trajectories.png
cp results/evaluate_robot_nav/open_loop_panels.png docs/figures/evaluate_robot_nav_panels.png
cp results/evaluate_thermal_tank/open_loop_panels.png docs/figures/evaluate_thermal_tank_panels.png
