"""The fixed-integer QP of a ParametricMIQP, in one home.

With the integers pinned, the MIQP is a QP (paper eq. 3); with slack on its continuous rows it is
the relaxed QP of eq. (10), feasible for every theta and integers. This package holds everything
that solves it: the equality elimination shared by every solve (:mod:`~mimpc.qp.reduction`),
per-instance solves on several backends (:mod:`~mimpc.qp.fixed`, :mod:`~mimpc.qp.backends`,
:mod:`~mimpc.qp.elastic`), the closed-loop hot path (:mod:`~mimpc.qp.lean`), KKT checks
(:mod:`~mimpc.qp.kkt`) and the differentiable batched layer for training (:mod:`mimpc.qp.layer`,
which imports torch and is therefore not imported here).
"""

from mimpc.qp.fixed import FixedQPSolver, QPResult, SlackPenaltyReport, check_slack_penalty, solve_fixed_qp
from mimpc.qp.lean import LeanQP
from mimpc.qp.reduction import ReducedQP, reduce_problem

__all__ = [
    "FixedQPSolver",
    "QPResult",
    "SlackPenaltyReport",
    "check_slack_penalty",
    "solve_fixed_qp",
    "LeanQP",
    "ReducedQP",
    "reduce_problem",
]
