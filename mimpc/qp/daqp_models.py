"""DAQP conventions shared by mimpc's persistent QP models (:mod:`mimpc.qp.lean`,
:mod:`mimpc.qp.elastic`, :mod:`mimpc.qp.relaxation`): its infinity, the settings every model starts
from, its exit flags, and how to read the code ``setup`` returns."""

from __future__ import annotations

from typing import Any

__all__ = ["DAQP_INF", "EXIT_INFEASIBLE", "EXIT_ITERLIMIT", "EXIT_OPTIMAL", "new_model", "setup_failed"]

#: Bounds at or beyond this magnitude are infinite to DAQP.
DAQP_INF = 1e30
#: DAQP's exit flags: optimal, primal infeasible (a Farkas certificate), iteration limit.
EXIT_OPTIMAL, EXIT_INFEASIBLE, EXIT_ITERLIMIT = 1, -1, -4
_SETTINGS = {"primal_tol": 1e-9, "iter_limit": 10_000}


def new_model(**settings: Any) -> Any:
    """A ``daqp.Model`` with mimpc's settings (primal tolerance, iteration limit), plus ``settings``."""
    import daqp

    model = daqp.Model()
    model.settings = {**_SETTINGS, **settings}
    return model


def setup_failed(code: Any) -> bool:
    """Whether ``Model.setup`` failed: it returns an exit code, or a tuple that starts with one."""
    return (code[0] if isinstance(code, tuple) else code) < 0
