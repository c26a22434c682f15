"""Soak test of the controllers in closed loop; same as ``mimpc bench soak``
(see mimpc/bench/soak.py)."""

from mimpc.bench.soak import main

if __name__ == "__main__":
    raise SystemExit(main())
