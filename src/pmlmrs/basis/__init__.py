"""Basis sets: the ``Basis`` container, readers for LCModel/FSL-MRS/text formats, resampling."""

from pmlmrs.basis.basis import NAME_ALIASES, Basis, canonical_name
from pmlmrs.basis.readers import (
    BASIS_FORMATS,
    bundled_basis,
    bundled_basis_names,
    detect_basis_format,
    load_basis,
    load_basis_or_bundled,
    read_fsl_basis,
    read_lcmodel_basis,
    read_npz_basis,
    read_raw_folder,
    read_text_folder,
    save_basis,
    write_fsl_basis,
)
from pmlmrs.basis.reference import (
    SINGLET_PPM,
    calibrate_ppm_reference,
    find_reference_peaks,
    remove_reference_peak,
    singlet_offsets,
)
from pmlmrs.basis.resample import check_compatible, match_basis, resample_basis, resample_fids
from pmlmrs.basis.simulate import simulate_basis

__all__ = [
    "Basis",
    "canonical_name",
    "NAME_ALIASES",
    "BASIS_FORMATS",
    "load_basis",
    "load_basis_or_bundled",
    "detect_basis_format",
    "read_lcmodel_basis",
    "read_raw_folder",
    "read_text_folder",
    "read_fsl_basis",
    "write_fsl_basis",
    "save_basis",
    "read_npz_basis",
    "bundled_basis",
    "bundled_basis_names",
    "SINGLET_PPM",
    "singlet_offsets",
    "calibrate_ppm_reference",
    "find_reference_peaks",
    "remove_reference_peak",
    "resample_basis",
    "check_compatible",
    "resample_fids",
    "match_basis",
    "simulate_basis",
]
