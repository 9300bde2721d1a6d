"""Quality measures of a fit: SNR, linewidth (FWHM), fit quality, lipid phase and lineshape.

All measures work on a :class:`~pmlmrs.fit.FitResult` only (its phased window arrays and the
fitted components), so they cost microseconds and never refit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "snr",
    "fwhm",
    "fwhm_ppm",
    "fwhm_fit_ppm",
    "water_fwhm_ppm",
    "fit_quality",
    "lipid_signal",
    "NAA_REGION",
    "FWHM_REGION",
    "LIPID_REGION",
]

#: Where the NAA singlet (2.01 ppm) is searched.
NAA_REGION = (1.90, 2.12)
#: Window for the NAA linewidth (wide enough for a 0.15 ppm line to reach half height on both sides).
FWHM_REGION = (1.70, 2.35)
#: Fitted NAA peak height (in noise SDs) below which the data-based width is not measured.
MIN_PEAK_SNR = 5.0
#: Lipid/macromolecule region used by the contamination checks.
LIPID_REGION = (0.7, 1.6)
_NAA_NAMES = ("NAA",)


def _window(ppm: NDArray, lo: float, hi: float) -> NDArray[np.bool_]:
    return (ppm >= lo) & (ppm <= hi)


def _at_naa(result: Any, region: tuple[float, float]) -> tuple[float, float]:
    """*region* (ppm, about the basis NAA at 2.008 ppm) moved by the fitted frequency shift of the
    group that holds NAA, i.e. to where NAA is in the data (unmoved when the fit has no such shift)."""
    try:
        shift = float(result.params["shift_ppm"][result.groups[list(result.names).index("NAA")]])
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        shift = 0.0
    if not np.isfinite(shift):
        shift = 0.0
    return region[0] + shift, region[1] + shift


def _noise(result: Any) -> float:
    sd = float(result.noise_sd)
    return sd if np.isfinite(sd) and sd > 0 else float("nan")


def snr(result: Any, region: tuple[float, float] | None = None) -> float:
    """NAA peak height over the noise SD.

    Height = maximum in *region* (default :data:`NAA_REGION` moved by the fitted metabolite shift,
    so a spectrum referenced 0.3 ppm off is measured where its NAA is) of the real part of the NAA
    signal measured on the data: the phased data minus every fitted component except NAA and minus the baseline (residual + fitted
    NAA), so overlapping NAAG/Glu/Gln do not inflate it; without an NAA component, data − baseline.
    Noise = ``result.noise_sd`` (SD of the real-part noise in a signal-free region). NaN when the
    window does not cover the region; 0 when NAA was fitted at zero.
    """
    ppm = np.asarray(result.ppm)
    sel = _window(ppm, *(_at_naa(result, NAA_REGION) if region is None else region))
    if not sel.any():
        return float("nan")
    comp = _component_sum(result, _NAA_NAMES)
    if comp is None:
        sig = np.real(np.asarray(result.data) - np.asarray(result.baseline))
    elif not np.any(comp):
        return 0.0          # NAA fitted at 0: no NAA peak (the residual alone is not one)
    else:
        sig = np.real(np.asarray(result.data) - np.asarray(result.fit) + comp)
    return float(np.max(sig[sel]) / _noise(result))


def fwhm(x: NDArray, y: NDArray) -> float:
    """Full width at half maximum of the largest peak of ``y(x)`` (x ascending), linear interpolation.

    NaN when the peak has no half-maximum crossing on one side within the data.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.size < 3:
        return float("nan")
    i = int(np.argmax(y))
    half = y[i] / 2.0
    if not half > 0:
        return float("nan")
    j = i
    while j > 0 and y[j] > half:
        j -= 1
    if y[j] > half:
        return float("nan")
    left = x[j] + (half - y[j]) * (x[j + 1] - x[j]) / (y[j + 1] - y[j])
    k = i
    while k < y.size - 1 and y[k] > half:
        k += 1
    if y[k] > half:
        return float("nan")
    right = x[k - 1] + (half - y[k - 1]) * (x[k] - x[k - 1]) / (y[k] - y[k - 1])
    return float(right - left)


