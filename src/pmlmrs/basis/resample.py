"""Put a basis on a data set's time grid: dwell time, number of points, field and ppm reference.

The basis FIDs are treated as band-limited signals. When the two dwell times are in a ratio of small
integers (the usual case: 0.25 ms -> 0.5 ms, 8192 -> 2048 points) the FID is zero-padded to a common
duration, its spectrum cropped (anti-aliasing: no component outside the new bandwidth folds back) or
zero-padded to the new bandwidth, and the first points kept: exact Fourier interpolation, so the
spectrum on the new grid equals the continuous Fourier transform of the basis FID at the new bins
(a line's Lorentzian tails beyond the new bandwidth are dropped, not folded in). Equal dwell times
only truncate or zero-pad. Otherwise the FID is low-pass filtered to the new bandwidth, demodulated to
the centre of the 0-5 ppm region and interpolated with a cubic spline on the complex envelope.
FID values are kept (``fid(t)`` unchanged), so basis amplitudes mean the same on either grid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from pmlmrs._logging import logger
from pmlmrs.core import axes
from pmlmrs.errors import BasisError, IncompatibleDataError

if TYPE_CHECKING:
    from pmlmrs.basis.basis import Basis
    from pmlmrs.core import Spectrum

__all__ = ["resample_fids", "resample_basis", "match_basis", "check_compatible", "FIELD_TOLERANCE", "TE_TOLERANCE"]


def _fourier_exact(fids: NDArray, d0: float, d1: float, n1: int) -> NDArray:
    """Exact Fourier interpolation when ``d1 / d0`` is a ratio of small integers.

    The FID is zero-padded to a common duration ``M * d0 = N * d1`` at least as long as both the
    basis and the target, its centred spectrum cropped (or zero-padded) from ``M`` to ``N`` bins,
    and the first *n1* points of the inverse transform kept. Keeping the whole basis duration puts
    the periodic wrap of the transform where the basis has decayed, not inside the target window.
    """
    from fractions import Fraction

    n0 = fids.shape[1]
    ratio = Fraction(d1 / d0).limit_denominator(64)
    a, b = ratio.numerator, ratio.denominator  # d1 / d0 = a / b
    k = max(-(-n0 // a), -(-n1 // b))
    m, n = k * a, k * b
    x = np.zeros((fids.shape[0], m), complex)
    x[:, :n0] = fids[:, :m]
    spec = np.fft.fftshift(np.fft.fft(x, axis=1), axes=1)
    if n <= m:
        start = m // 2 - n // 2
        spec = spec[:, start:start + n]
    else:
        pad = np.zeros((fids.shape[0], n), complex)
        start = n // 2 - m // 2
        pad[:, start:start + m] = spec
        spec = pad
    return (np.fft.ifft(np.fft.ifftshift(spec, axes=1), axis=1) * (n / m))[:, :n1]


def _spline(fids: NDArray, d0: float, d1: float, n1: int, centre_hz: float) -> NDArray:
    from scipy.interpolate import CubicSpline

    n0 = fids.shape[1]
    x = fids
    if d1 > d0:  # low-pass to the new bandwidth before decimating
        spec = np.fft.fft(x, axis=1)
        f = np.fft.fftfreq(n0, d0)
        keep = np.abs(f) <= 0.5 / d1
        spec[:, ~keep] = 0.0
        x = np.fft.ifft(spec, axis=1)
    t0 = axes.time_axis(n0, d0)
    t1 = axes.time_axis(n1, d1)
    env = x * np.exp(-2j * np.pi * centre_hz * t0)
    inside = t1 <= t0[-1]
    out = np.zeros((fids.shape[0], n1), complex)
    cs_re = CubicSpline(t0, env.real, axis=1)
    cs_im = CubicSpline(t0, env.imag, axis=1)
    out[:, inside] = (cs_re(t1[inside]) + 1j * cs_im(t1[inside])) * np.exp(2j * np.pi * centre_hz * t1[inside])
    return out


def resample_fids(fids: NDArray, dwell_time: float, new_dwell_time: float, new_n_points: int, *,
                  centre_hz: float = 0.0) -> NDArray:
    """Resample ``(n, n_points)`` FIDs from *dwell_time* to *new_dwell_time* and *new_n_points*.

    *centre_hz* is the frequency the spline path demodulates to (the middle of the region that
    matters); the exact Fourier path ignores it.
    """
    fids = np.atleast_2d(np.asarray(fids, dtype=complex))
    d0, d1, n1 = float(dwell_time), float(new_dwell_time), int(new_n_points)
    if n1 < 2 or d1 <= 0:
        raise BasisError(f"invalid target grid: {n1} points, dwell {d1} s")
    if abs(d1 - d0) <= 1e-12 * d0:
        out = np.zeros((fids.shape[0], n1), complex)
        k = min(n1, fids.shape[1])
        out[:, :k] = fids[:, :k]
        return out
    from fractions import Fraction

    ratio = Fraction(d1 / d0).limit_denominator(64)
    if abs(float(ratio) - d1 / d0) <= 1e-9 * d1 / d0:
        return _fourier_exact(fids, d0, d1, n1)
    return _spline(fids, d0, d1, n1, centre_hz)


def resample_basis(basis: Basis, dwell_time: float, n_points: int, *,
                   spectrometer_frequency: float | None = None, ppm_reference: float | None = None) -> Basis:
    """The basis on a new grid (see the module notes).

    Parameters
    ----------
    dwell_time : float
        s.
    n_points : int
    spectrometer_frequency : float, optional
        MHz of the data. Chemical shifts are rescaled to it (the basis time axis is stretched by
        ``f_basis / f_data``; only meant for differences of a few per cent at most).
    ppm_reference : float, optional
        The data's ppm at its receiver frequency; the basis is frequency-shifted so that ppm values
        agree.
    """
    f_b = basis.spectrometer_frequency
    f_d = f_b if spectrometer_frequency is None else float(spectrometer_frequency)
    ref_d = basis.ppm_reference if ppm_reference is None else float(ppm_reference)
    d0 = basis.dwell_time * f_b / f_d  # chemical shifts in Hz scale with the field
    fids = np.asarray(basis.fids)
    t0 = axes.time_axis(basis.n_points, d0)
    shift_hz = (basis.ppm_reference - ref_d) * f_d
    if shift_hz:
        fids = fids * np.exp(2j * np.pi * shift_hz * t0)
    centre_hz = float(axes.ppm_to_hz(2.5, f_d, ref_d))
    last = np.abs(fids[:, -1]) / np.maximum(np.abs(fids).max(axis=1), 1e-300)
    if n_points * dwell_time > basis.n_points * d0 * (1 + 1e-9) and np.any(last > 0.01):
        bad = [basis.names[i] for i in np.where(last > 0.01)[0]]
        logger.warning("%s: basis FIDs %s have not decayed at their end (%.3g s) but the data last %.3g s; "
                       "zero-padding will add truncation ripples", basis.source, bad, basis.n_points * d0,
                       n_points * dwell_time)
    new = resample_fids(fids, d0, dwell_time, n_points, centre_hz=centre_hz)
    meta = dict(basis.meta)
    meta.setdefault("resampled_from", {"dwell_time": basis.dwell_time, "n_points": basis.n_points,
                                       "spectrometer_frequency": f_b, "ppm_reference": basis.ppm_reference})
    return replace(basis, fids=new, dwell_time=float(dwell_time), spectrometer_frequency=f_d,
                   ppm_reference=ref_d, meta=meta)


#: Relative difference of spectrometer frequencies up to which a basis is rescaled to the data (a
#: 2.89 T Siemens and a 3.0 T Philips/GE basis are 3.7 % apart); beyond it the field is different.
FIELD_TOLERANCE = 0.05
#: Above this relative difference the rescaling is logged as a warning (J-coupled patterns keep the basis field).
FIELD_WARN = 0.005


#: Echo times further apart than this (s) get a warning: the basis' multiplets no longer match.
TE_TOLERANCE = 0.002


def check_compatible(spectrum: Spectrum, basis: Basis) -> list[str]:
    """Refuse a basis for another nucleus or field; warn about one for another echo time.

    Returns
    -------
    list of str
        The warnings issued (also logged), for callers that record them.

    Raises
    ------
    IncompatibleDataError
        Different nucleus, or field strengths more than :data:`FIELD_TOLERANCE` apart (the message
        names the file and says how to get a matching basis).
    """
    src = spectrum.source or "spectrum"
    if spectrum.header.nucleus != basis.nucleus:
        raise IncompatibleDataError(
            f"{src}: nucleus {spectrum.header.nucleus} but the basis {basis.source or ''} is for {basis.nucleus}")
    f_data, f_basis = spectrum.spectrometer_frequency, basis.spectrometer_frequency
    if abs(f_data - f_basis) / f_data > FIELD_TOLERANCE:
        raise IncompatibleDataError(
            f"{src}: spectrometer frequency {f_data:.3f} MHz but the basis {basis.source or ''} was made for "
            f"{f_basis:.3f} MHz (a different field strength); use a basis simulated for this field "
            "(pmlmrs basis simulate --frequency ...)")
    warnings = []
    te_data, te_basis = spectrum.header.echo_time, basis.echo_time
    if te_data is not None and te_basis is not None and abs(te_data - te_basis) > TE_TOLERANCE:
        warnings.append(
            f"{src}: echo time {te_data * 1e3:.4g} ms but the basis {basis.source or ''} was made for "
            f"{te_basis * 1e3:.4g} ms; J-coupled multiplets (Glu, Gln, Ins, GABA) and T2 weighting differ, so "
            f"their amplitudes are biased; simulate a basis for this echo time "
            f"(pmlmrs basis simulate --te {te_data * 1e3:.4g} ...)")
    for w in warnings:
        logger.warning("%s", w)
    return warnings


def match_basis(basis: Basis, spectrum: Spectrum, *, field_tolerance: float = FIELD_TOLERANCE) -> Basis:
    """The basis checked against and resampled to *spectrum*'s grid, field and ppm reference.

    Raises
    ------
    IncompatibleDataError
        The nuclei differ, or the spectrometer frequencies differ by more than *field_tolerance*
        (relative; 5 % by default, e.g. a 3 T basis for 7 T data).
    """
    h = spectrum.header
    if basis.nucleus != h.nucleus:
        raise IncompatibleDataError(
            f"basis {basis.source or ''} is for {basis.nucleus} but {spectrum.source or 'the data'} is {h.nucleus}")
    rel = abs(basis.spectrometer_frequency - h.spectrometer_frequency) / h.spectrometer_frequency
    if rel > field_tolerance:
        raise IncompatibleDataError(
            f"basis {basis.source or ''} was made for {basis.spectrometer_frequency:.3f} MHz but "
            f"{spectrum.source or 'the data'} was acquired at {h.spectrometer_frequency:.3f} MHz "
            f"({rel * 100:.1f} % apart, more than {field_tolerance * 100:g} %): use a basis for this field")
    if rel > FIELD_WARN:
        logger.warning("%s: basis %s was made for %.3f MHz, the data are at %.3f MHz (%.1f %% apart): chemical shifts "
                       "are rescaled, but J-coupled multiplets keep the basis field; a basis simulated for this "
                       "frequency is more accurate", spectrum.source or "data", basis.source or "",
                       basis.spectrometer_frequency, h.spectrometer_frequency, rel * 100)
    if (abs(basis.dwell_time - h.dwell_time) <= 1e-12 * h.dwell_time and basis.n_points == spectrum.n_points
            and basis.spectrometer_frequency == h.spectrometer_frequency
            and basis.ppm_reference == h.ppm_reference):
        return basis
    return resample_basis(basis, h.dwell_time, spectrum.n_points,
                          spectrometer_frequency=h.spectrometer_frequency, ppm_reference=h.ppm_reference)
