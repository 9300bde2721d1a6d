"""The one exception hierarchy of pmlmrs.

::

    PmlmrsError(Exception)
    ├── ReadError                                   a file cannot be read or parsed; .path
    │   ├── UnknownFormatError(ReadError, ValueError)  no reader recognises the file
    │   ├── HeaderFieldError(ReadError, ValueError)    a header field is missing or invalid; .field, .value
    │   └── UnsupportedVariantError(ReadError)         a known format in a variant we do not handle
    ├── WriteError                                  an output cannot be written (exists without --force, ...)
    ├── IncompatibleDataError(PmlmrsError, ValueError)  basis vs data (nucleus, field), reference vs data
    ├── BasisError(PmlmrsError, ValueError)         a basis set is malformed or lacks what is needed
    ├── FitError(PmlmrsError, RuntimeError)
    │   └── ConvergenceError
    ├── ConfigError(PmlmrsError, ValueError)        an option has an invalid value
    └── StudyError(PmlmrsError, ValueError)         cohort layout, clinical tables; .path, .row, .column
    PmlmrsWarning(UserWarning)
    └── QualityWarning

Every message names the file and the field where there is one; the CLI prints ``str(exc)`` on one line.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

__all__ = [
    "PmlmrsError",
    "ReadError",
    "UnknownFormatError",
    "HeaderFieldError",
    "UnsupportedVariantError",
    "WriteError",
    "IncompatibleDataError",
    "BasisError",
    "FitError",
    "ConvergenceError",
    "ConfigError",
    "StudyError",
    "PmlmrsWarning",
    "QualityWarning",
    "check_option",
    "check_type",
]


class PmlmrsError(Exception):
    """Base class of every error raised on purpose by pmlmrs."""


class ReadError(PmlmrsError):
    """A file could not be read.

    Parameters
    ----------
    message : str
        What went wrong and, where possible, what to do next.
    path : str or path-like, optional
        The file; prefixed to the message.
    """

    def __init__(self, message: str, path: str | PathLike | None = None) -> None:
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UnknownFormatError(ReadError, ValueError):
    """No reader recognises the file."""


class HeaderFieldError(ReadError, ValueError):
    """A required header field is missing or has an invalid value."""

    def __init__(
        self,
        message: str,
        path: str | PathLike | None = None,
        *,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        self.field = field
        self.value = value
        super().__init__(message, path)


class UnsupportedVariantError(ReadError):
    """A known format in a variant pmlmrs does not handle (e.g. MRSI where only SVS is read)."""


class WriteError(PmlmrsError):
    """An output cannot be written, e.g. it exists and ``force`` was not given."""

    def __init__(self, message: str, path: str | PathLike | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class IncompatibleDataError(PmlmrsError, ValueError):
    """Two inputs do not fit together (basis vs data nucleus or field, reference vs data grid)."""


class BasisError(PmlmrsError, ValueError):
    """A basis set is malformed or lacks what the fit needs."""


class FitError(PmlmrsError, RuntimeError):
    """A fit could not be computed."""


class ConvergenceError(FitError):
    """The optimiser did not converge."""


class ConfigError(PmlmrsError, ValueError):
    """An option has an invalid value."""


class StudyError(PmlmrsError, ValueError):
    """A problem with the cohort layout or the clinical tables.

    ``path``, ``row`` (1-based data row) and ``column`` locate the problem when known.
    """

    def __init__(
        self,
        message: str,
        path: str | PathLike | None = None,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        where = self.path or ""
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}" if where else message)


class PmlmrsWarning(UserWarning):
    """Base class of pmlmrs warnings."""


class QualityWarning(PmlmrsWarning):
    """Data quality is questionable (reported, never silently dropped)."""


def check_option(name: str, value: Any, allowed: tuple | list | set) -> Any:
    """Return *value* if it is one of *allowed*, else raise ConfigError.

    Wording follows MNE: "Invalid value for the 'x' parameter. Allowed values are ..., but got ... instead."
    """
    if value not in allowed:
        opts = ", ".join(repr(a) for a in allowed)
        raise ConfigError(
            f"Invalid value for the {name!r} parameter. Allowed values are {opts}, but got {value!r} instead."
        )
    return value


def check_type(name: str, value: Any, types: type | tuple[type, ...]) -> Any:
    """Return *value* if it is an instance of *types*, else raise ConfigError naming the field."""
    if not isinstance(value, types):
        tnames = (
            types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        )
        raise ConfigError(
            f"{name!r} must be {tnames}, but got {value!r} of type {type(value).__name__} instead."
        )
    return value
