"""Parallel execution of independent per-exam work with Dask.

:func:`map_tasks` runs one function over many tasks: in this process (``workers=1``), on a local
Dask cluster of single-threaded worker processes (``workers > 1``), or on a running
``dask.distributed`` scheduler (``scheduler="tcp://host:8786"``). A task that raises is returned
with its error and never stops the others.
"""

from pmlmrs.parallel.executor import Executor, TaskResult, map_tasks, single_threaded

__all__ = ["TaskResult", "Executor", "map_tasks", "single_threaded"]
