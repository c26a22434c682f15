"""Access to the small held-out sets stored in tests/data/."""

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def heldout(problem_name: str) -> dict:
    with np.load(DATA / f"heldout_{problem_name}.npz") as f:
        return {k: f[k] for k in f.files}
