"""Small spectral QC measures used by the preprocessing pipeline (``pmlmrs.qc`` does fit QC).

All take one FID (a 1-D Spectrum) and work on the real part of the spectrum after a zero-order
phase that makes the measured peak absorptive, so they do not depend on the data's phase.

- :func:`snr`: peak height (max real part in a ppm window, NAA 1.9-2.1 by default) over the SD of
  the real spectrum in a signal-free window (-2 to 0 ppm by default) after removing a quadratic
  trend (the Osprey / MRSinMRS definition).
- :func:`linewidth`: full width at half maximum of a peak, Hz and ppm, from the real spectrum
  zero-filled 8x with linear interpolation between points at the half-height crossings.
- :func:`residual_water`: largest deviation of the real spectrum from its median in the water
  window, over the NAA height.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pmlmrs.core import Spectrum, axes
from pmlmrs.errors import ConfigError

__all__ = ["snr", "linewidth", "residual_water", "noise_sd"]


def _one_fid(spectrum: Spectrum) -> NDArray[np.complex128]:
    if spectrum.data.ndim != 1:
        raise ConfigError(f"QC measures need one FID (dims ()), got dims {spectrum.dims}")
    return np.asarray(spectrum.data)


def _phased_real(spectrum: Spectrum, window: tuple[float, float], zero_fill: int = 1) -> tuple[NDArray, NDArray]:
    """(ppm axis, real spectrum) phased so that the largest peak in *window* is absorptive."""
    fid = _one_fid(spectrum)
    n = spectrum.n_points * zero_fill
    spec = np.fft.fftshift(np.fft.fft(fid, n=n))
    h = spectrum.header
    ppm = axes.ppm_axis(n, h.dwell_time, h.spectrometer_frequency, h.ppm_reference)
    sel = (ppm >= min(window)) & (ppm <= max(window))
    if sel.sum() < 2:
        raise ConfigError(f"the peak window {window} ppm lies outside the spectrum ({ppm[0]:.2f} to {ppm[-1]:.2f} ppm)")
    idx = np.nonzero(sel)[0]
    i = idx[np.argmax(np.abs(spec[idx]))]
    hz = axes.hz_axis(n, h.dwell_time)
    near = np.abs(hz - hz[i]) <= 3.0  # +-3 Hz around the peak: dispersion cancels in the sum
    phase = -np.angle(spec[near].sum())
    return ppm, np.real(spec * np.exp(1j * phase))


def noise_sd(spectrum: Spectrum, noise_ppm: tuple[float, float] = (-2.0, 0.0)) -> float:
    """SD of the real spectrum in a signal-free window after removing a quadratic trend."""
    fid = _one_fid(spectrum)
    spec = axes.fid_to_spectrum(fid)
    ppm = spectrum.ppm_axis
    sel = (ppm >= min(noise_ppm)) & (ppm <= max(noise_ppm))
    if sel.sum() < 16:
        raise ConfigError(
            f"the noise window {noise_ppm} ppm has {int(sel.sum())} points; the spectrum spans "
            f"{ppm[0]:.2f} to {ppm[-1]:.2f} ppm"
        )
    x, y = ppm[sel], np.real(spec[sel])
    trend = np.polyval(np.polyfit(x, y, 2), x)
    return float(np.std(y - trend, ddof=3))


def snr(spectrum: Spectrum, peak_ppm: tuple[float, float] = (1.9, 2.1),
        noise_ppm: tuple[float, float] = (-2.0, 0.0)) -> float:
    """Peak height (real, phased) in *peak_ppm* over the noise SD in *noise_ppm*."""
    ppm, real = _phased_real(spectrum, peak_ppm)
    sel = (ppm >= min(peak_ppm)) & (ppm <= max(peak_ppm))
    height = float(real[sel].max())
    return height / noise_sd(spectrum, noise_ppm)


def linewidth(spectrum: Spectrum, peak_ppm: tuple[float, float] = (1.9, 2.1)) -> dict[str, float]:
    """FWHM of the largest peak in *peak_ppm*: ``{"fwhm_hz", "fwhm_ppm", "peak_ppm"}``.

    The half-height crossings are searched outwards from the maximum over the whole spectrum, so a
    broad line extending beyond the window is measured in full; overlapping neighbours widen it.
    """
    ppm, real = _phased_real(spectrum, peak_ppm, zero_fill=8)
    sel = np.nonzero((ppm >= min(peak_ppm)) & (ppm <= max(peak_ppm)))[0]
    i = int(sel[np.argmax(real[sel])])
    half = real[i] / 2.0
    if not half > 0:
        raise ConfigError(f"no positive peak in {peak_ppm} ppm to measure a linewidth")
    left = i
    while left > 0 and real[left] > half:
        left -= 1
    right = i
    while right < real.size - 1 and real[right] > half:
        right += 1

    def cross(a: int, b: int) -> float:
        ya, yb = real[a], real[b]
        frac = 0.0 if yb == ya else (half - ya) / (yb - ya)
        return float(ppm[a] + frac * (ppm[b] - ppm[a]))

    width_ppm = cross(right - 1, right) - cross(left, left + 1)
    mhz = spectrum.spectrometer_frequency
    return {"fwhm_ppm": float(width_ppm), "fwhm_hz": float(width_ppm * mhz), "peak_ppm": float(ppm[i])}


def residual_water(spectrum: Spectrum, water_ppm: tuple[float, float] = (4.4, 4.9),
                   naa_ppm: tuple[float, float] = (1.9, 2.1)) -> float:
    """Largest ``|real - median|`` in *water_ppm* over the NAA peak height (phased on NAA).

    The median of the real spectrum over the window is the baseline: a constant offset of the
    real spectrum (the discrete-FFT first-point offset, broad lipid or macromolecule tails) does
    not count as water, while any residual water line (narrow compared with the window) does.
    The default window, 4.65 +- 0.25 ppm, is where residual water sits after eddy-current
    correction and referencing; it avoids the real signals at 4.1-4.3 ppm (Cr CH2, PCh, MM).
    """
    ppm, real = _phased_real(spectrum, naa_ppm)
    naa = (ppm >= min(naa_ppm)) & (ppm <= max(naa_ppm))
    water = (ppm >= min(water_ppm)) & (ppm <= max(water_ppm))
    height = float(real[naa].max())
    if not height > 0:
        raise ConfigError("no positive NAA peak to scale the residual water by")
    if water.sum() < 3:
        raise ConfigError(f"the water window {water_ppm} ppm lies outside the spectrum")
    return float(np.abs(real[water] - np.median(real[water])).max()) / height
