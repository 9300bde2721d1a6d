"""Eddy-current correction with the water reference (Klose 1990).

Kernel: :func:`_ecc_phase` is the point-by-point phase of the water FID (unwrapped); where the
water FID has decayed into the noise its phase is random, so from the first point whose
magnitude falls below ``snr_threshold`` noise SDs on, the phase is extrapolated linearly from
the last reliable stretch (eddy-current phase errors decay; what remains is the water's frequency
offset). Wrapper: :func:`eddy_current_correction` multiplies every metabolite FID by
``exp(-i phase)``. As in Klose's method (and FSL-MRS, Osprey), this also moves the water peak to
the receiver frequency and removes the zero-order phase of the water reference.

Reference
---------
Klose U. In vivo proton spectroscopy in presence of eddy currents. Magn Reson Med
1990;14:26-30. doi:10.1002/mrm.1910140104
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pmlmrs.config import Options
from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.errors import ConfigError, IncompatibleDataError
from pmlmrs.preprocess._util import check_finite, check_water_compatible, noise_sd_time

__all__ = ["EddyCurrentOptions", "eddy_current_correction"]


@dataclass(frozen=True)
class EddyCurrentOptions(Options):
    """Options of :func:`eddy_current_correction`.

    Attributes
    ----------
    snr_threshold : float
        The water phase is used point by point while ``|water| > snr_threshold * noise SD``;
        after that it is extrapolated linearly. ``0`` uses the raw phase everywhere (pure Klose).
    """

    snr_threshold: float = 5.0

    def __post_init__(self) -> None:
        if not self.snr_threshold >= 0:
            raise ConfigError(f"snr_threshold must be >= 0, got {self.snr_threshold!r}")


def _ecc_phase(water: NDArray[np.complexfloating], snr_threshold: float = 5.0) -> tuple[NDArray[np.float64], int]:
    """Phase (rad, ``(n,)``) to subtract, and the number of points where it is measured."""
    water = np.asarray(water, dtype=np.complex128)
    n = water.size
    phase = np.unwrap(np.angle(water))
    if snr_threshold <= 0:
        return phase, n
    sd = float(noise_sd_time(water[None, :])[0]) * np.sqrt(2.0)  # complex-magnitude noise SD
    low = np.abs(water) <= snr_threshold * sd
    n_ok = int(np.argmax(low)) if low.any() else n
    if n_ok >= n:
        return phase, n
    if n_ok < 8:
        raise IncompatibleDataError(
            f"the water reference FID falls into the noise after {n_ok} points (SNR threshold "
            f"{snr_threshold:g}); it cannot correct eddy currents"
        )
    seg = np.arange(n_ok // 2, n_ok)
    slope, intercept = np.polyfit(seg, phase[seg], 1)
    out = phase.copy()
    tail = np.arange(n_ok, n)
    out[n_ok:] = intercept + slope * tail
    return out, n_ok


def eddy_current_correction(spectrum: Spectrum, water: Spectrum,
                            options: EddyCurrentOptions | None = None) -> Spectrum:
    """Subtract the water reference's phase, point by point, from every FID of *spectrum*.

    Parameters
    ----------
    spectrum : Spectrum
        Metabolite data (any dims).
    water : Spectrum
        Water reference, one FID (dims ``()``) after its own combination and averaging, acquired
        with the same points and dwell time.
    options : EddyCurrentOptions, optional

    Returns
    -------
    Spectrum
        Corrected, with an ``eddy_current_correction`` provenance step.

    Raises
    ------
    IncompatibleDataError
        The reference does not match (points, dwell time) or is not a single FID.
    """
    options = options or EddyCurrentOptions()
    check_water_compatible(spectrum, water)
    if water.data.ndim != 1:
        raise IncompatibleDataError(
            f"eddy-current correction needs one water FID; the reference has dims {water.dims} "
            "(combine coils and average transients first)"
        )
    check_finite(spectrum)
    check_finite(water, "water reference")
    phase, n_ok = _ecc_phase(np.asarray(water.data), options.snr_threshold)
    corrected = np.asarray(spectrum.data) * np.exp(-1j * phase)
    step = ProcessingStep(
        "eddy_current_correction",
        params={**options.to_dict(), "method": "Klose 1990", "reference": water.source or "water reference",
                "points_measured": n_ok, "n_points": int(phase.size)},
        details=(f"subtracted the water reference phase point by point ({n_ok} of {phase.size} points "
                 "measured, the rest extrapolated linearly)"),
    )
    return spectrum.with_data(corrected, step=step)
