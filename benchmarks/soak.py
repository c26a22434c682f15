"""Soak test of the controllers in closed loop; same as ``mimpc bench soak``
(see mimpc/bench/soak.py)."""

import sys

from mimpc.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "soak", *sys.argv[1:]]))
