"""Chemical-shift checks of a basis: singlet positions, ppm-reference calibration, reference peaks.

Basis files do not agree on where the receiver frequency sits (LCModel and FSL-MRS: 4.65 ppm; Osprey
basis sets: 4.68 ppm; some GAMMA-made sets: 0 ppm with an ``ISHIFT``) and some carry a
reference singlet (TMS/DSS) at 0 ppm. These functions measure where the NAA and Cr singlets
actually are, so that :func:`calibrate_ppm_reference` can set ``ppm_reference`` to put NAA at
2.008 ppm and Cr at 3.027 ppm, and :func:`remove_reference_peak` can subtract a 0-ppm singlet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pmlmrs._logging import logger
from pmlmrs.core import axes
from pmlmrs.errors import BasisError

if TYPE_CHECKING:
    from pmlmrs.basis.basis import Basis

__all__ = [
    "SINGLET_PPM",
    "peak_ppm",
    "singlet_offsets",
    "calibrate_ppm_reference",
    "find_reference_peaks",
    "remove_reference_peak",
]

#: Chemical shifts of the singlets used to check a basis (Govindaraju et al., NMR Biomed 2000).
SINGLET_PPM: dict[str, float] = {"NAA": 2.008, "Cr": 3.027, "PCr": 3.029}


def peak_ppm(fid: NDArray, dwell_time: float, spectrometer_frequency: float, ppm_reference: float,
             lo: float, hi: float, *, zero_fill: int = 8, broadening_hz: float = 1.0) -> tuple[float, float]:
    """Position (ppm) and height of the largest magnitude peak of one FID between *lo* and *hi* ppm.

    The FID is broadened by *broadening_hz* (exponential) and zero-filled *zero_fill* times; the
    maximum is refined by a parabola through the three highest points.
    """
    fid = np.asarray(fid, dtype=complex)
    n = fid.size * zero_fill
    t = axes.time_axis(fid.size, dwell_time)
    spec = np.abs(np.fft.fftshift(np.fft.fft(fid * np.exp(-np.pi * broadening_hz * t), n)))
    ppm = axes.ppm_axis(n, dwell_time, spectrometer_frequency, ppm_reference)
    sl = axes.ppm_slice(ppm, lo, hi)
    seg = spec[sl]
    if seg.size < 3:
        raise BasisError(f"the range {lo}-{hi} ppm is outside the basis bandwidth")
    i = int(np.argmax(seg))
    pos = float(ppm[sl][i])
    if 0 < i < seg.size - 1:
        a, b, c = seg[i - 1], seg[i], seg[i + 1]
        den = a - 2 * b + c
        if den != 0:
            pos += 0.5 * (a - c) / den * float(ppm[1] - ppm[0])
    return pos, float(seg[i]) / zero_fill


def singlet_offsets(basis: Basis, *, window: float = 0.15) -> dict[str, float]:
    """Measured minus expected position (ppm) of the NAA, Cr and PCr singlets present in *basis*."""
    out: dict[str, float] = {}
    for name, expected in SINGLET_PPM.items():
        if name not in basis.names:
            continue
        pos, _ = peak_ppm(basis.fid(name), basis.dwell_time, basis.spectrometer_frequency,
                          basis.ppm_reference, expected - window, expected + window)
        out[name] = pos - expected
    return out


def calibrate_ppm_reference(basis: Basis, *, tolerance: float = 0.005, window: float = 0.15) -> Basis:
    """Set ``ppm_reference`` so that the NAA/Cr singlets sit at 2.008/3.027 ppm.

    The mean offset of the singlets found (:func:`singlet_offsets`) is removed when it exceeds
    *tolerance* ppm; singlets more than *window* ppm away are not found (then nothing changes and
    a warning is logged). The result records ``meta["ppm_check"]``.
    """
    if not any(n in basis.names for n in SINGLET_PPM):
        meta = {**basis.meta, "ppm_check": {"checked": False, "reason": "no NAA, Cr or PCr in the basis"}}
        return basis.replace(meta=meta)
    offs = singlet_offsets(basis, window=window)
    at_edge = {k: v for k, v in offs.items() if abs(v) > 0.9 * window}
    good = {k: v for k, v in offs.items() if k not in at_edge}
    check: dict[str, Any] = {"checked": True, "offsets_ppm": {k: round(float(v), 4) for k, v in offs.items()},
                             "ppm_reference_file": basis.ppm_reference}
    ref = basis.ppm_reference
    if at_edge:
        logger.warning("%s: singlets %s not within %.2f ppm of their expected shifts; ppm reference left at %g",
                       basis.source, sorted(at_edge), window, ref)
        check["warning"] = f"singlets {sorted(at_edge)} not found near their expected shifts"
    if good:
        mean = float(np.mean(list(good.values())))
        check["mean_offset_ppm"] = round(float(mean), 4)
        if abs(mean) > tolerance and not at_edge:
            ref = round(ref - mean, 3)
            logger.info("%s: NAA/Cr singlets %+.3f ppm off; ppm_reference set to %g", basis.source, mean, ref)
            check["corrected"] = True
        else:
            check["corrected"] = False
    check["ppm_reference"] = ref
    return basis.replace(ppm_reference=ref, meta={**basis.meta, "ppm_check": check})


def find_reference_peaks(basis: Basis, *, ppm: float = 0.0, threshold: float = 0.002,
                         contrast: float = 1.5) -> dict[str, float]:
    """Metabolites with a reference singlet near *ppm* (TMS/DSS at 0 ppm): ``{name: position}``.

    A peak counts when the magnitude within ``ppm ± 0.03`` exceeds *contrast* times the largest
    magnitude 0.08-0.2 ppm either side of it (a narrow line, not a broad background) and
    *threshold* times the largest magnitude between 0.5 and 4.5 ppm.
    """
    found: dict[str, float] = {}
    ax = basis.ppm_axis
    if ax[0] > ppm - 0.2 or ax[-1] < ppm + 0.2:
        return found
    args = (basis.dwell_time, basis.spectrometer_frequency, basis.ppm_reference)
    # Zero-fill enough that the narrowest window (0.06 ppm) holds at least 4 points on coarse grids.
    points_per_ppm = basis.n_points * basis.dwell_time * basis.spectrometer_frequency
    zf = max(2, int(np.ceil(4.0 / (0.06 * points_per_ppm))))
    for name in basis.names:
        fid = basis.fid(name)
        pos, height = peak_ppm(fid, *args, ppm - 0.03, ppm + 0.03, zero_fill=zf)
        _, main = peak_ppm(fid, *args, 0.5, 4.5, zero_fill=zf)
        _, left = peak_ppm(fid, *args, ppm - 0.2, ppm - 0.08, zero_fill=zf)
        _, right = peak_ppm(fid, *args, ppm + 0.08, ppm + 0.2, zero_fill=zf)
        if main > 0 and height > threshold * main and height > contrast * max(left, right):
            found[name] = round(float(pos), 4)
    return found


def _voigt_design(t: NDArray, freq: float, lor: float, gau: float) -> NDArray:
    return np.exp((2j * np.pi * freq - lor) * t - gau * t * t)


def remove_reference_peak(basis: Basis, *, ppm: float = 0.0, width: float = 0.1,
                          names: list[str] | None = None) -> Basis:
    """Subtract a reference singlet near *ppm* from every metabolite that has one.

    For each metabolite :func:`find_reference_peaks` flags (or those in *names*), one Voigt line
    ``A exp((2 pi i f - a) t - b t^2)`` plus a complex linear background is fitted to the spectrum
    within ``ppm ± width`` (frequency and dampings by bounded least squares, the amplitudes
    linearly) and the line's FID is subtracted. ``meta["reference_peak_removed"]`` lists the lines.
    """
    from scipy.optimize import least_squares

    targets = list(find_reference_peaks(basis, ppm=ppm)) if names is None else [basis.names[basis.index(n)]
                                                                               for n in names]
    if not targets:
        return basis
    f0, ref = basis.spectrometer_frequency, basis.ppm_reference
    t = axes.time_axis(basis.n_points, basis.dwell_time)
    ppm_ax = axes.ppm_axis(basis.n_points, basis.dwell_time, f0, ref)
    sl = axes.ppm_slice(ppm_ax, ppm - width, ppm + width)
    x_rel = np.linspace(-1.0, 1.0, sl.stop - sl.start)
    fids = np.array(basis.fids)
    removed: dict[str, dict[str, float]] = {}
    lo_hz = float(axes.ppm_to_hz(ppm - width, f0, ref))
    hi_hz = float(axes.ppm_to_hz(ppm + width, f0, ref))
    for name in targets:
        i = basis.index(name)
        fid = fids[i]
        y = axes.fid_to_spectrum(fid)[sl]
        start, _ = peak_ppm(fid, basis.dwell_time, f0, ref, ppm - width / 2, ppm + width / 2)
        start_hz = float(axes.ppm_to_hz(start, f0, ref))

        def design(p: NDArray) -> NDArray:
            col = axes.fid_to_spectrum(_voigt_design(t, p[0], p[1], p[2]))[sl]
            return np.stack([col, np.ones_like(col), x_rel.astype(complex)], axis=1)

        def solve(p: NDArray) -> tuple[NDArray, NDArray]:
            a = design(p)
            coef, *_ = np.linalg.lstsq(a, y, rcond=None)
            return a, coef

        def resid(p: NDArray) -> NDArray:
            a, coef = solve(p)
            r = y - a @ coef
            return np.concatenate([r.real, r.imag])

        fit = least_squares(resid, x0=[start_hz, 2.0 * np.pi, 1.0], x_scale=[0.1, 1.0, 10.0],
                            bounds=([lo_hz, 0.0, 0.0], [hi_hz, 200.0, 1e4]))
        _, coef = solve(fit.x)
        line = coef[0] * _voigt_design(t, *fit.x)
        before = float(np.abs(y).max())
        fids[i] = fid - line
        after = float(np.abs(axes.fid_to_spectrum(fids[i])[sl]).max())
        removed[name] = {"ppm": round(float(axes.hz_to_ppm(fit.x[0], f0, ref)), 4),
                         "amplitude": round(float(abs(coef[0])), 6),
                         "lorentzian_fwhm_hz": round(float(fit.x[1] / np.pi), 3),
                         "gaussian_rate": round(float(fit.x[2]), 3),
                         "peak_fraction_left": round(after / before, 4) if before else 0.0}
    logger.info("%s: reference peak near %g ppm removed from %s", basis.source, ppm, sorted(removed))
    meta = {**basis.meta, "reference_peak_removed": removed}
    meta.pop("reference_peak", None)
    return basis.replace(fids=fids, meta=meta)
