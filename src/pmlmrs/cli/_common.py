"""The typer application, global flags and the error contract shared by every subcommand.

Exit status: 0 success; 1 user error (one-line message on stderr, traceback only with ``--debug``);
2 bad usage (typer/click).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from pmlmrs._logging import logger, set_log_level
from pmlmrs.errors import PmlmrsError

__all__ = ["app", "console", "err_console", "handle_errors", "state", "bad_usage", "check_choice"]

app = typer.Typer(
    name="pmlmrs",
    help="1H MRS of PML lesions: read, convert, preprocess and fit spectra; run the cohort study.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
state: dict[str, Any] = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


def bad_usage(option: str, message: str) -> typer.BadParameter:
    """The exception for an option value no input could use (exit status 2, naming the option)."""
    return typer.BadParameter(message, param_hint=f"'{option}'")


def check_choice(option: str, value: str | None, choices: tuple[str, ...]) -> None:
    """Bad usage unless *value* (None: not given) is one of *choices*."""
    if value is not None and value not in choices:
        raise bad_usage(option, f"{value!r} is not one of {', '.join(choices)}")


@app.callback()
def _global_options(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output (-v info, -vv debug)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Global flags, before the subcommand."""
    state["debug"] = debug
    set_log_level(-1 if quiet else (2 if debug else verbose))
    if not logger.handlers or all(isinstance(h, logging.NullHandler) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def handle_errors(func: F) -> F:
    """Turn PmlmrsError (and unexpected errors) into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit, typer.BadParameter):
            raise  # BadParameter: bad usage, exit status 2 with the usage line
        except PmlmrsError as exc:
            if state["debug"]:
                raise
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", markup=False)
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the CLI contract: no traceback without --debug
            if state["debug"]:
                raise
            err_console.print(
                f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                markup=False, highlight=False, soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
