"""Relaxed-QP layer backends side by side; same as ``mimpc bench qp-layer`` (see mimpc/bench/qp_layer.py)."""

import sys

from mimpc.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "qp-layer", *sys.argv[1:]]))
