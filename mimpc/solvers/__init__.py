"""Exact MIQP solvers (Gurobi, CPLEX, SCIP) behind one interface.

``make_solver(name)`` returns an :class:`MIQPSolver`; ``solver.solve(problem, theta)`` returns an
:class:`MIQPSolution`. Each backend keeps a persistent model per problem and only updates the
theta-dependent data between solves. ``"auto"`` picks per problem the first installed backend whose
license accepts the model size; a named backend whose license refuses the model raises
:class:`SolverLicenseError` naming the limit and the alternatives.
"""

from mimpc.solvers.base import (
    STATUSES,
    LicenseLimits,
    MIQPSolution,
    MIQPSolver,
    SolveInterrupted,
    SolverLicenseError,
    SolverOptions,
    SolverUnavailableError,
)
from mimpc.solvers.cplex_backend import CplexSolver
from mimpc.solvers.gurobi_backend import GurobiSolver
from mimpc.solvers.registry import AutoSolver, available_solvers, installed_solvers, make_solver
from mimpc.solvers.scip_backend import ScipSolver

__all__ = [
    "make_solver",
    "available_solvers",
    "installed_solvers",
    "MIQPSolver",
    "MIQPSolution",
    "SolverOptions",
    "LicenseLimits",
    "SolverLicenseError",
    "SolverUnavailableError",
    "SolveInterrupted",
    "STATUSES",
    "AutoSolver",
    "GurobiSolver",
    "CplexSolver",
    "ScipSolver",
]