def _component_sum(result: Any, names: Sequence[str]) -> NDArray | None:
    idx = [i for i, n in enumerate(result.names) if n in names]
    if not idx:
        return None
    return np.asarray(result.components)[idx].sum(axis=0)


def _zero_fill_interp(result: Any, y: NDArray, factor: int = 8) -> tuple[NDArray, NDArray]:
    """Exact interpolation of a window of a spectrum: embed it in the full grid, zero-fill the FID.

    The window arrays are samples of the DFT of an ``N``-point FID (``N = 1 / (Δf · dwell)``); zero-filling
    that FID *factor* times gives the spectrum on a finer grid (ringing-free for decayed FIDs), so
    sub-point linewidths are measured without the bias of interpolating within the window alone.
    """
    ppm = np.asarray(result.ppm, float)
    n = y.size
    mhz = float(result.spectrum.spectrometer_frequency)
    dwell = float(result.spectrum.dwell_time)
    d_hz = (ppm[1] - ppm[0]) * mhz
    n_full = int(round(1.0 / (d_hz * dwell))) if d_hz > 0 else n
    if n_full < n:
        n_full = n
    full = np.zeros(n_full, dtype=complex)
    i0 = n_full // 2 - n // 2
    full[i0:i0 + n] = y
    fid = np.fft.ifft(np.fft.ifftshift(full))
    big = np.zeros(n_full * factor, dtype=complex)
    big[:n_full] = fid
    spec = np.fft.fftshift(np.fft.fft(big))
    # the coarse bin j sits at fine bin (j - n_full//2) * factor + (n_full * factor)//2
    fine0 = (i0 - n_full // 2) * factor + (n_full * factor) // 2
    xx = ppm[0] + (np.arange(n_full * factor) - fine0) * (ppm[1] - ppm[0]) / factor
    return xx, spec


def _width_in(result: Any, y_full: NDArray, region: tuple[float, float]) -> float:
    """FWHM (ppm) of the largest peak of ``real(y_full)`` inside *region*, interpolated 8x."""
    ppm = np.asarray(result.ppm)
    if ppm.size < 8:
        return float("nan")
    xx, yy = _zero_fill_interp(result, np.asarray(y_full, dtype=complex))
    sel = _window(xx, *region)
    if sel.sum() < 8:
        return float("nan")
    return fwhm(xx[sel], yy.real[sel])


def fwhm_ppm(result: Any, region: tuple[float, float] | None = None) -> float:
    """FWHM of the NAA singlet measured on the data, ppm.

    The data with every fitted component except NAA and the baseline removed (residual + fitted NAA),
    real part; interpolated 8x by zero-filling, half maximum searched in *region* (default
    :data:`FWHM_REGION` moved by the fitted metabolite shift).
    NaN without an NAA component or when the fitted NAA peak is below ``MIN_PEAK_SNR`` noise SDs
    (then use :func:`fwhm_fit_ppm`).
    """
    comp = _component_sum(result, _NAA_NAMES)
    if comp is None:
        return float("nan")
    # an NAA line buried in the noise has no measurable width (the half-height search would find noise)
    if not np.max(np.real(comp)) > MIN_PEAK_SNR * _noise(result):
        return float("nan")
    naa_data = np.asarray(result.data) - np.asarray(result.fit) + comp
    return _width_in(result, naa_data, _at_naa(result, FWHM_REGION) if region is None else region)


def fwhm_fit_ppm(result: Any, region: tuple[float, float] | None = None) -> float:
    """FWHM of the fitted NAA component (basis lineshape with the fitted Voigt broadening), ppm
    (*region*: as :func:`fwhm_ppm`)."""
    comp = _component_sum(result, _NAA_NAMES)
    if comp is None:
        return float("nan")
    return _width_in(result, comp, _at_naa(result, FWHM_REGION) if region is None else region)


def water_fwhm_ppm(water: Any) -> float:
    """FWHM of the water peak of a reference Spectrum (absorption mode), ppm.

    From the Voigt fit of :func:`pmlmrs.fit.fit_water` when the engine has it; otherwise the water
    FID is phased (zero order, from its first points) and the FWHM of the real part of the
    zero-filled spectrum is measured.
    """
    w = water.squeeze()
    mhz = float(w.spectrometer_frequency)
    try:
        from pmlmrs.fit import fit_water
    except ImportError:  # pragma: no cover - the engine is part of pmlmrs
        fit_water = None
    if fit_water is not None:
        try:
            wf = fit_water(w)
            if getattr(wf, "converged", True) and np.isfinite(getattr(wf, "fwhm_hz", np.nan)):
                return float(wf.fwhm_hz) / mhz
        except Exception:  # noqa: BLE001 - fall back to the model-free measurement
            pass
    fid = np.asarray(w.data, dtype=complex).reshape(-1, w.n_points).mean(axis=0)
    fid = fid * np.exp(-1j * np.angle(fid[1:5].mean()))
    n = fid.size
    big = np.zeros(8 * n, dtype=complex)
    big[:n] = fid
    big[0] *= 0.5
    spec = np.fft.fftshift(np.fft.fft(big)).real
    hz = np.fft.fftshift(np.fft.fftfreq(8 * n, w.dwell_time))
    return fwhm(hz, spec) / mhz


def fit_quality(result: Any) -> float:
    """Residual SD over noise SD (real parts, whole window); ≈ 1 for a fit down to the noise."""
    res = np.real(np.asarray(result.residual))
    return float(np.std(res) / _noise(result))


def lipid_signal(result: Any, region: tuple[float, float] = LIPID_REGION) -> dict[str, float]:
    """The signal attributed to lipids in *region*, and how well it matches an in-voxel lipid.

    ``L = residual + fitted lipid components``. Its integral ``ΣL`` is real and positive for an
    absorption-mode lipid in phase with the metabolites; lipid from outside the voxel (scalp) has
    its own phase, so ``phase_deg = angle(ΣL)`` measures it. ``residual_ratio`` is the residual SD in
    the region over the noise SD: a lipid whose lineshape differs from the voxel's (which the model
    imposes) leaves structure there. ``snr`` is the lipid integral over its noise SD.

    Returns
    -------
    dict
        ``amount`` (ΣL real part, data units × points), ``snr``, ``phase_deg``, ``residual_ratio``,
        ``shift_ppm`` (fitted lipid-group minus metabolite-group shift, NaN when not reported).
    """
    ppm = np.asarray(result.ppm)
    sel = _window(ppm, *region)
    nan = float("nan")
    if sel.sum() < 3:
        return {"amount": nan, "snr": nan, "phase_deg": nan, "residual_ratio": nan, "shift_ppm": nan}
    lip_idx = [i for i, n in enumerate(result.names) if n.startswith("Lip")]
    comp = np.asarray(result.components)[lip_idx].sum(axis=0) if lip_idx else np.zeros(ppm.size, complex)
    res = np.asarray(result.residual)
    lsig = (res + comp)[sel]
    total = complex(lsig.sum())
    noise = _noise(result)
    lip_snr = abs(total) / (noise * np.sqrt(sel.sum()))
    res_ratio = float(np.std(np.real(res[sel])) / noise)
    shift = nan
    params = getattr(result, "params", {}) or {}
    sh = params.get("shift_hz") if isinstance(params, dict) or hasattr(params, "get") else None
    if isinstance(sh, dict) and lip_idx:
        lip_group = result.groups[lip_idx[0]]
        met_group = result.groups[0]
        if lip_group in sh and met_group in sh and lip_group != met_group:
            shift = (float(sh[lip_group]) - float(sh[met_group])) / result.spectrum.spectrometer_frequency
    return {
        "amount": float(total.real),
        "snr": float(lip_snr),
        "phase_deg": float(np.degrees(np.angle(total))),
        "residual_ratio": res_ratio,
        "shift_ppm": float(shift),
    }
