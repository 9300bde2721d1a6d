"""Provenance: one ``ProcessingStep`` per transform, written to NIfTI-MRS ``ProcessingApplied``."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ProcessingStep", "software_version"]


def software_version() -> str:
    """The installed pmlmrs version."""
    from pmlmrs import __version__

    return __version__


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ProcessingStep:
    """One processing step applied to a Spectrum.

    Parameters
    ----------
    name : str
        Short method name, e.g. ``"coil_combine"`` or ``"read"``.
    params : dict
        The options used, JSON-serialisable.
    details : str
        A human-readable sentence (what was done, with numbers).
    program, version, time : str
        Filled in automatically.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    details: str = ""
    program: str = "pmlmrs"
    version: str = field(default_factory=software_version)
    time: str = field(default_factory=_now)

    def to_nifti_mrs(self) -> dict[str, Any]:
        """As one entry of the NIfTI-MRS ``ProcessingApplied`` list."""
        details = self.details
        if self.params:
            import json

            details = (details + " " if details else "") + json.dumps(self.params, default=str, sort_keys=True)
        return {
            "Time": self.time,
            "Program": self.program,
            "Version": self.version,
            "Method": self.name,
            "Details": details,
        }

    @classmethod
    def from_nifti_mrs(cls, entry: dict[str, Any]) -> ProcessingStep:
        """Inverse of :meth:`to_nifti_mrs` (parameters stay inside ``details``)."""
        return cls(
            name=str(entry.get("Method", "")),
            details=str(entry.get("Details", "")),
            program=str(entry.get("Program", "")),
            version=str(entry.get("Version", "")),
            time=str(entry.get("Time", "")),
        )
