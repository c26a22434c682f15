"""A single convex QP in plain matrix form, the currency of the fixed-integer QP solvers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["QPData"]


@dataclass(frozen=True, eq=False)
class QPData:
    """``minimize 1/2 x'Px + q'x + const  s.t.  Ax = b,  Gx <= h,  lb <= x <= ub``.

    ``integer_row_values`` holds ``G_d delta - rhs`` of the MIQP's integer-only rows: with the
    integers pinned they no longer constrain ``x`` but their violation still counts.
    """

    P: np.ndarray
    q: np.ndarray
    const: float
    A: np.ndarray
    b: np.ndarray
    G: np.ndarray
    h: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integer_row_values: np.ndarray

    @property
    def n(self) -> int:
        return self.P.shape[0]

    def objective(self, x: np.ndarray) -> float:
        """Objective value including the constant."""
        return float(0.5 * x @ self.P @ x + self.q @ x + self.const)

    def violation(self, x: np.ndarray) -> np.ndarray:
        """Positive parts of the inequality rows ``Gx - h`` at ``x``."""
        return np.maximum(self.G @ x - self.h, 0.0)
