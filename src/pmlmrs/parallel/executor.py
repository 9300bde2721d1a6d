"""``map_tasks``: run a function over independent tasks locally or on Dask, errors kept per task."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from pmlmrs._logging import logger
from pmlmrs.errors import ConfigError

__all__ = ["TaskResult", "Executor", "map_tasks", "single_threaded"]

CONNECT_TIMEOUT_S = 20.0
"""Default seconds to wait for a ``dask.distributed`` scheduler."""


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """The outcome of one task.

    Attributes
    ----------
    index : int
        Position of the task in the input sequence.
    value : object
        What the function returned (None when it raised).
    error : str or None
        ``"ExceptionType: message"`` when the function raised (or its worker died).
    traceback : str or None
        The formatted traceback of that error, for ``--debug`` logs.
    """

    index: int
    value: Any = None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        """True when the task returned normally."""
        return self.error is None


@functools.cache
def _cached_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded(user_api: str | None = None, *, cached: bool = False) -> contextlib.AbstractContextManager:
    """Context limiting the BLAS and OpenMP pools (only *user_api*'s, e.g. ``"blas"``) to one thread.

    Each call scans the loaded libraries (milliseconds) unless *cached*: then the scan of the first
    cached call is reused, for hot paths whose libraries are loaded by then (the fit). No limit when
    threadpoolctl is missing or fails.
    """
    try:
        if cached:
            controller = _cached_controller()
        else:
            from threadpoolctl import ThreadpoolController

            controller = ThreadpoolController()
        return controller.limit(limits=1, user_api=user_api)
    except Exception:  # noqa: BLE001 - threadpoolctl missing or failing: run as is
        return contextlib.nullcontext()


def _call(func: Callable[[Any], Any], task: Any) -> tuple[Any, str | None, str | None]:
    """Run one task in a worker, catching everything (so that a task never kills the map)."""
    try:
        with single_threaded():
            return func(task), None, None
    except Exception as exc:  # noqa: BLE001 - reported per task
        return None, f"{type(exc).__name__}: {exc}", traceback.format_exc()


def _local(func: Callable[[Any], Any], tasks: Sequence[Any],
           on_result: Callable[[TaskResult], None] | None) -> list[TaskResult]:
    out = []
    for i, t in enumerate(tasks):
        value, err, tb = _call(func, t)
        r = TaskResult(i, value, err, tb)
        out.append(r)
        if on_result is not None:
            on_result(r)
    return out


def _dask(func: Callable[[Any], Any], tasks: Sequence[Any], client: Any,
          on_result: Callable[[TaskResult], None] | None) -> list[TaskResult]:
    from distributed import as_completed

    futures = client.map(_call, [func] * len(tasks), list(tasks), pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[TaskResult | None] = [None] * len(tasks)
    for fut in as_completed(futures):
        i = index[fut.key]
        try:
            value, err, tb = fut.result()
        except Exception as exc:  # noqa: BLE001 - a worker died or the task could not be sent
            value, err, tb = None, f"{type(exc).__name__}: {exc}", traceback.format_exc()
        r = TaskResult(i, value, err, tb)
        results[i] = r
        fut.release()
        if on_result is not None:
            on_result(r)
    return [r for r in results if r is not None]


class Executor:
    """Runs maps of tasks; the Dask cluster (or client) is started on first need and reused.

    Use as a context manager::

        with Executor(workers=2) as ex:
            ex.map(fit_exam, exams, on_result=store)
            ex.map(write_report, reports)

    Parameters
    ----------
    workers : int
        1: run in this process. N > 1: a local Dask cluster of N single-threaded worker processes.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``); *workers* is
        then ignored. The workers must see the same file system and import the same pmlmrs.
    connect_timeout : float, optional
        Seconds to wait for the scheduler (default CONNECT_TIMEOUT_S).
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None, *,
                 connect_timeout: float | None = None) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"'workers' must be a positive integer, but got {workers!r} instead.")
        self.workers = workers
        self.scheduler = scheduler
        self.connect_timeout = float(CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout)
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Shut down the client and the local cluster, if started."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()

    def connect(self) -> None:
        """Connect to the scheduler now (a no-op without one): an unreachable address fails here."""
        if self.scheduler is not None:
            self._get_client(0)

    @property
    def parallel(self) -> bool:
        """True when tasks run on Dask workers."""
        return self.scheduler is not None or self.workers > 1

    def _get_client(self, n_tasks: int) -> Any:
        if self._client is not None:
            return self._client
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
            raise ConfigError(f"parallel runs need dask.distributed: {exc}") from exc
        if self.scheduler is not None:
            logger.info("parallel: connecting to the Dask scheduler at %s", self.scheduler)
            try:
                self._client = Client(self.scheduler, timeout=f"{self.connect_timeout:g}s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot connect to the Dask scheduler {self.scheduler!r}: {exc}") from exc
            return self._client
        logger.info("parallel: starting a local Dask cluster with %d worker processes", self.workers)
        self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                     dashboard_address=":0", silence_logs=logging.ERROR)
        self._client = Client(self._cluster)
        return self._client

    def map(self, func: Callable[[Any], Any], tasks: Sequence[Any], *,
            on_result: Callable[[TaskResult], None] | None = None) -> list[TaskResult]:
        """Apply *func* to every task; one :class:`TaskResult` per task, in input order.

        *func* must be a module-level function (it is pickled to the workers); *on_result* is
        called here with each result as it completes.
        """
        tasks = list(tasks)
        if not tasks:
            return []
        if not self.parallel or (len(tasks) == 1 and self._client is None):
            return _local(func, tasks, on_result)
        return _dask(func, tasks, self._get_client(len(tasks)), on_result)


def map_tasks(func: Callable[[Any], Any], tasks: Sequence[Any], *, workers: int = 1,
              scheduler: str | None = None, on_result: Callable[[TaskResult], None] | None = None,
              connect_timeout: float | None = None) -> list[TaskResult]:
    """Apply *func* to every task; one :class:`TaskResult` per task, in input order.

    Parameters
    ----------
    func : callable
        A module-level function (it is pickled to the workers).
    tasks : sequence
        Picklable task descriptions.
    workers : int
        1: run here, one task after the other. N > 1: a local Dask cluster of N single-threaded
        worker processes (``dask.distributed.LocalCluster``), closed afterwards.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``); *workers* is
        then ignored. The workers must see the same file system.
    on_result : callable, optional
        Called in this process with each TaskResult as it completes (progress bars, database
        writes).
    connect_timeout : float, optional
        Seconds to wait for the scheduler (default CONNECT_TIMEOUT_S).

    Returns
    -------
    list of TaskResult
    """
    with Executor(workers, scheduler, connect_timeout=connect_timeout) as ex:
        return ex.map(func, tasks, on_result=on_result)
