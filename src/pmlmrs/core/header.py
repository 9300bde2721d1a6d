"""Typed, frozen acquisition header in SI units, with an explicit ppm reference."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pmlmrs.errors import ConfigError

__all__ = ["Header", "Geometry", "GYROMAGNETIC_RATIO_MHZ_PER_T", "DEFAULT_PPM_REFERENCE"]

#: Gyromagnetic ratio / 2 pi, MHz per tesla.
GYROMAGNETIC_RATIO_MHZ_PER_T: dict[str, float] = {
    "1H": 42.577478518,
    "2H": 6.536,
    "13C": 10.7084,
    "19F": 40.078,
    "31P": 17.235,
    "23Na": 11.262,
}

#: The chemical shift at the receiver (carrier) frequency when a file does not say otherwise.
DEFAULT_PPM_REFERENCE: dict[str, float] = {"1H": 4.65}


@dataclass(frozen=True, eq=False)
class Geometry:
    """Voxel position and size.

    Parameters
    ----------
    affine : (4, 4) array
        Voxel index to scanner (patient, RAS+ as in NIfTI) coordinates, mm.
    """

    affine: np.ndarray

    def __post_init__(self) -> None:
        aff = np.array(self.affine, dtype=float)
        if aff.shape != (4, 4) or not np.all(np.isfinite(aff)):
            raise ConfigError(f"Geometry.affine must be a finite 4x4 array, got shape {aff.shape}")
        aff.flags.writeable = False
        object.__setattr__(self, "affine", aff)

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        """Voxel edge lengths, mm (column norms of the affine)."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    @property
    def volume_ml(self) -> float:
        """Voxel volume in millilitres."""
        return float(np.prod(self.voxel_size)) / 1000.0

    @property
    def centre(self) -> tuple[float, float, float]:
        """Voxel centre in scanner coordinates, mm."""
        return tuple(float(v) for v in self.affine[:3, 3])  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Geometry) and np.allclose(self.affine, other.affine)

    def __repr__(self) -> str:
        sz = "x".join(f"{v:g}" for v in self.voxel_size)
        return f"Geometry(size={sz} mm, centre={tuple(round(c, 1) for c in self.centre)})"


@dataclass(frozen=True)
class Header:
    """Acquisition header; every physical quantity in SI units (MHz for the spectrometer frequency).

    Parameters
    ----------
    spectrometer_frequency : float
        Receiver (carrier) frequency, MHz.
    dwell_time : float
        Sampling interval of the FID, s (spectral width = 1 / dwell_time).
    nucleus : str
        e.g. ``"1H"``.
    echo_time, repetition_time : float or None
        s.
    field_strength : float or None
        T; derived from the frequency and nucleus when not given.
    ppm_reference : float or None
        Chemical shift at the receiver frequency, ppm (4.65 for 1H unless the file says otherwise).
    geometry : Geometry or None
        Voxel position and size.
    acquisition : mapping
        Acquisition metadata under NIfTI-MRS standard key names (Manufacturer, SequenceName,
        WaterSuppressed, ...). Never patient names or birth dates.
    vendor : mapping
        Everything else the file said, kept apart (like xarray's ``encoding``).
    """

    spectrometer_frequency: float
    dwell_time: float
    nucleus: str = "1H"
    echo_time: float | None = None
    repetition_time: float | None = None
    field_strength: float | None = None
    ppm_reference: float | None = None
    geometry: Geometry | None = None
    acquisition: Mapping[str, Any] = field(default_factory=dict, compare=False)
    vendor: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("spectrometer_frequency", "dwell_time"):
            val = getattr(self, name)
            try:
                val = float(val)
            except (TypeError, ValueError):
                raise ConfigError(f"Header.{name} must be a number, got {val!r}") from None
            if not math.isfinite(val) or val <= 0:
                raise ConfigError(f"Header.{name} must be positive and finite, got {val!r}")
            object.__setattr__(self, name, val)
        for name in ("echo_time", "repetition_time", "field_strength"):
            val = getattr(self, name)
            if val is not None:
                try:
                    val = float(val)
                except (TypeError, ValueError):
                    raise ConfigError(f"Header.{name} must be a number or None, got {val!r}") from None
                if not math.isfinite(val) or val < 0:
                    raise ConfigError(f"Header.{name} must be non-negative and finite, got {val!r}")
                object.__setattr__(self, name, val)
        if self.ppm_reference is None:
            object.__setattr__(self, "ppm_reference", DEFAULT_PPM_REFERENCE.get(self.nucleus, 0.0))
        else:
            object.__setattr__(self, "ppm_reference", float(self.ppm_reference))
        if self.field_strength is None and self.nucleus in GYROMAGNETIC_RATIO_MHZ_PER_T:
            b0 = self.spectrometer_frequency / GYROMAGNETIC_RATIO_MHZ_PER_T[self.nucleus]
            object.__setattr__(self, "field_strength", round(b0, 3))
        object.__setattr__(self, "acquisition", dict(self.acquisition))
        object.__setattr__(self, "vendor", dict(self.vendor))

    @property
    def spectral_width(self) -> float:
        """Spectral width (bandwidth), Hz."""
        return 1.0 / self.dwell_time

    def replace(self, **changes: Any) -> Header:
        """A copy with the given fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (units in the key names)."""
        g = self.geometry
        return {
            "nucleus": self.nucleus,
            "spectrometer_frequency_mhz": self.spectrometer_frequency,
            "dwell_time_s": self.dwell_time,
            "spectral_width_hz": self.spectral_width,
            "echo_time_s": self.echo_time,
            "repetition_time_s": self.repetition_time,
            "field_strength_t": self.field_strength,
            "ppm_reference": self.ppm_reference,
            "voxel_size_mm": None if g is None else list(g.voxel_size),
            "voxel_centre_mm": None if g is None else list(g.centre),
            "acquisition": dict(self.acquisition),
        }
