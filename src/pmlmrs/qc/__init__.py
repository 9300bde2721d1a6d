"""Quality control: SNR, linewidth, fit quality, CRLBs, lipid contamination, plausibility → QC items.

>>> from pmlmrs.qc import assess, qc_pass          # doctest: +SKIP
>>> items = assess(result, voi="nawm")              # doctest: +SKIP
>>> qc_pass(items)                                  # doctest: +SKIP
"""

from pmlmrs.qc.assess import (
    LEVELS,
    LIPID_MEASURES,
    MAIN_METABOLITES,
    NAWM_RANGES,
    QCItem,
    QCOptions,
    assess,
    items_from,
    qc_pass,
    with_qc,
    worst_level,
)
from pmlmrs.qc.measures import fit_quality, fwhm, fwhm_fit_ppm, fwhm_ppm, lipid_signal, snr, water_fwhm_ppm

__all__ = [
    "QCItem",
    "QCOptions",
    "LEVELS",
    "NAWM_RANGES",
    "MAIN_METABOLITES",
    "LIPID_MEASURES",
    "assess",
    "with_qc",
    "qc_pass",
    "worst_level",
    "items_from",
    "snr",
    "fwhm",
    "fwhm_ppm",
    "fwhm_fit_ppm",
    "water_fwhm_ppm",
    "fit_quality",
    "lipid_signal",
]
