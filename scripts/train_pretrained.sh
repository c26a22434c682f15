#!/usr/bin/env bash
# Reproduce the shipped policies in mimpc/pretrained/ from scratch (about 3 hours on 2 cores):
# 1. the expert-only datasets (robot: closed-loop expert episodes; tank: independent instances),
#    whose test splits are the README's "own test split" and tests/data/; SL, SSL, hybrid (the SL
#    policy fine-tuned with the hybrid loss) and LP-AE trained on them (the first generation of
#    policies; SSL and LP-AE are still these);
# 2. the robot's mixed datasets (mimpc generate --mix: expert episodes, states over the whole
#    domain, and states visited by the first-generation hybrid policy, all labelled by the exact
#    MIQP), on which the shipped robot SL (4 x 256) and hybrid policies are trained (README,
#    "Beyond the expert's paths"; retrained tank policies did not measure better, so the tank ships
#    the first generation);
# then export with model cards (scripts/export_pretrained.py) and the held-out sets of tests/data/.
# Robot policies use the grouped face head and cross-entropy (README, "mimpc's own choices").
set -euo pipefail
cd "$(dirname "$0")/.."
MIMPC=${MIMPC:-.venv/bin/mimpc}
PY=${PY:-.venv/bin/python}
T=${THREADS:-1}
robot() {
  # first generation, expert-only data (its test split is the README's own test split); SSL and
  # LP-AE are shipped from here, the hybrid policy drives the on-policy episodes of the mixed data
  $MIMPC generate --env robot_nav --samples 55000 --out data/robot_nav --seed 0 --mix expert=1 --no-progress
  R="--env robot_nav --data data/robot_nav --head grouped --threads $T --no-progress"
  $MIMPC train $R --method sl --epochs 20 --loss '{"supervised": "cross_entropy"}' --out runs/robot_nav/gen1/sl.pt
  $MIMPC train $R --method hybrid --epochs 6 --lr 2e-4 --init runs/robot_nav/gen1/sl.pt \
    --loss '{"supervised": "cross_entropy", "w_constraint": 1.0, "w_supervised": 100.0}' --out runs/robot_nav/gen1/hybrid.pt
  $MIMPC train $R --method ssl --epochs 10 --out runs/robot_nav/ssl.pt
  $MIMPC train --env robot_nav --data data/robot_nav --method lpae --epochs 20 --threads $T --no-progress \
    --out runs/robot_nav/lpae.pt
  # mixed data: expert episodes, states over the whole domain, states the first hybrid policy visits;
  # robot_nav_mix2 and robot_nav_mix3 are its first 36,000 and 41,259 samples (the same shards): the
  # shipped policies were trained while the data grew
  MIX="--env robot_nav --seed 0 --mix expert=0.4,domain=0.4,onpolicy=0.2 --policy runs/robot_nav/gen1/hybrid.pt --no-progress"
  $MIMPC generate $MIX --samples 63300 --out data/robot_nav_mix4
  for n in 2:36000 3:41259; do
    mkdir -p data/robot_nav_mix${n%%:*} && cp -al data/robot_nav_mix4/shards data/robot_nav_mix${n%%:*}/
    $MIMPC generate $MIX --samples ${n##*:} --out data/robot_nav_mix${n%%:*}
  done
  # shipped SL: 4 x 256 from scratch on mix2, then more epochs on mix3 and mix4; hybrid: fine-tuned from it
  W="--env robot_nav --head grouped --hidden 256 256 256 256 --threads $T --no-progress"
  CE='{"supervised": "cross_entropy"}'
  $MIMPC train $W --data data/robot_nav_mix2 --method sl --epochs 30 --loss "$CE" --out runs/robot_nav/sl_mix2.pt
  $MIMPC train $W --data data/robot_nav_mix3 --method sl --epochs 15 --lr 5e-4 --init runs/robot_nav/sl_mix2.pt \
    --loss "$CE" --out runs/robot_nav/sl_mix3.pt
  $MIMPC train $W --data data/robot_nav_mix3 --method sl --epochs 12 --lr 3e-4 --init runs/robot_nav/sl_mix3.pt \
    --loss "$CE" --out runs/robot_nav/sl_mix3b.pt
  $MIMPC train $W --data data/robot_nav_mix4 --method sl --epochs 8 --lr 3e-4 --init runs/robot_nav/sl_mix3b.pt \
    --loss "$CE" --out runs/robot_nav/sl.pt
  $MIMPC train $W --data data/robot_nav_mix4 --method hybrid --epochs 2 --lr 5e-5 --init runs/robot_nav/sl.pt \
    --loss '{"supervised": "cross_entropy", "w_constraint": 0.1, "w_supervised": 100.0}' --out runs/robot_nav/hybrid.pt
}
tank() {
  $MIMPC generate --env thermal_tank --samples 36000 --out data/thermal_tank --seed 0 --mix expert=1 --no-progress
  K="--env thermal_tank --data data/thermal_tank --threads $T --no-progress"
  $MIMPC train $K --method sl --epochs 20 --out runs/thermal_tank/sl.pt
  $MIMPC train $K --method hybrid --epochs 10 --lr 5e-4 --init runs/thermal_tank/sl.pt --out runs/thermal_tank/hybrid.pt
  $MIMPC train $K --method ssl --epochs 20 --out runs/thermal_tank/ssl.pt
  $MIMPC train $K --method lpae --epochs 20 --out runs/thermal_tank/lpae.pt
}
export_all() {
  # robot SL and hybrid: second generation (mixed data); every other policy: the first generation
  # (README, "Beyond the expert's paths": the retrained tank policies did not measure better)
  $PY scripts/export_pretrained.py
  $PY scripts/make_heldout.py
}
case "${1:-all}" in
  robot) robot ;;
  tank) tank ;;
  export) export_all ;;
  all) robot; tank; export_all ;;
  *) echo "usage: $0 [robot|tank|export|all]" >&2; exit 2 ;;
esac
