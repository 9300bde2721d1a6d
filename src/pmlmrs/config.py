"""Frozen option objects: a common base with dict/TOML round trips and validation messages.

Each stage defines its own options class next to its code (``ReadOptions`` here, ``FitOptions`` in
:mod:`pmlmrs.fit`, ...) by subclassing :class:`Options`; provenance records ``to_dict()``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pmlmrs.errors import ConfigError

__all__ = ["Options", "ReadOptions"]

O = TypeVar("O", bound="Options")


@dataclasses.dataclass(frozen=True)
class Options:
    """Base for frozen option classes (subclasses are ``@dataclass(frozen=True)``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-friendly dict of every option."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[O], values: dict[str, Any]) -> O:
        """Build from a dict, naming any unknown key."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(
                f"unknown option(s) {unknown} for {cls.__name__}; known options are {sorted(names)}"
            )
        return cls(**values)

    @classmethod
    def from_toml(cls: type[O], path: str | Path, section: str | None = None) -> O:
        """Read options from a TOML file (optionally one ``[section]`` of it)."""
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read options: {exc}") from exc
        if section is not None:
            doc = doc.get(section, {})
        return cls.from_dict(doc)

    def replace(self: O, **changes: Any) -> O:
        """A copy with some options changed."""
        return dataclasses.replace(self, **changes)


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
