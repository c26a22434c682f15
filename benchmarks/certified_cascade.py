"""The certified cascade measured (stage shares, exact-solver share, violations); same as
``mimpc bench certified`` (see mimpc/bench/certified.py)."""

import sys

from mimpc.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "certified", *sys.argv[1:]]))
