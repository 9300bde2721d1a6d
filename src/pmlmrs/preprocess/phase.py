"""Zero-order phasing and frequency referencing to a known peak.

Kernels: :func:`_find_peak` (sub-bin position of the largest magnitude above the line joining the
ends of a ppm window, by zero-filling and parabolic interpolation; ``nan`` when the window holds no
peak, and then that FID is left as it is) and :func:`_peak_phase` (the zero-order phase that
maximises the real part summed over a symmetric window around a peak: ``-angle(sum S)``; the
dispersion part of a symmetric line cancels in the sum). Wrappers: :func:`phase_correct` and
:func:`frequency_reference` (Spectrum -> Spectrum, any dims, each FID on its own unless a
reference spectrum is given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pmlmrs.config import Options
from pmlmrs.core import ProcessingStep, Spectrum, axes
from pmlmrs.errors import ConfigError, IncompatibleDataError
from pmlmrs.preprocess._util import check_finite, check_water_compatible
from pmlmrs.preprocess.align import apply_shift

__all__ = ["PEAKS", "PhaseOptions", "ReferenceOptions", "phase_correct", "frequency_reference", "find_peak"]

#: Reference peaks (ppm): creatine CH3, NAA CH3, choline N(CH3)3, water.
PEAKS: dict[str, float] = {"cr": 3.027, "naa": 2.008, "cho": 3.185, "water": 4.65}


def _peak_ppm(peak: str | float) -> float:
    if isinstance(peak, str):
        key = peak.lower()
        if key not in PEAKS:
            raise ConfigError(
                f"Invalid value for the 'peak' parameter. Allowed values are {', '.join(map(repr, PEAKS))} "
                f"or a number (ppm), but got {peak!r} instead."
            )
        return PEAKS[key]
    return float(peak)


@dataclass(frozen=True)
class PhaseOptions(Options):
    """Options of :func:`phase_correct`.

    Attributes
    ----------
    peak : str or float
        ``"cr"``, ``"naa"``, ``"cho"``, ``"water"`` or a chemical shift in ppm.
    search : float
        ppm; the peak is looked for within ``+-search`` of its nominal shift.
    half_width : float
        Hz; the phase is taken from ``+-half_width`` around the peak found.
    """

    peak: str | float = "cr"
    search: float = 0.1
    half_width: float = 4.0

    def __post_init__(self) -> None:
        _peak_ppm(self.peak)
        if not self.search > 0 or not self.half_width > 0:
            raise ConfigError(f"search and half_width must be positive, got {self.search!r}, {self.half_width!r}")


@dataclass(frozen=True)
class ReferenceOptions(Options):
    """Options of :func:`frequency_reference`.

    Attributes
    ----------
    peak : str or float
        ``"cr"`` (3.027 ppm), ``"naa"`` (2.008), ``"cho"`` (3.185), ``"water"`` (4.65) or a ppm value.
    search : float
        ppm; the peak is looked for within ``+-search`` of its nominal shift.
    """

    peak: str | float = "cr"
    search: float = 0.1

    def __post_init__(self) -> None:
        _peak_ppm(self.peak)
        if not self.search > 0:
            raise ConfigError(f"search must be positive (ppm), got {self.search!r}")


# ---- kernels ------------------------------------------------------------------------------------
def _find_peak(fid: NDArray[np.complexfloating], dwell_time: float, hz_lo: float, hz_hi: float,
               zero_fill: int = 4) -> float:
    """Frequency (Hz) of the peak between ``hz_lo`` and ``hz_hi``; ``nan`` when there is none.

    The peak is the bin with the largest spectral magnitude above the straight line joining the
    window's two ends (then refined by a parabola through the magnitude): the tail of a big line
    outside the window (residual water, an artefact) slopes across it and would otherwise put the
    maximum on the window's edge. A maximum on the edge is no peak.
    """
    n = fid.shape[-1] * zero_fill
    spec = np.abs(axes.fid_to_spectrum(np.asarray(fid), axis=-1) if zero_fill == 1 else
                  np.fft.fftshift(np.fft.fft(fid, n=n)))
    hz = axes.hz_axis(n, dwell_time)
    idx = np.nonzero((hz >= hz_lo) & (hz <= hz_hi))[0]
    if idx.size < 3:
        raise ConfigError(f"the peak search window {hz_lo:.1f} to {hz_hi:.1f} Hz is outside the spectrum")
    ends = max(1, min(zero_fill, idx.size // 8))   # average a few bins at each end against the noise
    seg = spec[idx]
    det = seg - np.linspace(seg[:ends].mean(), seg[-ends:].mean(), seg.size)
    k = int(np.argmax(det))
    while 0 < k < seg.size - 1 and max(seg[k - 1], seg[k + 1]) > seg[k]:   # up to the magnitude's own top
        k += 1 if seg[k + 1] > seg[k - 1] else -1
    if k == 0 or k == seg.size - 1 or det[k] <= 0:
        return float("nan")
    a, b, c = seg[k - 1], seg[k], seg[k + 1]        # sub-bin position on the magnitude itself
    den = a - 2 * b + c
    off = 0.5 * (a - c) / den if den != 0 else 0.0
    return float(hz[idx[k]] + np.clip(off, -0.5, 0.5) * (hz[1] - hz[0]))


def _peak_phase(fid: NDArray[np.complexfloating], dwell_time: float, hz_peak: float, half_width: float,
                zero_fill: int = 4) -> float:
    """Zero-order phase (rad) to apply so that the peak at ``hz_peak`` is absorptive (real, positive).

    The complex spectrum is summed over ``+-half_width`` Hz around the peak after subtracting a
    complex straight line fitted to the flanks (``half_width`` to ``2 half_width`` Hz on either
    side): the tails of neighbouring lines (Cho next to Cr, broad lipids) are smooth there and
    drop out, while the peak's own dispersion, odd about its centre, cancels in the sum.
    """
    n = fid.shape[-1] * zero_fill
    spec = np.fft.fftshift(np.fft.fft(fid, n=n))
    hz = axes.hz_axis(n, dwell_time)
    d = hz - hz_peak
    sel = np.abs(d) <= half_width
    flank = (np.abs(d) > half_width) & (np.abs(d) <= 2 * half_width)
    if not sel.any():
        sel[np.argmin(np.abs(d))] = True
    total = spec[sel].sum()
    if flank.sum() >= 4 and (d[flank] < 0).any() and (d[flank] > 0).any():
        design = np.stack([np.ones(flank.sum()), d[flank]], axis=1)
        coef, *_ = np.linalg.lstsq(design, spec[flank], rcond=None)
        total = total - (coef[0] * sel.sum() + coef[1] * d[sel].sum())
    return float(-np.angle(total))


def find_peak(spectrum: Spectrum, peak: str | float = "cr", search: float = 0.1) -> NDArray[np.float64]:
    """Chemical shift (ppm) of the peak within ``+-search`` ppm of *peak*, per FID (``nan``: none)."""
    centre = _peak_ppm(peak)
    lo, hi = spectrum.ppm_to_hz(np.array([centre - search, centre + search]))
    flat = np.asarray(spectrum.data).reshape(-1, spectrum.n_points)
    hz = np.array([_find_peak(f, spectrum.dwell_time, lo, hi) for f in flat])
    return spectrum.hz_to_ppm(hz).reshape(spectrum.shape[:-1])


# ---- wrappers -----------------------------------------------------------------------------------
def phase_correct(spectrum: Spectrum, options: PhaseOptions | None = None, *,
                  reference: Spectrum | None = None, phase_deg: float | None = None) -> Spectrum:
    """Zero-order phase correction.

    Parameters
    ----------
    spectrum : Spectrum
        Any dims; every FID is phased on its own peak unless *reference* or *phase_deg* is given.
    options : PhaseOptions, optional
        Which peak (default Cr) makes the spectrum absorptive.
    reference : Spectrum, optional
        One FID (e.g. the water reference, with ``PhaseOptions(peak="water")``) whose peak phase
        is applied to every FID of *spectrum*.
    phase_deg : float, optional
        Apply this phase (degrees) instead of estimating one.

    Returns
    -------
    Spectrum
        With a ``phase_correct`` provenance step recording the phase(s) applied, in degrees.
    """
    options = options or PhaseOptions()
    check_finite(spectrum)
    flat = np.asarray(spectrum.data).reshape(-1, spectrum.n_points)
    if phase_deg is not None:
        phases = np.full(flat.shape[0], np.radians(float(phase_deg)))
        how = f"given phase {float(phase_deg):.2f} deg"
    else:
        centre = _peak_ppm(options.peak)
        src = spectrum if reference is None else reference
        if reference is not None:
            check_water_compatible(spectrum, reference)
            if reference.data.ndim != 1:
                raise IncompatibleDataError(f"the phase reference must be one FID, got dims {reference.dims}")
            check_finite(reference, "phase reference")
        lo, hi = src.ppm_to_hz(np.array([centre - options.search, centre + options.search]))
        src_flat = np.asarray(src.data).reshape(-1, src.n_points)
        found = np.array([_find_peak(f, src.dwell_time, lo, hi) for f in src_flat])
        est = np.array([_peak_phase(f, src.dwell_time, hz, options.half_width) if np.isfinite(hz) else 0.0
                        for f, hz in zip(src_flat, found)])
        phases = np.broadcast_to(est, (flat.shape[0],)) if reference is not None else est
        how = f"zero-order phase from the {options.peak} peak" + (" of the reference" if reference is not None else "")
        if not np.all(np.isfinite(found)):
            how += (f"; no {options.peak} peak within +-{options.search:g} ppm in {int(np.sum(~np.isfinite(found)))}"
                    f" of {found.size} FID(s), left unphased")
    out = flat * np.exp(1j * phases)[:, None]
    deg = np.degrees(phases)
    step = ProcessingStep(
        "phase_correct",
        params={**options.to_dict(), "phase_deg": round(float(deg[0]), 3) if deg.size == 1
                else np.round(deg, 3).tolist()},
        details=how,
    )
    return spectrum.with_data(out.reshape(spectrum.shape), step=step)


def frequency_reference(spectrum: Spectrum, options: ReferenceOptions | None = None, *,
                        reference: Spectrum | None = None) -> Spectrum:
    """Shift the spectrum so that a known peak sits at its nominal chemical shift.

    Parameters
    ----------
    spectrum : Spectrum
        Any dims; each FID is referenced on its own peak unless *reference* is given.
    options : ReferenceOptions, optional
        Peak (default Cr, 3.027 ppm) and search half-width (ppm).
    reference : Spectrum, optional
        One FID (e.g. the water reference with ``peak="water"``) whose peak position sets the
        shift applied to *spectrum*.

    Returns
    -------
    Spectrum
        With a ``frequency_reference`` provenance step recording the peak found and the shift (Hz).
    """
    options = options or ReferenceOptions()
    check_finite(spectrum)
    centre = _peak_ppm(options.peak)
    if reference is not None:
        check_water_compatible(spectrum, reference)
        if reference.data.ndim != 1:
            raise IncompatibleDataError(f"the frequency reference must be one FID, got dims {reference.dims}")
        check_finite(reference, "frequency reference")
        found = np.broadcast_to(find_peak(reference, centre, options.search), spectrum.shape[:-1])
    else:
        found = find_peak(spectrum, centre, options.search)
    found = np.asarray(found, dtype=float)
    missing = ~np.isfinite(found)
    shift_hz = np.where(missing, 0.0, (centre - found) * spectrum.spectrometer_frequency)
    out = apply_shift(np.asarray(spectrum.data), spectrum.dwell_time, shift_hz)
    step = ProcessingStep(
        "frequency_reference",
        params={**options.to_dict(), "nominal_ppm": centre,
                "found_ppm": np.where(missing, None, np.round(found, 4)).tolist(),
                "shift_hz": np.round(shift_hz, 3).tolist(),
                "from_reference": reference is not None},
        details=(f"shifted {options.peak} to {centre:g} ppm"
                 + (f" (found at {float(np.nanmean(found)):.3f} ppm, shift {float(np.mean(shift_hz)):+.2f} Hz)"
                    if not missing.all() else "")
                 + (f"; no {options.peak} peak within +-{options.search:g} ppm in {int(missing.sum())} of "
                    f"{missing.size} FID(s), left unshifted" if missing.any() else "")),
    )
    return spectrum.with_data(out, step=step)
