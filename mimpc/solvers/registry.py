"""Choosing an exact MIQP backend: :func:`make_solver`, :func:`available_solvers` and ``"auto"``.

``"auto"`` picks, separately for each problem, the first of gurobi, cplex, scip that is installed
and whose license accepts that problem's size (e.g. Gurobi for the 102-variable thermal tank under
the gurobipy pip license, CPLEX for the 364-variable robot problem). The decision is cached per
problem fingerprint; if a license refusal still happens at solve time, the next backend is tried.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimpc.problems.canonical import ParametricMIQP
from mimpc.solvers.base import (
    MIQPSolution,
    MIQPSolver,
    PersistentSolver,
    SolverLicenseError,
    SolverOptions,
    SolverUnavailableError,
    model_size,
)
from mimpc.solvers.cplex_backend import CplexSolver
from mimpc.solvers.gurobi_backend import GurobiSolver
from mimpc.solvers.scip_backend import ScipSolver

__all__ = [
    "check_solver_name",
    "make_solver",
    "available_solvers",
    "installed_solvers",
    "AutoSolver",
    "BACKENDS",
    "SOLVER_NAMES",
]

#: Backends in the order "auto" tries them (each backend's ``auto_rank``).
_CLASSES: tuple[type[PersistentSolver], ...] = (GurobiSolver, CplexSolver, ScipSolver)
BACKENDS: dict[str, type[PersistentSolver]] = {cls.name: cls for cls in sorted(_CLASSES, key=lambda cls: cls.auto_rank)}
SOLVER_NAMES = ("auto",) + tuple(BACKENDS)


def installed_solvers() -> list[str]:
    """Backends whose package imports and whose solver starts, in the order "auto" tries them."""
    return [name for name, cls in BACKENDS.items() if cls.usable()]


def available_solvers(problem: ParametricMIQP | None = None) -> list[str]:
    """Installed backends, restricted to those licensed for ``problem``'s size when it is given.

    Parameters
    ----------
    problem : ParametricMIQP, optional
        Check the license limits against the model this problem needs.

    Returns
    -------
    list of str
        Backend names in the order ``"auto"`` tries them.
    """
    names = installed_solvers()
    if problem is None:
        return names
    return [name for name in names if BACKENDS[name].licensed_for(problem)]


class AutoSolver(MIQPSolver):
    """Delegates each problem to the first installed backend licensed for its size.

    Backend objects are created on first use and shared between problems, so each keeps its
    persistent models; :meth:`chosen` and ``MIQPSolution.solver`` say which backend solved.
    """

    name = "auto"

    def __init__(self, options: SolverOptions | None = None) -> None:
        super().__init__(options)
        self._backends: dict[str, PersistentSolver] = {}
        self._choice: dict[str, str] = {}
        self._refused: set[tuple[str, str]] = set()

    @property
    def n_builds(self) -> int:
        return sum(b.n_builds for b in self._backends.values())

    def chosen(self, problem: ParametricMIQP) -> str:
        key = problem.fingerprint()
        if key not in self._choice:
            candidates = [n for n in available_solvers(problem) if (key, n) not in self._refused]
            if not candidates:
                installed = installed_solvers()
                n_var, n_con, _ = model_size(problem)
                if not installed:
                    raise SolverUnavailableError(
                        "no MIQP solver is installed: pip install 'mimpc[cplex]' (or [gurobi], [scip], [all])"
                    )
                raise SolverLicenseError(
                    f"none of the installed solvers ({', '.join(installed)}) is licensed for the {problem.name} "
                    f"problem ({n_var} variables, {n_con} constraints); install pyscipopt "
                    f"(pip install 'mimpc[scip]', no size limit) "
                    f"or a full Gurobi/CPLEX license"
                )
            self._choice[key] = candidates[0]
        return self._choice[key]

    def backend(self, name: str) -> PersistentSolver:
        """The backend object ``name`` this solver delegates to (created on first use)."""
        if name not in self._backends:
            self._backends[name] = BACKENDS[name](self.options)
        return self._backends[name]

    def solve(self, problem: ParametricMIQP, theta: Any, start: np.ndarray | None = None) -> MIQPSolution:
        while True:
            name = self.chosen(problem)
            try:
                return self.backend(name).solve(problem, theta, start)
            except SolverLicenseError:
                # the static limits missed a refusal: remember it and fall through to the next backend
                key = problem.fingerprint()
                self._refused.add((key, name))
                del self._choice[key]

    def close(self) -> None:
        for b in self._backends.values():
            b.close()


def check_solver_name(name: Any) -> str:
    """``name`` lower-cased, if it names a backend that is installed (or ``"auto"``): what code that
    builds its solver later checks when it is configured.

    Raises ValueError for an unknown name, SolverUnavailableError for a backend not installed."""
    if not isinstance(name, str) or name.lower() not in SOLVER_NAMES:
        raise ValueError(f"solver name must be one of {list(SOLVER_NAMES)}, got {name!r}")
    name = name.lower()
    if name != "auto" and not BACKENDS[name].installed():
        raise SolverUnavailableError(f"solver {name!r} is not installed: {BACKENDS[name].install_hint}")
    return name


def make_solver(
    name: str = "auto",
    *,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    threads: int = 1,
    verbose: bool = False,
) -> MIQPSolver:
    """Create an exact MIQP solver.

    Parameters
    ----------
    name : str
        ``"gurobi"``, ``"cplex"``, ``"scip"`` or ``"auto"`` (first installed backend whose license
        accepts each problem, tried in that order).
    time_limit : float, optional
        Seconds per solve; a stopped search returns status ``"time_limit"`` or ``"no_solution"``.
    mip_gap : float, optional
        Relative MIP gap for ``"optimal"``; None gives 1e-4 on every backend
        (:data:`mimpc.solvers.base.DEFAULT_MIP_GAP`).
    threads : int
        Solver threads (1 by default, for reproducible timing).
    verbose : bool
        Print the solver log.

    Returns
    -------
    MIQPSolver
        ``solver.solve(problem, theta) -> MIQPSolution``.

    Raises
    ------
    ValueError
        For an unknown ``name`` or invalid options.
    SolverUnavailableError
        If the named solver is not installed (the message says how to install it).
    """
    name = check_solver_name(name)
    options = SolverOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, verbose=verbose)
    if name == "auto":
        return AutoSolver(options)
    return BACKENDS[name](options)
