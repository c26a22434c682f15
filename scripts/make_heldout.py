"""Write the small held-out sets of tests/data/ from the test splits of the expert datasets.

    python scripts/make_heldout.py [--n 200] [--data data] [--out tests/data]

Each file holds ``n`` test-split samples (theta, proven-optimal objective, canonical integer
labels, episode id) drawn without replacement with seed 0, and the problem fingerprint. The
test split is drawn per episode, so no shipped policy saw these states in training.
"""

import argparse
from pathlib import Path

import numpy as np

from mimpc.training.dataset import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--data", default=str(ROOT / "data"))
    parser.add_argument("--out", default=str(ROOT / "tests" / "data"))
    parser.add_argument("--problems", nargs="+", default=["robot_nav", "thermal_tank"])
    args = parser.parse_args()
    for name in args.problems:
        ds = load_dataset(Path(args.data) / name)
        test = ds.subset("test")
        n = min(args.n, len(test["theta"]))
        pick = np.sort(np.random.default_rng(0).choice(len(test["theta"]), n, replace=False))
        out = Path(args.out) / f"heldout_{name}.npz"
        np.savez_compressed(
            out,
            theta=test["theta"][pick],
            objective=test["objective"][pick],
            delta=test["delta"][pick],
            episode=test["episode"][pick],
            fingerprint=np.array(ds.meta["fingerprint"]),
        )
        print(
            f"{out}: {n} of {len(test['theta'])} test-split samples "
            f"from {len(np.unique(test['episode'][pick]))} episodes"
        )


if __name__ == "__main__":
    main()
