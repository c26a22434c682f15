"""Per-step latency of the exact and learned controllers; same as ``mimpc bench step-latency``
(see mimpc/bench/step_latency.py)."""

from mimpc.bench.step_latency import main

if __name__ == "__main__":
    raise SystemExit(main())
