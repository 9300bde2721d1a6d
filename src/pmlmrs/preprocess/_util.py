"""Helpers shared by the preprocessing steps: dim lookup, input checks, noise estimates."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pmlmrs._logging import logger
from pmlmrs.core import Spectrum
from pmlmrs.errors import ConfigError, IncompatibleDataError

__all__ = [
    "TRANSIENT_DIMS",
    "transient_dim",
    "check_finite",
    "check_water_compatible",
    "skip",
    "noise_sd_time",
    "ppm_window_mask",
]

#: Dims that hold repeated acquisitions (transients), in order of preference.
TRANSIENT_DIMS = ("dyn", "average", "meas")


def transient_dim(spectrum: Spectrum, dim: str | None = None) -> str | None:
    """The name of the transient dim of *spectrum* (``dim`` if given and present), or None."""
    if dim is not None:
        return dim if spectrum.has_dim(dim) else None
    for d in TRANSIENT_DIMS:
        if spectrum.has_dim(d):
            return d
    return None


def _name(spectrum: Spectrum, role: str) -> str:
    return f"{role} {spectrum.source}" if spectrum.source else role


def check_finite(spectrum: Spectrum, role: str = "data") -> None:
    """Raise IncompatibleDataError if the data contain NaN or infinity or are all zero (never process them
    silently)."""
    if spectrum.data.size and not np.any(spectrum.data):
        raise IncompatibleDataError(f"{_name(spectrum, role)}: data are all zero (an empty or failed acquisition)")
    bad = ~np.isfinite(spectrum.data)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise IncompatibleDataError(
            f"{_name(spectrum, role)}: {int(bad.sum())} of {bad.size} data values are NaN or infinite "
            f"(first at index {tuple(int(i) for i in first)} of shape {spectrum.shape}, dims "
            f"{spectrum.dims + ('time',)}); preprocessing needs finite data: check the file or the step "
            "that produced it"
        )


#: Spectrometer frequencies of data and water reference further apart than this (ppm of the
#: frequency) mean another scan: a vendor's offset between the two (the metabolite scan centred at
#: ~2.7 ppm, the reference on water) stays below 2-3 ppm.
WATER_FREQUENCY_TOLERANCE_PPM = 5.0


def check_water_compatible(metab: Spectrum, water: Spectrum) -> None:
    """Raise IncompatibleDataError unless *water* has the points, dwell time, nucleus and (within
    :data:`WATER_FREQUENCY_TOLERANCE_PPM`) the spectrometer frequency of *metab*; warn when their echo
    times differ by more than 2 ms."""
    problems = []
    if metab.n_points != water.n_points:
        problems.append(f"{metab.n_points} vs {water.n_points} points")
    if not np.isclose(metab.dwell_time, water.dwell_time, rtol=1e-6, atol=0.0):
        problems.append(f"dwell time {metab.dwell_time * 1e6:.4g} vs {water.dwell_time * 1e6:.4g} us")
    f_m, f_w = metab.spectrometer_frequency, water.spectrometer_frequency
    if abs(f_m - f_w) > WATER_FREQUENCY_TOLERANCE_PPM * 1e-6 * f_m:
        problems.append(f"spectrometer frequency {f_m:.6f} vs {f_w:.6f} MHz, {abs(f_m - f_w) * 1e6:.0f} Hz = "
                        f"{abs(f_m - f_w) / f_m * 1e6:.1f} ppm apart")
    if metab.header.nucleus != water.header.nucleus:
        problems.append(f"nucleus {metab.header.nucleus} vs {water.header.nucleus}")
    if problems:
        raise IncompatibleDataError(
            f"the water reference does not match the metabolite data ({'; '.join(problems)}): "
            f"metabolite data {metab.source or '(in memory)'} {metab!r}, water reference "
            f"{water.source or '(in memory)'} {water!r}. Use the reference acquired with the same "
            "sequence settings, or leave it out."
        )
    te_m, te_w = metab.header.echo_time, water.header.echo_time
    if te_m is not None and te_w is not None and abs(te_m - te_w) > 0.002:
        logger.warning("%s: the water reference %s has echo time %.4g ms, the data %.4g ms: water scaling "
                       "attenuates the water with the data's echo time, so concentrations in mM will be off",
                       metab.source or "(in memory)", water.source or "(in memory)", te_w * 1e3, te_m * 1e3)


def skip(step: str, reason: str, skipped: list[dict] | None = None, *, level: str = "info") -> None:
    """Log that *step* was skipped and why (and append it to *skipped* when given)."""
    getattr(logger, level)("preprocess: skipping %s: %s", step, reason)
    if skipped is not None:
        skipped.append({"step": step, "reason": reason})


def noise_sd_time(fids: NDArray[np.complexfloating], fraction: float = 0.25) -> NDArray[np.float64]:
    """Noise SD of each FID from the last *fraction* of its points (mean removed), ``(...,)``.

    The FID tail holds only noise once the signal has decayed (true for in-vivo 1H with a few
    hundred ms of acquisition). The SD is that of one real channel (real and imaginary pooled).
    """
    n = fids.shape[-1]
    k = max(8, int(round(n * fraction)))
    tail = fids[..., n - k:]
    tail = tail - tail.mean(axis=-1, keepdims=True)
    return np.sqrt(0.5 * np.mean(np.abs(tail) ** 2, axis=-1))


def ppm_window_mask(ppm: NDArray[np.float64], window: tuple[float, float] | None) -> NDArray[np.bool_]:
    """Boolean mask of the bins of an ascending ppm axis inside *window* (all bins if None)."""
    if window is None:
        return np.ones(ppm.shape, dtype=bool)
    lo, hi = sorted((float(window[0]), float(window[1])))
    mask = (ppm >= lo) & (ppm <= hi)
    if mask.sum() < 4:
        raise ConfigError(
            f"the ppm window {window} covers {int(mask.sum())} spectral points; the spectrum spans "
            f"{ppm[0]:.2f} to {ppm[-1]:.2f} ppm. Choose a window inside it."
        )
    return mask
