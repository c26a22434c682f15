"""Where independent units of work run: in this process, in a local process pool, or on Ray.

``make_executor(kind, workers, address)`` returns an :class:`Executor` whose ``submit(fn, *args,
label=...)`` returns a :class:`concurrent.futures.Future`, so callers schedule with
``concurrent.futures.wait`` whatever the backend. ``fn`` must be a module-level function (it is
pickled by reference) and its result must not depend on where it runs.

Ray is optional (``pip install 'mimpc[ray]'``) and imported only when a Ray executor is made;
``ray.init`` runs on the first submission: at ``address`` (default: the ``RAY_ADDRESS``
environment variable) or, without one, a local instance with ``num_cpus=workers`` that
:meth:`Executor.close` shuts down again. A Ray instance already initialised by the caller is used
as it is and left running.

Before connecting to a cluster, its address is checked: ``host:port`` or ``ray://host:port`` (Ray
Client, which needs ``grpcio``, part of the ``mimpc[ray]`` extra) must accept a TCP connection within
``connect_timeout`` seconds (default :data:`RAY_CONNECT_TIMEOUT`, or ``$MIMPC_RAY_CONNECT_TIMEOUT``),
else a :class:`ConnectionError` names the address; Ray itself would retry for minutes. ``auto`` and
``local`` are left to Ray.

A task that raises is retried up to ``max_retries`` times on a process pool or Ray, then its
future raises :class:`TaskError`, which names the unit by its label. In this process a task fails
at once with its own exception (noted with the label).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

__all__ = ["Executor", "TaskError", "EXECUTORS", "make_executor", "RAY_INSTALL_HINT", "RAY_CONNECT_TIMEOUT"]

log = logging.getLogger(__name__)

EXECUTORS = ("local", "process", "ray")
RAY_INSTALL_HINT = "pip install 'mimpc[ray]'"
#: Local worker processes allowed per CPU (each holds a solver and, for policies, torch: hundreds of MB).
MAX_LOCAL_WORKERS_PER_CPU = 4
#: Seconds to wait for a Ray cluster's address to accept a connection.
RAY_CONNECT_TIMEOUT = 10.0


class TaskError(RuntimeError):
    """A unit of work failed (after its retries); the message names the unit."""


class Executor:
    """Runs submitted calls; use as a context manager (or call :meth:`close`)."""

    kind = "local"

    def __init__(self, workers: int = 1, max_retries: int = 0) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative integer, got {max_retries!r}")
        self.workers = workers
        self.max_retries = max_retries

    def submit(self, fn: Callable[..., Any], *args: Any, label: str | None = None, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)``; on failure the future raises a :class:`TaskError` naming
        ``label`` (default: the function's name), or in this process the task's own exception."""
        out: Future = Future()
        try:
            out.set_result(fn(*args, **kwargs))
        except Exception as exc:  # in this process: no retry; the error keeps its type, noted with the unit
            if hasattr(exc, "add_note"):
                exc.add_note(f"(in {label or fn.__name__})")
            out.set_exception(exc)
        return out

    def close(self) -> None:
        """Release workers (and a Ray instance this executor started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


class ProcessExecutor(Executor):
    """A local :class:`~concurrent.futures.ProcessPoolExecutor` with ``workers`` processes."""

    kind = "process"

    def __init__(self, workers: int = 1, max_retries: int = 2) -> None:
        super().__init__(workers, max_retries)
        # spawn, not fork: a forked child of a process whose torch or solver threads are running can deadlock
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )

    def submit(self, fn: Callable[..., Any], *args: Any, label: str | None = None, **kwargs: Any) -> Future:
        out: Future = Future()
        name = label or fn.__name__

        def attempt(n: int) -> None:
            inner = self._pool.submit(fn, *args, **kwargs)

            def done(f: Future) -> None:
                exc = f.exception()
                if exc is None:
                    out.set_result(f.result())
                elif n <= self.max_retries:
                    log.warning(
                        "%s failed (%s: %s); retry %d of %d", name, type(exc).__name__, exc, n, self.max_retries
                    )
                    try:
                        attempt(n + 1)
                    except Exception as again:  # the pool itself is broken
                        out.set_exception(_task_error(name, n + 1, again))
                else:
                    out.set_exception(_task_error(name, n, exc))

            inner.add_done_callback(done)

        attempt(1)
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(Executor):
    """Tasks on a Ray cluster (``address``) or on a local Ray instance started on demand."""

    kind = "ray"

    def __init__(
        self,
        workers: int = 1,
        address: str | None = None,
        max_retries: int = 2,
        connect_timeout: float | None = None,
    ) -> None:
        super().__init__(workers, max_retries)
        self._ray = import_ray()
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        if self.address is None:  # a local instance: as many worker processes as tasks in flight
            check_local_workers(workers)
        self._endpoint = None if self.address is None else ray_endpoint(self.address)
        self.connect_timeout = _connect_timeout(connect_timeout)
        self._started = False
        self._remote: Any = None

    def _init(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        quiet = {
            "log_to_driver": False,  # Ray's own messages only with -v
            "logging_level": logging.INFO if log.isEnabledFor(logging.DEBUG) else logging.WARNING,
        }
        if self.address:
            if self._endpoint is not None:
                check_reachable(*self._endpoint, self.connect_timeout, what=f"the Ray cluster at {self.address!r}")
            log.info("connecting to the Ray cluster at %s", self.address)
            ray.init(address=self.address, **quiet)
        else:
            log.info("starting a local Ray instance with %d CPUs", self.workers)
            ray.init(num_cpus=self.workers, include_dashboard=False, **quiet)
        self._started = True

    def submit(self, fn: Callable[..., Any], *args: Any, label: str | None = None, **kwargs: Any) -> Future:
        self._init()
        if self._remote is None:
            self._remote = self._ray.remote(_invoke).options(
                num_cpus=1, max_retries=self.max_retries, retry_exceptions=True
            )
        inner = self._remote.remote(fn, args, kwargs).future()
        out: Future = Future()
        name = label or fn.__name__

        def done(f: Future) -> None:
            exc = f.exception()
            if exc is None:
                out.set_result(f.result())
            else:
                cause = getattr(exc, "cause", None)  # RayTaskError wraps the task's own exception
                out.set_exception(
                    _task_error(name, self.max_retries + 1, cause if isinstance(cause, BaseException) else exc)
                )

        inner.add_done_callback(done)
        return out

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def import_ray() -> Any:
    """The ``ray`` module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"the Ray executor needs the ray package: {RAY_INSTALL_HINT}") from exc
    return ray


