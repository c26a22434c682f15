"""The certified cascade measured (stage shares, exact-solver share, violations); same as
``mimpc bench certified`` (see mimpc/bench/certified.py)."""

from mimpc.bench.certified import main

if __name__ == "__main__":
    raise SystemExit(main())
