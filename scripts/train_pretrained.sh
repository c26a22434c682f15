#!/usr/bin/env bash
# Reproduce the shipped policies in mimpc/pretrained/ from scratch (hours on a 2-core CPU).
# Data: closed-loop expert episodes (robot) and independent instances (tank), labelled by the
# exact MIQP solver. Robot policies use the grouped face head and cross-entropy (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
MIMPC=${MIMPC:-.venv/bin/mimpc}
OUT=${OUT:-runs}
T=${THREADS:-1}
robot() {
  $MIMPC generate --env robot_nav --samples 55000 --out data/robot_nav --seed 0 --no-progress
  R="--env robot_nav --data data/robot_nav --head grouped --threads $T --no-progress"
  $MIMPC train $R --method sl --epochs 20 --loss '{"supervised": "cross_entropy"}' --out $OUT/robot_nav/sl.pt
  $MIMPC train $R --method hybrid --epochs 10 --loss '{"supervised": "cross_entropy", "w_constraint": 1.0, "w_supervised": 100.0}' --out $OUT/robot_nav/hybrid.pt
  $MIMPC train $R --method ssl --epochs 10 --out $OUT/robot_nav/ssl.pt
  $MIMPC train --env robot_nav --data data/robot_nav --method lpae --epochs 20 --threads $T --no-progress --out $OUT/robot_nav/lpae.pt
}
tank() {
  $MIMPC generate --env thermal_tank --samples 36000 --out data/thermal_tank --seed 0 --no-progress
  K="--env thermal_tank --data data/thermal_tank --threads $T --no-progress --epochs 20"
  for m in sl ssl hybrid lpae; do $MIMPC train $K --method $m --out $OUT/thermal_tank/$m.pt; done
}
case "${1:-all}" in
  robot) robot ;;
  tank) tank ;;
  all) robot; tank ;;
  *) echo "usage: $0 [robot|tank|all]" >&2; exit 2 ;;
esac
