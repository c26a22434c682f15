"""Relaxed-QP layer backends side by side; same as ``mimpc bench qp-layer`` (see mimpc/bench/qp_layer.py)."""

from mimpc.bench.qp_layer import main

if __name__ == "__main__":
    main()
