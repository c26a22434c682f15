"""Per-step latency of the exact and learned controllers; same as ``mimpc bench step-latency``
(see mimpc/bench/step_latency.py)."""

import sys

from mimpc.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "step-latency", *sys.argv[1:]]))
