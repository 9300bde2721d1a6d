"""Quantification: metabolite combinations and ratios with CRLBs, water scaling to mM, output tables.

- :mod:`pmlmrs.quant.combine`: tNAA, tCr, tCho, Glx, Lip13, Lip, MM and the ratio columns, with
  uncertainties from the amplitude covariance (``wᵀ C w``; delta method for ratios).
- :mod:`pmlmrs.quant.water`: :class:`QuantOptions` and :func:`scale_to_water` (LCModel
  WCONC/ATTH2O/ATTMET, tissue fractions, relaxation).
- :mod:`pmlmrs.quant.outputs`: ``summary.tsv`` rows and ``fit.json`` (the ``pmlmrs fit`` contract).
"""

from pmlmrs.quant.combine import (
    COMBINATIONS,
    RATIOS,
    Measure,
    combination_weights,
    combinations,
    is_mm_name,
    measure,
    ratio,
    ratios,
)
from pmlmrs.quant.outputs import (
    QC_COLUMNS,
    error_row,
    file_sha256,
    source_sha256,
    fit_to_dict,
    read_fit_json,
    read_summary_tsv,
    spectrum_name,
    summary_columns,
    summary_row,
    to_jsonable,
    write_fit_json,
    write_summary_tsv,
)
from pmlmrs.quant.water import (
    PURE_WATER_MM,
    QuantOptions,
    basis_proton_scale,
    concentration_scale,
    metabolite_attenuation,
    scale_to_water,
    water_area,
    water_concentration,
)

__all__ = [
    "COMBINATIONS",
    "RATIOS",
    "Measure",
    "combination_weights",
    "combinations",
    "is_mm_name",
    "measure",
    "ratio",
    "ratios",
    "QuantOptions",
    "PURE_WATER_MM",
    "concentration_scale",
    "metabolite_attenuation",
    "water_concentration",
    "water_area",
    "scale_to_water",
    "basis_proton_scale",
    "QC_COLUMNS",
    "spectrum_name",
    "file_sha256",
    "source_sha256",
    "summary_row",
    "error_row",
    "summary_columns",
    "write_summary_tsv",
    "read_summary_tsv",
    "fit_to_dict",
    "write_fit_json",
    "read_fit_json",
    "to_jsonable",
]