def check_local_workers(workers: Any) -> None:
    """Refuse more local worker processes than :data:`MAX_LOCAL_WORKERS_PER_CPU` per CPU."""
    limit = MAX_LOCAL_WORKERS_PER_CPU * (os.cpu_count() or 1)
    if isinstance(workers, int) and workers > limit:
        raise ValueError(
            f"workers={workers} local processes on {os.cpu_count() or 1} CPUs: at most {limit} "
            f"({MAX_LOCAL_WORKERS_PER_CPU} per CPU); connect to a Ray cluster (--ray-address) for more"
        )


def ray_endpoint(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a Ray address (``host:port`` or ``ray://host:port``), None for ``auto`` and
    ``local``; a ValueError for anything else, and an ImportError when a ``ray://`` address finds Ray
    Client missing."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"a Ray address is 'host:port', 'ray://host:port', 'auto' or 'local', got {address!r}")
    address = address.strip()
    if address in ("auto", "local"):
        return None
    rest = address
    if address.startswith("ray://"):
        try:
            import grpc  # noqa: F401  (Ray Client's transport)
        except ImportError as exc:
            raise ImportError(f"the address {address!r} needs Ray Client (grpcio): {RAY_INSTALL_HINT}") from exc
        rest = address[len("ray://") :]
    elif "://" in address:
        raise ValueError(f"a Ray address is 'host:port' or 'ray://host:port', got {address!r}")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a Ray address is 'host:port' or 'ray://host:port' (port 1..65535), got {address!r}")
    return host.strip("[]"), int(port)


def check_reachable(host: str, port: int, timeout: float, what: str) -> None:
    """Raise a ConnectionError naming ``what`` unless ``host:port`` accepts a TCP connection within
    ``timeout`` seconds."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ConnectionError(
            f"cannot reach {what} ({host}:{port}) within {timeout:g} s: {exc.strerror or exc}"
        ) from None


def _connect_timeout(value: float | None) -> float:
    if value is None:
        env = os.environ.get("MIMPC_RAY_CONNECT_TIMEOUT")
        try:
            value = float(env) if env else RAY_CONNECT_TIMEOUT
        except ValueError:
            raise ValueError(f"MIMPC_RAY_CONNECT_TIMEOUT must be a number of seconds, got {env!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < float("inf")):
        raise ValueError(f"connect_timeout must be a positive finite number of seconds, got {value!r}")
    return float(value)


def make_executor(kind: str = "local", workers: int = 1, address: str | None = None, max_retries: int = 2) -> Executor:
    """An executor of ``kind``:

    - ``"local"``: in this process when ``workers`` is 1, else a local process pool;
    - ``"process"``: a local process pool of ``workers`` processes;
    - ``"ray"``: Ray tasks, ``workers`` of them in flight (``address``: an existing cluster,
      default ``$RAY_ADDRESS``; without one a local instance with ``workers`` CPUs).
    """
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if address is not None and kind != "ray":
        raise ValueError(f"--ray-address applies to the ray executor only, got executor {kind!r}")
    if kind == "ray":
        return RayExecutor(workers, address, max_retries)
    check_local_workers(workers)
    if kind == "process" or workers > 1:
        return ProcessExecutor(workers, max_retries)
    return Executor(workers, 0)


def _invoke(fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
    """The one Ray remote function: calls ``fn`` (any picklable callable, builtins included)."""
    return fn(*args, **kwargs)


def _task_error(label: str, attempts: int, exc: BaseException) -> TaskError:
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    err = TaskError(f"{label} failed{tries}: {type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err


_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 1.0


def exit_with_parent(parent: int | None = None) -> None:
    """Process-pool initializer: end this worker when its parent process dies.

    On Linux the kernel sends SIGTERM at the parent's death (``prctl(PR_SET_PDEATHSIG)``), even
    while the worker is inside a solver; everywhere a daemon thread also polls the parent pid and
    exits once the worker has been re-parented. ``parent`` is the pid of the process that started
    the pool (passed by it): a spawned worker may only get here after its parent already died.
    """
    parent = os.getppid() if parent is None else int(parent)
    if os.getppid() != parent:  # the parent died while this worker was starting up
        os._exit(1)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the polling thread remains
            pass
    threading.Thread(target=_watch_parent, args=(parent,), name="exit-with-parent", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL_SECONDS)
    os._exit(1)
