#!/usr/bin/env bash
# Create .venv and install mimpc with every solver, Ray (so that the Ray tests run) and the dev
# extra: test, docs, lint and type-check tools (.ci/run uses them all). Torch is pinned and
# installed first so that pip takes the CPU build (a bare "torch" requirement can pull a multi-GB
# CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[all,ray,docs,dev]"
echo "mimpc installed in $(pwd)/.venv"
