"""Apodisation (exponential / Gaussian line broadening), truncation and zero-filling."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.errors import ConfigError, check_option
from pmlmrs.preprocess._util import check_finite

__all__ = ["apodize", "truncate", "zero_fill"]


def _window(n_points: int, dwell_time: float, broadening_hz: float, kind: str) -> NDArray[np.float64]:
    """Time-domain filter adding ``broadening_hz`` of Lorentzian or Gaussian FWHM."""
    t = np.arange(n_points) * dwell_time
    if kind == "exponential":
        return np.exp(-np.pi * broadening_hz * t)
    return np.exp(-((np.pi * broadening_hz * t) ** 2) / (4 * np.log(2)))


def apodize(spectrum: Spectrum, broadening_hz: float, kind: str = "exponential") -> Spectrum:
    """Multiply every FID by an exponential or Gaussian filter.

    Parameters
    ----------
    spectrum : Spectrum
    broadening_hz : float
        Hz; the FWHM of the Lorentzian (``"exponential"``, ``exp(-pi lb t)``) or Gaussian
        (``"gaussian"``, ``exp(-(pi lb t)^2 / (4 ln 2))``) line the filter convolves with.
    kind : {"exponential", "gaussian"}
    """
    check_option("kind", kind, ("exponential", "gaussian"))
    if not broadening_hz >= 0:
        raise ConfigError(f"broadening_hz must be >= 0, got {broadening_hz!r}")
    check_finite(spectrum)
    w = _window(spectrum.n_points, spectrum.dwell_time, float(broadening_hz), kind)
    step = ProcessingStep("apodize", params={"broadening_hz": float(broadening_hz), "kind": kind},
                          details=f"{kind} line broadening of {broadening_hz:g} Hz")
    return spectrum.with_data(np.asarray(spectrum.data) * w, step=step)


def truncate(spectrum: Spectrum, n_points: int) -> Spectrum:
    """Keep the first ``n_points`` points of every FID."""
    n_points = int(n_points)
    if not 2 <= n_points <= spectrum.n_points:
        raise ConfigError(f"n_points must be between 2 and {spectrum.n_points}, got {n_points}")
    step = ProcessingStep("truncate", params={"n_points": n_points, "n_points_before": spectrum.n_points},
                          details=f"kept the first {n_points} of {spectrum.n_points} points")
    return spectrum.with_data(np.asarray(spectrum.data)[..., :n_points], step=step)


def zero_fill(spectrum: Spectrum, n_points: int) -> Spectrum:
    """Append zeros to every FID up to ``n_points`` points."""
    n_points = int(n_points)
    if n_points < spectrum.n_points:
        raise ConfigError(f"zero_fill to {n_points} points is shorter than the data ({spectrum.n_points}); use truncate")
    pad = [(0, 0)] * (spectrum.data.ndim - 1) + [(0, n_points - spectrum.n_points)]
    step = ProcessingStep("zero_fill", params={"n_points": n_points, "n_points_before": spectrum.n_points},
                          details=f"zero-filled from {spectrum.n_points} to {n_points} points")
    return spectrum.with_data(np.pad(np.asarray(spectrum.data), pad), step=step)
