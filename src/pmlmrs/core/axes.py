"""Pure axis maths: time, Hz and ppm axes and conversions between them.

Convention: the spectrum is ``fftshift(fft(fid))`` along the time axis; the Hz axis is
``fftshift(fftfreq(n, dwell))`` (ascending); a positive frequency offset is a higher chemical shift,
``ppm = ppm_reference + hz / spectrometer_frequency_MHz``. So the ppm axis *ascends* with the array
index (plots invert it for display), and ``exp(2j*pi*f*t)`` peaks at ``ppm_reference + f/MHz``.

This is the convention of ``nifti_mrs.NIFTI_MRS[...]`` and FSL-MRS, i.e. the complex conjugate of
the array *stored* in a NIfTI-MRS file by spec2nii (with the stored array NAA lands at ~7.3 ppm,
checked on every vendor file in shared/data/invivo). ``pmlmrs.io.nifti_mrs`` conjugates on read
and on write; readers of other formats must produce data with NAA at 2.01 ppm on this axis.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "time_axis",
    "hz_axis",
    "ppm_axis",
    "hz_to_ppm",
    "ppm_to_hz",
    "ppm_to_index",
    "hz_to_index",
    "index_to_ppm",
    "fid_to_spectrum",
    "spectrum_to_fid",
    "ppm_slice",
]


def time_axis(n_points: int, dwell_time: float) -> NDArray[np.float64]:
    """Acquisition times of the FID samples, ``(n_points,)`` in seconds, starting at 0."""
    return np.arange(n_points, dtype=float) * float(dwell_time)


def hz_axis(n_points: int, dwell_time: float) -> NDArray[np.float64]:
    """Frequency offsets of the spectrum bins, ``(n_points,)`` in Hz, ascending, 0 at index n//2."""
    return np.fft.fftshift(np.fft.fftfreq(int(n_points), float(dwell_time)))


def hz_to_ppm(hz: ArrayLike, spectrometer_frequency: float, ppm_reference: float) -> NDArray:
    """Convert offsets in Hz to ppm (``spectrometer_frequency`` in MHz)."""
    return ppm_reference + np.asarray(hz, dtype=float) / float(spectrometer_frequency)


def ppm_to_hz(ppm: ArrayLike, spectrometer_frequency: float, ppm_reference: float) -> NDArray:
    """Convert ppm to offsets in Hz from the receiver frequency (``spectrometer_frequency`` in MHz)."""
    return (np.asarray(ppm, dtype=float) - ppm_reference) * float(spectrometer_frequency)


def ppm_axis(n_points: int, dwell_time: float, spectrometer_frequency: float,
             ppm_reference: float) -> NDArray[np.float64]:
    """Chemical shift of every spectrum bin, ``(n_points,)`` in ppm, ascending."""
    return hz_to_ppm(hz_axis(n_points, dwell_time), spectrometer_frequency, ppm_reference)


def hz_to_index(hz: ArrayLike, n_points: int, dwell_time: float) -> NDArray:
    """Fractional bin index of a frequency offset in Hz (inverse of :func:`hz_axis`)."""
    return np.asarray(hz, dtype=float) * n_points * dwell_time + n_points // 2


def ppm_to_index(ppm: ArrayLike, n_points: int, dwell_time: float, spectrometer_frequency: float,
                 ppm_reference: float) -> NDArray:
    """Fractional bin index of a chemical shift (inverse of :func:`ppm_axis`)."""
    return hz_to_index(ppm_to_hz(ppm, spectrometer_frequency, ppm_reference), n_points, dwell_time)


def index_to_ppm(index: ArrayLike, n_points: int, dwell_time: float, spectrometer_frequency: float,
                 ppm_reference: float) -> NDArray:
    """Chemical shift of a (fractional) bin index."""
    hz = (np.asarray(index, dtype=float) - n_points // 2) / (n_points * dwell_time)
    return hz_to_ppm(hz, spectrometer_frequency, ppm_reference)


def fid_to_spectrum(fid: ArrayLike, axis: int = -1) -> NDArray[np.complex128]:
    """``fftshift(fft(fid))`` along *axis*; unnormalised, so the peak area equals ``fid[0]`` times n."""
    return np.fft.fftshift(np.fft.fft(fid, axis=axis), axes=axis)


def spectrum_to_fid(spec: ArrayLike, axis: int = -1) -> NDArray[np.complex128]:
    """Inverse of :func:`fid_to_spectrum`."""
    return np.fft.ifft(np.fft.ifftshift(spec, axes=axis), axis=axis)


def ppm_slice(ppm: NDArray, lo: float, hi: float) -> slice:
    """Index slice of an ascending ppm axis covering ``lo <= ppm <= hi``."""
    lo, hi = min(lo, hi), max(lo, hi)
    i0 = int(np.searchsorted(ppm, lo, side="left"))
    i1 = int(np.searchsorted(ppm, hi, side="right"))
    return slice(i0, i1)
