"""Frozen option objects: a common base with dict/TOML round trips and validation messages.

Each stage defines its own options class next to its code (``ReadOptions`` here, ``FitOptions`` in
:mod:`pmlmrs.fit`, ...) by subclassing :class:`Options`; provenance records ``to_dict()``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pmlmrs.errors import ConfigError

__all__ = ["Options", "ReadOptions", "check_toml_tables", "read_toml", "parse_bool"]

#: Spellings of true, false and a missing value in table cells (TSV/CSV; case and spaces ignored).
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0"})
MISSING_WORDS = frozenset({"", "n/a", "na", "nan", "none", "nat", "<na>"})


def parse_bool(value: Any) -> bool | None:
    """True/False from a table cell: a boolean, 0/1, or one of :data:`TRUE_WORDS` / :data:`FALSE_WORDS`;
    None for a missing value (None, NaN, pandas NA, ``n/a``, empty). ValueError for anything else."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, str):          # numpy's str_ too
        s = value.strip().lower()
        if s in MISSING_WORDS:
            return None
        if s in TRUE_WORDS or s in FALSE_WORDS:
            return s in TRUE_WORDS
        raise ValueError(f"{value!r} is not a truth value")
    if type(value).__name__ == "datetime64" and str(value) == "NaT":
        return None
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a truth value") from None
        if math.isnan(f):
            return None
        if f in (0.0, 1.0):
            return f == 1.0
    raise ValueError(f"{value!r} is not a truth value")

O = TypeVar("O", bound="Options")


@dataclasses.dataclass(frozen=True)
class Options:
    """Base for frozen option classes (subclasses are ``@dataclass(frozen=True)``).

    ``from_dict`` checks that an option whose default is a boolean or a number gets one, except the
    options a subclass names in ``_OTHER_KINDS`` (those it also takes as ``"none"``, say).
    """

    _OTHER_KINDS: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-friendly dict of every option."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[O], values: dict[str, Any]) -> O:
        """Build from a dict, naming any unknown key."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(
                f"unknown option(s) {unknown} for {cls.__name__}; known options are {sorted(fields)}"
            )
        for name, value in values.items():
            if name not in cls._OTHER_KINDS:
                _check_scalar_type(name, value, fields[name].default)
        return cls(**values)

    @classmethod
    def from_toml(cls: type[O], path: str | Path, section: str | None = None) -> O:
        """Read options from a TOML file (optionally one ``[section]`` of it)."""
        return cls.from_document(read_toml(path), section, path)

    @classmethod
    def from_document(cls: type[O], doc: dict[str, Any], section: str | None, path: str | Path) -> O:
        """Options from an already parsed TOML document *doc* of file *path* (named in errors)."""
        where = f"{path}" if section is None else f"{path} [{section}]"
        if section is not None:
            doc = doc.get(section, {})
            if not isinstance(doc, dict):
                raise ConfigError(f"{where}: must be a table of options ([{section}] ...), got {doc!r}")
        try:
            return cls.from_dict(doc)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def replace(self: O, **changes: Any) -> O:
        """A copy with some options changed."""
        return dataclasses.replace(self, **changes)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The parsed TOML file; ConfigError naming *path* when it cannot be read or parsed."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read options: {exc}") from exc


def check_toml_tables(path: str | Path, tables: tuple[str, ...]) -> dict[str, Any]:
    """The parsed TOML file; ConfigError naming *path* when its top level holds anything but the option
    *tables* (a typo such as ``[fitt]`` would otherwise leave every option at its default without a word)."""
    doc = read_toml(path)
    extra = [k for k in doc if k not in tables]
    if extra:
        raise ConfigError(f"{path}: unknown table(s) or key(s) {extra}; this command reads the tables "
                          f"{', '.join(f'[{t}]' for t in tables)}")
    return doc


def _check_scalar_type(name: str, value: Any, default: Any) -> None:
    """ConfigError when a value from a dict/TOML has another kind than the option's scalar default
    (a boolean for a boolean, a finite number for a number); options that take several kinds have
    other defaults ('auto', None, tables) and are checked by their class."""
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        kind = "a finite number"
    else:
        return
    if not ok:
        raise ConfigError(f"option {name!r} must be {kind} (default {default!r}), got {value!r}")


@dataclasses.dataclass(frozen=True)
class ReadOptions(Options):
    """Header values supplied by the user for formats that lack them (LCModel RAW, plain text).

    Attributes
    ----------
    central_frequency : float or None
        Spectrometer frequency, MHz.
    spectral_width : float or None
        Hz (dwell time = 1 / spectral_width).
    echo_time : float or None
        ms, as users type it; converted to s in the Header.
    nucleus : str
    ppm_reference : float or None
        Chemical shift at the receiver frequency; 4.65 ppm for 1H by default.
    conjugate : bool or None
        Force (True) or forbid (False) conjugation for formats whose convention is ambiguous.
    """

    central_frequency: float | None = None
    spectral_width: float | None = None
    echo_time: float | None = None
    nucleus: str = "1H"
    ppm_reference: float | None = None
    conjugate: bool | None = None
