"""Linear-combination fitting: model, optimiser, baseline, CRLB, ``FitResult``.

Public API: :class:`FitOptions`, :class:`LinearCombinationModel` (``.prepare(spectrum)``,
``.fit(spectrum)``, ``.fit_many(spectra)``), :func:`fit_spectrum`, :func:`fit_batch`,
:func:`combination_covariance` / :func:`combination_crlb`, :func:`estimate_noise_sd`,
:func:`fit_water` (-> :class:`WaterFit`); synthetic test spectra in :mod:`pmlmrs.fit.synthetic`.

``FitResult.params`` keys: ``phase0_deg``, ``phase1_deg_per_ppm`` (about ``phase1_pivot_ppm``, the
ppm reference), per group dicts ``shift_hz``, ``shift_ppm``, ``lorentz_hz``, ``gauss_hz`` (extra
FWHM of the Lorentzian / Gaussian broadening) and ``fwhm_hz`` (their Voigt FWHM), ``nonlinear_sd``
(CRLBs of the non-linear parameters), ``baseline`` (kind, knot spacing, smoothness, effective
dimension), ``noise_ppm_ranges``, ``proton_area``, ``ratio_priors``, ``fit_quality`` (SD of the
real residual over the noise SD, as :func:`pmlmrs.qc.fit_quality`) and ``elapsed_s``.
"""

from pmlmrs.fit.model import (
    LinearCombinationModel,
    WaterFit,
    combination_covariance,
    combination_crlb,
    estimate_noise_sd,
    fit_batch,
    fit_spectrum,
    fit_water,
)
from pmlmrs.fit.options import DEFAULT_GROUPS, FitOptions
from pmlmrs.fit.result import FitResult

__all__ = [
    "FitResult",
    "FitOptions",
    "DEFAULT_GROUPS",
    "LinearCombinationModel",
    "fit_spectrum",
    "fit_batch",
    "combination_covariance",
    "combination_crlb",
    "estimate_noise_sd",
    "fit_water",
    "WaterFit",
]
