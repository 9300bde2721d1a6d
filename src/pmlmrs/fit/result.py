"""``FitResult``: everything one linear-combination fit produced, kept apart from the model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pmlmrs.core import ProcessingStep, Spectrum
from pmlmrs.errors import FitError

__all__ = ["FitResult", "covariance_for"]


def covariance_for(covariance: NDArray, covariance_free: NDArray | None, amplitudes: NDArray,
                   *weights: NDArray) -> NDArray[np.float64]:
    """The amplitude covariance for a quantity built from the members weighted in *weights*:
    *covariance_free* when several members are used and one of them is at zero, else *covariance*
    (see :class:`FitResult`)."""
    if covariance_free is not None and weights:
        used = np.any([np.asarray(w) != 0 for w in weights], axis=0)
        if np.count_nonzero(used) > 1 and np.any(np.asarray(amplitudes, dtype=float)[used] <= 0):
            return np.asarray(covariance_free, dtype=float)
    return np.asarray(covariance, dtype=float)


@dataclass(frozen=True, eq=False)
class FitResult:
    """The result of fitting one spectrum.

    Frequency-domain arrays cover the fit window only, on the ascending ``ppm`` axis; ``data``,
    ``fit``, ``baseline`` and ``components`` all have the fitted zero/first-order phase removed, so
    their real parts are absorption-mode spectra and ``data - fit`` is the residual.

    Parameters
    ----------
    spectrum : Spectrum
        The 1-D spectrum that was fitted (after any preprocessing).
    names : tuple of str
        Component names: basis metabolites first, then simulated lipid/MM components.
    groups : tuple of str
        Group of each component (``"metabolites"``, ``"lipids_mm"``, ...): shift and broadening are
        shared within a group.
    amplitudes : (n_components,) float array
        Non-negative amplitudes in basis units (mM after water scaling, see ``concentration_scale``).
    covariance : (n_components, n_components) float array
        Covariance of the amplitudes from the Fisher information of the full model (basis units²).
    crlb : (n_components,) float array
        Cramér-Rao lower bounds, absolute SD in basis units (``sqrt(diag(covariance))``).
    covariance_free : (n_components, n_components) float array or None
        The same with the components held at zero by the non-negativity constraint left free (the
        unconstrained Fisher information); None when no component is at zero. ``covariance`` treats
        those components as fixed (their own variance from this matrix, no correlations), which is
        right for the others alone but adds a zero member's variance in full to a sum: tCho = GPC +
        PCho with PCho = 0 had a CRLB of 24 % against GPC's 8.8 %. Combinations and ratios with a
        member at zero use this matrix (:mod:`pmlmrs.quant.combine`).
    params : mapping
        Non-linear parameters: ``phase0_deg``, ``phase1_deg_per_ppm``, and per group
        ``shift_hz``, ``lorentz_hz``, ``gauss_hz`` (dicts keyed by group name), plus baseline info.
    ppm : (n_window,) float array
        Chemical shift of the window points, ascending.
    data, fit, baseline : (n_window,) complex arrays
        Phased data spectrum, full model (components + baseline), baseline alone.
    components : (n_components, n_window) complex array
        Each component scaled by its amplitude, with its group's shift and broadening.
    noise_sd : float
        SD of the real-part noise per spectral point, from a signal-free region.
    converged : bool
        False when the optimiser stopped without meeting its tolerance; such fits are flagged.
    message : str
        Optimiser status.
    n_iterations : int
    options : mapping
        The fit options used (``FitOptions.to_dict()``).
    concentration_scale : float or None
        Factor that turns basis units into mM (water scaling); None when not water-scaled.
    qc : tuple
        QC items (level, name, message, fix) attached by :mod:`pmlmrs.qc`.
    provenance : tuple of ProcessingStep
    model : object or None
        The model that produced this result (not serialised).
    alternatives : mapping of str to (n_components,) float array
        Amplitudes (same units) of refits that differ from this one only in a modelling choice the
        data cannot settle: ``"lipids_lorentzian"`` / ``"lipids_gaussian"``, the lipid lineshape held
        purely Lorentzian / Gaussian, and ``"baseline_flexible"``, the baseline smoothness plain QAIC
        chose where the lipid region's flexibility was charged (``FitOptions.lipid_lineshape_sd``,
        ``baseline_lipid_ic_weight``). Their spread is reported as
        :attr:`pmlmrs.quant.Measure.sd_lineshape`; empty when not computed.
    """

    spectrum: Spectrum
    names: tuple[str, ...]
    groups: tuple[str, ...]
    amplitudes: NDArray[np.float64]
    covariance: NDArray[np.float64]
    crlb: NDArray[np.float64]
    params: Mapping[str, Any]
    ppm: NDArray[np.float64]
    data: NDArray[np.complex128]
    fit: NDArray[np.complex128]
    baseline: NDArray[np.complex128]
    components: NDArray[np.complex128]
    noise_sd: float
    converged: bool = True
    message: str = ""
    n_iterations: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    concentration_scale: float | None = None
    qc: tuple[Any, ...] = ()
    provenance: tuple[ProcessingStep, ...] = ()
    model: Any = field(default=None, repr=False)
    covariance_free: NDArray[np.float64] | None = None
    alternatives: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.names)
        amps = np.asarray(self.amplitudes, dtype=float)
        if amps.shape != (n,) or len(self.groups) != n:
            raise FitError(f"FitResult: {n} names but amplitudes {amps.shape} and {len(self.groups)} groups")
        cov = np.asarray(self.covariance, dtype=float)
        if cov.shape != (n, n):
            raise FitError(f"FitResult: covariance must be ({n}, {n}), got {cov.shape}")
        if self.covariance_free is not None and np.shape(self.covariance_free) != (n, n):
            raise FitError(f"FitResult: covariance_free must be ({n}, {n}), got {np.shape(self.covariance_free)}")
        for name in ("amplitudes", "covariance", "crlb", "ppm", "data", "fit", "baseline", "components",
                     "covariance_free"):
            if getattr(self, name) is None:
                continue
            arr = np.array(getattr(self, name), copy=True)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "groups", tuple(self.groups))
        alts = {}
        for label, a in dict(self.alternatives or {}).items():
            arr = np.array(a, dtype=float, copy=True)
            if arr.shape != (n,):
                raise FitError(f"FitResult: alternative {label!r} must have {n} amplitudes, got {arr.shape}")
            arr.flags.writeable = False
            alts[str(label)] = arr
        object.__setattr__(self, "alternatives", alts)

    @property
    def residual(self) -> NDArray[np.complex128]:
        """``data - fit`` over the window."""
        return self.data - self.fit

    def index(self, name: str) -> int:
        """Position of a component; FitError listing the names that exist."""
        try:
            return self.names.index(name)
        except ValueError:
            raise FitError(f"no component {name!r} in this fit; components are {list(self.names)}") from None

    def amplitude(self, name: str) -> float:
        """Amplitude of one component (basis units, or mM when water-scaled)."""
        return float(self.amplitudes[self.index(name)])

    def crlb_percent(self, name: str) -> float:
        """Relative CRLB of one component, %; inf when the amplitude is zero."""
        i = self.index(name)
        a = self.amplitudes[i]
        return float(100.0 * self.crlb[i] / a) if a > 0 else float("inf")

    def replace(self, **changes: Any) -> FitResult:
        """A copy with fields changed."""
        return replace(self, **changes)
