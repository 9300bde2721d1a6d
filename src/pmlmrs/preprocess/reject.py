"""Outlier transient rejection after alignment (robust threshold on the residual to the median).

Kernel: :func:`_outlier_scores` gives each transient's RMS spectral residual to the median
transient over a ppm window and its robust z-score ``(r - median(r)) / (1.4826 MAD(r))``.
Wrapper: :func:`reject_outliers` drops transients whose score exceeds the threshold and records
which ones and why. Motion-corrupted transients (signal loss, line broadening, phase/frequency
jumps that alignment cannot undo) have large residuals; noise-only differences do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pmlmrs.config import Options
from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.errors import ConfigError
from pmlmrs.preprocess._util import check_finite, ppm_window_mask, skip, transient_dim

__all__ = ["RejectOptions", "reject_outliers", "outlier_scores"]


@dataclass(frozen=True)
class RejectOptions(Options):
    """Options of :func:`reject_outliers`.

    Attributes
    ----------
    threshold : float
        Reject a transient whose residual is more than ``threshold`` robust SDs (1.4826 MAD)
        above the median residual.
    ppm_range : (float, float) or None
        Window of the residual (default 0.2-4.2 ppm: metabolites and lipids, not residual water).
    max_fraction : float
        Never reject more than this fraction of the transients (the worst ones go first).
    dim : str or None
        Transient dim (None: the first of ``"dyn"``, ``"average"``, ``"meas"`` present).
    """

    threshold: float = 4.0
    ppm_range: tuple[float, float] | None = (0.2, 4.2)
    max_fraction: float = 0.5
    dim: str | None = None

    def __post_init__(self) -> None:
        if not self.threshold > 0:
            raise ConfigError(f"threshold must be positive (robust SDs), got {self.threshold!r}")
        if not 0 <= self.max_fraction < 1:
            raise ConfigError(f"max_fraction must be in [0, 1), got {self.max_fraction!r}")
        if self.ppm_range is not None:
            object.__setattr__(self, "ppm_range", tuple(float(v) for v in self.ppm_range))


def _outlier_scores(spectra: NDArray[np.complexfloating]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """RMS residual of each spectrum ``(m, k)`` to the median spectrum, and its robust z-score."""
    med = np.median(spectra.real, axis=0) + 1j * np.median(spectra.imag, axis=0)
    resid = np.sqrt(np.mean(np.abs(spectra - med[None, :]) ** 2, axis=-1))
    centre = np.median(resid)
    mad = 1.4826 * np.median(np.abs(resid - centre))
    if mad <= 0:
        mad = max(float(np.std(resid)), np.finfo(float).tiny)
    return resid, (resid - centre) / mad


def outlier_scores(spectrum: Spectrum, options: RejectOptions | None = None) -> tuple[NDArray, NDArray]:
    """Residual (data units) and robust z-score of every transient of a ``(dyn, n)`` Spectrum."""
    options = options or RejectOptions()
    dim = transient_dim(spectrum, options.dim)
    if dim is None or spectrum.data.ndim != 2:
        raise ConfigError(
            f"outlier scores need data with one transient dim and time, got dims {spectrum.dims}"
        )
    mask = ppm_window_mask(spectrum.ppm_axis, options.ppm_range)
    return _outlier_scores(spectrum.spectrum()[:, mask])


def reject_outliers(spectrum: Spectrum, options: RejectOptions | None = None) -> Spectrum:
    """Drop transients whose residual to the median transient is an outlier.

    Parameters
    ----------
    spectrum : Spectrum
        Aligned, coil-combined data with dims ``(transient_dim,)``.
    options : RejectOptions, optional

    Returns
    -------
    Spectrum
        The kept transients; a ``reject_outliers`` provenance step lists ``rejected`` entries
        (``index``, ``residual``, ``z``, ``reason``) and ``kept`` indices. Unchanged, with a logged
        reason, when there is no transient dim or fewer than 4 transients.
    """
    options = options or RejectOptions()
    dim = transient_dim(spectrum, options.dim)
    if dim is None:
        skip("reject_outliers", f"no transient dim in dims {spectrum.dims}", level="warning")
        return spectrum
    if spectrum.data.ndim != 2:
        raise ConfigError(
            f"reject_outliers works on (transients, time) data; got dims {spectrum.dims}: combine coils "
            "and select other dims first"
        )
    m = spectrum.dim_sizes[dim]
    if m < 4:
        skip("reject_outliers", f"only {m} transients (need at least 4 for robust statistics)", level="warning")
        return spectrum
    check_finite(spectrum)
    resid, z = outlier_scores(spectrum, options)
    order = np.argsort(-z)
    max_reject = int(np.floor(options.max_fraction * m))
    bad = [int(i) for i in order[:max_reject] if z[i] > options.threshold]
    rejected = [
        {"index": i, "residual": round(float(resid[i]), 6), "z": round(float(z[i]), 2),
         "reason": (f"residual to the median transient over {options.ppm_range} ppm is "
                    f"{z[i]:.1f} robust SD above the median (threshold {options.threshold:g})")}
        for i in sorted(bad)
    ]
    keep = np.array([i for i in range(m) if i not in set(bad)])
    data = np.take(np.asarray(spectrum.data), keep, axis=spectrum.axis_of(dim))
    dim_info = dict(spectrum.dim_info)
    info = dim_info.get(dim)
    if isinstance(info, dict) and isinstance(info.get("header"), dict):
        hdr = {}
        for k, v in info["header"].items():  # per-transient header lists follow the kept transients
            hdr[k] = [v[i] for i in keep] if isinstance(v, list) and len(v) == m else v
        dim_info[dim] = {**info, "header": hdr}
    step = ProcessingStep(
        "reject_outliers",
        params={**options.to_dict(), "dim": dim, "n_in": m, "n_kept": int(keep.size),
                "kept": keep.tolist(), "rejected": rejected},
        details=f"rejected {len(bad)} of {m} transients ({', '.join(map(str, sorted(bad))) or 'none'})",
    )
    return spectrum.with_data(data, step=step, dim_info=dim_info)
