"""Coil combination: weighted SVD and SNR-weighted (S/N²) sum over the ``"coil"`` dim.

Kernel: :func:`_combination_weights` (``(n_coils, n_ref_points)`` reference FIDs and a noise
covariance -> one complex weight per coil). Wrappers: :func:`coil_weights` (weights for a
Spectrum, optionally from a water reference) and :func:`coil_combine` (Spectrum -> Spectrum).

Convention for the output scale: the weights are scaled so that the combined noise SD equals the
RMS single-coil noise SD, and phased so that the combined reference FID's first point is real and
positive. Combining the metabolite data and its water reference with the *same* weights keeps
their amplitude ratio (needed for water scaling).

References
----------
Rodgers CT, Robson MD. Receive array magnetic resonance spectroscopy: whitened singular value
decomposition (WSVD) gives optimal Bayesian solution. Magn Reson Med 2010;63:881-891.
doi:10.1002/mrm.22230
Hall EL, Stephenson MC, Price D, Morris PG. Methodology for improved detection of low
concentration metabolites in MRS: optimised combination of signals from multi-element coil arrays.
NeuroImage 2014;86:35-42. doi:10.1016/j.neuroimage.2013.04.077
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from pmlmrs.config import Options
from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.errors import ConfigError, IncompatibleDataError, check_option
from pmlmrs.preprocess._util import check_finite, skip

__all__ = ["CoilCombineOptions", "coil_weights", "coil_combine", "noise_covariance"]

COIL_DIM = "coil"


@dataclass(frozen=True)
class CoilCombineOptions(Options):
    """Options of :func:`coil_combine`.

    Attributes
    ----------
    method : {"svd", "snr"}
        ``"svd"``: whitened singular value decomposition of the reference FIDs (rank-1 estimate of
        the complex coil sensitivities, noise-whitened; optimal for a common signal). ``"snr"``:
        S/N² weighting with the phase and amplitude of each coil's first reference point.
    ref_time : float
        s; the first ``ref_time`` seconds of the reference FIDs estimate the sensitivities.
    noise_band : float
        The noise (co)variance between coils is estimated from the outer ``noise_band`` fraction
        of the spectral band on each side (far from the water and metabolite signals, whose wings
        and truncation ringing are coherent across coils and would pass for correlated noise),
        after removing a quadratic trend per coil; when fewer than 32 such points exist, from the
        last quarter of the FID.
    edge_fraction : float
        Fraction of the spectral points at each end of the band left out of the noise estimate
        (where anti-aliasing filters roll off).
    signal_ppm : (float, float)
        Never take noise from inside this chemical-shift range.
    whiten : bool
        Use the full noise covariance between coils (True) or only each coil's variance.
    """

    method: str = "svd"
    ref_time: float = 0.1
    noise_band: float = 0.15
    edge_fraction: float = 0.02
    signal_ppm: tuple[float, float] = (-0.5, 9.0)
    whiten: bool = True

    def __post_init__(self) -> None:
        check_option("method", self.method, ("svd", "snr"))
        if not self.ref_time > 0:
            raise ConfigError(f"ref_time must be positive (s), got {self.ref_time!r}")
        if len(self.signal_ppm) != 2:
            raise ConfigError(f"signal_ppm must be two numbers (ppm), got {self.signal_ppm!r}")
        object.__setattr__(self, "signal_ppm", tuple(sorted(float(v) for v in self.signal_ppm)))
        if not 0 <= self.edge_fraction < self.noise_band <= 0.5:
            raise ConfigError(
                f"need 0 <= edge_fraction < noise_band <= 0.5, got {self.edge_fraction!r}, {self.noise_band!r}"
            )


# ---- kernels ------------------------------------------------------------------------------------
def noise_covariance(fids: NDArray[np.complexfloating], noise_bins: NDArray[np.bool_] | None = None,
                     max_fids: int = 16) -> NDArray[np.complex128]:
    """Complex noise covariance between coils, ``(n_coils, n_coils)``, per time-domain sample.

    Parameters
    ----------
    fids : (n_coils, ..., n_points) complex array
        Coil first; every other leading axis (transients) pools more noise samples.
    noise_bins : (n_points,) bool array, optional
        Signal-free bins of the (fftshifted) spectrum. Each contiguous run is detrended per FID
        (complex quadratic in the bin index) before use. Without it (or with fewer than 32 bins),
        the last quarter of each FID, mean removed, is used instead.
    max_fids : int
        At most this many FIDs per coil (evenly spread over the transients) enter the spectral
        estimate; a few thousand noise samples per coil pin a 32 x 32 covariance down.
    """
    fids = np.asarray(fids)
    n_coils, n = fids.shape[0], fids.shape[-1]
    flat = fids.reshape(n_coils, -1, n)
    if noise_bins is not None and int(np.sum(noise_bins)) >= 32:
        idx = np.nonzero(noise_bins)[0]
        runs = [r for r in np.split(idx, np.nonzero(np.diff(idx) > 1)[0] + 1) if r.size >= 8]
        if runs:
            if flat.shape[1] > max_fids:  # enough noise samples from a spread-out subset
                flat = flat[:, np.linspace(0, flat.shape[1] - 1, max_fids).round().astype(int)]
            spec = np.fft.fft(flat, axis=-1) / np.sqrt(n)  # unshifted: bin k of the shifted axis is
            shift = n - n // 2                              # at (k + n - n//2) % n
            parts = []
            for run in runs:
                x = (run - run.mean()) / run.size
                q, _ = np.linalg.qr(np.stack([np.ones_like(x), x, x ** 2], axis=1))  # (bins, 3)
                seg = spec[..., (run + shift) % n]                           # (coils, fids, bins)
                resid = seg - (seg @ q) @ q.T                                # quadratic trend removed
                parts.append(resid.reshape(n_coils, -1) * np.sqrt(run.size / (run.size - 3)))
            noise = np.concatenate(parts, axis=1)
            return (noise @ noise.conj().T) / noise.shape[1]
    k = max(8, n // 4)
    tail = flat[..., n - k:]
    tail = (tail - tail.mean(axis=-1, keepdims=True)).reshape(n_coils, -1)
    return (tail @ tail.conj().T) / tail.shape[1]


def _noise_bins(spectrum: Spectrum, options: CoilCombineOptions) -> NDArray[np.bool_]:
    ppm = spectrum.ppm_axis
    lo, hi = options.signal_ppm
    edge = int(round(options.edge_fraction * ppm.size))
    band = int(round(options.noise_band * ppm.size))
    keep = (ppm < lo) | (ppm > hi)
    keep[band:ppm.size - band] = False
    keep[:edge] = False
    keep[ppm.size - edge:] = False
    return keep


def _regularise(cov: NDArray[np.complex128], whiten: bool) -> NDArray[np.complex128]:
    cov = np.asarray(cov, dtype=np.complex128)
    if not whiten:
        cov = np.diag(np.real(np.diag(cov))).astype(np.complex128)
    scale = float(np.real(np.trace(cov))) / cov.shape[0]
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    return cov + 1e-9 * scale * np.eye(cov.shape[0])


def _combination_weights(ref: NDArray[np.complexfloating], noise_cov: NDArray[np.complexfloating],
                         method: str = "svd", whiten: bool = True) -> NDArray[np.complex128]:
    """Complex weights ``a`` (``(n_coils,)``) so that ``combined = a @ fids`` (sum over coils).

    Parameters
    ----------
    ref : (n_coils, n_ref_points) complex array
        Reference FIDs (the start of the water reference or of the averaged data).
    noise_cov : (n_coils, n_coils) complex array
        Noise covariance between coils.
    method : {"svd", "snr"}
    whiten : bool
        Use the off-diagonal noise covariance.

    Notes
    -----
    ``svd``: with ``Psi = L L^H`` (Cholesky), the first left singular vector ``u`` of
    ``L^-1 ref`` is the whitened sensitivity; ``a = u^H L^-1`` is the optimal (maximum-SNR)
    combination for a signal common to all coils (Rodgers & Robson 2010).
    ``snr``: ``a_c = conj(s_c) / sigma_c^2`` with ``s_c = ref[c, 0]`` (Hall et al. 2014).
    Both are then scaled so that ``sqrt(a Psi a^H)`` equals the RMS coil noise SD and phased so
    that ``a @ ref[:, 0]`` is real and positive.
    """
    ref = np.asarray(ref, dtype=np.complex128)
    psi = _regularise(noise_cov, whiten)
    if method == "svd":
        chol = np.linalg.cholesky(psi)
        white = scipy.linalg.solve_triangular(chol, ref, lower=True)
        u, _, _ = np.linalg.svd(white, full_matrices=False)
        u1 = u[:, 0]
        a = scipy.linalg.solve_triangular(chol, u1, lower=True, trans="C").conj()  # u^H L^-1
    elif method == "snr":
        var = np.real(np.diag(psi))
        a = ref[:, 0].conj() / var
    else:  # pragma: no cover - validated by the options
        raise ConfigError(f"unknown coil-combination method {method!r}")
    noise = float(np.sqrt(np.real(a @ psi @ a.conj())))
    target = float(np.sqrt(np.real(np.trace(psi)) / psi.shape[0]))
    if noise > 0:
        a = a * (target / noise)
    first = a @ ref[:, 0]
    if abs(first) > 0:
        a = a * np.exp(-1j * np.angle(first))
    return a


# ---- wrappers -----------------------------------------------------------------------------------
def _coil_first(spectrum: Spectrum) -> NDArray[np.complex128]:
    return np.moveaxis(np.asarray(spectrum.data), spectrum.axis_of(COIL_DIM), 0)


def coil_weights(spectrum: Spectrum, reference: Spectrum | None = None,
                 options: CoilCombineOptions | None = None) -> NDArray[np.complex128]:
    """Complex combination weights, one per coil, for *spectrum* (dim ``"coil"``).

    Parameters
    ----------
    spectrum : Spectrum
        Uncombined data; its FID tails give the noise covariance, and it is the reference for the
        sensitivities when *reference* is None (averaged over its other dims).
    reference : Spectrum, optional
        A water reference with the same number of coils: its start (averaged over its other
        dims) gives the sensitivities.
    options : CoilCombineOptions, optional

    Returns
    -------
    (n_coils,) complex array
        ``combined = sum_c weights[c] * fid[c]``.
    """
    options = options or CoilCombineOptions()
    data = _coil_first(spectrum)
    n_coils = data.shape[0]
    if reference is not None:
        if not reference.has_dim(COIL_DIM):
            raise IncompatibleDataError(
                f"the coil-combination reference {reference.source or ''} has no 'coil' dim "
                f"(dims {reference.dims}); it cannot give coil weights for {spectrum!r}"
            )
        ref_data = np.moveaxis(np.asarray(reference.data), reference.axis_of(COIL_DIM), 0)
        if ref_data.shape[0] != n_coils:
            raise IncompatibleDataError(
                f"the water reference has {ref_data.shape[0]} coils but the data have {n_coils}: "
                f"{reference!r} vs {spectrum!r}"
            )
        dwell = reference.dwell_time
    else:
        ref_data = data
        dwell = spectrum.dwell_time
    ref_mean = ref_data.reshape(n_coils, -1, ref_data.shape[-1]).mean(axis=1)
    n_ref = int(np.clip(round(options.ref_time / dwell), 4, ref_mean.shape[-1]))
    psi = noise_covariance(data, _noise_bins(spectrum, options))
    return _combination_weights(ref_mean[:, :n_ref], psi, options.method, options.whiten)


def coil_combine(spectrum: Spectrum, reference: Spectrum | None = None,
                 options: CoilCombineOptions | None = None, *,
                 weights: NDArray[np.complexfloating] | None = None,
                 weights_from: str = "given weights") -> Spectrum:
    """Combine the ``"coil"`` dim of *spectrum* into one FID per remaining index.

    Parameters
    ----------
    spectrum : Spectrum
        Data with a ``"coil"`` dim (any other dims are kept).
    reference : Spectrum, optional
        Water reference with the same coils; its start gives the weights (see :func:`coil_weights`).
    options : CoilCombineOptions, optional
    weights : (n_coils,) complex array, optional
        Use these weights (e.g. those of the metabolite data for its water reference).
    weights_from : str
        Where given *weights* came from, for the provenance record.

    Returns
    -------
    Spectrum
        Without the ``"coil"`` dim; a ``coil_combine`` provenance step records the method and the
        weights (magnitude, phase in degrees). Returned unchanged (with a logged reason) when there
        is no ``"coil"`` dim.
    """
    options = options or CoilCombineOptions()
    if not spectrum.has_dim(COIL_DIM):
        skip("coil_combine", f"no 'coil' dim (dims {spectrum.dims})", level="warning")
        return spectrum
    check_finite(spectrum)
    if reference is not None:
        check_finite(reference, "water reference")
    if weights is None:
        weights = coil_weights(spectrum, reference, options)
        source = "water reference" if reference is not None else "data"
    else:
        source = weights_from
    weights = np.asarray(weights, dtype=np.complex128)
    ax = spectrum.axis_of(COIL_DIM)
    if weights.shape != (spectrum.data.shape[ax],):
        raise IncompatibleDataError(
            f"{weights.shape[0] if weights.ndim == 1 else weights.shape} coil weights for "
            f"{spectrum.data.shape[ax]} coils"
        )
    combined = np.tensordot(weights, np.moveaxis(np.asarray(spectrum.data), ax, 0), axes=(0, 0))
    dims = spectrum.dims[:ax] + spectrum.dims[ax + 1:]
    dim_info = {k: v for k, v in spectrum.dim_info.items() if k != COIL_DIM}
    step = ProcessingStep(
        "coil_combine",
        params={**options.to_dict(), "weights_from": source, "n_coils": int(weights.size),
                "weight_magnitude": [round(float(v), 6) for v in np.abs(weights)],
                "weight_phase_deg": [round(float(v), 3) for v in np.degrees(np.angle(weights))]},
        details=f"{options.method.upper()} combination of {weights.size} coils, weights from the {source}",
    )
    return spectrum.with_data(combined, dims=dims, dim_info=dim_info, step=step)
