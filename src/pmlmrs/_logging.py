"""One package logger, a verbosity switch and a progress helper.

Library code logs through ``logger`` and never prints; only the CLI installs handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["logger", "set_log_level", "progress"]

logger = logging.getLogger("pmlmrs")
logger.addHandler(logging.NullHandler())

T = TypeVar("T")


def set_log_level(verbosity: int | str) -> None:
    """Set the package log level.

    Parameters
    ----------
    verbosity : int or str
        A logging level name ("DEBUG", "INFO", ...) or a count of ``-v`` flags
        (0 = WARNING, 1 = INFO, 2+ = DEBUG; negative = ERROR).
    """
    if isinstance(verbosity, str):
        level = logging.getLevelName(verbosity.upper())
        if not isinstance(level, int):
            raise ValueError(f"unknown log level {verbosity!r}")
    elif verbosity < 0:
        level = logging.ERROR
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logger.setLevel(level)


def progress(items: Iterable[T], *, description: str = "", total: int | None = None,
             enabled: bool = True) -> Iterator[T]:
    """Iterate over *items* with a rich progress bar when enabled and on a terminal."""
    if not enabled:
        yield from items
        return
    try:
        from rich.progress import track
    except ImportError:  # pragma: no cover - rich is a dependency
        yield from items
        return
    yield from track(items, description=description or "working", total=total, transient=True)
